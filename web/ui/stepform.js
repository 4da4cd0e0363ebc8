// The side panel's form for the selected step, one section per type.

import { field, h, select } from './dom.js';
import { afterRemove, area, choice, target, text } from './fields.js';
import { ID_RE, OPS, TYPES } from './steps.js';
import { apiCallForm } from './apicall.js';

const INPUTS = [['text', 'Text'], ['email', 'Email'], ['number', 'Number'], ['phone', 'Phone']];

/**
 * stepForm builds the panel for step. ctx: flow, changed(opts), rerender(),
 * rename(from, to) → error text or '', remove(), makeStart(), and what the
 * api_call form needs.
 */
export function stepForm(step, ctx) {
  const meta = TYPES[step.type] || { label: step.type };
  const idInput = h('input', { type: 'text', id: 'f-id', value: step.id, spellcheck: false, autocomplete: 'off', maxlength: 64, pattern: '[a-z0-9_\\-]{1,64}' });
  const idField = field('Step id', idInput, { pointer: '/id', hint: 'Lower-case letters, digits, _ and -. Links follow a rename.' });
  idInput.addEventListener('change', () => {
    const slot = idField.querySelector('.field-error');
    const next = idInput.value.trim();
    let msg = '';
    if (!ID_RE.test(next)) msg = 'Use 1–64 lower-case letters, digits, _ or -.';
    else if (next !== step.id) msg = ctx.rename(step.id, next);
    slot.textContent = msg;
    slot.hidden = !msg;
    idInput.toggleAttribute('aria-invalid', !!msg);
  });
  idInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); idInput.dispatchEvent(new Event('change')); } });

  const isStart = ctx.flow.start === step.id;
  const head = h('div', { class: 'panel-head' },
    h('h2', { id: 'step-heading' }, h('span', { class: `type-chip type-${step.type}` }, meta.label), ' ', step.id),
    h('div', { class: 'panel-actions' },
      isStart ? h('span', { class: 'start-chip' }, 'Start step')
        : h('button', { type: 'button', id: 'make-start', class: 'small', onClick: () => ctx.makeStart() }, 'Make start step'),
      h('button', { type: 'button', id: 'delete-step', class: 'small danger', onClick: () => ctx.remove() }, 'Delete step')));

  const body = [idField, text(ctx, step, 'name', 'Name (shown on the canvas)', { placeholder: 'optional' }),
    area(ctx, step, 'description', 'Description (for designers)', { rows: 2, placeholder: 'optional: what this step is for', hint: 'Shown when you hover the step; never to users.' })];
  const next = (label = 'Next step') => target(ctx, label, () => step.next, (v) => { if (v) step.next = v; else delete step.next; }, { id: 'f-next', pointer: '/next' });

  switch (step.type) {
    case 'message':
      body.push(area(ctx, step, 'text', 'Message text', { hint: 'Use {{variable}} to insert a value; an unset variable is left out.' }), next());
      break;
    case 'ask':
      body.push(area(ctx, step, 'text', 'Question'),
        text(ctx, step, 'variable', 'Save the reply in variable', { spellcheck: false, hint: 'Lower-case letters, digits and _.' }),
        choice(ctx, step, 'input', 'Expected input', INPUTS, { default: 'text' }),
        area(ctx, step, 'invalid_text', 'Re-ask text on a bad reply', { rows: 2, placeholder: 'optional' }),
        next());
      break;
    case 'set_variable':
      body.push(text(ctx, step, 'variable', 'Variable', { spellcheck: false }),
        text(ctx, step, 'value', 'Value', { hint: 'A template: {{other_variable}} works here.' }), next());
      break;
    case 'transfer':
      body.push(area(ctx, step, 'text', 'Message before the hand-off'), text(ctx, step, 'reason', 'Reason (for the agent)'),
        h('div', { class: 'two' },
          text(ctx, step, 'group', 'Group or team (for the help desk)', { placeholder: 'billing or {{team}}', hint: 'Up to 200 characters.' }),
          priorityField(step, ctx)),
        tagsField(step, ctx));
      break;
    case 'end':
      body.push(area(ctx, step, 'text', 'Goodbye text', { placeholder: 'optional' }));
      break;
    case 'options':
      body.push(area(ctx, step, 'text', 'Text above the options'), optionsSource(step, ctx),
        step.options_from ? optionsFromForm(step, ctx) : optionsList(step, ctx));
      break;
    case 'branch':
      body.push(conditionsList(step, ctx), target(ctx, 'Otherwise (else)', () => step.else, (v) => { if (v) step.else = v; else delete step.else; }, { id: 'f-else', pointer: '/else' }));
      break;
    case 'api_call':
      body.push(...apiCallForm(step, ctx));
      break;
    default:
      body.push(h('p', null, `Unknown step type ${step.type}.`));
  }
  return h('div', { class: 'step-form', 'aria-labelledby': 'step-heading' }, head,
    h('ul', { class: 'step-problems', hidden: true, 'aria-label': 'Problems with this step' }), ...body);
}

