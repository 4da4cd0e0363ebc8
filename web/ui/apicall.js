// The "Make an API call" panel (SPEC §3): request, headers with their
// 256-character count, body, connection, timeout, response variables (at
// most eight), both branches, and the test call, whose response viewer
// turns a click on a field into a variable.

import { announce, clearErrors, field, h, showErrors } from './dom.js';
import { afterRemove, choice, number, target, text } from './fields.js';
import { clean, notSentHint, OPS, templateVars, VAR_RE } from './steps.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => [m, m]);
const MAX_HEADER = 256;
const MAX_HEADERS = 20;
const MAX_VARS = 8;
const MAX_SUCCESS = 5;
const hasBody = (m) => ['POST', 'PUT', 'PATCH'].includes(m);
const retryable = (m) => ['GET', 'PUT', 'DELETE'].includes(m);
const chars = (v) => Array.from(v || '').length;

/** apiCallForm returns the panel's sections for an api_call step. */
export function apiCallForm(step, ctx) {
  step.headers = step.headers || [];
  step.variables = step.variables || [];
  const testBox = h('div', { class: 'test-values' });
  const refreshTestValues = () => renderTestValues(testBox, step, ctx);

  const request = h('section', { class: 'group', 'aria-labelledby': 'req-h' },
    h('h3', { id: 'req-h' }, 'Request'),
    h('div', { class: 'two' },
      choice(ctx, step, 'method', 'Method', METHODS, {
        default: 'GET',
        onChange: (m) => {
          if (!hasBody(m) && step.body != null) { step._body = step.body; delete step.body; }
          if (hasBody(m) && step.body == null && step._body != null) step.body = step._body;
          ctx.rerender('f-method');
        },
      }),
      number(ctx, step, 'timeout_ms', 'Timeout (ms)', { min: 1000, max: 30000, step: 500, placeholder: '10000', hint: '1000–30000, for the whole call, retries included' })),
    text(ctx, step, 'url', 'URL', {
      spellcheck: false, inputmode: 'url', placeholder: 'https://api.example.com/orders/{{order_number}}',
      hint: 'https only. {{variables}} may go in path segments and query values, never in the host.', onInput: refreshTestValues,
    }),
    connectionPicker(step, ctx));

  const headers = h('section', { class: 'group', 'aria-labelledby': 'hdr-h' },
    h('h3', { id: 'hdr-h' }, `Headers (${step.headers.length} of ${MAX_HEADERS})`),
    h('p', { class: 'hint' }, 'Credentials (Authorization, cookies, API keys) belong in a connection, not here.'),
    h('div', { class: 'field list', dataset: { pointer: '/headers' } },
      ...step.headers.map((hd, i) => headerRow(step, hd, i, ctx, refreshTestValues)),
      h('p', { class: 'field-error', hidden: true, role: 'alert' })),
    h('button', {
      type: 'button', class: 'small', id: 'add-header', disabled: step.headers.length >= MAX_HEADERS,
      onClick: () => { step.headers.push({ key: '', value: '' }); ctx.changed(); ctx.rerender(`f-headers-${step.headers.length - 1}-key`); },
    }, 'Add header'));

  const sections = [request, headers];
  if (hasBody(step.method)) sections.push(bodySection(step, ctx, refreshTestValues));
  sections.push(retrySection(step, ctx));
  sections.push(variablesSection(step, ctx));
  sections.push(successSection(step, ctx));
  sections.push(h('section', { class: 'group', 'aria-labelledby': 'br-h' },
    h('h3', { id: 'br-h' }, 'Branches'),
    h('div', { class: 'two' },
      target(ctx, 'On success (2xx)', () => step.on_success, (v) => { step.on_success = v; }, { id: 'f-on_success', pointer: '/on_success', class: 'success' }),
      target(ctx, 'On failure', () => step.on_failure, (v) => { step.on_failure = v; }, { id: 'f-on_failure', pointer: '/on_failure', class: 'failure' }))));
  sections.push(testSection(step, ctx, testBox));
  refreshTestValues();
  return sections;
}

