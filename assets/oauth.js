// The OAuth 2 client of keyward's own pages (the account page, the admin console): sign-in
// through keyward's authorization endpoint with a built-in public client, authorization code +
// PKCE (S256); tokens in sessionStorage (this tab only), one refresh at a time, and calls to the
// login API with the access token. A browser with a keyward session comes straight back from
// the authorization endpoint (single sign-on).
(function () {
  'use strict';

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

  /**
   * A client of keyward's authorization server for the page at `opts.path`:
   * `{clientId, path, scope?, maxAge? (OIDC max_age: seconds since the last sign-in after which
   * the browser's session does not pass through), prefix (storage keys), what (the page, for
   * messages), fatal(text)}`.
   */
  function client(opts) {
    const CLIENT_ID = opts.clientId;
    const REDIRECT_URI = location.origin + opts.path;
    const AUTH = opts.prefix + '_auth'; // {verifier, state} of the authorization request under way
    const TOKENS = opts.prefix + '_tokens'; // {access, refresh, expiresAt}
    const RESTARTS = opts.prefix + '_restarts'; // times of recent sign-in restarts (loop guard)

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
        opts.fatal('Signing in to ' + opts.what + ' keeps failing. Try again in a minute.');
        return;
      }
      const verifier = randomString(32); // 43 characters
      const state = randomString(16);
      save(AUTH, { verifier, state, hash: location.hash });
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: CLIENT_ID,
        redirect_uri: REDIRECT_URI,
        scope: opts.scope || 'login',
        state,
        code_challenge: await challengeOf(verifier),
        code_challenge_method: 'S256',
      });
      if (opts.maxAge !== undefined) q.set('max_age', String(opts.maxAge));
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
      const saved = load(AUTH);
      save(AUTH, null);
      // Back where the page was when sign-in began (its #view), without the code in the URL.
      const hash = saved && typeof saved.hash === 'string' && saved.hash.startsWith('#') ? saved.hash : '';
      history.replaceState(null, '', location.pathname + hash);
      if (q.has('error')) {
        opts.fatal('Signing in did not work: ' + (q.get('error_description') || q.get('error')) + '.');
        return false;
      }
      if (!saved || !saved.verifier || q.get('state') !== saved.state) {
        opts.fatal('The sign-in answer does not belong to this page (it may be old, or from another tab).');
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
        opts.fatal('Signing in did not work: ' + why + '.');
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
        // A 401 that names a field of the body (a register token) is not about the access token.
        if (r.status !== 401 || typeof r.data.field === 'string') return r;
        const now = tokens();
        if (now && now.access && now.access !== t.access) continue; // refreshed meanwhile
        if (attempt === 0 && (await refresh())) continue;
        break;
      }
      await startOver();
      return null;
    }

    /** Ends the tokens' session at keyward (revocation of the refresh token) and forgets them. */
    async function revoke() {
      const t = tokens();
      if (t && t.refresh) {
        // Ends the token's session even if it is not the browser's cookie session.
        await tokenRequest({ token: t.refresh, token_type_hint: 'refresh_token', client_id: CLIENT_ID }, '/auth/oauth/revoke');
      }
    }

    /** Forgets this tab's tokens for good: the page is being left. */
    function forget() {
      leaving = true;
      try {
        sessionStorage.clear();
      } catch (_) {
        // ignore
      }
      memoryTokens = null;
    }

    /** A fresh start after a failure the person acknowledged ("Sign in again"). */
    function retry() {
      save(RESTARTS, null);
      leaving = false;
      return startOver();
    }

    /**
     * Signs in when needed: answers true when the page has tokens; false when it is being left
     * (to the authorization endpoint) or the sign-in failed (`fatal` said why).
     */
    async function signIn() {
      const q = new URLSearchParams(location.search);
      if (q.has('code') || q.has('error')) {
        if (!(await finishSignIn(q))) return false;
      }
      if (!tokens()) {
        await beginSignIn();
        return false;
      }
      return true;
    }

    return Object.freeze({
      signIn, api, startOver, retry, revoke, forget, load, save, tokens,
      signedIn: () => save(RESTARTS, null),
    });
  }

  window.keywardOAuth = Object.freeze({ client });
})();
