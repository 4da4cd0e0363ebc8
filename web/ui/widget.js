/*
 * flowbot chat widget. Drop it into any page with one script tag:
 *
 *   <script src="https://flowbot.example.com/widget.js" data-bot="BOT_ID"></script>
 *
 * It talks to the flowbot that served this file (the script's own origin),
 * through the public conversation API: start a conversation without a key,
 * then send messages with the conversation token. It lives in a shadow
 * root, so the host page's styles and the widget's do not mix.
 * Optional: data-title="…" (panel title), data-open="true" (open on load),
 * data-user-token="…" (a signed-in visitor: a JWT your server signs with
 * FLOWBOT_USER_TOKEN_SECRET; it is read at each start, so a page may set a
 * fresh one on the script tag before the visitor starts over).
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var bot = script.getAttribute('data-bot');
  if (!bot) { console.warn('flowbot widget: the script tag needs data-bot="BOT_ID"'); return; }
  var base = new URL(script.src, location.href).origin;
  var title = script.getAttribute('data-title') || 'Chat with us';
  var storeKey = 'flowbot.widget.' + bot;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }

  var host = el('div', { class: 'flowbot-widget', 'data-bot': bot });
  var root = host.attachShadow({ mode: 'open' });
  root.appendChild(el('link', { rel: 'stylesheet', href: base + '/ui/widget.css' }));
  var launcher = el('button', { type: 'button', class: 'launcher', 'aria-expanded': 'false', 'aria-controls': 'fb-panel' }, 'Chat');
  var panel = el('section', { class: 'panel', id: 'fb-panel', role: 'dialog', 'aria-label': title, hidden: '' });
  var head = el('header', { class: 'head' });
  head.appendChild(el('h2', { id: 'fb-title' }, title));
  var restart = el('button', { type: 'button', class: 'icon', 'aria-label': 'Start over', title: 'Start over' }, '↻');
  var close = el('button', { type: 'button', class: 'icon', 'aria-label': 'Close chat', title: 'Close' }, '×');
  head.appendChild(restart);
  head.appendChild(close);
  var log = el('ol', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  var options = el('div', { class: 'options', role: 'group', 'aria-label': 'Quick replies' });
  var form = el('form', { class: 'composer' });
  var label = el('label', { for: 'fb-input', class: 'sr-only' }, 'Your message');
  var input = el('input', { id: 'fb-input', type: 'text', autocomplete: 'off', placeholder: 'Type a message…' });
  var send = el('button', { type: 'submit', class: 'send' }, 'Send');
  var status = el('p', { class: 'status', role: 'status' });
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(options); panel.appendChild(status); panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  var conv = null;
  var busy = false;
  // gen counts conversations shown; an answer that arrives after a
  // restart belongs to an older one and is dropped.
  var gen = 0;
  // shown is what the bot awaited at the last answer, to offer it again
  // when a message cannot be delivered.
  var shown = { status: 'active', awaiting: { type: 'none' } };
  // who names the signed-in visitor (the user token's external_id or
  // sub, '' for none). A stored conversation is resumed only for the same
  // visitor, so after a sign-out or a change of account on a shared
  // screen the next visitor never sees the last one's conversation.
  function who() {
    var t = script.getAttribute('data-user-token');
    if (!t) return '';
    try {
      var p = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      var bin = atob(p + '==='.slice((p.length + 3) % 4));
      var c = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, function (ch) { return ch.charCodeAt(0); })));
      return String(c.external_id || c.sub || '');
    } catch (e) { return '?'; }
  }
  try { conv = JSON.parse(sessionStorage.getItem(storeKey) || 'null'); } catch (e) { conv = null; }
  if (conv && (conv.who || '') !== who()) forget();

  // forget drops the stored conversation (its id and token) and whatever
  // of it is drawn.
  function forget() {
    conv = null;
    try { sessionStorage.removeItem(storeKey); } catch (e) { /* private mode */ }
    while (log.firstChild) log.removeChild(log.firstChild);
  }

  // sameVisitor reports whether the conversation in hand is the current
  // visitor's; when the page changed data-user-token (a sign-out, another
  // account) it is not: it is forgotten, and a new one starts if the
  // panel is open.
  function sameVisitor() {
    if (!conv || (conv.who || '') === who()) return true;
    gen++; busy = false; status.textContent = '';
    forget();
    if (!panel.hidden) start();
    return false;
  }
  new MutationObserver(function () { sameVisitor(); }).observe(script, { attributes: true, attributeFilter: ['data-user-token'] });

  function call(method, path, token, body, key) {
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    if (key) headers['Idempotency-Key'] = key;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(base + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), mode: 'cors', credentials: 'omit' })
      .then(function (r) {
        return r.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
          if (!r.ok) {
            var err = new Error((data && data.error && data.error.message) || ('HTTP ' + r.status));
            err.status = r.status;
            err.retryAfter = Number(r.headers.get('Retry-After')) || 1;
            throw err;
          }
          return data;
        });
      });
  }

  function add(from, text) {
    var li = el('li', { class: 'msg ' + from });
    li.appendChild(el('span', { class: 'sr-only' }, from === 'bot' ? 'Bot: ' : from === 'user' ? 'You: ' : ''));
    li.appendChild(document.createTextNode(text));
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function showTurn(t) {
    shown = { status: t.status, awaiting: t.awaiting };
    (t.messages || []).forEach(function (m) { add('bot', m.text); });
    while (options.firstChild) options.removeChild(options.firstChild);
    var aw = t.awaiting || { type: 'none' };
    if (aw.type === 'options') {
      (aw.options || []).forEach(function (o) {
        var b = el('button', { type: 'button', class: 'option', 'data-option': o.id }, o.label);
        b.addEventListener('click', function () { reply({ option_id: o.id }, o.label); });
        options.appendChild(b);
      });
    }
    var open = t.status === 'active';
    input.disabled = send.disabled = !(open && aw.type === 'text');
    status.textContent = open ? '' : (t.status === 'transferred' ? 'An agent will take over.' : 'The conversation has ended.');
    host.setAttribute('data-status', t.status);
    if (!input.disabled) input.focus();
  }

  function fail(err) {
    add('error', err.status === 429 ? 'Too many messages; wait a moment.' : 'Sorry, something went wrong (' + err.message + ').');
    busy = false;
  }

  function start() {
    if (busy) return;
    busy = true;
    while (log.firstChild) log.removeChild(log.firstChild);
    status.textContent = '';
    var g = gen;
    var body = { user: { locale: navigator.language } };
    var userToken = script.getAttribute('data-user-token');
    if (userToken) body.user_token = userToken;
    // With a key, a start whose answer is lost is sent again and gets the
    // same conversation (its first API calls are not made twice).
    var key = newKey();
    withRetry(g, function () { return call('POST', '/v1/bots/' + encodeURIComponent(bot) + '/conversations', null, body, key); },
      function (t) {
        conv = { id: t.id, token: t.token, who: who() };
        try { sessionStorage.setItem(storeKey, JSON.stringify(conv)); } catch (e) { /* private mode */ }
        busy = false;
        showTurn(t);
      }, fail, 0);
  }

  // draw shows a stored conversation: its transcript and what it awaits.
  function draw(c) {
    while (log.firstChild) log.removeChild(log.firstChild);
    (c.transcript || []).forEach(function (e) { add(e.from, e.text); });
    showTurn({ status: c.status, awaiting: c.awaiting, messages: [] });
  }

  function resume() {
    busy = true;
    call('GET', '/v1/conversations/' + encodeURIComponent(conv.id), conv.token)
      .then(function (c) { busy = false; draw(c); }, function () { busy = false; conv = null; start(); });
  }

  // newKey makes a request's Idempotency-Key (32 hex digits, 128 bits).
  // crypto.randomUUID needs a secure context; getRandomValues works on
  // plain-HTTP pages too.
  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }

  // withRetry calls send (a request with an Idempotency-Key) and, when its
  // answer is lost on the way (the connection dropped: no status; or a
  // proxy's 502/503/504), calls it again each second, for as long as a
  // turn may take (60 s); after a 429 it waits as told. The server runs a
  // keyed request once: a retry of one that ran gets its answer, one that
  // arrives while it still runs waits for it, and one whose first try
  // never arrived runs it now. done gets the answer, failed the error
  // that ended the tries; neither is called once the widget started over
  // (g is no longer gen).
  function withRetry(g, send, done, failed, tries) {
    send().then(function (t) {
      if (g !== gen) return;
      status.textContent = '';
      done(t);
    }, function (err) {
      if (g !== gen) return;
      var lost = !err.status || err.status === 502 || err.status === 503 || err.status === 504;
      if ((lost || err.status === 429) && tries < 65) {
        status.textContent = 'Waiting for the answer…';
        setTimeout(function () { if (g === gen) withRetry(g, send, done, failed, tries + 1); }, 1000 * (err.status === 429 ? Math.min(err.retryAfter, 30) : 1));
        return;
      }
      status.textContent = '';
      failed(err);
    });
  }

  // deliver sends a message, again while its answer is lost (withRetry).
  // A 409 means the conversation moved on (it ended, or another tab
  // answered): it is drawn as the server has it.
  function deliver(c, g, body, key) {
    withRetry(g, function () { return call('POST', '/v1/conversations/' + encodeURIComponent(c.id) + '/messages', c.token, body, key); },
      function (t) { busy = false; showTurn(t); },
      function (err) {
        if (err.status === 409) {
          call('GET', '/v1/conversations/' + encodeURIComponent(c.id), c.token)
            .then(function (v) { if (g === gen) { busy = false; draw(v); } }, function () { if (g === gen) giveUp(err); });
          return;
        }
        giveUp(err);
      }, 0);
  }

  // giveUp reports a message that could not be delivered and offers again
  // what the bot awaited, so the user may send it again.
  function giveUp(err) {
    fail(err);
    showTurn({ status: shown.status, awaiting: shown.awaiting, messages: [] });
  }

  function reply(body, text) {
    if (!conv || busy || !sameVisitor()) return;
    busy = true;
    add('user', text);
    while (options.firstChild) options.removeChild(options.firstChild);
    input.value = '';
    input.disabled = send.disabled = true;
    deliver(conv, gen, body, newKey());
  }

  function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute('aria-expanded', String(open));
    launcher.textContent = open ? 'Close' : 'Chat';
    if (open) {
      if (sameVisitor() && !log.firstChild) { if (conv) resume(); else start(); }
      if (!input.disabled) input.focus();
    } else {
      launcher.focus();
    }
  }

  launcher.addEventListener('click', function () { toggle(panel.hidden); });
  close.addEventListener('click', function () { toggle(false); });
  restart.addEventListener('click', function () { gen++; busy = false; status.textContent = ''; conv = null; start(); });
  panel.addEventListener('keydown', function (e) { if (e.key === 'Escape') toggle(false); });
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (text) reply({ text: text }, text);
  });

  function mount() {
    document.body.appendChild(host);
    if (script.getAttribute('data-open') === 'true') toggle(true);
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
}());
