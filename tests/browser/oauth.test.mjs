// Authorization code flow with PKCE through the hosted login page, checked with independent
// libraries: openid-client (the relying party) and jose (a resource server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as jose from 'jose';
import * as client from 'openid-client';
import { PHONE, api, browserFor, createAdmin, redirectCatcher, serverFor, token } from './harness.mjs';

const ADMIN = { username: 'admin', password: 'admin password 123' };
const ALICE = { username: 'alice', displayName: 'Alice Liddell', email: 'alice@example.org', password: 'through the looking glass' };

/** A server with an admin, the user alice and one OAuth client; `config` is openid-client's. */
async function oauthSetup(t, { requiresSecret = false } = {}) {
  const server = await serverFor(t);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);

  const probe = await api(server, 'GET', '/auth/oauth/authorize');
  assert.notEqual(probe.status, 404, 'GET /auth/oauth/authorize answers 404: the OAuth endpoints are not there yet');

  const u = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: ALICE });
  assert.equal(u.status, 201, u.text);
  const alice = { ...ALICE, id: u.body.id };

  const redirects = await redirectCatcher(t);
  const redirectUri = redirects.uri;
  const c = await api(server, 'POST', '/auth/api/login/client', {
    bearer: adminToken,
    body: {
      name: 'test app',
      redirectUrls: [redirectUri],
      requiresSecret,
      validScopes: ['openid', 'profile', 'email', 'login'],
    },
  });
  assert.equal(c.status, 201, c.text);
  const clientId = c.body.id;
  assert.equal(typeof clientId, 'string');

  let secret;
  let auth = client.None();
  if (requiresSecret) {
    const s = await api(server, 'POST', `/auth/api/login/client/${clientId}/client-secret`, { bearer: adminToken });
    assert.equal(s.status, 201, s.text);
    assert.equal(typeof s.body.secretText, 'string');
    assert.equal(typeof s.body.fingerprint, 'string');
    assert.ok(!s.body.censored.includes(s.body.secretText), 'the censored form hides the secret');
    secret = s.body.secretText;
    auth = client.ClientSecretBasic(secret);
  }

  const config = await client.discovery(new URL(server.publicUrl), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
  return { server, adminToken, alice, clientId, secret, redirectUri, redirects, config };
}

/** An authorization request with PKCE, state and nonce; `url` is where the browser goes. */
async function authRequest(s, extra = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(s.config, {
    redirect_uri: s.redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
    ...extra,
  });
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce } };
}


/** Records the document requests of a context (to see whether the login page was shown). */
function recordNavigations(context) {
  const urls = [];
  context.on('request', (r) => {
    if (r.isNavigationRequest()) urls.push(r.url());
  });
  return urls;
}

