// The builder's shell: sign-in with an API key, role-aware navigation and
// a hash router (#/bots, #/bots/ID, #/connections, #/keys, #/audit).

import { api, hooks, session } from './api.js';
import { announce, clearForm, field, formErrors, h } from './dom.js';
import { botsPage, exportBot } from './bots.js';
import { editorPage } from './editor.js';
import { auditPage, connectionsPage, keysPage } from './admin.js';

// A CSP violation is a bug in this app: make it loud.
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline content'}`);
});

const root = document.getElementById('app');
let me = null;
let cleanup = null;

const ADMIN_ROUTES = new Set(['connections', 'keys', 'audit']);

function signInPage(message) {
  document.body.classList.remove('editing');
  const input = h('input', { type: 'password', id: 'signin-token', autocomplete: 'off', required: true, spellcheck: false });
  const form = h('form', { class: 'card signin', id: 'signin' },
    h('h1', null, 'Sign in to flowbot'),
    h('p', null, 'Paste an API key. It is kept in this tab only (session storage) and sent as a bearer token.'),
    field('API key', input, { pointer: '', hint: 'Admins create keys under API keys; the first admin token is printed when the server first starts.' }),
    h('p', { class: 'form-error', hidden: !message, role: 'alert' }, message || ''),
    h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearForm(form);
    session.token = input.value.trim();
    try {
      me = (await api('GET', '/v1/me', { quiet: true })).data;
      if (!location.hash || location.hash === '#/signin') location.hash = '#/bots';
      route();
    } catch (err) {
      session.token = '';
      formErrors(form, { message: err.status === 401 ? 'That key is unknown or has expired.' : err.message, details: [] });
      input.focus();
    }
  });
  root.replaceChildren(h('main', { id: 'main', class: 'signin-wrap' }, form));
  input.focus();
}

function shell() {
  const link = (hash, label) => h('a', { href: hash, dataset: { nav: hash.slice(2) } }, label);
  const nav = h('nav', { 'aria-label': 'Main' },
    link('#/bots', 'Bots'),
    me.role === 'admin' ? [link('#/connections', 'Connections'), link('#/keys', 'API keys'), link('#/audit', 'Audit log')] : null);
  const main = h('main', { id: 'main', tabindex: -1 });
  root.replaceChildren(
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h('header', { class: 'topbar' },
      h('a', { href: '#/bots', class: 'brand' }, h('img', { src: '/ui/favicon.svg', alt: '', width: 22, height: 22 }), 'flowbot'),
      nav,
      h('span', { class: 'who', id: 'who' }, `${me.name} · `, h('span', { class: `role role-${me.role}`, id: 'role' }, me.role)),
      h('button', { type: 'button', id: 'signout', class: 'small', onClick: signOut }, 'Sign out')),
    main);
  return main;
}

// signOut lets the page finish first, as leaving it does (the editor
// saves an edit still waiting for its autosave, or asks about changes it
// cannot save), and only then forgets the key: a save sent without it
// would lose the edit and read as a revoked key.
async function signOut() {
  if (leaving) return; // a page is being left: sign out from where it lands
  if (cleanup) {
    const c = cleanup;
    cleanup = null;
    if (await c(signOut) === false) { cleanup = c; return; }
  }
  session.token = '';
  me = null;
  location.hash = '#/signin';
  signInPage();
}

hooks.onUnauthorized = () => {
  session.token = '';
  me = null;
  signInPage('Your API key stopped working (revoked or expired). Sign in again.');
};

let shown = ''; // the address of the page shown
let wanted = ''; // the address asked for last
let leaving = false; // route waits for the page shown to finish (cleanup)

async function route() {
  wanted = location.hash;
  // Asked for another page while the one shown still finishes (the
  // editor saving): the route waiting for it goes to the latest address
  // once it has, or stays if the page refuses to be left. Drawing another
  // page now would hide the editor's question about its changes, and
  // leave its cleanup in charge of a page no longer shown.
  if (leaving) return;
  if (cleanup) {
    const c = cleanup;
    cleanup = null;
    // A page may refuse to be left (the editor, with changes it could not
    // save): the address goes back to it, and again() leaves after all.
    leaving = true;
    let left;
    try { left = await c(() => { location.hash = wanted; }); } finally { leaving = false; }
    if (left === false) {
      cleanup = c;
      history.replaceState(null, '', shown || '#/bots');
      return;
    }
  }
  shown = location.hash;
  if (!session.token) { signInPage(); return; }
  if (!me) {
    try { me = (await api('GET', '/v1/me', { quiet: true })).data; } catch (err) {
      session.token = '';
      signInPage(err.status === 401 ? 'Your API key stopped working. Sign in again.' : err.message);
      return;
    }
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const page = parts[0] || 'bots';
  const main = shell();
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.nav === page) a.setAttribute('aria-current', 'page');
  }
  const app = { me, reload: route, exportBot, go: (hash) => { location.hash = hash; } };
  document.body.classList.toggle('editing', page === 'bots' && !!parts[1]);
  if (ADMIN_ROUTES.has(page) && me.role !== 'admin') {
    main.append(h('section', { class: 'page' }, h('h1', null, 'Admins only'), h('p', null, 'This page is for admin keys. Your key is a designer key.')));
    return;
  }
  let r;
  switch (page) {
    case 'bots': r = parts[1] ? editorPage(main, decodeURIComponent(parts[1]), app) : botsPage(main, app); break;
    case 'connections': r = connectionsPage(main, app); break;
    case 'keys': r = keysPage(main, app); break;
    case 'audit': r = auditPage(main, app); break;
    default: main.append(h('section', { class: 'page' }, h('h1', null, 'Not found'), h('a', { href: '#/bots' }, 'Go to the bots')));
  }
  const c = await r;
  if (typeof c === 'function') cleanup = c;
  document.title = `${document.querySelector('main h1')?.textContent || 'flowbot'} · flowbot`;
}

window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (e) => { announce(String(e.reason?.message || e.reason), 'error'); });
route();