// retrySection edits step.retry. Only GET, PUT and DELETE may be retried;
// clean() drops a retry without attempts, or on another method.
function retrySection(step, ctx) {
  const head = h('h3', { id: 'retry-h' }, 'Retry');
  const method = step.method || 'GET';
  if (!retryable(method)) {
    return h('section', { class: 'group', 'aria-labelledby': 'retry-h' }, head,
      h('p', { class: 'hint', id: 'retry-off' }, `${method} is never retried: a second attempt could repeat what the first one did.`));
  }
  step.retry = step.retry || {};
  const r = step.retry;
  return h('section', { class: 'group', 'aria-labelledby': 'retry-h' }, head,
    h('p', { class: 'hint' }, 'On a 5xx answer, a network error or a timed-out attempt. Leave Attempts empty for no retry.'),
    h('div', { class: 'three' },
      number(ctx, r, 'max_attempts', 'Attempts in all', { id: 'f-retry-max_attempts', pointer: '/retry/max_attempts', min: 1, max: 5, placeholder: '1', hint: '1–5' }),
      number(ctx, r, 'backoff_ms', 'First wait (ms)', { id: 'f-retry-backoff_ms', pointer: '/retry/backoff_ms', min: 0, max: 10000, step: 100, placeholder: '0', hint: '0–10000, doubled each time' }),
      number(ctx, r, 'attempt_timeout_ms', 'Each attempt at most (ms)', {
        id: 'f-retry-attempt_timeout_ms', pointer: '/retry/attempt_timeout_ms', min: 1000, max: 30000, step: 500, placeholder: 'none', hint: '1000 up to the timeout; empty: no limit of its own',
      })));
}

// successSection edits step.success_when: tests a 2xx answer must also
// pass to take the success branch (APIs that answer 200 with {"ok": false}).
function successSection(step, ctx) {
  step.success_when = step.success_when || [];
  const list = step.success_when;
  const rows = list.map((c, i) => h('fieldset', { class: 'item', dataset: { pointer: `/success_when/${i}` } },
    h('legend', null, `Test ${i + 1}`),
    h('div', { class: 'three' },
      text(ctx, c, 'path', 'Path in the answer', { id: `f-success_when-${i}-path`, pointer: `/success_when/${i}/path`, spellcheck: false, placeholder: '$.ok' }),
      choice(ctx, c, 'op', 'Test', OPS, { id: `f-success_when-${i}-op`, pointer: `/success_when/${i}/op`, default: 'equals', onChange: (v) => { if (['exists', 'not_exists'].includes(v)) delete c.value; ctx.rerender(`f-success_when-${i}-op`); } }),
      ['exists', 'not_exists'].includes(c.op) ? null
        : text(ctx, c, 'value', 'Value', { id: `f-success_when-${i}-value`, pointer: `/success_when/${i}/value`, placeholder: 'true' })),
    h('button', {
      type: 'button', class: 'small danger', id: `remove-success-${i}`,
      onClick: () => { list.splice(i, 1); ctx.changed(); ctx.rerender(afterRemove('remove-success', i, list.length, 'add-success-test')); },
    }, `Remove test ${i + 1}`)));
  return h('section', { class: 'group', 'aria-labelledby': 'succ-h' },
    h('h3', { id: 'succ-h' }, `Success also needs (${list.length} of ${MAX_SUCCESS})`),
    h('p', { class: 'hint' }, 'For APIs that answer 200 when they did not do it ({"ok": false}): a 2xx answer takes the success branch only if every test holds. Paths read the answer as variables do ($.ok, $status, $headers.name).'),
    h('div', { class: 'field list', dataset: { pointer: '/success_when' } }, ...rows, h('p', { class: 'field-error', hidden: true, role: 'alert' })),
    h('button', {
      type: 'button', class: 'small', id: 'add-success-test', disabled: list.length >= MAX_SUCCESS,
      onClick: () => { list.push({ path: '', op: 'equals', value: '' }); ctx.changed(); ctx.rerender(`f-success_when-${list.length - 1}-path`); },
    }, 'Add test'));
}

function connectionPicker(step, ctx) {
  // A connection that is not ok says so where it is picked: "— refused".
  const health = { expiring: 'expires soon', refused: 'refused', expired: 'expired' };
  const opts = [['', '— none —'], ...ctx.connections.map((c) => [c.name,
    `${c.name} (${c.type}, ${c.allowed_domain}${c.allow_subdomains ? ' and subdomains' : ''})${health[c.status] ? ` — ${health[c.status]}` : ''}`])];
  if (step.connection && !ctx.connections.some((c) => c.name === step.connection)) opts.push([step.connection, `${step.connection} (missing)`]);
  return choice(ctx, step, 'connection', 'Connection (credentials)', opts, {
    hint: ctx.connections.length ? 'Its credential is added only to requests to its domain.' : 'No connections yet: an admin creates them.',
  });
}

