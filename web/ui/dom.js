// Small DOM helpers. Everything is built with createElement and text nodes,
// never innerHTML, so text from the API can never become markup; and no
// element gets a style attribute, which the page's CSP would refuse.

const SVG_NS = 'http://www.w3.org/2000/svg';
const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'required', 'readOnly', 'multiple', 'indeterminate']);

function apply(el, attrs, svg) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (!svg && PROPS.has(k)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h builds an HTML element: h('button', {class: 'x', onClick}, 'text'). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs, false);
  append(el, children);
  return el;
}

/** s builds an SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs, true);
  append(el, children);
  return el;
}

let seq = 0;
/** uid returns a fresh element id. */
export function uid(prefix = 'id') {
  seq += 1;
  return `${prefix}-${seq}`;
}

/**
 * field wraps a control with its label, an optional hint and an error slot.
 * pointer (a JSON pointer such as "/url") lets showErrors put a server
 * problem next to the right control.
 */
export function field(label, control, opts = {}) {
  if (!control.id) control.id = opts.id || uid('f');
  const errId = `${control.id}-err`;
  const hintId = `${control.id}-hint`;
  const described = [];
  const hint = opts.hint ? h('p', { class: 'hint', id: hintId }, opts.hint) : null;
  if (hint) described.push(hintId);
  described.push(errId);
  control.setAttribute('aria-describedby', described.join(' '));
  const lab = h('label', { for: control.id }, label);
  const row = opts.after ? h('div', { class: 'field-row' }, control, opts.after) : control;
  return h('div', { class: ['field', opts.class], dataset: opts.pointer !== undefined ? { pointer: opts.pointer } : undefined },
    lab, row, hint, h('p', { class: 'field-error', id: errId, hidden: true, role: 'alert' }));
}

/** clearErrors empties every error slot under root. */
export function clearErrors(root) {
  for (const p of root.querySelectorAll('.field-error')) { p.textContent = ''; p.hidden = true; }
  for (const c of root.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  for (const f of root.querySelectorAll('.field.invalid, .field.warning')) f.classList.remove('invalid', 'warning');
}

/**
 * showErrors puts each problem ({pointer, message, severity}) next to the
 * field whose data-pointer is the problem's pointer or its nearest parent.
 * It returns the problems no field claimed.
 */
export function showErrors(root, problems) {
  const left = [];
  for (const p of problems) {
    let ptr = p.pointer ?? '';
    let f = null;
    for (;;) {
      f = root.querySelector(`.field[data-pointer="${CSS.escape(ptr)}"]`);
      if (f || ptr === '') break;
      ptr = ptr.slice(0, ptr.lastIndexOf('/'));
    }
    if (!f) { left.push(p); continue; }
    const slot = f.querySelector(':scope > .field-error');
    slot.hidden = false;
    slot.textContent = slot.textContent ? `${slot.textContent} ${p.message}` : p.message;
    const warn = p.severity === 'warning';
    f.classList.add(warn ? 'warning' : 'invalid');
    // Only the field's own control: a list (/variables) holds its items'
    // fields, and its problem is not the first item's.
    if (!warn) f.querySelector(':scope > :is(input, select, textarea), :scope > .field-row > :is(input, select, textarea)')?.setAttribute('aria-invalid', 'true');
  }
  return left;
}

/**
 * formErrors shows an API error on a form: details by pointer, the rest in
 * its summary. When every detail sits next to its field, the summary says
 * nothing: the error's message is made of those details, and said again
 * under the form it only repeated them.
 */
export function formErrors(form, err) {
  clearErrors(form);
  const details = err.details || [];
  const left = showErrors(form, details);
  const summary = form.querySelector('.form-error');
  if (summary) {
    const text = details.length && !left.length ? '' : [err.message, ...left.map((p) => p.message)].filter(Boolean).join(' ');
    summary.hidden = !text;
    summary.textContent = text;
  }
}

/** clearForm hides a form's summary error and its field errors. */
export function clearForm(form) {
  clearErrors(form);
  const summary = form.querySelector('.form-error');
  if (summary) { summary.hidden = true; summary.textContent = ''; }
}

/** select builds a <select> from [value, label] pairs. */
export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
}

/** saveFile hands blob to the browser as a download called name. */
export function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** fmtTime shows an RFC 3339 time in the browser's locale. */
export function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString();
}

/**
 * announce tells screen-reader users (and everyone, briefly) what happened.
 * action ({label, run}) adds a button, such as Undo: that toast stays
 * longer, and does not go while the pointer or the focus is on it.
 */
export function announce(text, kind = 'info', action = null) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.replaceChildren(text);
  if (action) {
    el.append(' ', h('button', { type: 'button', class: 'small toast-action', id: 'toast-action', onClick: () => { el.hidden = true; action.run(); } }, action.label));
  }
  el.className = `toast ${kind}`;
  el.hidden = false;
  const ms = action ? 10000 : kind === 'error' ? 8000 : 4000;
  const hide = () => {
    if (el.matches(':hover') || el.contains(document.activeElement)) { announce.timer = setTimeout(hide, 1000); return; }
    el.hidden = true;
  };
  clearTimeout(announce.timer);
  announce.timer = setTimeout(hide, ms);
}

/**
 * twoStep makes a button for an action that cannot be undone: the first
 * click arms it (its text, and its accessible name, ask to click again),
 * leaving it disarms it, the second click runs action, and the button is
 * disabled meanwhile. An error the action throws is announced.
 */
export function twoStep(label, aria, action, { armed: armedText = `Click again to ${label.toLowerCase()}`, cls = 'small danger', attrs = {} } = {}) {
  let armed = false;
  const b = h('button', { type: 'button', class: cls, 'aria-label': aria, ...attrs }, label);
  const disarm = () => { armed = false; b.textContent = label; b.setAttribute('aria-label', aria); };
  b.addEventListener('click', async () => {
    if (!armed) { armed = true; b.textContent = armedText; b.setAttribute('aria-label', `${aria}: ${armedText.toLowerCase()}`); return; }
    b.disabled = true;
    try { await action(); } catch (err) { announce(err.message, 'error'); } finally {
      b.disabled = false;
      disarm();
      // Disabling a focused button drops its focus: a button still shown
      // (the action failed, or kept it) gets it back.
      if (b.isConnected && (!document.activeElement || document.activeElement === document.body)) b.focus();
    }
  });
  b.addEventListener('blur', disarm);
  return b;
}
