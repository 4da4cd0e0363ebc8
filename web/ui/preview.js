// "Try it": runs the published bot through the public conversation API
// exactly as a widget does (start without a key, then send messages with
// the conversation token), and shows the conversation's execution log.

import { api } from './api.js';
import { fmtTime, h } from './dom.js';
import { notSentHint } from './steps.js';

/** preview builds the chat pane for a bot; published() returns its published version (0: none). */
export function preview(botId, published) {
  let conv = null; // {id, token}
  let busy = false;
  const log = h('ol', { class: 'chat', id: 'chat-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const optionsBox = h('div', { class: 'chat-options', id: 'chat-options', role: 'group', 'aria-label': 'Quick replies' });
  const input = h('input', { type: 'text', id: 'chat-input', autocomplete: 'off', disabled: true, placeholder: 'Type a reply…' });
  const send = h('button', { type: 'submit', id: 'chat-send', disabled: true }, 'Send');
  const form = h('form', { class: 'composer' }, h('label', { for: 'chat-input', class: 'sr-only' }, 'Your message'), input, send);
  const status = h('p', { class: 'conv-status', id: 'chat-status', role: 'status' });
  const startBtn = h('button', { type: 'button', id: 'chat-start', class: 'primary' }, 'Start conversation');
  const logBtn = h('button', { type: 'button', id: 'show-log', disabled: true }, 'Execution log');
  const logBox = h('div', { class: 'exec-log', id: 'exec-log', hidden: true, tabindex: -1 });
  const note = h('p', { class: 'hint', id: 'preview-note' });

  const add = (from, text) => {
    log.append(h('li', { class: `msg ${from}` }, h('span', { class: 'sr-only' }, from === 'bot' ? 'Bot: ' : 'You: '), text));
    log.scrollTop = log.scrollHeight;
  };
  const showTurn = (t) => {
    for (const m of t.messages || []) add('bot', m.text);
    optionsBox.replaceChildren();
    const aw = t.awaiting || { type: 'none' };
    if (aw.type === 'options') {
      for (const o of aw.options || []) optionsBox.append(h('button', { type: 'button', class: 'option', dataset: { option: o.id }, onClick: () => reply({ option_id: o.id }, o.label) }, o.label));
    }
    const open = t.status === 'active';
    input.disabled = !open || aw.type !== 'text';
    send.disabled = input.disabled;
    status.textContent = open ? (aw.type === 'text' ? 'Waiting for your reply.' : aw.type === 'options' ? 'Choose an option.' : 'Active.') : `Conversation ${t.status}.`;
    status.dataset.status = t.status;
    if (!input.disabled) input.focus();
    else if (aw.type === 'options') optionsBox.querySelector('button')?.focus();
  };
  const fail = (err) => { add('error', `Error: ${err.message}`); status.textContent = err.message; };

  async function start() {
    if (busy) return;
    busy = true;
    log.replaceChildren(); optionsBox.replaceChildren(); logBox.hidden = true; logBox.replaceChildren();
    try {
      const r = await api('POST', `/v1/bots/${encodeURIComponent(botId)}/conversations`, { anonymous: true, body: { user: { name: 'Preview', locale: navigator.language } } });
      conv = { id: r.data.id, token: r.data.token };
      startBtn.textContent = 'Restart';
      logBtn.disabled = false;
      showTurn(r.data);
    } catch (err) { fail(err); } finally { busy = false; }
  }

  async function reply(body, shown) {
    if (!conv || busy) return;
    busy = true;
    add('user', shown);
    optionsBox.replaceChildren();
    input.value = '';
    input.disabled = true; send.disabled = true;
    try {
      const r = await api('POST', `/v1/conversations/${encodeURIComponent(conv.id)}/messages`, { token: conv.token, body });
      showTurn(r.data);
    } catch (err) { fail(err); input.disabled = false; send.disabled = false; } finally { busy = false; }
    if (!logBox.hidden) showLog(false);
  }

  async function showLog(focus = true) {
    if (!conv) return;
    try {
      const r = await api('GET', `/v1/conversations/${encodeURIComponent(conv.id)}/log`);
      logBox.replaceChildren(h('h3', { id: 'exec-log-h' }, `Execution log · version ${r.data.version} · ${r.data.status}`), logTable(r.data.items));
      logBox.hidden = false;
      if (focus) logBox.focus();
    } catch (err) { fail(err); }
  }

  startBtn.addEventListener('click', start);
  logBtn.addEventListener('click', () => showLog(true));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text) reply({ text }, text);
  });

  const el = h('section', { class: 'preview', 'aria-labelledby': 'preview-h' },
    h('div', { class: 'preview-head' }, h('h2', { id: 'preview-h' }, 'Try it'), startBtn),
    note, log, optionsBox, form, status, logBtn, logBox);
  return {
    el,
    refresh() {
      const v = published();
      note.textContent = v ? `Talks to published version ${v} through the public conversation API, as the widget does. Publish again to try new changes.` : 'Publish the bot first: conversations run the latest published version.';
      startBtn.disabled = !v;
    },
  };
}

