// Step types (SPEC §2, §3): what each looks like, its defaults, and its
// outgoing links ("ports"), which the graph draws as edges.

export const TYPES = {
  message: { label: 'Message', blurb: 'Sends a text', defaults: () => ({ text: 'Hello!' }) },
  options: { label: 'Options', blurb: 'Quick-reply buttons', defaults: () => ({ text: 'Choose one:', options: [{ id: 'yes', label: 'Yes', next: '' }, { id: 'no', label: 'No', next: '' }] }) },
  ask: { label: 'Ask', blurb: 'Waits for a reply', defaults: () => ({ text: 'What is your question?', variable: 'answer', input: 'text' }) },
  api_call: { label: 'Make an API call', blurb: 'Calls an HTTPS API', defaults: () => ({ method: 'GET', url: 'https://', headers: [], body: null, variables: [], on_success: '', on_failure: '' }) },
  branch: { label: 'Branch', blurb: 'Conditions', defaults: () => ({ conditions: [{ variable: '', op: 'equals', value: '', next: '' }], else: '' }) },
  set_variable: { label: 'Set variable', blurb: 'Saves a value', defaults: () => ({ variable: 'name', value: '' }) },
  transfer: { label: 'Transfer to agent', blurb: 'Hands over to a human', defaults: () => ({ text: 'Let me get a colleague.', reason: '' }) },
  end: { label: 'End', blurb: 'Ends the conversation', defaults: () => ({ text: '' }) },
};

export const TYPE_ORDER = ['message', 'options', 'ask', 'api_call', 'branch', 'set_variable', 'transfer', 'end'];

/**
 * ports lists a step's outgoing links: {port, label, target, kind}. port
 * names the field ("next", "on_success", "options.1", "conditions.0",
 * "else", "options_from"); setTarget writes it.
 */
export function ports(step) {
  const out = [];
  switch (step.type) {
    case 'message': case 'ask': case 'set_variable':
      out.push({ port: 'next', label: 'next', target: step.next || '', kind: 'next' });
      break;
    case 'options':
      (step.options || []).forEach((o, i) => out.push({ port: `options.${i}`, label: o.label || o.id || `option ${i + 1}`, target: o.next || '', kind: 'option' }));
      if (step.options_from) out.push({ port: 'options_from', label: 'chosen item', target: step.options_from.next || '', kind: 'option' });
      break;
    case 'api_call':
      out.push({ port: 'on_success', label: 'success', target: step.on_success || '', kind: 'success' });
      out.push({ port: 'on_failure', label: 'failure', target: step.on_failure || '', kind: 'failure' });
      break;
    case 'branch':
      (step.conditions || []).forEach((c, i) => out.push({ port: `conditions.${i}`, label: conditionLabel(c, i), target: c.next || '', kind: 'condition' }));
      out.push({ port: 'else', label: 'else', target: step.else || '', kind: 'else' });
      break;
    default:
  }
  return out;
}

function conditionLabel(c, i) {
  if (!c.variable) return `condition ${i + 1}`;
  const v = c.op === 'exists' || c.op === 'not_exists' ? '' : ` ${c.value ?? ''}`;
  return `${c.variable} ${c.op.replace('_', ' ')}${v}`.trim();
}

/** setTarget points a step's port at another step id ('' ends the flow there). */
export function setTarget(step, port, target) {
  const [name, idx] = port.split('.');
  if (idx !== undefined) {
    const item = step[name][Number(idx)];
    item.next = target;
    return;
  }
  if (name === 'options_from') { step.options_from.next = target; return; }
  if (target) step[name] = target; else delete step[name];
}

/** retarget renames every link to from (step ids) as to; to '' removes the links. */
export function retarget(flow, from, to) {
  for (const st of flow.steps) {
    for (const p of ports(st)) if (p.target === from) setTarget(st, p.port, to);
  }
  if (flow.start === from) flow.start = to;
}

