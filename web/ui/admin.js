// Admin pages: connections (secrets write-only), API keys (token shown
// once) and the audit log.

import { api, download } from './api.js';
import { announce, clearForm, field, fmtTime, formErrors, h, select, twoStep } from './dom.js';

const CRED_FIELDS = {
  api_key: [['header', 'Header name', false, 'X-Shop-Key'], ['value', 'Key', true]],
  // An api_key sent as a query parameter (?key=…): type api_key with query.
  api_key_query: [['query', 'Query parameter name', false, 'key'], ['value', 'Key', true]],
  bearer: [['token', 'Token', true]],
  basic: [['username', 'Username', false], ['password', 'Password', true]],
  oauth2_client_credentials: [['token_url', 'Token URL', false, 'https://auth.example.com/oauth/token'], ['client_id', 'Client id', false], ['client_secret', 'Client secret', true], ['scopes', 'Scopes (space-separated)', false]],
};
const TYPE_LABELS = [['bearer', 'Bearer token'], ['api_key', 'API key header'], ['api_key_query', 'API key in the URL query'], ['basic', 'Basic (username and password)'], ['oauth2_client_credentials', 'OAuth 2 client credentials']];

/** credFields builds the credential inputs of a connection type; secrets are password fields, never pre-filled. */
function credFields(type, prefix) {
  return (CRED_FIELDS[type] || []).map(([key, label, secret, ph]) => {
    const input = h('input', {
      type: secret ? 'password' : 'text', id: `${prefix}-${key}`, name: key, placeholder: ph, spellcheck: false,
      autocomplete: secret ? 'new-password' : 'off', required: key !== 'scopes', dataset: { cred: key },
    });
    return field(label, input, { pointer: `/credentials/${key}`, hint: secret ? 'Write-only: stored encrypted, never shown again.' : undefined });
  });
}

function readCreds(box) {
  const c = {};
  for (const i of box.querySelectorAll('[data-cred]')) {
    const v = i.value.trim();
    if (!v) continue;
    c[i.dataset.cred] = i.dataset.cred === 'scopes' ? v.split(/\s+/) : v;
  }
  return c;
}