function headerRow(step, hd, i, ctx, refresh) {
  const count = h('span', { class: 'count', id: `f-headers-${i}-count`, 'aria-live': 'polite' });
  const setCount = () => {
    const n = chars(hd.value);
    count.textContent = `${n}/${MAX_HEADER}`;
    count.classList.toggle('over', n > MAX_HEADER);
    count.setAttribute('aria-label', `${n} of ${MAX_HEADER} characters`);
  };
  setCount();
  const key = h('input', { type: 'text', id: `f-headers-${i}-key`, value: hd.key, spellcheck: false, autocomplete: 'off', placeholder: 'Accept', onInput: () => { hd.key = key.value; ctx.changed(); } });
  const val = h('input', { type: 'text', id: `f-headers-${i}-value`, value: hd.value, spellcheck: false, autocomplete: 'off', placeholder: 'application/json', onInput: () => { hd.value = val.value; setCount(); ctx.changed(); refresh(); } });
  return h('fieldset', { class: 'item header-row', dataset: { pointer: `/headers/${i}` } },
    h('legend', null, `Header ${i + 1}`),
    h('div', { class: 'two' }, field('Name', key, { pointer: `/headers/${i}/key` }), field('Value', val, { pointer: `/headers/${i}/value`, after: count })),
    h('button', {
      type: 'button', class: 'small danger', id: `remove-header-${i}`,
      onClick: () => { step.headers.splice(i, 1); ctx.changed(); ctx.rerender(afterRemove('remove-header', i, step.headers.length, 'add-header')); },
    }, `Remove header ${i + 1}`));
}

function bodySection(step, ctx, refresh) {
  if (step.body == null) step.body = '';
  if (!step.body_type) step.body_type = 'json';
  const ta = h('textarea', { id: 'f-body', rows: 6, spellcheck: false, class: 'code', onInput: () => { step.body = ta.value; ctx.changed(); refresh(); } });
  ta.value = step.body || '';
  const size = h('span', { class: 'count' });
  const upd = () => { size.textContent = `${new TextEncoder().encode(ta.value).length} / 65536 bytes`; };
  ta.addEventListener('input', upd);
  upd();
  const parts = [h('h3', { id: 'body-h' }, 'Body'),
    choice(ctx, step, 'body_type', 'Body type', [['json', 'JSON'], ['text', 'Text']], { onChange: () => ctx.rerender('f-body_type') })];
  if (step.body_type === 'text') parts.push(text(ctx, step, 'content_type', 'Content type', { placeholder: 'text/plain', spellcheck: false }));
  parts.push(field('Body', ta, {
    pointer: '/body', after: size,
    hint: step.body_type === 'json' ? 'Sent exactly as typed. Put {{variables}} inside JSON strings: {"order": "{{order_number}}"}. For a number, true/false or JSON, give the type: {"qty": "{{qty:number}}"}.' : 'Sent as typed, with the content type above.',
  }));
  return h('section', { class: 'group', 'aria-labelledby': 'body-h' }, ...parts);
}

