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

  /** A server message made into a sentence: "displayName must…" → "Display name must…". */
  function sentence(text) {
    let s = String(text || '').trim().replace(/^displayName\b/, 'display name');
    if (!s) return s;
    s = s.charAt(0).toUpperCase() + s.slice(1);
    return /[.!?]$/.test(s) ? s : s + '.';
  }

  /** What to tell the person about a failed call. */
  function message(r, fallback) {
    if (r.status === 0) return 'keyward cannot be reached. Check your connection and try again.';
    if (typeof r.data.message === 'string' && r.data.message) return sentence(r.data.message);
    return fallback + ' (' + r.status + ')';
  }

  /** When a register token expires (ms), read from its payload; the server decides anyway. */
  function tokenExpiry(token) {
    try {
      const b = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const exp = JSON.parse(atob(b + '==='.slice((b.length + 3) % 4))).exp;
      if (typeof exp === 'number') return exp * 1000;
    } catch (_) {
      // not a JWT we can read
    }
    return Date.now() + 10 * 60 * 1000;
  }

  /** The register token of a page (`#registerToken=` in the URL): taken out of the address bar
   *  (it is a credential) and kept for this tab under `key`, so a reload keeps it while it is
   *  valid and the page serves the same `flow`. Returns the token (or null) and a way to forget
   *  it. */
  function registerToken(key, flow) {
    const forget = () => {
      try {
        sessionStorage.removeItem(key);
      } catch (_) {
        // storage may be off
      }
    };
    const fromHash = new URLSearchParams(location.hash.slice(1)).get('registerToken');
    if (fromHash) {
      try {
        sessionStorage.setItem(key, JSON.stringify({ token: fromHash, flow: flow || null, exp: tokenExpiry(fromHash) }));
      } catch (_) {
        // storage may be off; the token still works for this page view
      }
      history.replaceState(null, '', location.pathname + location.search);
      return { token: fromHash, forget };
    }
    try {
      const kept = JSON.parse(sessionStorage.getItem(key) || 'null');
      if (kept && kept.token && kept.flow === (flow || null) && kept.exp > Date.now()) {
        return { token: kept.token, forget };
      }
    } catch (_) {
      // nothing usable kept
    }
    forget();
    return { token: null, forget };
  }

  /** Fills the "Sign in with" select with password instances (shown only when there are
   *  several) and reports the chosen id; returns the first one's id. */
  function instanceSelect(select, row, instances, onChange) {
    if (instances.length > 1) {
      for (const i of instances) {
        const o = document.createElement('option');
        o.value = i.id;
        o.textContent = i.name || i.id;
        select.appendChild(o);
      }
      select.addEventListener('change', () => onChange(select.value));
      row.classList.remove('hidden');
    }
    return instances[0].id;
  }

  window.keyward = Object.freeze({ csrfToken, call, sentence, message, registerToken, instanceSelect });
})();