// optionsSource switches an options step between a fixed list and options
// built at run time from a JSON array in a variable (options_from). The two
// exclude each other; the list set aside is kept while the panel is open.
function optionsSource(step, ctx) {
  const sel = select([['list', 'A fixed list'], ['variable', 'One per item of a list in a variable']],
    step.options_from ? 'variable' : 'list', { id: 'f-options-source' });
  sel.addEventListener('change', () => {
    if (sel.value === 'variable') {
      step._options = step.options;
      delete step.options;
      step.options_from = step._options_from || { variable: '', label_path: '$', value_variable: '', next: '' };
    } else {
      step._options_from = step.options_from;
      delete step.options_from;
      step.options = step._options && step._options.length ? step._options : [{ id: 'option_1', label: 'Option 1', next: '' }];
    }
    ctx.changed({ graph: true });
    ctx.rerender('f-options-source');
  });
  return field('Options', sel, { pointer: '/options_from', hint: 'A list in a variable comes, for example, from an API call that saved a JSON array.' });
}

function optionsFromForm(step, ctx) {
  const of = step.options_from;
  return h('fieldset', { class: 'item', dataset: { pointer: '/options_from' } },
    h('legend', null, 'Options from a variable'),
    text(ctx, of, 'variable', 'Variable holding the list', { id: 'f-options_from-variable', pointer: '/options_from/variable', spellcheck: false, hint: 'A JSON array, e.g. saved by an API call from $.orders.' }),
    text(ctx, of, 'label_path', 'Label of each item (JSONPath)', { id: 'f-options_from-label_path', pointer: '/options_from/label_path', spellcheck: false, placeholder: '$', hint: '$.name picks a field of each item; $ is the item itself.' }),
    text(ctx, of, 'value_variable', 'Save the chosen item in variable', { id: 'f-options_from-value_variable', pointer: '/options_from/value_variable', spellcheck: false, hint: 'An object is saved as JSON, a value as text.' }),
    target(ctx, 'Then', () => of.next, (v) => { of.next = v; }, { id: 'f-options_from-next', pointer: '/options_from/next' }));
}