async function fillLogin(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function expectLoginPage(page, server) {
  await page.waitForURL((u) => u.href.startsWith(server.publicUrl + '/auth/flow/login?'));
  const flow = new URL(page.url()).searchParams.get('flow');
  assert.ok(flow, 'the login page carries the flow');
  await page.locator('#login').waitFor({ state: 'visible' });
  return flow;
}

function jwks(server) {
  return jose.createRemoteJWKSet(new URL(server.publicUrl + '/.well-known/jwks.json'));
}

/** The OAuth error code of an openid-client failure, from the body or a WWW-Authenticate challenge. */
async function oauthErrorCode(e) {
  if (e instanceof client.ResponseBodyError) return e.error;
  if (e instanceof client.WWWAuthenticateChallengeError) {
    const body = await e.response.clone().json().catch(() => ({}));
    return body.error ?? e.cause?.[0]?.parameters?.error;
  }
  return undefined;
}

async function expectOAuthError(promise, code) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${code}, but it succeeded`);
  const got = await oauthErrorCode(error);
  assert.equal(got, code, `expected ${code}, got ${got}: ${error.error_description || error.message}`);
  return error;
}

test('authorization code + PKCE through the login page; tokens, userinfo, refresh rotation', async (t) => {
  const s = await oauthSetup(t);
  const { server, alice, clientId, config } = s;

  const meta = config.serverMetadata();
  assert.equal(meta.issuer, server.publicUrl);
  assert.equal(meta.authorization_endpoint, server.publicUrl + '/auth/oauth/authorize');
  assert.equal(meta.token_endpoint, server.publicUrl + '/auth/oauth/token');
  assert.equal(meta.jwks_uri, server.publicUrl + '/.well-known/jwks.json');
  assert.ok(meta.code_challenge_methods_supported?.includes('S256'), 'S256 is supported');
  assert.ok(meta.response_types_supported?.includes('code'));

  const browser = await browserFor(t);
  const context = await browser.newContext();
  const { redirects } = s;
  const navigations = recordNavigations(context);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));

  const req = await authRequest(s);
  await page.goto(req.url.href);
  await expectLoginPage(page, server);
  await page.getByText('to continue to test app').waitFor();
  assert.equal(await page.locator('#signed-in').isVisible(), false, 'nobody is signed in yet');
  await fillLogin(page, alice.username, alice.password);
  const back = await redirects.next();
  assert.deepEqual(pageErrors, []);

  const cb = new URL(back);
  assert.equal(cb.searchParams.get('state'), req.checks.expectedState);
  assert.ok(cb.searchParams.get('code'), 'a code');

  const tokens = await client.authorizationCodeGrant(config, cb, req.checks);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.expires_in > 0);
  assert.ok(tokens.refresh_token, 'a refresh token');
  assert.ok(tokens.id_token, 'an ID token');
  assert.deepEqual(new Set(tokens.scope.split(' ')), new Set(['openid', 'profile', 'email']));

  const idc = tokens.claims();
  assert.equal(idc.iss, server.publicUrl);
  assert.equal(idc.aud, clientId);
  assert.equal(idc.sub, alice.id);
  assert.equal(idc.nonce, req.checks.expectedNonce);

  const keys = jwks(server);
  const at = await jose.jwtVerify(tokens.access_token, keys, { issuer: server.publicUrl, audience: server.publicUrl, typ: 'at+jwt' });
  assert.equal(at.payload.sub, alice.id);
  assert.equal(at.payload.client_id, clientId);
  assert.ok(at.payload.sid, 'sid');
  assert.deepEqual(new Set(at.payload.scope.split(' ')), new Set(['openid', 'profile', 'email']));
  const id = await jose.jwtVerify(tokens.id_token, keys, { issuer: server.publicUrl, audience: clientId, typ: 'JWT' });
  assert.equal(id.payload.sub, alice.id);
  assert.equal(id.payload.nonce, req.checks.expectedNonce);

  const info = await client.fetchUserInfo(config, tokens.access_token, alice.id);
  assert.equal(info.sub, alice.id);
  assert.equal(info.preferred_username, alice.username);
  assert.equal(info.name, alice.displayName);
  assert.equal(info.email, alice.email);

  // Refresh: a new refresh token each time; the old one is then refused.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token);
  assert.ok(refreshed.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  const at2 = await jose.jwtVerify(refreshed.access_token, keys, { issuer: server.publicUrl, audience: server.publicUrl, typ: 'at+jwt' });
  assert.equal(at2.payload.sub, alice.id);
  assert.notEqual(at2.payload.jti, at.payload.jti);
  await expectOAuthError(client.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant');
  // Reuse is taken as theft: the whole session ends, the newest refresh token included.
  await expectOAuthError(client.refreshTokenGrant(config, refreshed.refresh_token), 'invalid_grant');
  await assert.rejects(client.fetchUserInfo(config, refreshed.access_token, alice.id), 'the session has ended');
  // The code was used up long ago.
  await expectOAuthError(client.authorizationCodeGrant(config, cb, req.checks), 'invalid_grant');
  assert.ok(navigations.some((u) => u.startsWith(server.publicUrl + '/auth/flow/login')));
});

test('single sign-on: the second authorization skips the form, prompt=login shows it again', async (t) => {
  const s = await oauthSetup(t);
  const { server, alice, config } = s;
  const browser = await browserFor(t);
  const context = await browser.newContext();
  const { redirects } = s;
  const navigations = recordNavigations(context);
  const page = await context.newPage();

  const first = await authRequest(s);
  await page.goto(first.url.href);
  await expectLoginPage(page, server);
  await fillLogin(page, alice.username, alice.password);
  const t1 = await client.authorizationCodeGrant(config, new URL(await redirects.next()), first.checks);
  // The app got the request; let the browser finish arriving there before it navigates on.
  await page.waitForURL((u) => u.href.startsWith(s.redirectUri), { waitUntil: 'load' });
  const sub = t1.claims().sub;
  assert.equal(sub, alice.id);

  // Same browser, new authorization: straight back to the app.
  navigations.length = 0;
  const second = await authRequest(s);
  await page.goto(second.url.href);
  const back2 = await redirects.next();
  await page.waitForURL((u) => u.href.startsWith(s.redirectUri) && u.href.includes(second.checks.expectedState), { waitUntil: 'load' });
  assert.ok(!navigations.some((u) => u.includes('/auth/flow/login')), `no login page: ${navigations.join(', ')}`);
  const t2 = await client.authorizationCodeGrant(config, new URL(back2), second.checks);
  assert.equal(t2.claims().sub, sub);
  assert.equal(t2.claims().nonce, second.checks.expectedNonce);

  // prompt=login: the form again, saying who is signed in; signing in as another user works.
  const third = await authRequest(s, { prompt: 'login' });
  await page.goto(third.url.href);
  await expectLoginPage(page, server);
  await page.locator('#signed-in').waitFor({ state: 'visible' });
  assert.match(await page.locator('#signed-in').textContent(), new RegExp(`Signed in as ${alice.displayName}`));
  await fillLogin(page, ADMIN.username, ADMIN.password);
  const t3 = await client.authorizationCodeGrant(config, new URL(await redirects.next()), third.checks);
  assert.notEqual(t3.claims().sub, sub, 'now the admin');
  const info = await client.fetchUserInfo(config, t3.access_token, t3.claims().sub);
  assert.equal(info.preferred_username, ADMIN.username);
});

test('the login page: wrong password, autocomplete, phone layout', async (t) => {
  const s = await oauthSetup(t);
  const { server, alice } = s;
  const browser = await browserFor(t);
  const context = await browser.newContext(PHONE);
  const { redirects } = s;
  const page = await context.newPage();

  const req = await authRequest(s);
  const resp = await page.goto(req.url.href);
  await expectLoginPage(page, server);
  assert.ok(resp, 'a response');

  const username = page.getByLabel('Username');
  const password = page.getByLabel('Password', { exact: true });
  // With passkeys on, the username field also offers them (conditional mediation).
  assert.equal(await username.getAttribute('autocomplete'), 'username webauthn');
  assert.equal(await password.getAttribute('autocomplete'), 'current-password');
  assert.equal(await password.getAttribute('type'), 'password');
  assert.equal(await page.locator('#error').getAttribute('role'), 'alert');
  assert.match(await page.locator('h1').textContent(), /Sign in\s+to continue to test app/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px)`);
  await page.screenshot({ path: '/tmp/login-phone.png', fullPage: true });

  await fillLogin(page, alice.username, 'not the password');
  const alert = page.locator('#error');
  await alert.waitFor({ state: 'visible' });
  const msg = (await alert.textContent()).trim();
  assert.ok(msg.length > 0, 'the server says what went wrong');
  assert.equal(await username.inputValue(), alice.username, 'the username stays');
  assert.equal(await password.inputValue(), '', 'the password is cleared');
  assert.ok(await password.evaluate((el) => el === document.activeElement), 'the password has the focus');
  await page.screenshot({ path: '/tmp/login-error-phone.png', fullPage: true });

  // The same message for an unknown user (no username probing).
  await fillLogin(page, 'nobody-here', 'not the password');
  await page.waitForFunction(() => document.getElementById('password').value === '');
  await alert.waitFor({ state: 'visible' });
  assert.equal((await alert.textContent()).trim(), msg);

  // And then the right password still works.
  await fillLogin(page, alice.username, alice.password);
  const back = await redirects.next();
  const tokens = await client.authorizationCodeGrant(s.config, new URL(back), req.checks);
  assert.equal(tokens.claims().sub, alice.id);

  // A code works once; a second use revokes what the first issued.
  await expectOAuthError(client.authorizationCodeGrant(s.config, new URL(back), req.checks), 'invalid_grant');
  await expectOAuthError(client.refreshTokenGrant(s.config, tokens.refresh_token), 'invalid_grant');
});