function variablesSection(step, ctx) {
  const rows = step.variables.map((v, i) => {
    const name = h('input', { type: 'text', id: `f-variables-${i}-name`, value: v.name, spellcheck: false, autocomplete: 'off', onInput: () => { v.name = name.value; ctx.changed(); } });
    const path = h('input', { type: 'text', id: `f-variables-${i}-path`, value: v.path, spellcheck: false, autocomplete: 'off', placeholder: '$.order.status', onInput: () => { v.path = path.value; ctx.changed(); } });
    return h('tr', { dataset: { pointer: `/variables/${i}` } },
      h('td', null, field(`Variable ${i + 1} name`, name, { pointer: `/variables/${i}/name`, class: 'compact' })),
      h('td', null, field(`Variable ${i + 1} JSONPath`, path, { pointer: `/variables/${i}/path`, class: 'compact' })),
      h('td', null, h('button', {
        type: 'button', class: 'small danger', id: `remove-variable-${i}`, 'aria-label': `Remove variable ${v.name || i + 1}`,
        onClick: () => { step.variables.splice(i, 1); ctx.changed(); ctx.rerender(afterRemove('remove-variable', i, step.variables.length, 'add-variable')); },
      }, 'Remove')));
  });
  return h('section', { class: 'group', 'aria-labelledby': 'vars-h' },
    h('h3', { id: 'vars-h' }, 'Save from the response ', h('span', { class: ['count', step.variables.length > MAX_VARS && 'over'], id: 'vars-count' }, `${step.variables.length} of ${MAX_VARS}`)),
    h('p', { class: 'hint' }, 'Run a test call and click a field of the response, or type a JSONPath; a filter picks a list\'s element by its fields: $.emails[?(@.type == \'home\')].email. $status, $headers.name and $body read the status, a header and the whole body as text.'),
    h('div', { class: 'field list', dataset: { pointer: '/variables' } },
      rows.length ? h('table', { class: 'vars' }, h('tbody', null, ...rows)) : h('p', { class: 'empty' }, 'No variables yet.'),
      h('p', { class: 'field-error', hidden: true, role: 'alert' })),
    h('button', {
      type: 'button', class: 'small', id: 'add-variable', disabled: step.variables.length >= MAX_VARS,
      onClick: () => { step.variables.push({ name: '', path: '' }); ctx.changed(); ctx.rerender(`f-variables-${step.variables.length - 1}-name`); },
    }, 'Add variable'));
}

function renderTestValues(box, step, ctx) {
  const names = templateVars(step.url, ...(step.headers || []).map((x) => x.value), hasBody(step.method) ? step.body : '');
  const key = names.join(',');
  if (box.dataset.names === key) return;
  box.dataset.names = key;
  const tv = ctx.testValues;
  box.replaceChildren(...(names.length ? names.map((n) => {
    const input = h('input', { type: 'text', id: `tv-${n}`, value: tv[n] ?? '', autocomplete: 'off', onInput: () => { tv[n] = input.value; } });
    return field(`Test value for {{${n}}}`, input, { pointer: `/test_values/${n}` });
  }) : [h('p', { class: 'empty' }, 'This step uses no variables.')]));
}