function optionsList(step, ctx) {
  step.options = step.options || [];
  const rows = step.options.map((o, i) => h('fieldset', { class: 'item', dataset: { pointer: `/options/${i}` } },
    h('legend', null, `Option ${i + 1}`),
    text(ctx, o, 'label', 'Label', { id: `f-options-${i}-label`, pointer: `/options/${i}/label` }),
    text(ctx, o, 'id', 'Option id', { id: `f-options-${i}-id`, pointer: `/options/${i}/id`, spellcheck: false }),
    target(ctx, 'Leads to', () => o.next, (v) => { o.next = v; }, { id: `f-options-${i}-next`, pointer: `/options/${i}/next` }),
    h('button', {
      type: 'button', class: 'small danger', id: `remove-option-${i}`, disabled: step.options.length <= 1,
      onClick: () => { step.options.splice(i, 1); ctx.changed({ graph: true }); ctx.rerender(afterRemove('remove-option', i, step.options.length, 'add-option', step.options.length > 1)); },
    }, `Remove option ${i + 1}`)));
  return h('div', { class: 'field list', dataset: { pointer: '/options' } },
    h('h3', null, `Options (${step.options.length} of 10)`), ...rows,
    h('button', {
      type: 'button', class: 'small', id: 'add-option', disabled: step.options.length >= 10,
      onClick: () => { const n = step.options.length + 1; step.options.push({ id: `option_${n}`, label: `Option ${n}`, next: '' }); ctx.changed({ graph: true }); ctx.rerender(`f-options-${n - 1}-label`); },
    }, 'Add option'),
    h('p', { class: 'field-error', hidden: true, role: 'alert' }));
}

// PRIORITIES are a transfer's priorities; a {{variable}} may give one.
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];

function priorityField(step, ctx) {
  const list = h('datalist', { id: 'priority-list' }, ...PRIORITIES.map((p) => h('option', { value: p })));
  const f = text(ctx, step, 'priority', 'Priority', { placeholder: 'normal', hint: 'low, normal, high or urgent, or a {{variable}} holding one.', spellcheck: false });
  f.querySelector('input').setAttribute('list', 'priority-list');
  f.append(list);
  return f;
}

// tagsField edits step.tags as one comma-separated line.
function tagsField(step, ctx) {
  const input = h('input', {
    type: 'text', id: 'f-tags', value: (step.tags || []).join(', '), spellcheck: false, autocomplete: 'off', placeholder: 'vip, order_problem',
    onInput: () => {
      const tags = input.value.split(',').map((t) => t.trim()).filter(Boolean);
      if (tags.length) step.tags = tags; else delete step.tags;
      ctx.changed();
    },
  });
  return field('Tags (comma-separated)', input, { pointer: '/tags', hint: 'Up to 10; lower-case letters, digits, _, - and :, or {{variables}}.' });
}

function conditionsList(step, ctx) {
  step.conditions = step.conditions || [];
  const rows = step.conditions.map((c, i) => h('fieldset', { class: 'item', dataset: { pointer: `/conditions/${i}` } },
    h('legend', null, `Condition ${i + 1}`),
    text(ctx, c, 'variable', 'Variable', { id: `f-conditions-${i}-variable`, pointer: `/conditions/${i}/variable`, spellcheck: false }),
    choice(ctx, c, 'op', 'Test', OPS, { id: `f-conditions-${i}-op`, pointer: `/conditions/${i}/op`, default: 'equals' }),
    text(ctx, c, 'value', 'Value', { id: `f-conditions-${i}-value`, pointer: `/conditions/${i}/value` }),
    target(ctx, 'Leads to', () => c.next, (v) => { c.next = v; }, { id: `f-conditions-${i}-next`, pointer: `/conditions/${i}/next` }),
    h('button', {
      type: 'button', class: 'small danger', id: `remove-condition-${i}`,
      onClick: () => { step.conditions.splice(i, 1); ctx.changed({ graph: true }); ctx.rerender(afterRemove('remove-condition', i, step.conditions.length, 'add-condition')); },
    }, `Remove condition ${i + 1}`)));
  return h('div', { class: 'field list', dataset: { pointer: '/conditions' } },
    h('h3', null, 'Conditions (the first true one wins)'), ...rows,
    h('button', {
      type: 'button', class: 'small', id: 'add-condition',
      onClick: () => { step.conditions.push({ variable: '', op: 'equals', value: '', next: '' }); ctx.changed({ graph: true }); ctx.rerender(`f-conditions-${step.conditions.length - 1}-variable`); },
    }, 'Add condition'),
    h('p', { class: 'field-error', hidden: true, role: 'alert' }));
}