test('an unknown redirect_uri or client gets an error page, never a redirect', async (t) => {
  const s = await oauthSetup(t);
  const { server, clientId } = s;
  const challenge = await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());
  const params = (p) =>
    new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: s.redirectUri,
      scope: 'openid',
      state: 'st',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...p,
    });
  const bad = {
    'unknown redirect_uri': { redirect_uri: 'http://127.0.0.1:9/evil' },
    'redirect_uri with a different path': { redirect_uri: s.redirectUri + '/more' },
    'unknown client': { client_id: '00000000-0000-4000-8000-000000000000' },
  };
  for (const [what, p] of Object.entries(bad)) {
    const r = await fetch(`${server.publicUrl}/auth/oauth/authorize?${params(p)}`, { redirect: 'manual' });
    assert.equal(r.status, 400, `${what}: status`);
    assert.equal(r.headers.get('location'), null, `${what}: no redirect`);
    assert.match(r.headers.get('content-type') || '', /text\/html/, `${what}: an HTML page`);
    await r.body?.cancel();
  }

  const browser = await browserFor(t);
  const context = await browser.newContext();
  let leaked = false;
  context.on('request', (r) => {
    if (new URL(r.url()).origin !== server.publicUrl) leaked = true;
  });
  const page = await context.newPage();
  const resp = await page.goto(`${server.publicUrl}/auth/oauth/authorize?${params(bad['unknown redirect_uri'])}`);
  assert.equal(resp.status(), 400);
  assert.equal(new URL(page.url()).origin, server.publicUrl);
  assert.equal(leaked, false);
  const text = await page.locator('body').innerText();
  assert.ok(text.trim().length > 0, 'the error page says something');
});

