// The account page (/account): a user's own logins and sessions. It is an OAuth 2 client of
// keyward itself: the built-in public client `keyward-account`, authorization code + PKCE
// (S256), scope `login`. Tokens live in sessionStorage (this tab only); a browser with a
// keyward session comes straight back from the authorization endpoint (single sign-on).
(function () {
  'use strict';
  const { $, show, hide, sentence, message, call: flowCall, passwordMin, applyPasswordMin, tooShort, tooShortText, fieldError, clearField } = window.keyward;
  const wa = window.keywardWebauthn;
  const providers = window.keywardProviders;

  const CLIENT_ID = 'keyward-account';
  const REDIRECT_URI = location.origin + '/account';
  const AUTH = 'kw_account_auth'; // {verifier, state} of the authorization request under way
  const TOKENS = 'kw_account_tokens'; // {access, refresh, expiresAt}
  const RESTARTS = 'kw_account_restarts'; // times of recent sign-in restarts (loop guard)
  const LINKED = 'kw_account_linked'; // the instance name of `?linked=`, until it is shown

  // ---- Storage ----

  function load(key) {
    try {
      return JSON.parse(sessionStorage.getItem(key) || 'null');
    } catch (_) {
      return null;
    }
  }

  function save(key, value) {
    try {
      if (value === null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, JSON.stringify(value));
    } catch (_) {
      // storage off: the page still works until it is left
    }
  }

  let memoryTokens = null;
  const tokens = () => load(TOKENS) || memoryTokens;

  function saveTokens(d) {
    const old = tokens();
    memoryTokens = {
      access: d.access_token,
      refresh: d.refresh_token || (old && old.refresh) || null,
      expiresAt: Date.now() + (Number(d.expires_in) > 0 ? Number(d.expires_in) * 1000 : 5 * 60 * 1000),
    };
    save(TOKENS, memoryTokens);
  }

  function clearTokens() {
    memoryTokens = null;
    save(TOKENS, null);
  }

  // ---- PKCE ----

  function b64url(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomString(n) {
    const a = new Uint8Array(n);
    crypto.getRandomValues(a);
    return b64url(a);
  }

  /** SHA-256 in plain JS, for pages served over plain http (no crypto.subtle there). */
  function sha256(bytes) {
    const K = [];
    const H = [];
    const frac = (x) => ((x - Math.floor(x)) * 0x100000000) >>> 0;
    for (let p = 2, n = 0; n < 64; p++) {
      let prime = true;
      for (let d = 2; d * d <= p; d++) if (p % d === 0) { prime = false; break; }
      if (!prime) continue;
      if (n < 8) H[n] = frac(Math.pow(p, 1 / 2));
      K[n++] = frac(Math.pow(p, 1 / 3));
    }
    const len = bytes.length;
    const total = ((len + 9 + 63) >> 6) << 6;
    const m = new Uint8Array(total);
    m.set(bytes);
    m[len] = 0x80;
    const bits = len * 8;
    const dv = new DataView(m.buffer);
    dv.setUint32(total - 8, Math.floor(bits / 0x100000000));
    dv.setUint32(total - 4, bits >>> 0);
    const w = new Uint32Array(64);
    const rotr = (x, r) => (x >>> r) | (x << (32 - r));
    for (let off = 0; off < total; off += 64) {
      for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + i * 4);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, h] = H;
      for (let i = 0; i < 64; i++) {
        const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      H[0] = (H[0] + a) >>> 0; H[1] = (H[1] + b) >>> 0; H[2] = (H[2] + c) >>> 0; H[3] = (H[3] + d) >>> 0;
      H[4] = (H[4] + e) >>> 0; H[5] = (H[5] + f) >>> 0; H[6] = (H[6] + g) >>> 0; H[7] = (H[7] + h) >>> 0;
    }
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) ov.setUint32(i * 4, H[i]);
    return out;
  }

  async function challengeOf(verifier) {
    const data = new TextEncoder().encode(verifier);
    if (window.crypto && crypto.subtle && typeof crypto.subtle.digest === 'function') {
      return b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', data)));
    }
    return b64url(sha256(data));
  }
  // For the tests: the fallback must agree with WebCrypto.
  window.__kwSha256 = (s) => b64url(sha256(new TextEncoder().encode(s)));

  // ---- Signing in ----

  let leaving = false;

  /** Too many restarts in a short time means something is broken: stop instead of looping. */
  function restartAllowed() {
    const now = Date.now();
    const recent = (load(RESTARTS) || []).filter((t) => typeof t === 'number' && now - t < 60_000);
    if (recent.length >= 3) return false;
    recent.push(now);
    save(RESTARTS, recent);
    return true;
  }

  async function beginSignIn() {
    if (leaving) return;
    leaving = true;
    if (!restartAllowed()) {
      leaving = false;
      fatal('Signing in to the account page keeps failing. Try again in a minute.');
      return;
    }
    const verifier = randomString(32); // 43 characters
    const state = randomString(16);
    save(AUTH, { verifier, state });
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      scope: 'login',
      state,
      code_challenge: await challengeOf(verifier),
      code_challenge_method: 'S256',
    });
    location.replace('/auth/oauth/authorize?' + q.toString());
  }

  function startOver() {
    clearTokens();
    return beginSignIn();
  }

  async function tokenRequest(params, endpoint) {
    let r;
    try {
      r = await fetch(endpoint || '/auth/oauth/token', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
        body: new URLSearchParams(params),
      });
    } catch (_) {
      return { status: 0, data: {} };
    }
    const data = await r.json().catch(() => ({}));
    return { status: r.status, data: data && typeof data === 'object' ? data : {} };
  }

  /** Back from the authorization endpoint: check the state, trade the code for tokens. */
  async function finishSignIn(q) {
    history.replaceState(null, '', location.pathname);
    const saved = load(AUTH);
    save(AUTH, null);
    if (q.has('error')) {
      fatal('Signing in did not work: ' + (q.get('error_description') || q.get('error')) + '.');
      return false;
    }
    if (!saved || !saved.verifier || q.get('state') !== saved.state) {
      fatal('The sign-in answer does not belong to this page (it may be old, or from another tab).');
      return false;
    }
    const r = await tokenRequest({
      grant_type: 'authorization_code',
      code: q.get('code') || '',
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      code_verifier: saved.verifier,
    });
    if (r.status !== 200 || typeof r.data.access_token !== 'string') {
      const why = r.status === 0 ? 'keyward cannot be reached' : r.data.error_description || r.data.error || 'status ' + r.status;
      fatal('Signing in did not work: ' + why + '.');
      return false;
    }
    saveTokens(r.data);
    return true;
  }

  let refreshing = null;

  /** One refresh at a time: a refresh token works once, and reusing one ends the session. */
  function refresh() {
    if (!refreshing) {
      refreshing = (async () => {
        const t = tokens();
        if (!t || !t.refresh) return false;
        const r = await tokenRequest({ grant_type: 'refresh_token', refresh_token: t.refresh, client_id: CLIENT_ID });
        if (r.status === 200 && typeof r.data.access_token === 'string') {
          saveTokens(r.data);
          return true;
        }
        if (r.status === 0) return false;
        clearTokens();
        return false;
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function send(method, path, body, access) {
    const init = { method, headers: { accept: 'application/json', authorization: 'Bearer ' + access } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (_) {
      return { status: 0, data: {} };
    }
    const data = await r.json().catch(() => ({}));
    return { status: r.status, data: data !== null && typeof data === 'object' ? data : {}, headers: r.headers };
  }

  /**
   * A call to the login API with the access token. On 401 it refreshes once and tries again;
   * when that fails too it signs in afresh and answers null (the page is being left).
   */
  async function api(method, path, body) {
    for (let attempt = 0; attempt < 2; attempt++) {
      let t = tokens();
      if (!t || !t.access) break;
      if (attempt === 0 && t.expiresAt && t.expiresAt - Date.now() < 20_000 && t.refresh) {
        if (!(await refresh())) break;
        t = tokens();
      }
      const r = await send(method, path, body, t.access);
      if (r.status !== 401) return r;
      const now = tokens();
      if (now && now.access && now.access !== t.access) continue; // refreshed meanwhile
      if (attempt === 0 && (await refresh())) continue;
      break;
    }
    await startOver();
    return null;
  }

  // ---- Flow calls (cookie session + CSRF) ----


  // ---- Display helpers ----

  function note(el, kind, text) {
    el.classList.remove('error', 'ok', 'info');
    el.classList.add(kind);
    el.textContent = text;
    show(el);
  }

  function fatal(text) {
    hide($('loading'));
    hide($('app'));
    show($('status-card'));
    $('fatal-text').textContent = text;
    show($('fatal'));
  }

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

  function when(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return '';
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

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

  const CLIENTS = { 'keyward-account': 'the account page', 'keyward-admin': 'the admin console', cli: 'the command line' };

  // ---- Confirmation ----

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

  // ---- The page ----

  let me = null;
  // The server's password minimum (flow context).
  let minPassword = null;

  async function start() {
    $('retry').addEventListener('click', () => {
      save(RESTARTS, null);
      leaving = false;
      startOver();
    });
    const q = new URLSearchParams(location.search);
    if (q.has('linked')) {
      // Back from linking an upstream login: kept across a sign-in, shown with the logins.
      save(LINKED, q.get('linked'));
      history.replaceState(null, '', location.pathname);
    }
    if (q.has('code') || q.has('error')) {
      if (!(await finishSignIn(q))) return;
    }
    if (!tokens()) {
      await beginSignIn();
      return;
    }
    const [r, ctx] = await Promise.all([api('GET', '/auth/api/login/user/self'), flowCall('GET', '/auth/api/flow/context')]);
    if (r === null) return;
    if (r.status !== 200) {
      fatal(message(r, 'Your account could not be loaded'));
      return;
    }
    // Someone else has signed in in this browser since the tokens were issued: follow them.
    if (ctx.status === 200 && ctx.data.user && ctx.data.user.username !== r.data.username) {
      await startOver();
      return;
    }
    save(RESTARTS, null);
    if (ctx.status === 200) {
      minPassword = passwordMin(ctx.data);
      applyPasswordMin(minPassword, ['new-password']);
    }
    me = r.data;
    $('display-name').textContent = me.displayName || me.username || '';
    $('username').textContent = me.username || '';
    show($('admin-badge'), me.isAdmin === true);
    if (me.email) {
      $('email-line').textContent = me.email;
      show($('email-line'));
    }
    if (!wa.supported()) {
      hide($('pk-add-open'));
      show($('pk-unsupported'));
    }
    hide($('status-card'));
    show($('app'));
    await Promise.all([loadLogins(), loadSessions(), linkButtons()]);
  }

  // Logins

  /** Passkeys have a section of their own. */
  const isPasskey = (l) => !!l && ((l.strategyInstance && l.strategyInstance.type === 'passkey') || (l.passkey && typeof l.passkey === 'object'));

  async function loadLogins() {
    const r = await api('GET', '/auth/api/login/user/self/login-data');
    if (r === null) return;
    const body = $('logins').querySelector('tbody');
    body.textContent = '';
    if (r.status !== 200 || !Array.isArray(r.data)) {
      note($('logins-msg'), 'error', message(r, 'Your logins could not be loaded'));
      return;
    }
    const others = r.data.filter((l) => !isPasskey(l));
    const passkeys = r.data.filter(isPasskey);
    for (const l of others) body.appendChild(loginRow(l));
    if (others.length === 0) {
      const text = passkeys.length > 0 ? 'No password or other login: you sign in with your passkeys.' : 'No logins.';
      body.appendChild(el('tr', {}, [el('td', { colspan: '5', class: 'muted', text })]));
    }
    showPasskeys(passkeys);
    // The last-login-method rule, in words, before anyone tries.
    show($('last-method'), r.data.filter((l) => l.state === 'VALID').length === 1);
    linkedNotice(others);
  }

  // Upstream logins (GitHub, GitLab, OpenID Connect): linking is a sign-in at the provider in
  // link mode (keyward's redirect flow, with this browser's keyward session); keyward comes
  // back to /account?linked=<instance name>.

  /** A "Link" button per active instance of an upstream provider: one to sign in with, or
   *  one that only syncs (linking works for those too). */
  async function linkButtons() {
    const r = await flowCall('GET', '/auth/api/login/strategy-instance');
    if (r.status !== 200 || !Array.isArray(r.data)) return;
    const box = $('link-upstream-buttons');
    box.textContent = '';
    const list = r.data.filter((i) => i && providers.isUpstream(i.type) && (i.isLoginActive || i.isSyncActive));
    for (const i of list) {
      box.appendChild(providers.button(i, 'link', null, 'Link ' + providers.instanceName(i), 'small'));
    }
    show($('link-upstream'), list.length > 0);
  }

  /** Says that a login was linked, once: only for an instance this user now has a login on
   *  (the query is anybody's to write; the list is the server's). */
  function linkedNotice(logins) {
    const name = load(LINKED);
    save(LINKED, null);
    if (typeof name !== 'string' || !name) return;
    // keyward names the instance, or gives its id when it has no name.
    const l = logins.find((x) => x.state === 'VALID' && x.strategyInstance && providers.isUpstream(x.strategyInstance.type) &&
      (x.strategyInstance.name === name || x.strategyInstance.id === name));
    if (!l) return;
    note($('logins-msg'), 'ok', 'Linked your ' + providers.instanceName(l.strategyInstance) + ' account' + (l.description ? ' “' + l.description + '”' : '') +
      (l.strategyInstance.isLoginActive === false ? '.' : ': you can sign in with it from now on.'));
  }

  function loginRow(l) {
    const inst = l.strategyInstance || {};
    const label = inst.name || typeName(inst.type);
    const state = l.state === 'VALID'
      ? el('span', { text: 'Active' })
      : el('span', { class: 'badge warn', text: l.state === 'WAITING_FOR_REGISTER' ? 'Waiting for registration' : String(l.state || '').toLowerCase() });
    const actions = el('div', { class: 'row-actions' });
    if (inst.type === 'userpass' && l.state === 'VALID') {
      const b = el('button', { type: 'button', class: 'secondary small', text: 'Change password' });
      b.addEventListener('click', () => openPasswordForm(l));
      actions.appendChild(b);
    }
    const upstream = providers.isUpstream(inst.type);
    const verb = upstream ? 'Unlink' : 'Remove';
    const rm = el('button', { type: 'button', class: 'secondary small', text: verb, 'aria-label': verb + ' ' + label + ' login ' + (l.description || '') });
    rm.addEventListener('click', () => removeLogin(l, label, rm));
    actions.appendChild(rm);
    const tr = el('tr', { data: { id: l.id } }, [
      el('td', { 'data-label': 'Login', class: 'wrap', text: label }),
      el('td', { 'data-label': 'Type' }, [upstream
        ? el('span', { class: 'cell-icon' }, [providers.icon(inst.type), typeName(inst.type)])
        : typeName(inst.type)]),
      el('td', { 'data-label': 'Name', class: 'wrap', text: l.description || '' }),
      el('td', { 'data-label': 'State' }, [state]),
      el('td', { class: 'row-actions-cell' }, [actions]),
    ]);
    return tr;
  }

  async function removeLogin(l, label, button, msgEl) {
    const msg = msgEl || $('logins-msg');
    hide(msg);
    const what = label + (l.description ? ' “' + l.description + '”' : '');
    const upstream = !!(l.strategyInstance && providers.isUpstream(l.strategyInstance.type));
    const ok = await confirmAction(
      upstream ? 'Unlink this account?' : 'Remove this way to sign in?',
      'You will no longer be able to sign in with ' + what + '.',
      upstream ? 'Unlink' : 'Remove',
    );
    if (!ok) return;
    button.disabled = true;
    const r = await api('DELETE', '/auth/api/login/login-data/' + encodeURIComponent(l.id));
    if (r === null) return;
    button.disabled = false;
    if (r.status === 200) {
      if (openPassword && openPassword.id === l.id) closePasswordForm();
      note(msg, 'ok', (upstream ? 'Unlinked ' : 'Removed ') + what + '.');
      await loadLogins();
    } else if (r.status === 409) {
      const why = sentence(r.data.message || 'it cannot be removed');
      note(msg, 'error', (isPasskey(l) ? 'This passkey' : 'This login') + ' cannot be ' + (upstream ? 'unlinked' : 'removed') + ': ' + why.charAt(0).toLowerCase() + why.slice(1) +
        (r.data.code === 'last_login_method' ? ' It is your only way left to sign in: add another way to log in first (a password, a passkey or another account).' : ''));
    } else if (r.status === 404) {
      note(msg, 'error', 'This login no longer exists.');
      await loadLogins();
    } else {
      note(msg, 'error', message(r, 'The login could not be removed'));
    }
  }

  // Passkeys

  function passkeyInfo(l) {
    const p = l.passkey && typeof l.passkey === 'object' ? l.passkey : {};
    return {
      name: typeof p.name === 'string' && p.name ? p.name : l.description || 'Passkey',
      createdAt: p.createdAt,
      lastUsedAt: p.lastUsedAt,
    };
  }

  function showPasskeys(list) {
    const body = $('passkeys').querySelector('tbody');
    body.textContent = '';
    for (const l of list) body.appendChild(passkeyRow(l));
    if (list.length === 0) {
      body.appendChild(el('tr', {}, [el('td', { colspan: '4', class: 'muted', text: 'No passkeys yet.' })]));
    }
  }

  function passkeyRow(l) {
    const p = passkeyInfo(l);
    const rename = el('button', { type: 'button', class: 'secondary small', text: 'Rename', 'aria-label': 'Rename passkey ' + p.name });
    rename.addEventListener('click', () => renamePasskey(l, p.name));
    const rm = el('button', { type: 'button', class: 'secondary small', text: 'Remove', 'aria-label': 'Remove passkey ' + p.name });
    rm.addEventListener('click', () => removeLogin({ ...l, description: p.name }, 'the passkey', rm, $('passkeys-msg')));
    const state = l.state && l.state !== 'VALID' ? el('span', { class: 'badge warn', text: String(l.state).toLowerCase() }) : null;
    return el('tr', { data: { id: l.id } }, [
      el('td', { 'data-label': 'Name', class: 'wrap' }, [p.name, state ? ' ' : null, state]),
      el('td', { 'data-label': 'Added', text: when(p.createdAt) }),
      el('td', { 'data-label': 'Last used', text: p.lastUsedAt ? when(p.lastUsedAt) : 'Never' }),
      el('td', { class: 'row-actions-cell' }, [el('div', { class: 'row-actions' }, [rename, rm])]),
    ]);
  }

  /** The passwordless API's message for a refused call, without its "(KW-PL-nnn)". */
  function plMessage(r, fallback) {
    if (r.status === 0) return 'keyward cannot be reached. Check your connection and try again.';
    const d = Array.isArray(r.data.details) ? r.data.details[0] : null;
    const m = d && typeof d.message === 'string' && d.message ? d.message : r.data.message;
    if (typeof m === 'string' && m) return sentence(m.replace(/\s*\(KW-PL-\d+\)\s*$/, ''));
    return fallback + ' (' + r.status + ')';
  }

  const checkName = (name) => (name ? '' : 'Give the passkey a name.');

  /** Asks for a new name in the rename dialog: the name, or null when cancelled. */
  function renamePasskey(l, current) {
    const dlg = $('rename');
    const input = $('rename-name');
    input.value = current;
    clearField('rename-name');
    hide($('passkeys-msg'));
    const close = () => {
      $('rename-form').removeEventListener('submit', onSave);
      $('rename-cancel').removeEventListener('click', onCancel);
      if (dlg.open) dlg.close();
    };
    const onCancel = () => close();
    const onSave = async (ev) => {
      ev.preventDefault();
      const name = input.value.trim();
      const bad = checkName(name);
      if (bad) {
        fieldError('rename-name', bad);
        input.focus();
        return;
      }
      $('rename-save').disabled = true;
      const r = await api('PUT', '/auth/api/login/login-data/' + encodeURIComponent(l.id) + '/name', { name });
      $('rename-save').disabled = false;
      if (r === null) return;
      if (r.status === 200) {
        close();
        note($('passkeys-msg'), 'ok', 'The passkey is now called “' + name + '”.');
        await loadLogins();
      } else if (r.status === 400) {
        fieldError('rename-name', message(r, 'This name cannot be used'));
        input.focus();
      } else {
        close();
        note($('passkeys-msg'), 'error', message(r, 'The passkey could not be renamed'));
        if (r.status === 404) await loadLogins();
      }
    };
    $('rename-form').addEventListener('submit', onSave);
    $('rename-cancel').addEventListener('click', onCancel);
    dlg.addEventListener('close', close, { once: true });
    dlg.showModal();
    input.select();
  }

  // Adding a passkey on this device: the passwordless API with the page's token.

  $('pk-add-open').addEventListener('click', () => {
    hide($('passkeys-msg'));
    hide($('pk-add-msg'));
    clearField('pk-name');
    $('pk-name').value = wa.deviceName();
    show($('pk-add-form'));
    $('pk-name').focus();
  });

  $('pk-add-cancel').addEventListener('click', () => hide($('pk-add-form')));

  let adding = false;

  $('pk-add-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (adding || !me) return;
    const msg = $('pk-add-msg');
    hide(msg);
    clearField('pk-name');
    const name = $('pk-name').value.trim();
    const bad = checkName(name);
    if (bad) {
      fieldError('pk-name', bad);
      $('pk-name').focus();
      return;
    }
    adding = true;
    const button = $('pk-add');
    button.disabled = true;
    button.textContent = 'Waiting for your passkey…';
    try {
      const base = '/v2/users/' + encodeURIComponent(me.id) + '/passkeys';
      const started = await api('POST', base, {});
      if (started === null) return;
      if (started.status !== 200 || typeof started.data.passkeyId !== 'string') {
        note(msg, 'error', plMessage(started, 'The passkey could not be started'));
        return;
      }
      const made = await wa.create(started.data.publicKeyCredentialCreationOptions);
      if (made.error) {
        note(msg, 'error', wa.problemText(made.error, 'creation'));
        return;
      }
      const done = await api('POST', base + '/' + encodeURIComponent(started.data.passkeyId), { publicKeyCredential: made.credential, passkeyName: name });
      if (done === null) return;
      if (done.status !== 200) {
        note(msg, 'error', 'The passkey was not saved: ' + plMessage(done, 'error').replace(/^./, (c) => c.toLowerCase()));
        return;
      }
      hide($('pk-add-form'));
      note($('passkeys-msg'), 'ok', 'Added the passkey “' + name + '”. You can sign in with it from now on.');
      await loadLogins();
    } finally {
      adding = false;
      button.disabled = false;
      button.textContent = 'Create passkey';
    }
  });

  // A link (and its QR code) for another device.

  $('pk-link-make').addEventListener('click', async () => {
    if (!me) return;
    const button = $('pk-link-make');
    hide($('passkeys-msg'));
    button.disabled = true;
    const r = await api('POST', '/auth/api/login/user/' + encodeURIComponent(me.id) + '/passkey-link', {});
    button.disabled = false;
    if (r === null) return;
    if ((r.status !== 200 && r.status !== 201) || typeof r.data.link !== 'string') {
      note($('passkeys-msg'), 'error', message(r, 'The link could not be made'));
      return;
    }
    showLink(r.data);
  });

  function showLink(d) {
    $('pk-link-url').value = d.link;
    const until = when(d.expiresAt);
    $('pk-link-expiry').textContent = until ? 'Valid until ' + until + ', for one passkey.' : 'Valid for one passkey.';
    // The SVG is the server's, but it is still shown as an image (a data: URL), never put
    // into the page as markup: an <img> runs no script and touches nothing of the page.
    const qr = $('pk-link-qr');
    const svg = typeof d.qrCode === 'string' ? d.qrCode.trim() : '';
    if (/^(<\?xml[^>]*>\s*)?<svg[\s>]/.test(svg)) {
      qr.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
      show(qr.parentElement);
    } else {
      qr.removeAttribute('src');
      hide(qr.parentElement);
    }
    hide($('pk-link-copied'));
    show($('pk-link'));
    $('pk-link-copy').focus();
  }

  $('pk-link-copy').addEventListener('click', async () => {
    const input = $('pk-link-url');
    let ok = false;
    try {
      await navigator.clipboard.writeText(input.value);
      ok = true;
    } catch (_) {
      // No clipboard API (plain http) or no permission: select it for a manual copy.
      input.focus();
      input.select();
      try {
        ok = document.execCommand('copy');
      } catch (_) {
        ok = false;
      }
    }
    const said = $('pk-link-copied');
    said.textContent = ok ? 'The link is copied.' : 'Copy the selected link by hand.';
    show(said);
  });

  $('pk-link-close').addEventListener('click', () => {
    $('pk-link-url').value = '';
    $('pk-link-qr').removeAttribute('src');
    hide($('pk-link'));
  });

  // Password change

  let openPassword = null;

  function openPasswordForm(l) {
    openPassword = l;
    const f = $('password-form');
    f.reset();
    hide($('pw-msg'));
    hide($('logins-msg'));
    $('pw-login').textContent = (l.strategyInstance && l.strategyInstance.name ? l.strategyInstance.name + ' ' : '') + '“' + (l.description || '') + '”';
    $('pw-username').value = l.description || '';
    show(f);
    $('old-password').focus();
  }

  function closePasswordForm() {
    openPassword = null;
    $('password-form').reset();
    hide($('password-form'));
  }

  $('pw-cancel').addEventListener('click', closePasswordForm);

  $('password-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = $('pw-msg');
    hide(msg);
    if (!openPassword) return;
    const oldPassword = $('old-password').value;
    const newPassword = $('new-password').value;
    if (!oldPassword) {
      note(msg, 'error', 'Enter your current password.');
      $('old-password').focus();
      return;
    }
    if (tooShort(newPassword, minPassword)) {
      note(msg, 'error', tooShortText(minPassword, 'new password'));
      $('new-password').focus();
      return;
    }
    if (newPassword !== $('new-password2').value) {
      note(msg, 'error', 'The two new passwords differ.');
      $('new-password2').focus();
      return;
    }
    const button = $('pw-submit');
    button.disabled = true;
    const r = await api('PUT', '/auth/api/login/login-data/' + encodeURIComponent(openPassword.id) + '/password', { oldPassword, newPassword });
    if (r === null) return;
    button.disabled = false;
    if (r.status === 200) {
      const name = openPassword.description || '';
      closePasswordForm();
      note($('logins-msg'), 'ok', 'The password of “' + name + '” has been changed.');
    } else if (r.status === 403) {
      note(msg, 'error', 'The current password is wrong.');
      $('old-password').value = '';
      $('old-password').focus();
    } else if (r.status === 429) {
      const wait = r.headers && r.headers.get('retry-after');
      note(msg, 'error', message(r, 'Too many attempts' + (wait ? '; try again in ' + wait + ' s' : '')));
    } else {
      note(msg, 'error', message(r, 'The password could not be changed'));
    }
  });

  // Sessions

  async function loadSessions() {
    const r = await api('GET', '/auth/api/login/user/self/active-login');
    if (r === null) return;
    const body = $('sessions').querySelector('tbody');
    body.textContent = '';
    if (r.status !== 200 || !Array.isArray(r.data)) {
      note($('sessions-msg'), 'error', message(r, 'Your sessions could not be loaded'));
      return;
    }
    for (const s of r.data) body.appendChild(sessionRow(s));
    if (r.data.length === 0) {
      body.appendChild(el('tr', {}, [el('td', { colspan: '5', class: 'muted', text: 'No sessions.' })]));
    }
  }

  function sessionRow(s) {
    const via = s.clientId ? CLIENTS[s.clientId] || 'an application' : '';
    const dev = el('td', { 'data-label': 'Device', class: 'wrap' }, [
      el('span', { text: device(s.userAgent), title: s.userAgent || '' }),
      s.current ? ' ' : null,
      s.current ? el('span', { class: 'badge', text: 'This browser' }) : null,
      via ? el('div', { class: 'muted', text: 'via ' + via }) : null,
    ]);
    const end = el('button', { type: 'button', class: 'secondary small', text: 'End', 'aria-label': s.current ? 'End this session' : 'End the session of ' + device(s.userAgent) });
    end.addEventListener('click', () => endSession(s, end));
    const tr = el('tr', { data: { id: s.id } }, [
      dev,
      el('td', { 'data-label': 'Address', class: 'address', text: s.address || '—' }),
      el('td', { 'data-label': 'Signed in', text: when(s.createdAt) }),
      el('td', { 'data-label': 'Last used', text: when(s.lastUsedAt) }),
      el('td', { class: 'row-actions-cell' }, [end]),
    ]);
    if (s.current) tr.classList.add('current');
    return tr;
  }

  async function endSession(s, button) {
    hide($('sessions-msg'));
    if (s.current) {
      const ok = await confirmAction('End this session?', 'This signs you out in this browser.', 'End and sign out');
      if (!ok) return;
    }
    button.disabled = true;
    const r = await api('DELETE', '/auth/api/login/active-login/' + encodeURIComponent(s.id));
    if (r === null) return;
    if (r.status === 200 || (r.status === 404 && !s.current)) {
      if (s.current) {
        await leave();
        return;
      }
      note($('sessions-msg'), 'ok', 'The session has ended.');
      await loadSessions();
      return;
    }
    button.disabled = false;
    note($('sessions-msg'), 'error', message(r, 'The session could not be ended'));
  }

  // Signing out

  /** Forgets everything of this tab and goes to the login page. */
  async function leave() {
    leaving = true;
    await flowCall('POST', '/auth/api/flow/logout', {});
    try {
      sessionStorage.clear();
    } catch (_) {
      // ignore
    }
    memoryTokens = null;
    location.assign('/auth/flow/login');
  }

  $('signout').addEventListener('click', async () => {
    const button = $('signout');
    button.disabled = true;
    hide($('account-msg'));
    const t = tokens();
    if (t && t.refresh) {
      // Ends the token's session even if it is not the browser's cookie session.
      await tokenRequest({ token: t.refresh, token_type_hint: 'refresh_token', client_id: CLIENT_ID }, '/auth/oauth/revoke');
    }
    const r = await flowCall('POST', '/auth/api/flow/logout', {});
    if (r.status !== 200) {
      button.disabled = false;
      note($('account-msg'), 'error', 'Signing out did not work: ' + message(r, 'error'));
      return;
    }
    leaving = true;
    try {
      sessionStorage.clear();
    } catch (_) {
      // ignore
    }
    memoryTokens = null;
    location.assign('/auth/flow/login');
  });

  start();
})();