function testSection(step, ctx, testBox) {
  const out = h('div', { id: 'test-result', class: 'test-result', 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit', id: 'run-test', class: 'primary' }, 'Run test call');
  const errBox = h('p', { class: 'form-error', hidden: true, role: 'alert' });
  const form = h('form', { class: 'group testcall', 'aria-labelledby': 'test-h', novalidate: true },
    h('h3', { id: 'test-h' }, 'Test call'),
    h('p', { class: 'hint' }, 'Runs the step as it is now, unsaved, with these values: the same code path as a live conversation.'),
    testBox, errBox, btn, out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    btn.disabled = true;
    btn.textContent = 'Calling…';
    errBox.hidden = true;
    const panel = form.closest('.step-form') || form;
    clearErrors(panel);
    try {
      const values = {};
      for (const n of templateVars(step.url, ...step.headers.map((x) => x.value), hasBody(step.method) ? step.body : '')) values[n] = ctx.testValues[n] ?? '';
      const res = await ctx.api('POST', '/v1/test-call', { body: { step: clean(step), test_values: values } });
      ctx.setTestResult(res.data);
      renderResult(out, res.data, step, ctx);
    } catch (err) {
      const details = (err.details || []).map((p) => ({ ...p, pointer: p.pointer.replace(/^\/step(?=\/|$)/, '') }));
      const left = showErrors(panel, details);
      errBox.hidden = false;
      errBox.textContent = [err.message, ...left.map((p) => p.message)].join(' ');
      out.replaceChildren();
    } finally {
      btn.disabled = false;
      btn.textContent = 'Run test call';
    }
  });
  if (ctx.testResult) renderResult(out, ctx.testResult, step, ctx);
  return form;
}

function pretty(body, headers) {
  const ct = Object.entries(headers || {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1] || '';
  if (/json/.test(ct) || /^\s*[[{]/.test(body)) {
    try { return JSON.stringify(JSON.parse(body), null, 2); } catch { /* not JSON after all */ }
  }
  return body;
}

function kv(obj) {
  return Object.entries(obj || {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join('\n');
}

/** suggestName turns a JSONPath into a variable name: $.order.status → order_status. */
export function suggestName(path) {
  const parts = (path.match(/[A-Za-z][A-Za-z0-9_-]*|'[^']*'/g) || []).map((p) => p.replace(/'/g, ''));
  const name = parts.slice(-2).join('_').toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
  return name || 'value';
}

function renderResult(out, res, step, ctx) {
  const r = res.response;
  const req = res.request;
  const branch = h('p', { class: `branch-line ${res.branch}`, id: 'test-branch' },
    h('strong', null, res.branch === 'success' ? 'Success branch' : 'Failure branch'),
    r ? ` · HTTP ${r.status}` : '', ` · ${Math.round(res.duration_ms)} ms`,
    res.error ? ` · ${res.error.code}: ${res.error.message}` : '');
  const parts = [branch];
  if (req.url) {
    const reqText = [`${req.method} ${req.url}`, kv(req.headers), req.body != null ? `\n${req.body}` : ''].filter(Boolean).join('\n');
    parts.push(h('details', null, h('summary', null, 'Request sent'), h('pre', { class: 'code' }, reqText)));
  } else {
    // No URL: the request was never built, so nothing was sent, and an
    // empty "Request sent" would say the opposite.
    const hint = notSentHint(res.error?.code, res.error?.message);
    parts.push(h('div', { class: 'not-sent', id: 'test-not-sent' },
      h('p', null, h('strong', null, 'Not sent.'), ' No request was made. URL template: ', h('code', null, `${req.method || step.method || 'GET'} ${step.url || ''}`)),
      hint ? h('p', null, hint) : null));
  }
  if (r) {
    parts.push(h('details', null, h('summary', null, `Response headers (${Object.keys(r.headers || {}).length})`), h('pre', { class: 'code' }, kv(r.headers))));
    parts.push(h('h4', null, 'Response body', r.truncated ? ' (cut for display)' : ''), h('pre', { class: 'code body', id: 'test-body' }, pretty(r.body, r.headers) || '(empty)'));
  }
  const paths = [...(res.paths || [])];
  if (r) paths.push({ path: '$status', sample: String(r.status), type: 'number' });
  if (paths.length) {
    const used = new Set(step.variables.map((v) => v.path));
    parts.push(h('h4', { id: 'paths-h' }, 'Click a field to save it as a variable'),
      h('ul', { class: 'paths', 'aria-labelledby': 'paths-h' }, ...paths.map((p) => h('li', null,
        h('button', {
          type: 'button', class: ['path', used.has(p.path) && 'used'], dataset: { path: p.path },
          'aria-label': `Save ${p.path} (${p.type}, sample ${p.sample}) as a variable`,
          onClick: () => pickPath(step, p.path, ctx),
        }, h('code', null, p.path), h('span', { class: `sample t-${p.type}` }, p.sample)),
        // The same value with the list's element picked by a field, which
        // holds when the API lists the elements in another order.
        p.filter_path ? h('button', {
          type: 'button', class: ['path', 'by-field', used.has(p.filter_path) && 'used'], dataset: { path: p.filter_path },
          'aria-label': `by field: save ${p.filter_path} (${p.type}, sample ${p.sample}; the list element picked by its field, not its position) as a variable`,
          title: p.filter_path,
          onClick: () => pickPath(step, p.filter_path, ctx),
        }, h('span', { class: 'by' }, 'by field'), h('code', null, p.filter_path)) : null))));
  }
  const vars = Object.entries(res.variables || {});
  parts.push(h('h4', null, 'Variables this step would save'),
    vars.length ? h('table', { class: 'kv', id: 'test-vars' }, h('tbody', null, ...vars.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v)))))
      : h('p', { class: 'empty' }, 'None.'));
  out.replaceChildren(...parts);
}

function pickPath(step, path, ctx) {
  const existing = step.variables.findIndex((v) => v.path === path);
  if (existing >= 0) { ctx.rerender(`f-variables-${existing}-name`, true); return; }
  if (step.variables.length >= MAX_VARS) { announce(`A step saves at most ${MAX_VARS} variables; remove one first.`, 'error'); return; }
  const used = new Set(step.variables.map((v) => v.name));
  let name = suggestName(path);
  if (!VAR_RE.test(name)) name = 'value';
  for (let n = 2, base = name; used.has(name); n++) name = `${base}_${n}`;
  step.variables.push({ name, path });
  ctx.changed();
  ctx.rerender(`f-variables-${step.variables.length - 1}-name`, true);
  announce(`Variable ${name} saves ${path}. Rename it if you like.`);
}

