// The bot list: create, open, export, import, delete.

import { api } from './api.js';
import { announce, clearForm, field, fmtTime, formErrors, h, saveFile, twoStep } from './dom.js';

/** exportBot downloads a bot's portable JSON document. */
export async function exportBot(id) {
  try {
    const r = await api('GET', `/v1/bots/${encodeURIComponent(id)}/export`);
    saveFile(new Blob([JSON.stringify(r.data, null, 2)], { type: 'application/json' }), `bot-${id}.json`);
    announce('Export downloaded.');
  } catch (err) { announce(err.message, 'error'); }
}

/** botsPage renders the bot list into main. */
export async function botsPage(main, app) {
  const name = h('input', { type: 'text', id: 'bot-name', required: true, maxlength: 200, autocomplete: 'off' });
  const desc = h('input', { type: 'text', id: 'bot-description', maxlength: 2000, autocomplete: 'off' });
  const create = h('form', { class: 'card', id: 'new-bot', 'aria-labelledby': 'new-bot-h' },
    h('h2', { id: 'new-bot-h' }, 'New bot'),
    field('Name', name, { pointer: '/name' }),
    field('Description', desc, { pointer: '/description', hint: 'Optional.' }),
    h('p', { class: 'form-error', hidden: true, role: 'alert' }),
    h('button', { type: 'submit', class: 'primary', id: 'create-bot' }, 'Create bot'));
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearForm(create);
    try {
      const r = await api('POST', '/v1/bots', { body: { name: name.value.trim(), description: desc.value } });
      app.go(`#/bots/${encodeURIComponent(r.data.id)}`);
    } catch (err) { formErrors(create, err); }
  });

  const file = h('input', { type: 'file', id: 'import-file', accept: 'application/json,.json' });
  const importForm = h('form', { class: 'card', id: 'import-bot', 'aria-labelledby': 'import-h' },
    h('h2', { id: 'import-h' }, 'Import'),
    field('Bot export (JSON)', file, { pointer: '', hint: 'A file from “Export”. It becomes a new bot; connections are referenced by name.' }),
    h('p', { class: 'form-error', hidden: true, role: 'alert' }),
    h('button', { type: 'submit' }, 'Import bot'));
  importForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearForm(importForm);
    const f = file.files[0];
    if (!f) { formErrors(importForm, { message: 'Choose a file first.' }); return; }
    try {
      const text = await f.text();
      const r = await api('POST', '/v1/bots/import', { body: text });
      announce(`Imported “${r.data.name}”.`);
      app.go(`#/bots/${encodeURIComponent(r.data.id)}`);
    } catch (err) { formErrors(importForm, err); }
  });

  const list = h('div', { id: 'bot-list' }, h('p', null, 'Loading…'));
  main.replaceChildren(h('section', { class: 'page' },
    h('h1', null, 'Bots'),
    h('div', { class: 'cols' }, h('div', { class: 'main-col' }, list), h('div', { class: 'side-col' }, create, importForm))));

  async function load() {
    try {
      const r = await api('GET', '/v1/bots?limit=200');
      const items = r.data.items;
      if (!items.length) { list.replaceChildren(h('p', { class: 'empty' }, 'No bots yet. Create one.')); return; }
      list.replaceChildren(h('table', { class: 'list' },
        h('caption', { class: 'sr-only' }, 'Bots'),
        h('thead', null, h('tr', null, ...['Name', 'Steps', 'Draft', 'Published', 'Updated', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, ...items.map((b) => {
          const del = twoStep('Delete', `Delete ${b.name}`, async () => {
            await api('DELETE', `/v1/bots/${encodeURIComponent(b.id)}`); announce(`Deleted “${b.name}”.`); load();
          });
          return h('tr', { dataset: { bot: b.id } },
            h('th', { scope: 'row' }, h('a', { href: `#/bots/${encodeURIComponent(b.id)}` }, b.name), b.description ? h('div', { class: 'hint' }, b.description) : null),
            h('td', null, String(b.steps)),
            h('td', null, `rev ${b.revision}`),
            h('td', null, b.published_version ? `v${b.published_version}` : '—'),
            h('td', null, fmtTime(b.updated_at)),
            h('td', { class: 'actions' },
              h('a', { href: `#/bots/${encodeURIComponent(b.id)}`, class: 'button small' }, 'Open'),
              h('button', { type: 'button', class: 'small', 'aria-label': `Export ${b.name}`, onClick: () => exportBot(b.id) }, 'Export'),
              del));
        }))));
    } catch (err) { list.replaceChildren(h('p', { class: 'form-error' }, err.message)); }
  }
  await load();
  name.focus();
}