export function logTable(items) {
  if (!items.length) return h('p', { class: 'empty' }, 'No steps ran yet.');
  return h('ol', { class: 'log-list', 'aria-label': 'Steps run' }, ...items.map((it) => h('li', { dataset: { step: it.step_id } },
    h('div', { class: 'log-head' },
      h('span', { class: 'seq' }, `#${it.seq}`), ' ',
      h('code', null, it.step_id), ' ',
      h('span', { class: 'type' }, it.step_type), ' ',
      h('span', { class: `outcome ${it.api_call ? it.api_call.branch : ''}` }, it.outcome),
      it.next ? [' → ', h('code', null, it.next)] : null),
    h('div', { class: 'log-detail' }, detail(it)))));
}

function detail(it) {
  const parts = [];
  const a = it.api_call;
  if (a) {
    if (a.url) {
      parts.push(h('div', null, h('code', null, `${a.method} ${a.url}`)));
      parts.push(h('div', null, [a.status ? `HTTP ${a.status}` : 'no response', `${Math.round(a.duration_ms)} ms`, `${a.bytes} bytes`, `${a.branch} branch`].join(' · ')));
    } else {
      // No URL: the request was never built; a bare "GET" looked sent.
      parts.push(h('div', null, h('strong', null, 'Not sent'), ` (${a.method}) · ${a.branch} branch`));
    }
    if (a.variables_saved?.length) parts.push(h('div', null, `saved: ${a.variables_saved.join(', ')}`));
    if (a.error) parts.push(h('div', { class: 'err' }, `${a.error}${a.error_message ? `: ${a.error_message}` : ''}`));
    const hint = a.url ? '' : notSentHint(a.error, a.error_message);
    if (hint) parts.push(h('div', null, hint));
    if (a.request_body) parts.push(bodyOf('Request body', a.request_body, a.request_body_cut));
    if (a.response_body) parts.push(bodyOf('Response body', a.response_body, a.response_body_cut));
  }
  for (const [k, v] of Object.entries(it.detail || {})) parts.push(h('div', null, `${k}: ${v}`));
  parts.push(h('div', { class: 'when' }, fmtTime(it.at)));
  return parts;
}

// bodyOf shows a body the log kept, folded: it may be long. A whole JSON
// body is indented to be read; a cut one is shown as kept.
function bodyOf(label, text, cut) {
  let shown = text;
  if (!cut) {
    try { JSON.parse(text); shown = indentJSON(text); } catch { /* not JSON: as kept */ }
  }
  return h('details', { class: 'log-body' },
    h('summary', null, cut ? `${label} (first 2 KiB)` : label),
    h('pre', null, shown));
}

// indentJSON re-spaces valid JSON text without parsing its values, so a
// number shows exactly as the API sent it (JSON.parse would round
// 12345678901234567890 and turn 1.0 into 1) and repeated keys stay.
export function indentJSON(text) {
  let out = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  const nl = () => `\n${'  '.repeat(depth)}`;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
    if (c === '"') { inString = true; out += c; continue; }
    if (c === '{' || c === '[') {
      let j = i + 1;
      while (j < text.length && ' \n\r\t'.includes(text[j])) j++;
      if (text[j] === '}' || text[j] === ']') { out += c + text[j]; i = j; continue; }
      depth++;
      out += c + nl();
    } else if (c === '}' || c === ']') {
      depth--;
      out += nl() + c;
    } else if (c === ',') {
      out += c + nl();
    } else if (c === ':') {
      out += ': ';
    } else {
      out += c;
    }
  }
  return out;
}
