// "Conversations": the bot's real conversations, most recently updated
// first, a page at a time; opening one shows its transcript and its
// execution log, as its users and the engine saw them.

import { api, download } from './api.js';
import { announce, fmtTime, h, select, twoStep } from './dom.js';
import { logTable } from './preview.js';

/**
 * conversations builds the pane listing a bot's conversations; admins
 * (canErase) can also erase one.
 */
export function conversations(botId, canErase) {
  let cursor = '';
  const list = h('div', { id: 'conv-list' });
  const refreshBtn = h('button', { type: 'button', id: 'conv-refresh' }, 'Refresh');
  const olderBtn = h('button', { type: 'button', id: 'conv-older', hidden: true }, 'Older →');
  const exportBtn = h('button', { type: 'button', id: 'conv-export', title: 'Every conversation shown by the status filter, with transcripts, variables and users, one JSON document per line' }, 'Export');
  const detail = h('div', { id: 'conv-detail', tabindex: -1 });
  const statusSel = select([['', 'All'], ['active', 'Active'], ['ended', 'Ended'], ['transferred', 'Transferred'], ['error', 'Error']], '', { id: 'conv-status' });

  let gen = 0; // loads started; only the latest one draws

  // load shows the newest page, or (more) appends the next one. A page
  // may come back empty with a cursor (the server looks at a bounded
  // number of conversations of all bots per request): the cursor is then
  // followed, a few requests at most, until there are rows. A load that a
  // newer one overtook (another status chosen meanwhile) draws nothing.
  async function load(more) {
    const g = ++gen;
    const status = statusSel.value;
    let next = more ? cursor : '';
    try {
      let items = [];
      for (let tries = 0; tries < 10; tries++) {
        const q = `/v1/bots/${encodeURIComponent(botId)}/conversations?limit=20${status ? `&status=${encodeURIComponent(status)}` : ''}${next ? `&cursor=${encodeURIComponent(next)}` : ''}`;
        const r = (await api('GET', q)).data;
        if (g !== gen) return;
        next = r.next_cursor || '';
        items = r.items;
        if (items.length || !next) break;
      }
      cursor = next;
      olderBtn.hidden = !cursor;
      const rows = items.map((c) => h('tr', { dataset: { conversation: c.id } },
        h('td', null, fmtTime(c.updated_at)),
        h('td', null, c.user.name || c.user.external_id || '—'),
        h('td', null, h('span', { class: `conv-status ${c.status}` }, c.status)),
        h('td', null, String(c.turns)),
        h('td', null, h('button', { type: 'button', class: 'small', 'aria-label': `Open the conversation of ${fmtTime(c.updated_at)}`, onClick: () => open(c.id) }, 'Open'))));
      const tbody = more ? list.querySelector('tbody') : null;
      if (tbody) { tbody.append(...rows); return; }
      if (!rows.length) {
        list.replaceChildren(h('p', { class: 'empty' }, cursor ? 'None among the most recent conversations: look at older ones.'
          : status ? `No ${status} conversations.` : 'No conversations yet. Publish the bot and talk to it.'));
        return;
      }
      list.replaceChildren(h('table', { class: 'list conv-table' },
        h('thead', null, h('tr', null, ...['Updated', 'User', 'Status', 'Turns', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, ...rows)));
    } catch (err) { if (g === gen) list.replaceChildren(h('p', { class: 'form-error' }, err.message)); }
  }

  async function open(id) {
    try {
      const [c, log] = await Promise.all([api('GET', `/v1/conversations/${encodeURIComponent(id)}`), api('GET', `/v1/conversations/${encodeURIComponent(id)}/log`)]);
      const conv = c.data;
      // Two clicks, as for every deletion here: the transcript, log and
      // variables are gone for good.
      const erase = canErase ? twoStep('Erase this conversation', 'Erase this conversation', async () => {
        await api('DELETE', `/v1/conversations/${encodeURIComponent(id)}`);
        detail.replaceChildren();
        announce('Conversation erased.');
        await load(false);
      }, { armed: 'Click again to erase for good', attrs: { id: 'conv-erase' } }) : null;
      detail.replaceChildren(
        h('h3', { id: 'conv-detail-h' }, `${conv.user?.name || 'Conversation'} · version ${conv.version} · ${conv.status}`),
        erase,
        h('ol', { class: 'chat conv-transcript', 'aria-label': 'Transcript' }, ...conv.transcript.map((e) =>
          h('li', { class: `msg ${e.from}` }, h('span', { class: 'sr-only' }, e.from === 'bot' ? 'Bot: ' : 'User: '), e.text))),
        h('h4', null, 'Execution log'), logTable(log.data.items));
      detail.focus();
    } catch (err) { detail.replaceChildren(h('p', { class: 'form-error' }, err.message)); }
  }

  refreshBtn.addEventListener('click', () => load(false));
  statusSel.addEventListener('change', () => { cursor = ''; olderBtn.hidden = true; load(false); });
  olderBtn.addEventListener('click', () => load(true));
  // Export downloads the conversations the status filter shows, all of
  // them (up to 100,000), not only the pages loaded. It is audited.
  exportBtn.addEventListener('click', async () => {
    exportBtn.disabled = true;
    try {
      const status = statusSel.value;
      const file = await download(`/v1/bots/${encodeURIComponent(botId)}/conversations/export?limit=100000${status ? `&status=${encodeURIComponent(status)}` : ''}`, 'flowbot-conversations.jsonl');
      // A read that failed after lines were sent ends the file with an
      // error line: the file is then not whole.
      const last = (await file.slice(Math.max(0, file.size - 512)).text()).trimEnd().split('\n').pop();
      if (last.startsWith('{"error":')) announce('The export stopped early: the file holds only the conversations before the failure. Try again.', 'error');
      else announce(`Conversations exported (${Math.ceil(file.size / 1024)} KiB, JSON lines).`);
    } catch (err) { announce(err.message, 'error'); } finally { exportBtn.disabled = false; }
  });
  const el = h('section', { class: 'conversations', 'aria-labelledby': 'conv-h' },
    h('div', { class: 'preview-head' }, h('h2', { id: 'conv-h' }, 'Conversations'), h('span', null, exportBtn, ' ', refreshBtn)),
    h('p', { class: 'hint' }, 'Real conversations with this bot, most recent first.'),
    h('div', { class: 'field inline' }, h('label', { for: 'conv-status' }, 'Status'), statusSel), list, olderBtn, detail);
  return { el, refresh: () => load(false) };
}