/** connectionsPage lists, creates, rotates and deletes connections. */
export async function connectionsPage(main) {
  const name = h('input', { type: 'text', id: 'conn-name', required: true, pattern: '[a-z0-9_]{3,64}', autocomplete: 'off', spellcheck: false });
  const type = select(TYPE_LABELS, 'bearer', { id: 'conn-type' });
  const domain = h('input', { type: 'text', id: 'conn-domain', required: true, autocomplete: 'off', spellcheck: false, placeholder: 'api.example.com' });
  const subs = h('input', { type: 'checkbox', id: 'conn-subdomains' });
  const expires = h('input', { type: 'date', id: 'conn-expires', min: tomorrow() });
  const creds = h('fieldset', { class: 'creds' });
  const showCreds = () => creds.replaceChildren(h('legend', null, 'Credentials'), ...credFields(type.value, 'conn-cred'));
  type.addEventListener('change', showCreds);
  showCreds();
  const form = h('form', { class: 'card', id: 'new-connection', 'aria-labelledby': 'new-conn-h', autocomplete: 'off' },
    h('h2', { id: 'new-conn-h' }, 'New connection'),
    field('Name', name, { pointer: '/name', hint: '3–64 lower-case letters, digits and _. Steps refer to it by name.' }),
    field('Type', type, { pointer: '/type' }),
    field('Allowed domain', domain, { pointer: '/allowed_domain', hint: 'Host name only. The credential is sent only to this host.' }),
    h('div', { class: 'field check' }, subs, h('label', { for: 'conn-subdomains' }, 'Also its subdomains')),
    creds,
    field('Expires (optional)', expires, { pointer: '/expires_at', hint: EXPIRY_HINT }),
    h('p', { class: 'form-error', hidden: true, role: 'alert' }),
    h('button', { type: 'submit', class: 'primary', id: 'create-connection' }, 'Create connection'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearForm(form);
    try {
      const r = await api('POST', '/v1/connections', { body: { name: name.value.trim(), type: type.value === 'api_key_query' ? 'api_key' : type.value, allowed_domain: domain.value.trim(), allow_subdomains: subs.checked, credentials: readCreds(creds), expires_at: expiryOf(expires) } });
      form.reset();
      showCreds();
      announce(`Connection ${r.data.name} created.`);
      load();
    } catch (err) {
      for (const i of creds.querySelectorAll('input[type=password]')) i.value = '';
      formErrors(form, err);
    }
  });

  const list = h('div', { id: 'connection-list' });
  main.replaceChildren(h('section', { class: 'page' }, h('h1', null, 'Connections'),
    h('p', { class: 'lead' }, 'Credentials that api_call steps use. Secrets are write-only: the API never returns them, only “*****”.'),
    h('div', { class: 'cols' }, h('div', { class: 'main-col' }, list), h('div', { class: 'side-col' }, form))));

  async function load() {
    try {
      const items = (await api('GET', '/v1/connections')).data.items;
      if (!items.length) { list.replaceChildren(h('p', { class: 'empty' }, 'No connections yet.')); return; }
      list.replaceChildren(h('table', { class: 'list' },
        h('thead', null, h('tr', null, ...['Name', 'Type', 'Domain', 'Credentials', 'Status', 'Used by', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, ...items.flatMap((c) => {
          const done = () => { rotateRow.hidden = true; load(); };
          const rotateRow = h('tr', { class: 'rotate-row', hidden: true }, h('td', { colspan: 7 }, rotateForm(c, done), expiryForm(c, done)));
          return [h('tr', { dataset: { connection: c.name } },
            h('th', { scope: 'row' }, h('code', null, c.name)),
            h('td', null, c.type),
            h('td', null, c.allowed_domain, c.allow_subdomains ? ' (and subdomains)' : ''),
            h('td', { class: 'creds-cell' }, ...Object.entries(c.credentials || {}).map(([k, v]) => h('div', null, h('span', { class: 'k' }, `${k}: `), h('code', null, Array.isArray(v) ? v.join(' ') : String(v)))),
              h('div', { class: 'hint' }, `set ${fmtTime(c.updated_at)}`)),
            h('td', { class: 'status-cell' }, statusOf(c)),
            h('td', { class: 'used-cell' }, (c.used_by || []).length
              ? (c.used_by || []).map((b) => h('div', null, h('a', { href: `#/bots/${encodeURIComponent(b.id)}` }, b.name)))
              : h('span', { class: 'hint' }, 'no published bot')),
            h('td', { class: 'actions stack' },
              h('button', {
                type: 'button', class: 'small', 'aria-label': `Rotate credentials of ${c.name}, or change their expiry date`, 'aria-expanded': 'false',
                onClick: (e) => { rotateRow.hidden = !rotateRow.hidden; e.currentTarget.setAttribute('aria-expanded', String(!rotateRow.hidden)); if (!rotateRow.hidden) rotateRow.querySelector('input')?.focus(); },
              }, 'Rotate / expiry'),
              twoStep('Delete', `Delete ${c.name}`, async () => {
                await api('DELETE', `/v1/connections/${encodeURIComponent(c.name)}`); announce(`Connection ${c.name} deleted.`); load();
              }))), rotateRow];
        }))));
    } catch (err) { list.replaceChildren(h('p', { class: 'form-error' }, err.message)); }
  }
  await load();
}

const EXPIRY_HINT = 'The day the credentials stop working (from 00:00 UTC). flowbot warns 7 days before; it keeps sending them after, as the API decides.';
const STATUS_LABELS = { ok: 'OK', expiring: 'Expires soon', refused: 'Refused', expired: 'Expired' };

/** tomorrow is the first day an expiry date may be (it counts from 00:00 UTC, which today has passed). */
function tomorrow() {
  return new Date(Date.now() + 86400000).toISOString().slice(0, 10);
}

/** expiryOf reads a date input as an expires_at value (start of that day, UTC); undefined when empty. */
function expiryOf(input) {
  return input.value ? `${input.value}T00:00:00Z` : undefined;
}

/** statusOf shows a connection's health: a badge, its expiry date, and what is wrong in words. */
function statusOf(c) {
  return [
    h('span', { class: `conn-status conn-${c.status}`, title: c.status_message }, STATUS_LABELS[c.status] || c.status),
    c.expires_at ? h('div', { class: 'hint' }, `expires ${fmtTime(c.expires_at)}`) : null,
    c.status === 'ok' ? null : h('div', { class: 'status-message' }, c.status_message),
  ];
}

/**
 * ifMatch names the version of c this page shows (its ETag is its updated_at, quoted), so a
 * change made here after another admin gave it new credentials is refused (409), not applied
 * to credentials nobody here has seen: an expiry date meant for the old ones, say.
 */
function ifMatch(c) {
  return { 'If-Match': `"${c.updated_at}"` };
}

/** changeError says a refused change in this page's words: a 409 means the list is out of date. */
function changeError(c, err) {
  if (err.status !== 409) return err;
  return { message: `Nothing was saved: ${c.name} was given new credentials after this list was loaded. Open Connections again to see them, then retry.` };
}

/** expiryForm changes or removes a connection's expiry date without new credentials. */
function expiryForm(c, done) {
  const date = h('input', { type: 'date', id: `exp-${c.name}`, min: tomorrow(), value: c.expires_at ? c.expires_at.slice(0, 10) : '' });
  // novalidate: the server's answer (at the field) says what is wrong; min only guides the picker.
  const form = h('form', { class: 'inline-form expiry', autocomplete: 'off', novalidate: true },
    field(`Expiry date of ${c.name}`, date, { pointer: '/expires_at', hint: EXPIRY_HINT }),
    h('p', { class: 'form-error', hidden: true, role: 'alert' }),
    h('button', { type: 'submit', class: 'small', 'aria-label': `Save the expiry date of ${c.name}` }, 'Save date'),
    c.expires_at ? h('button', { type: 'button', class: 'small', 'aria-label': `Remove the expiry date of ${c.name}`, onClick: () => save(null) }, 'Remove date') : null);
  async function save(expiresAt) {
    clearForm(form);
    try {
      await api('PATCH', `/v1/connections/${encodeURIComponent(c.name)}`, { body: { expires_at: expiresAt }, headers: ifMatch(c) });
      announce(expiresAt ? `Expiry date of ${c.name} saved.` : `Expiry date of ${c.name} removed.`);
      done();
    } catch (err) { formErrors(form, changeError(c, err)); }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); save(expiryOf(date) ?? null); });
  return form;
}

