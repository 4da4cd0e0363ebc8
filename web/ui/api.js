// The HTTP API client. The builder uses only the public API of
// openapi.yaml; the API key lives in session storage (gone when the tab is).

import { saveFile } from './dom.js';

const KEY = 'flowbot.token';

/** ApiError is an error answer: {error: {code, message, details}}. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `request failed with status ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.details = e.details || [];
  }
}

export const session = {
  get token() { return sessionStorage.getItem(KEY) || ''; },
  set token(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
};

/** onUnauthorized is called when the API key stops working. */
export const hooks = { onUnauthorized: () => {} };

/**
 * api calls the HTTP API. opts.token overrides the API key (the preview
 * uses the conversation token); opts.anonymous sends no token; opts.blob
 * returns a successful answer's body as a Blob (a file to save).
 */
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  const tok = opts.anonymous ? '' : (opts.token || session.token);
  if (tok) headers.Authorization = `Bearer ${tok}`;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, { error: { code: 'network_error', message: `Could not reach the server (${err.message}).` } });
  }
  if (opts.blob && res.ok) return { status: res.status, data: await res.blob(), headers: res.headers };
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && !opts.token && !opts.anonymous && !opts.quiet) hooks.onUnauthorized(err);
    throw err;
  }
  return { status: res.status, data, headers: res.headers };
}

/**
 * download fetches path with the API key and saves the answer as a file,
 * named as the server's Content-Disposition says. It returns the file (a
 * Blob).
 */
export async function download(path, fallbackName) {
  const r = await api('GET', path, { blob: true });
  const m = /filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '');
  saveFile(r.data, m ? m[1] : fallbackName);
  return r.data;
}