test('a confidential client authenticates at the token endpoint (RS256 keys); revocation ends the session', async (t) => {
  const s = await oauthSetup(t, { requiresSecret: true });
  const { server, alice, clientId, config } = s;

  // Sign with an RS256 key from now on (the running server picks it up within seconds).
  const rot = await server.cli(['keys', 'rotate', '--alg', 'RS256']);
  assert.equal(rot.code, 0, rot.stderr);
  const rsaKid = async () => (await api(server, 'GET', '/.well-known/jwks.json')).body.keys.find((k) => k.alg === 'RS256')?.kid;
  let kid;
  for (const deadline = Date.now() + 10_000; !(kid = await rsaKid()) && Date.now() < deadline; ) await sleep(200);
  assert.ok(kid, 'the RS256 key is published');
  const browser = await browserFor(t);
  const context = await browser.newContext();
  const { redirects } = s;
  const page = await context.newPage();

  const req = await authRequest(s);
  await page.goto(req.url.href);
  await expectLoginPage(page, server);
  await fillLogin(page, alice.username, alice.password);
  const cb = new URL(await redirects.next());

  // Without the secret the code is refused: the client must authenticate.
  const noSecret = await client.discovery(new URL(server.publicUrl), clientId, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  await expectOAuthError(client.authorizationCodeGrant(noSecret, cb, req.checks), 'invalid_client');
  const wrongSecret = await client.discovery(new URL(server.publicUrl), clientId, undefined, client.ClientSecretBasic('wrong'), {
    execute: [client.allowInsecureRequests],
  });
  await expectOAuthError(client.authorizationCodeGrant(wrongSecret, cb, req.checks), 'invalid_client');

  const tokens = await client.authorizationCodeGrant(config, cb, req.checks);
  assert.equal(tokens.claims().sub, alice.id);
  for (const jwt of [tokens.id_token, tokens.access_token]) {
    const h = jose.decodeProtectedHeader(jwt);
    assert.equal(h.alg, 'RS256');
    assert.equal(h.kid, kid);
  }
  await jose.jwtVerify(tokens.id_token, jwks(server), { issuer: server.publicUrl, audience: clientId, algorithms: ['RS256'] });

  const live = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(live.active, true);
  assert.equal(live.sub, alice.id);
  assert.equal(live.client_id, clientId);

  await client.tokenRevocation(config, tokens.refresh_token);
  const dead = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(dead.active, false, 'the session of a revoked refresh token has ended');
  await expectOAuthError(client.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant');
});

test('the flow API: CSRF double submit, session cookie, bogus flow', async (t) => {
  const server = await serverFor(t);
  await createAdmin(server, ADMIN.username, ADMIN.password);

  const page = await fetch(server.publicUrl + '/auth/flow/login');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') || '', /script-src 'self'/);
  const setCookie = page.headers.getSetCookie().find((c) => c.startsWith('kw_csrf='));
  assert.ok(setCookie, 'the page sets kw_csrf');
  assert.match(setCookie, /SameSite=Strict/i);
  assert.doesNotMatch(setCookie, /HttpOnly/i, 'the page script must read it');
  const csrf = /^kw_csrf=([^;]*)/.exec(setCookie)[1];
  assert.ok(csrf.length >= 16);

  const ctx = await api(server, 'GET', '/auth/api/flow/context');
  assert.equal(ctx.status, 200, ctx.text);
  assert.equal(ctx.body.client, null);
  assert.equal(ctx.body.user, null);
  const local = ctx.body.instances.find((i) => i.type === 'userpass');
  assert.ok(local, 'the default password instance');
  const body = { flow: null, instanceId: local.id, username: ADMIN.username, password: ADMIN.password };

  const attempts = {
    'no token at all': {},
    'header without cookie': { 'x-csrf-token': csrf },
    'cookie without header': { cookie: `kw_csrf=${csrf}` },
    'header and cookie differ': { cookie: `kw_csrf=${csrf}`, 'x-csrf-token': csrf + 'x' },
  };
  for (const [what, headers] of Object.entries(attempts)) {
    const r = await api(server, 'POST', '/auth/api/flow/login', { body, headers });
    assert.ok(r.status >= 400 && r.status < 500, `${what}: refused (${r.status})`);
    assert.equal(typeof r.body?.message, 'string', `${what}: an error body`);
    assert.ok(!r.headers.getSetCookie().some((c) => c.startsWith('kw_session=')), `${what}: no session`);
  }
  const ok = await api(server, 'POST', '/auth/api/flow/login', {
    body,
    headers: { cookie: `kw_csrf=${csrf}`, 'x-csrf-token': csrf },
  });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(typeof ok.body.redirect, 'string');
  const session = ok.headers.getSetCookie().find((c) => /^kw_\w+=/.test(c) && !c.startsWith('kw_csrf='));
  assert.ok(session, 'a session cookie');
  assert.match(session, /HttpOnly/i);
  assert.match(session, /SameSite=Lax/i);

  const bogus = await api(server, 'GET', '/auth/api/flow/context?flow=not-a-flow');
  assert.equal(bogus.status, 400, bogus.text);

  const browser = await browserFor(t);
  const p = await browser.newPage();
  await p.goto(server.publicUrl + '/auth/flow/login?flow=not-a-flow');
  await p.locator('#invalid').waitFor({ state: 'visible' });
  assert.equal(await p.locator('#login').isVisible(), false);
});

test('the login page shows the throttling message', async (t) => {
  const s = await oauthSetup(t);
  const { server, alice } = s;
  const browser = await browserFor(t);
  const page = await browser.newPage();
  const req = await authRequest(s);
  await page.goto(req.url.href);
  await expectLoginPage(page, server);
  const alert = page.locator('#error');

  let first;
  let throttled = null;
  for (let i = 1; i <= 10 && !throttled; i++) {
    const answered = page.waitForResponse((r) => r.url().endsWith('/auth/api/flow/login'));
    await fillLogin(page, alice.username, 'wrong password ' + i);
    const r = await answered;
    await page.waitForFunction(() => !document.getElementById('submit').disabled);
    const text = (await alert.textContent()).trim();
    if (i === 1) first = text;
    if (r.status() === 429) {
      throttled = { i, text, retryAfter: Number(r.headers()['retry-after']) };
    } else {
      assert.equal(r.status(), 401);
      assert.equal(text, first, 'the same answer for every wrong password');
    }
  }
  assert.ok(throttled, 'throttled within ten attempts');
  assert.ok(throttled.i >= 6, `the first five failures are answered normally (throttled at ${throttled.i})`);
  assert.ok(throttled.retryAfter >= 1, 'Retry-After');
  assert.notEqual(throttled.text, first, 'a different message');
  assert.ok(throttled.text.length > 0);
  assert.ok(await alert.isVisible());
  assert.ok(await page.getByRole('button', { name: 'Sign in', exact: true }).isEnabled(), 'the form stays usable');
  assert.equal(await page.getByLabel('Username').inputValue(), alice.username);
  await page.screenshot({ path: '/tmp/login-throttled.png', fullPage: true });
});