/** summary is the one line a node shows under its title. */
export function summary(step) {
  switch (step.type) {
    case 'api_call': return `${step.method || '?'} ${step.url || ''}`;
    case 'ask': return step.variable ? `{{${step.variable}}} ← ${step.text || ''}` : step.text || '';
    case 'set_variable': return `${step.variable || '?'} = ${step.value || ''}`;
    case 'branch': return `${(step.conditions || []).length} condition(s)`;
    default: return step.text || '';
  }
}

export const ID_RE = /^[a-z0-9_-]{1,64}$/;
export const VAR_RE = /^[a-z0-9_]{1,64}$/;

/** newId returns the first free id of the form type_n. */
export function newId(flow, type) {
  const base = type.replace(/[^a-z0-9_-]/g, '_');
  const used = new Set(flow.steps.map((s) => s.id));
  for (let n = 1; ; n++) if (!used.has(`${base}_${n}`)) return `${base}_${n}`;
}

/** templateVars lists the {{names}} in strings (system variables excluded). */
export function templateVars(...texts) {
  const out = [];
  for (const t of texts) {
    // A JSON body's typed value, {{qty:number}}, is the variable qty.
    for (const m of String(t ?? '').matchAll(/\{\{\s*([A-Za-z0-9_.]+)\s*(?::\s*[a-z]+\s*)?\}\}/g)) {
      if (!out.includes(m[1]) && !/^(user|conversation)\./.test(m[1])) out.push(m[1]);
    }
  }
  return out;
}

/**
 * notSentHint says how to fix an api_call that was never sent because of
 * the value of a variable, from the run's error code and message; '' when
 * there is nothing to add. A value with a period (an email, a decimal)
 * may not be a URL path segment, but it may be a query value or go in
 * the body.
 */
export function notSentHint(code, message) {
  if (code !== 'period_in_path_variable') return '';
  const name = /\{\{\s*([A-Za-z0-9_.]+)/.exec(message || '')?.[1] || 'name';
  return `Send it as a query value (?${name.split('.').pop()}={{${name}}}) or in the body.`;
}

/** OPS are the tests of a branch condition and of an api_call's success_when, with their labels. */
export const OPS = [['equals', 'equals'], ['not_equals', 'does not equal'], ['contains', 'contains'], ['exists', 'is set'],
  ['not_exists', 'is not set'], ['greater_than', 'is greater than'], ['less_than', 'is less than']];

/**
 * clean returns the step as the API takes it: only the fields its type
 * has, empty optional fields left out (the server refuses a field that
 * does not belong to the type, and an unknown field).
 */
export function clean(step) {
  const out = {};
  for (const [k, v] of Object.entries(step)) {
    if (k.startsWith('_')) continue; // editor-only state
    if (v === '' || v === undefined) continue;
    if (Array.isArray(v) && v.length === 0 && k !== 'options') continue;
    out[k] = v;
  }
  if (step.type === 'options' && out.options_from) delete out.options;
  if (step.type === 'api_call') {
    if (!['POST', 'PUT', 'PATCH'].includes(step.method)) { delete out.body; delete out.body_type; delete out.content_type; }
    if (out.body === null || out.body === '') { delete out.body; delete out.body_type; delete out.content_type; }
    if (out.body_type !== 'text') delete out.content_type;
    if (out.timeout_ms !== undefined) out.timeout_ms = Number(out.timeout_ms) || 0;
    if (!out.timeout_ms) delete out.timeout_ms;
    const r = out.retry;
    if (!r || r.max_attempts === undefined || !['GET', 'PUT', 'DELETE'].includes(out.method || 'GET')) delete out.retry;
    else out.retry = { max_attempts: Number(r.max_attempts), backoff_ms: Number(r.backoff_ms) || 0, ...(r.attempt_timeout_ms ? { attempt_timeout_ms: Number(r.attempt_timeout_ms) } : {}) };
  }
  return out;
}