function rotateForm(c, done) {
  const expires = h('input', { type: 'date', id: `rot-${c.name}-expires`, min: tomorrow() });
  const box = h('fieldset', { class: 'creds' }, h('legend', null, `New credentials for ${c.name}`), ...credFields(c.type === 'api_key' && c.credentials?.query ? 'api_key_query' : c.type, `rot-${c.name}`),
    field('New credentials expire (optional)', expires, { pointer: '/expires_at', hint: 'Leave empty if they do not: the old date goes with the old credentials.' }));
  const form = h('form', { class: 'inline-form rotate', autocomplete: 'off' }, box,
    h('p', { class: 'form-error', hidden: true, role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, 'Save new credentials'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearForm(form);
    try {
      await api('PATCH', `/v1/connections/${encodeURIComponent(c.name)}`, { body: { credentials: readCreds(box), expires_at: expiryOf(expires) }, headers: ifMatch(c) });
      form.reset();
      announce(`Credentials of ${c.name} rotated.`);
      done();
    } catch (err) { formErrors(form, changeError(c, err)); }
  });
  return form;
}

/** keysPage lists, creates and revokes API keys. */
export async function keysPage(main) {
  const name = h('input', { type: 'text', id: 'key-name', required: true, maxlength: 100, autocomplete: 'off' });
  const role = select([['designer', 'Designer'], ['admin', 'Admin']], 'designer', { id: 'key-role' });
  const expires = h('input', { type: 'datetime-local', id: 'key-expires' });
  const ips = h('textarea', { id: 'key-ips', rows: 3, spellcheck: false, autocomplete: 'off', placeholder: '203.0.113.7\n198.51.100.0/24' });
  const shown = h('div', { id: 'new-token-box', class: 'banner success', hidden: true, role: 'alert' });
  const form = h('form', { class: 'card', id: 'new-key', 'aria-labelledby': 'new-key-h' },
    h('h2', { id: 'new-key-h' }, 'New API key'),
    field('Name', name, { pointer: '/name', hint: 'Who or what uses it.' }),
    field('Role', role, { pointer: '/role', hint: 'Designers build bots; admins also manage connections and keys.' }),
    field('Expires', expires, { pointer: '/expires_at', hint: 'Optional; local time.' }),
    field('Allowed IP addresses', ips, { pointer: '/allowed_ips', hint: 'Optional. IPv4 or IPv6 addresses or CIDR ranges (198.51.100.0/24, 2001:db8::/32), separated by commas or new lines; at most 20. Empty: any address.' }),
    h('p', { class: 'form-error', hidden: true, role: 'alert' }),
    h('button', { type: 'submit', class: 'primary', id: 'create-key' }, 'Create key'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearForm(form);
    const body = { name: name.value.trim(), role: role.value };
    if (expires.value) body.expires_at = new Date(expires.value).toISOString();
    // The server's problems point at /allowed_ips/N, N counting these entries.
    const allowed = ips.value.split(/[\s,]+/).filter(Boolean);
    if (allowed.length) body.allowed_ips = allowed;
    try {
      const r = await api('POST', '/v1/api-keys', { body });
      const code = h('code', { id: 'new-token' }, r.data.token);
      const copy = h('button', { type: 'button', class: 'small', onClick: async () => { try { await navigator.clipboard.writeText(r.data.token); announce('Token copied.'); } catch { announce('Select the token and copy it.', 'error'); } } }, 'Copy');
      shown.replaceChildren(h('p', null, h('strong', null, `Key “${r.data.name}” created. `), 'Copy the token now: it is shown only once.'), h('p', { class: 'token-line' }, code, ' ', copy),
        h('button', { type: 'button', class: 'small', id: 'hide-token', onClick: () => { shown.hidden = true; shown.replaceChildren(); } }, 'I have copied it'));
      shown.hidden = false;
      form.reset();
      load();
    } catch (err) { formErrors(form, err); }
  });
  const list = h('div', { id: 'key-list' });
  main.replaceChildren(h('section', { class: 'page' }, h('h1', null, 'API keys'), shown,
    h('div', { class: 'cols' }, h('div', { class: 'main-col' }, list), h('div', { class: 'side-col' }, form))));

  async function load() {
    try {
      const items = (await api('GET', '/v1/api-keys')).data.items;
      if (!items.length) { list.replaceChildren(h('p', { class: 'empty' }, 'No API keys yet (the bootstrap admin token is not listed).')); return; }
      list.replaceChildren(h('table', { class: 'list' },
        h('thead', null, h('tr', null, ...['Name', 'Role', 'Token starts', 'Allowed from', 'Expires', 'Created', 'Last used', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, ...items.map((k) => h('tr', { dataset: { key: k.id } },
          h('th', { scope: 'row' }, k.name),
          h('td', null, h('span', { class: `role role-${k.role}` }, k.role)),
          h('td', null, h('code', null, `${k.prefix}…`)),
          h('td', { class: 'ips-cell' }, k.allowed_ips?.length ? k.allowed_ips.map((ip) => h('div', null, h('code', null, ip))) : h('span', { class: 'hint' }, 'any address')),
          h('td', null, k.expires_at ? fmtTime(k.expires_at) : 'never'),
          h('td', null, fmtTime(k.created_at), h('div', { class: 'hint' }, k.created_by)),
          h('td', null, k.last_used_at ? fmtTime(k.last_used_at) : '—'),
          h('td', { class: 'actions' }, twoStep('Revoke', `Revoke ${k.name}`, async () => {
            await api('DELETE', `/v1/api-keys/${encodeURIComponent(k.id)}`); announce(`Key ${k.name} revoked.`); load();
          })))))));
    } catch (err) { list.replaceChildren(h('p', { class: 'form-error' }, err.message)); }
  }
  await load();
  name.focus();
}

/** auditPage shows audit events, newest first, a page at a time. */
export async function auditPage(main) {
  const limit = 50;
  let offset = 0;
  const list = h('div', { id: 'audit-list' });
  const prev = h('button', { type: 'button', id: 'audit-newer' }, '← Newer');
  const next = h('button', { type: 'button', id: 'audit-older' }, 'Older →');
  const info = h('span', { class: 'hint', role: 'status' });
  prev.addEventListener('click', () => { offset = Math.max(0, offset - limit); load(); });
  next.addEventListener('click', () => { offset += limit; load(); });
  const backup = h('button', { type: 'button', id: 'download-backup' }, 'Download a backup');
  backup.addEventListener('click', async () => {
    backup.disabled = true;
    try {
      const { size } = await download('/v1/backup', 'flowbot-backup.db');
      announce(`Backup downloaded (${Math.ceil(size / 1024)} KiB). Keep the secret key apart from it.`);
      offset = 0;
      await load();
    } catch (err) { announce(err.message, 'error'); } finally { backup.disabled = false; }
  });
  main.replaceChildren(h('section', { class: 'page' }, h('h1', null, 'Audit log'),
    h('p', { class: 'lead' }, 'Who changed connections and API keys, who published which bot, and who downloaded a backup.'),
    h('p', { class: 'backup-line' }, backup, ' ',
      h('span', { class: 'hint' }, 'A copy of the whole database, taken while flowbot runs. Credentials in it stay encrypted with the secret key, which it does not hold.')),
    list, h('div', { class: 'pager' }, prev, info, next)));
  async function load() {
    try {
      const r = (await api('GET', `/v1/audit?offset=${offset}&limit=${limit}`)).data;
      prev.disabled = offset === 0;
      next.disabled = offset + limit >= r.total;
      info.textContent = r.total ? `${offset + 1}–${Math.min(offset + limit, r.total)} of ${r.total}` : '';
      if (!r.items.length) { list.replaceChildren(h('p', { class: 'empty' }, 'Nothing recorded yet.')); return; }
      list.replaceChildren(h('table', { class: 'list' },
        h('thead', null, h('tr', null, ...['When', 'Who', 'Action', 'Target', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, ...r.items.map((ev) => h('tr', null,
          h('td', null, fmtTime(ev.at)), h('td', null, ev.actor), h('td', null, h('code', null, ev.action)), h('td', null, ev.target),
          h('td', null, Object.entries(ev.detail || {}).map(([k, v]) => `${k}=${v}`).join(', ')))))));
    } catch (err) { list.replaceChildren(h('p', { class: 'form-error' }, err.message)); }
  }
  await load();
}
