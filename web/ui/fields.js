// Controls bound to a step's fields. Every control writes into the step as
// the designer types and tells the editor (ctx.changed) so the graph and
// the autosave follow. data-pointer on each field is relative to the step
// ("/url", "/headers/0/value"): the editor maps server problems there.

import { field, h, select } from './dom.js';
import { TYPES } from './steps.js';

function put(obj, key, v) {
  if (v === '' || v === undefined) delete obj[key]; else obj[key] = v;
}

/** text is a one-line text field bound to obj[key]. */
export function text(ctx, obj, key, label, o = {}) {
  const input = h('input', {
    type: 'text', id: o.id || `f-${key}`, value: obj[key] ?? '', placeholder: o.placeholder, spellcheck: o.spellcheck ?? true,
    autocomplete: 'off', maxlength: o.maxlength, inputmode: o.inputmode,
    onInput: () => { put(obj, key, input.value); ctx.changed(); o.onInput?.(input.value); },
  });
  return field(label, input, { pointer: o.pointer ?? `/${key}`, hint: o.hint, after: o.after, class: o.class });
}

/** area is a multi-line text field bound to obj[key]. */
export function area(ctx, obj, key, label, o = {}) {
  const ta = h('textarea', {
    id: o.id || `f-${key}`, rows: o.rows || 3, placeholder: o.placeholder, spellcheck: o.spellcheck ?? true,
    onInput: () => { put(obj, key, o.keepEmpty ? ta.value : ta.value); ctx.changed(); o.onInput?.(ta.value); },
  });
  ta.value = obj[key] ?? '';
  return field(label, ta, { pointer: o.pointer ?? `/${key}`, hint: o.hint, class: o.class });
}

/** choice is a <select> bound to obj[key]. */
export function choice(ctx, obj, key, label, options, o = {}) {
  const sel = select(options, obj[key] ?? o.default ?? '', { id: o.id || `f-${key}` });
  const commit = () => { put(obj, key, sel.value); ctx.changed({ graph: true }); o.onChange?.(sel.value); };
  sel.addEventListener('change', commit);
  return field(label, sel, { pointer: o.pointer ?? `/${key}`, hint: o.hint, class: o.class });
}

/** targetOptions lists the steps a link may lead to. */
export function targetOptions(ctx, current) {
  const opts = [['', '— end here —']];
  for (const st of ctx.flow.steps) opts.push([st.id, `${st.id} (${(TYPES[st.type] || { label: st.type }).label})`]);
  if (current && !ctx.flow.steps.some((st) => st.id === current)) opts.push([current, `${current} (missing step)`]);
  return opts;
}

/** target is a "leads to" picker: get() reads the link, set(v) writes it. */
export function target(ctx, label, get, set, o = {}) {
  const sel = select(targetOptions(ctx, get()), get() || '', { id: o.id, class: 'target' });
  sel.addEventListener('change', () => { set(sel.value); ctx.changed({ graph: true }); });
  return field(label, sel, { pointer: o.pointer, hint: o.hint, class: ['target-field', o.class].filter(Boolean).join(' ') });
}

/** number is a number field bound to obj[key]. */
export function number(ctx, obj, key, label, o = {}) {
  const input = h('input', {
    type: 'number', id: o.id || `f-${key}`, value: obj[key] ?? '', min: o.min, max: o.max, step: o.step, placeholder: o.placeholder,
    onInput: () => { put(obj, key, input.value === '' ? undefined : Number(input.value)); ctx.changed(); },
  });
  return field(label, input, { pointer: o.pointer ?? `/${key}`, hint: o.hint });
}

/**
 * afterRemove returns the id of the control to focus once row i of a list
 * is removed and left rows remain: the Remove button of the row now at i
 * (the next one), else of the row before, else the list's Add button.
 * The panel is drawn again, so the focused button goes, and the focus
 * with it, to <body>, unless it is put somewhere. canRemove is false when
 * the rows left may not be removed (an options step keeps one option).
 */
export function afterRemove(prefix, i, left, addId, canRemove = true) {
  if (!canRemove || !left) return addId;
  return `${prefix}-${Math.min(i, left - 1)}`;
}
