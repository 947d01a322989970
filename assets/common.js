// Shared by keyward's pages: the double-submit CSRF token, JSON calls to keyward's API, and
// the small pieces every page uses. Loaded before each page's own script (both `defer`, so in
// order).
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  /** Shows an element; with `on === false`, hides it. */
  const show = (el, on) => el.classList.toggle('hidden', on === false);
  const hide = (el) => el.classList.add('hidden');

  /** A form field's own error (#<field>-error), marked for assistive technology too. */
  function fieldError(field, text) {
    const el = $(field + '-error');
    el.textContent = text;
    show(el);
    $(field).setAttribute('aria-invalid', 'true');
  }

  function clearField(field) {
    hide($(field + '-error'));
    $(field).removeAttribute('aria-invalid');
  }

  /** Clears the errors of these fields and the form's own #error. */
  function clearErrors(fields) {
    fields.forEach(clearField);
    hide($('error'));
  }

  /** The flow id that ties a hosted page to an authorization request (`?flow=`), and the
   *  query string that hands it on to the next page or call ('' without one). */
  const flow = new URLSearchParams(location.search).get('flow');
  const flowQuery = flow ? '?flow=' + encodeURIComponent(flow) : '';

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

  /** The form field a refused call is about (the answer's `field`), when it is one of
   *  `fields`; else null. */
  function fieldOf(r, fields) {
    const f = r && r.data ? r.data.field : null;
    return typeof f === 'string' && fields.includes(f) ? f : null;
  }

  /** The fewest characters a new password may have, as the server says it (the flow context's
   *  `passwordMinLength`); null when it does not say. */
  function passwordMin(ctx) {
    const n = ctx ? ctx.passwordMinLength : null;
    return Number.isInteger(n) && n > 0 ? n : null;
  }

  /** Gives the password inputs `ids` the server's minimum (`minlength`) and says it in each
   *  one's hint (#<id>-hint), where there is one. */
  function applyPasswordMin(min, ids) {
    if (!min) return;
    for (const id of ids) {
      $(id).setAttribute('minlength', String(min));
      const hint = $(id + '-hint');
      if (hint) {
        hint.textContent = 'At least ' + min + ' characters.';
        show(hint);
      }
    }
  }

  /** Whether a new password is shorter than the server's minimum (counted in characters, as
   *  the server counts). */
  function tooShort(password, min) {
    return !!min && Array.from(password).length < min;
  }

  /** What to say about a password shorter than `min`. */
  function tooShortText(min, what) {
    return 'The ' + (what || 'password') + ' must be at least ' + min + ' characters long.';
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
  function registerToken(key) {
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

  /** Whether a call was refused because its register token was made in another browser (or
   *  not by a sign-in on these pages): such a token is never used here. */
  function otherBrowser(r) {
    return r.status === 403 && r.data.code === 'register_token_other_browser';
  }

  const LOGIN_KINDS = { userpass: 'Password login', passkey: 'Passkey', github: 'GitHub account', gitlab: 'GitLab account', oidc: 'Account' };

  /** Names the login a page is about to attach (`login` of the flow's suggestion:
   *  `{instance, type, account}`) in `#<prefix>-account` and `#<prefix>-where`, and shows
   *  `#<prefix>`; returns whether there was one to name. */
  function nameLogin(prefix, login) {
    if (!login || typeof login.account !== 'string' || typeof login.instance !== 'string') return false;
    $(prefix + '-account').textContent = login.account;
    const kind = LOGIN_KINDS[login.type] || 'Login';
    // "GitHub account", not "GitHub account on GitHub".
    const named = kind.toLowerCase().startsWith(login.instance.toLowerCase() + ' ');
    $(prefix + '-where').textContent = named ? kind : kind + ' on ' + login.instance;
    show($(prefix));
    return true;
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

  /** The context of a hosted page's flow. When it cannot be had, hides #loading, says why (a
   *  bad or expired flow in #invalid with its detail, anything else in #load-error) and
   *  returns null. */
  async function flowContext(failure) {
    const r = await call('GET', '/auth/api/flow/context' + flowQuery);
    if (r.status === 200) return r.data;
    hide($('loading'));
    if (r.status === 400) {
      const detail = typeof r.data.message === 'string' ? r.data.message : '';
      $('invalid-detail').textContent = detail;
      show($('invalid-detail'), !!detail);
      show($('invalid'));
    } else {
      $('load-error').textContent = message(r, failure);
      show($('load-error'));
    }
    return null;
  }

  /** An element with properties (`text`, `class`, `data`, attributes) and children. */
  function el(tag, props, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k === 'data') for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = dv;
      else e.setAttribute(k, v);
    }
    for (const c of children || []) if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return e;
  }

  const TYPES = { userpass: 'Password', passkey: 'Passkey', github: 'GitHub', gitlab: 'GitLab', oidc: 'OpenID Connect' };
  const typeName = (t) => TYPES[t] || t || '';

  /** A time for people, in their locale; '' for none. */
  function when(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return '';
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  /** A browser and system, in words, from a User-Agent. */
  function device(ua) {
    if (!ua) return 'Unknown device';
    const browser =
      /Edg\//.test(ua) ? 'Edge'
        : /OPR\/|Opera/.test(ua) ? 'Opera'
          : /Firefox\//.test(ua) ? 'Firefox'
            : /HeadlessChrome/.test(ua) ? 'Chrome (headless)'
              : /Chrome\/|Chromium\//.test(ua) ? 'Chrome'
                : /Safari\//.test(ua) ? 'Safari'
                  : /curl|node|undici|python|Go-http/i.test(ua) ? 'A program'
                    : 'A browser';
    const os =
      /Android/.test(ua) ? 'Android'
        : /iPhone|iPad|iPod/.test(ua) ? 'iOS'
          : /Windows/.test(ua) ? 'Windows'
            : /CrOS/.test(ua) ? 'ChromeOS'
              : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
                : /Linux/.test(ua) ? 'Linux'
                  : '';
    return os ? browser + ' on ' + os : browser;
  }

  /** What the built-in clients are, in words. */
  const CLIENTS = { 'keyward-account': 'the account page', 'keyward-admin': 'the admin console', cli: 'the command line' };

  /** Asks in the page's #confirm dialog; resolves true when the person agrees. */
  function confirmAction(title, text, yes) {
    const dlg = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-yes').textContent = yes;
    return new Promise((resolve) => {
      const done = (v) => {
        $('confirm-yes').removeEventListener('click', onYes);
        $('confirm-no').removeEventListener('click', onNo);
        dlg.removeEventListener('cancel', onNo);
        if (dlg.open) dlg.close();
        resolve(v);
      };
      const onYes = () => done(true);
      const onNo = (ev) => {
        if (ev && ev.type === 'cancel') ev.preventDefault();
        done(false);
      };
      $('confirm-yes').addEventListener('click', onYes);
      $('confirm-no').addEventListener('click', onNo);
      dlg.addEventListener('cancel', onNo);
      if (typeof dlg.showModal === 'function') {
        dlg.showModal();
        $('confirm-no').focus();
      } else {
        resolve(window.confirm(title + '\n\n' + text));
      }
    });
  }

  /** Whether a login (an item of `login-data`) is a passkey. */
  const isPasskey = (l) => !!l && ((l.strategyInstance && l.strategyInstance.type === 'passkey') || (l.passkey && typeof l.passkey === 'object'));

  /** A passkey's name and times, from its login data. */
  function passkeyInfo(l) {
    const p = l.passkey && typeof l.passkey === 'object' ? l.passkey : {};
    return {
      name: typeof p.name === 'string' && p.name ? p.name : l.description || 'Passkey',
      createdAt: p.createdAt,
      lastUsedAt: p.lastUsedAt,
    };
  }

  /** Puts `text` into the message box `box` as `kind` ('error', 'ok' or 'info') and shows it;
   *  with no text, hides it. */
  function note(box, kind, text) {
    box.classList.remove('error', 'ok', 'info');
    box.classList.add('msg', kind);
    box.textContent = text || '';
    show(box, !!text);
  }

  /** Copies text to the clipboard; on plain http (no clipboard API) through a selection. */
  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (_) {
      // no permission: the old way below
    }
    const ta = document.createElement('textarea');
    ta.className = 'sr-only';
    ta.setAttribute('readonly', '');
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (_) {
      ok = false;
    }
    ta.remove();
    return ok;
  }

  /** Shows the server's QR code (an SVG document) in `img`; false when it is not one. The SVG
   *  is shown as an image (a data: URL), never put into the page as markup: an <img> runs no
   *  script and touches nothing of the page. */
  function qrImage(img, svg) {
    const s = typeof svg === 'string' ? svg.trim() : '';
    if (!/^(<\?xml[^>]*>\s*)?<svg[\s>]/.test(s)) {
      img.removeAttribute('src');
      return false;
    }
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(s);
    return true;
  }

  window.keyward = Object.freeze({
    $, show, hide, fieldError, clearField, clearErrors, flow, flowQuery, flowContext,
    csrfToken, call, sentence, message, registerToken, instanceSelect, otherBrowser, nameLogin,
    fieldOf, passwordMin, applyPasswordMin, tooShort, tooShortText, el, TYPES, typeName, when, device,
    CLIENTS, confirmAction, copyText, qrImage, isPasskey, passkeyInfo, note,
  });
})();
