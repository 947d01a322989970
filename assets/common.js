// Shared by keyward's pages: the double-submit CSRF token and JSON calls to keyward's API.
// Loaded before each page's own script (both `defer`, so in order).
(function () {
  'use strict';

  /** The double-submit CSRF token: the page's `kw_csrf` cookie, echoed in a header. */
  function csrfToken() {
    for (const part of document.cookie.split(';')) {
      const i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === 'kw_csrf') {
        const v = part.slice(i + 1).trim();
        try {
          return decodeURIComponent(v);
        } catch (_) {
          return v;
        }
      }
    }
    return '';
  }

  /** fetch() with JSON in and out, CSRF header on every call with a body; never throws: a
   *  network failure is status 0. */
  async function call(method, path, body) {
    const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.headers['x-csrf-token'] = csrfToken();
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (_) {
      return { status: 0, data: {}, headers: new Headers() };
    }
    const data = await r.json().catch(() => ({}));
    return { status: r.status, data: data && typeof data === 'object' ? data : {}, headers: r.headers };
  }

  window.keyward = Object.freeze({ csrfToken, call });
})();
