// keyward against a real, independent OpenID Connect provider (the npm package oidc-provider, see
// oidc-provider.mjs), driven in Chromium from keyward's login and account pages: sign-in of a
// linked account inside an application's authorization request, implicit registration, linking
// to an existing user, no linking by e-mail, consent denied at the provider, a broken ID token
// signature and a swapped nonce refused, a replayed `state` refused, and the sync API refreshing
// the provider's access token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';
import {
  api,
  browserFor,
  createAdmin,
  expectAccountPage,
  fillLogin,
  pageFor,
  redirectCatcher,
  serverFor,
  token,
} from './harness.mjs';
import { ACCOUNTS, oidcProviderFor, providerSignIn } from './oidc-provider.mjs';

const ADMIN = { username: 'admin', password: 'admin password 123' };
const ALICE = { username: 'alice', displayName: 'Alice Liddell', email: 'alice@example.org', password: 'through the looking glass' };
const ACME = 'Acme SSO';
const DESKTOP = { viewport: { width: 1280, height: 900 } };

/**
 * A provider, a keyward with an admin, and an `oidc` instance named ACME pointing at the provider
 * (through its proxy); `flags` are the instance's flags, `provider` oidc-provider's options.
 */
async function setup(t, { flags = {}, provider = {} } = {}) {
  const op = await oidcProviderFor(t, provider);
  const server = await serverFor(t);
  await expectAccountPage(server);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const instance = await createInstance(server, adminToken, op, ACME, flags);
  return { op, server, adminToken, instance };
}

async function createInstance(server, adminToken, op, name, flags) {
  const r = await api(server, 'POST', '/auth/api/login/strategy-instance', {
    bearer: adminToken,
    body: {
      name,
      type: 'oidc',
      instanceConfig: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret },
      isLoginActive: true,
      isSelfRegisterActive: true,
      doesImplicitRegister: true,
      ...flags,
    },
  });
  assert.equal(r.status, 201, r.text);
  // The callback URL to register at the provider, exactly as the README tells.
  assert.equal(r.body.callbackUrl, `${server.publicUrl}/auth/api/flow/callback/${r.body.id}`);
  op.setRedirectUris([r.body.callbackUrl]);
  return r.body;
}

async function createAlice(server, adminToken, extra = {}) {
  const r = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: { ...ALICE, ...extra } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

/** An application (public client, PKCE) whose redirect URI a test server catches. */
async function application(t, server, adminToken) {
  const redirects = await redirectCatcher(t);
  const c = await api(server, 'POST', '/auth/api/login/client', {
    bearer: adminToken,
    body: { name: 'test app', redirectUrls: [redirects.uri], requiresSecret: false, validScopes: ['openid', 'profile', 'email', 'login'] },
  });
  assert.equal(c.status, 201, c.text);
  const config = await client.discovery(new URL(server.publicUrl), c.body.id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  return { redirects, config };
}

/** Starts the application's authorization request in `page`: keyward's login page opens. */
async function startAuthorization(page, server, app) {
  const checks = {
    pkceCodeVerifier: client.randomPKCECodeVerifier(),
    expectedState: client.randomState(),
    expectedNonce: client.randomNonce(),
  };
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: app.redirects.uri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(checks.pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
  });
  await page.goto(url.href);
  await page.waitForURL((u) => u.href.startsWith(server.publicUrl + '/auth/flow/login?'));
  return checks;
}

/** Clicks the provider's button on keyward's login page and signs in at the provider as `login`. */
async function viaProvider(page, op, login, options) {
  await page.getByRole('link', { name: `Sign in with ${ACME}` }).click();
  await page.waitForURL((u) => u.href.startsWith(op.issuer + '/interaction/'));
  await providerSignIn(page, login, options);
}

/** The document requests of a context, in order. */
function recordNavigations(context) {
  const urls = [];
  context.on('request', (r) => {
    if (r.isNavigationRequest()) urls.push(r.url());
  });
  return urls;
}

/** What the problem page says per reason (its own texts, from assets/flow/problem.js). */
const PROBLEM_TEXT = {
  id_token_invalid: /could not be verified/,
  state_invalid: /does not belong to a sign-in started in this browser/,
  no_account: /There is no account here for the Acme SSO account/,
  consent_denied: /You did not allow keyward to use your Acme SSO account/,
};

/** Waits for keyward's problem page (its script done) and returns its query. */
async function expectProblem(page, server, reason, instanceId) {
  // Wherever the callback ends (a page of keyward's, not its API): it must be the problem page.
  await page.waitForURL((u) => u.origin === server.publicUrl && !u.pathname.startsWith('/auth/api/'));
  assert.equal(new URL(page.url()).pathname, '/auth/flow/problem', `ended on ${page.url()}`);
  await page.locator('#card:not([aria-busy])').waitFor();
  const q = new URL(page.url()).searchParams;
  assert.equal(q.get('reason'), reason, page.url());
  assert.equal(q.get('instance'), instanceId);
  assert.match(await page.locator('#problem-text').innerText(), PROBLEM_TEXT[reason]);
  return q;
}

const rowTexts = (page) =>
  page.locator('#logins tbody tr[data-id]').evaluateAll((rows) =>
    rows.map((r) => Array.from(r.querySelectorAll('td')).slice(0, 4).map((td) => td.textContent.trim())));

async function waitForRows(page, n) {
  await page.waitForFunction((n) => document.querySelectorAll('#logins tbody tr[data-id]').length === n, n);
}

/** On the account page: the "Link Acme SSO" button, checked, clicked; the provider's page opens. */
async function clickLink(page, op, instance) {
  const link = page.getByRole('link', { name: `Link ${ACME}`, exact: true });
  assert.equal(await link.getAttribute('href'), `/auth/api/flow/redirect/${instance.id}?mode=link`);
  await link.click();
  await page.waitForURL((u) => u.href.startsWith(op.issuer + '/interaction/'));
}

const exchangesOf = (op) => op.seen.tokens.filter((x) => x.grantType === 'authorization_code');

async function users(server, adminToken) {
  const r = await api(server, 'GET', '/auth/api/login/user?limit=100', { bearer: adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.items.map((u) => u.username).sort();
}

async function user(server, adminToken, id) {
  const r = await api(server, 'GET', `/auth/api/login/user/${id}`, { bearer: adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

async function loginData(server, adminToken, userId) {
  const r = await api(server, 'GET', `/auth/api/login/user/${userId}/login-data`, { bearer: adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** The browser has no keyward session: the account page sends it to the login page. */
async function expectSignedOut(page, server) {
  await page.goto(server.publicUrl + '/account');
  await page.waitForURL((u) => u.pathname === '/auth/flow/login' || u.pathname === '/account');
  await page.waitForLoadState('load');
  assert.equal(new URL(page.url()).pathname, '/auth/flow/login', 'no keyward session');
}

/** Signs alice in on the account page with her password. */
async function aliceOnAccountPage(page, server) {
  await page.goto(server.publicUrl + '/account');
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await fillLogin(page, ALICE.username, ALICE.password);
  await page.waitForURL((u) => u.pathname === '/account' && !u.search);
  await page.locator('#app').waitFor({ state: 'visible' });
}

test('implicit registration: the register page is filled from the provider; the next sign-in logs in', async (t) => {
  const { op, server, adminToken, instance } = await setup(t);
  const app = await application(t, server, adminToken);
  const browser = await browserFor(t);

  // First visit: an unknown provider account inside the application's authorization request.
  const { page, errors, context } = await pageFor(browser, t, DESKTOP);
  const navigations = recordNavigations(context);
  const checks = await startAuthorization(page, server, app);
  await viaProvider(page, op, 'ada');

  // keyward asked the provider for a code with state, PKCE S256 and a nonce.
  const auth = op.seen.authorizations.at(-1).searchParams;
  assert.equal(auth.get('client_id'), op.clientId);
  assert.equal(auth.get('redirect_uri'), instance.callbackUrl);
  assert.equal(auth.get('response_type'), 'code');
  assert.equal(auth.get('code_challenge_method'), 'S256');
  assert.ok((auth.get('code_challenge') || '').length >= 43, 'a PKCE challenge');
  assert.ok((auth.get('state') || '').length >= 22, 'a state of at least 128 bits');
  assert.ok(auth.get('nonce'), 'a nonce');
  assert.ok(auth.get('scope').split(' ').includes('openid'), auth.get('scope'));

  await page.waitForURL((u) => u.pathname === '/auth/flow/register');
  await page.locator('#register').waitFor({ state: 'visible' });
  const here = new URL(page.url());
  assert.ok(here.searchParams.get('flow'), 'the flow is kept');
  assert.equal(here.hash, '', 'the register token is out of the address bar');
  assert.equal(await page.getByLabel('Username').inputValue(), 'ada', 'the provider\'s preferred_username');
  assert.equal(await page.getByLabel('Display name').inputValue(), ACCOUNTS.ada.name);
  assert.equal(await page.getByLabel('Email').inputValue(), ACCOUNTS.ada.email);
  assert.equal(await page.locator('#password-rows').isVisible(), false, 'no password asked: the login has one');
  assert.match(await page.locator('#token-login-account').innerText(), /ada/, 'the page names the provider account');
  assert.match(await page.locator('#token-login-where').innerText(), new RegExp(ACME), 'and the instance');
  await page.screenshot({ path: '/tmp/oidc-register.png', fullPage: true });
  assert.deepEqual(await users(server, adminToken), ['admin'], 'nothing registered before the form is sent');

  await page.getByRole('button', { name: 'Create account' }).click();
  const first = await client.authorizationCodeGrant(app.config, new URL(await app.redirects.next()), checks);
  assert.deepEqual(await users(server, adminToken), ['ada', 'admin']);
  const ada = await user(server, adminToken, first.claims().sub);
  assert.equal(ada.username, 'ada');
  assert.equal(ada.displayName, ACCOUNTS.ada.name);
  assert.equal(ada.email, ACCOUNTS.ada.email);
  const logins = await loginData(server, adminToken, ada.id);
  assert.deepEqual(logins.map((l) => [l.strategyInstance.id, l.state, l.description]), [[instance.id, 'VALID', 'ada']]);
  assert.ok(navigations.some((u) => u.startsWith(instance.callbackUrl + '?')), 'the provider sent the browser to the callback URL');
  assert.deepEqual(errors, []);

  // Second visit, another browser: the linked provider account signs in; no register page.
  const again = await pageFor(browser, t, DESKTOP);
  const againNav = recordNavigations(again.context);
  const checks2 = await startAuthorization(again.page, server, app);
  await viaProvider(again.page, op, 'ada');
  const second = await client.authorizationCodeGrant(app.config, new URL(await app.redirects.next()), checks2);
  assert.equal(second.claims().sub, ada.id, 'the same user');
  assert.ok(!againNav.some((u) => new URL(u).pathname === '/auth/flow/register'), 'no register page the second time');
  assert.deepEqual(await users(server, adminToken), ['ada', 'admin'], 'no second account');
  assert.equal((await loginData(server, adminToken, ada.id)).length, 1, 'no second identity');
  assert.deepEqual(again.errors, []);
});

test('linking: a signed-in user adds the provider account on the account page, then signs in with it', async (t) => {
  const { op, server, adminToken, instance } = await setup(t, { flags: { doesImplicitRegister: false } });
  const alice = await createAlice(server, adminToken);
  const app = await application(t, server, adminToken);
  const browser = await browserFor(t);

  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await aliceOnAccountPage(page, server);
  await waitForRows(page, 1);
  await clickLink(page, op, instance);
  const auth = op.seen.authorizations.at(-1).searchParams;
  assert.equal(auth.get('redirect_uri'), instance.callbackUrl);
  await providerSignIn(page, 'grace');

  // Back on the account page: the new login listed, the notice said once.
  await page.waitForURL((u) => u.pathname === '/account');
  await waitForRows(page, 2);
  const msg = page.locator('#logins-msg');
  await msg.waitFor({ state: 'visible' });
  assert.match(await msg.innerText(), /Linked your Acme SSO account “grace”/);
  const row = (await rowTexts(page)).find((r) => r[0] === ACME);
  assert.ok(row, JSON.stringify(await rowTexts(page)));
  assert.equal(row[2], 'grace', 'the provider account is named by its username');
  assert.equal(row[3], 'Active');
  await page.screenshot({ path: '/tmp/oidc-linked.png', fullPage: true });
  const logins = await loginData(server, adminToken, alice.id);
  assert.deepEqual(
    logins.map((l) => [l.strategyInstance.name, l.state, l.description]).sort(),
    [[ACME, 'VALID', 'grace'], ['local', 'VALID', 'alice']],
  );
  assert.deepEqual(await users(server, adminToken), ['admin', 'alice'], 'no new account');
  assert.deepEqual(errors, []);

  // In another browser, the provider account now signs alice in.
  const other = await pageFor(browser, t, DESKTOP);
  const checks = await startAuthorization(other.page, server, app);
  await viaProvider(other.page, op, 'grace');
  const tokens = await client.authorizationCodeGrant(app.config, new URL(await app.redirects.next()), checks);
  assert.equal(tokens.claims().sub, alice.id);
  assert.deepEqual(other.errors, []);
});

test('no linking by e-mail: a user with the provider account\'s e-mail is only told to sign in and link', async (t) => {
  const { op, server, adminToken, instance } = await setup(t, { flags: { doesImplicitRegister: false } });
  const alice = await createAlice(server, adminToken, { email: ACCOUNTS.grace.email });
  const browser = await browserFor(t);

  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await page.goto(server.publicUrl + '/auth/flow/login');
  await page.locator('#login').waitFor({ state: 'visible' });
  await viaProvider(page, op, 'grace');
  const q = await expectProblem(page, server, 'no_account', instance.id);
  assert.equal(q.get('hint'), 'email', 'the provider\'s verified e-mail belongs to a user');
  assert.equal(q.get('register'), '1', 'the instance allows registration');
  assert.ok(await page.locator('#email-hint').isVisible(), 'the page says: sign in and link from the account page');
  assert.match(await page.locator('#email-hint').innerText(), /You may already have an account/);
  assert.deepEqual(await users(server, adminToken), ['admin', 'alice']);
  assert.deepEqual((await loginData(server, adminToken, alice.id)).map((l) => l.strategyInstance.name), ['local'], 'nothing linked');
  await expectSignedOut(page, server);
  assert.deepEqual(errors, []);
});

test('consent denied at the provider: the problem page, nothing made; back to the login page, the flow goes on', async (t) => {
  const { op, server, adminToken, instance } = await setup(t);
  const app = await application(t, server, adminToken);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await startAuthorization(page, server, app);
  const flow = new URL(page.url()).searchParams.get('flow');
  await viaProvider(page, op, 'ada', { deny: true });
  const q = await expectProblem(page, server, 'consent_denied', instance.id);
  assert.equal(q.get('flow'), flow, 'the application\'s flow is kept');
  assert.equal(exchangesOf(op).length, 0, 'no code was exchanged');
  assert.deepEqual(await users(server, adminToken), ['admin']);

  // The way back keeps the application's flow; this time the user allows (the provider still
  // knows who signed in there, so it only asks for consent) and registration goes on in that flow.
  await page.getByRole('link', { name: 'Back to the sign-in page' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  assert.equal(new URL(page.url()).searchParams.get('flow'), flow);
  await page.getByRole('link', { name: `Sign in with ${ACME}` }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/register');
  assert.equal(new URL(page.url()).searchParams.get('flow'), flow);
  await page.locator('#register').waitFor({ state: 'visible' });
  assert.equal(await page.getByLabel('Username').inputValue(), 'ada');
  assert.deepEqual(errors, []);
});

/**
 * The provider lies once (a broken ID token signature, or a nonce other than keyward's): keyward
 * ends on its problem page with `id_token_invalid`, signs nobody in and keeps nothing.
 */
async function refusedIdToken(t, lie) {
  const { op, server, adminToken, instance } = await setup(t);
  const browser = await browserFor(t);
  const { page } = await pageFor(browser, t, DESKTOP);
  op.tamper[lie] = true;
  await page.goto(server.publicUrl + '/auth/flow/login');
  await page.locator('#login').waitFor({ state: 'visible' });
  await viaProvider(page, op, 'ada');
  await expectProblem(page, server, 'id_token_invalid', instance.id);
  await page.screenshot({ path: `/tmp/oidc-${lie}.png`, fullPage: true });

  // The provider did answer (so keyward refused what it got, not a failed call).
  const exchange = op.seen.tokens.filter((x) => x.grantType === 'authorization_code');
  assert.equal(exchange.length, 1);
  assert.equal(exchange[0].status, 200);
  assert.ok(exchange[0].body.id_token);

  // Nothing made: no user, no identity (waiting or not) — the instance goes without cascade.
  assert.deepEqual(await users(server, adminToken), ['admin']);
  await expectSignedOut(page, server);
  const del = await api(server, 'DELETE', `/auth/api/login/strategy-instance/${instance.id}`, { bearer: adminToken });
  assert.equal(del.status, 200, `no identity uses the instance: ${del.text}`);
}

test('an ID token whose signature does not verify is refused', async (t) => {
  await refusedIdToken(t, 'idTokenSignature');
});

test('an ID token with another nonce than keyward sent is refused', async (t) => {
  await refusedIdToken(t, 'nonce');
});

test('a replayed state (the callback URL loaded again) is refused before the provider is asked', async (t) => {
  const { op, server, adminToken, instance } = await setup(t, { flags: { doesImplicitRegister: false } });
  const alice = await createAlice(server, adminToken);
  const browser = await browserFor(t);
  const { page, context } = await pageFor(browser, t, DESKTOP);
  const navigations = recordNavigations(context);

  await aliceOnAccountPage(page, server);
  await waitForRows(page, 1);
  await clickLink(page, op, instance);
  await providerSignIn(page, 'grace');
  await page.waitForURL((u) => u.pathname === '/account');
  await waitForRows(page, 2);
  const callback = navigations.find((u) => u.startsWith(instance.callbackUrl + '?'));
  assert.ok(callback, navigations.join('\n'));
  assert.ok(new URL(callback).searchParams.get('state'));

  // The same answer again, in the same browser: the state was used.
  await page.goto(callback);
  await expectProblem(page, server, 'state_invalid', instance.id);
  assert.equal(
    op.seen.tokens.filter((x) => x.grantType === 'authorization_code').length,
    1,
    'the code was not sent to the provider a second time',
  );
  const logins = await loginData(server, adminToken, alice.id);
  assert.equal(logins.filter((l) => l.strategyInstance.id === instance.id).length, 1, 'still one link');

  // In another browser it is refused just the same, and signs nobody in.
  const other = await pageFor(browser, t, DESKTOP);
  await other.page.goto(callback);
  await expectProblem(other.page, server, 'state_invalid', instance.id);
  await expectSignedOut(other.page, server);
});

test('the sync API hands out the provider token, refreshed once it has expired; a refused refresh asks for a new login', async (t) => {
  const ttl = 8;
  const { op, server, adminToken, instance } = await setup(t, { flags: { isSyncActive: true }, provider: { accessTokenTtl: ttl } });
  const app = await application(t, server, adminToken);
  const browser = await browserFor(t);
  const userinfo = (at) => fetch(op.issuer + '/me', { headers: { authorization: `Bearer ${at}` } });
  const exchanges = () => op.seen.tokens.filter((x) => x.grantType === 'authorization_code');

  // ada registers through the provider: keyward keeps the provider's tokens with her identity.
  const { page } = await pageFor(browser, t, DESKTOP);
  const checks = await startAuthorization(page, server, app);
  await viaProvider(page, op, 'ada');
  await page.waitForURL((u) => u.pathname === '/auth/flow/register');
  assert.equal(exchanges().length, 1);
  const first = exchanges()[0].body;
  assert.ok(first.refresh_token, 'the provider gave a refresh token');
  assert.equal((await userinfo(first.access_token)).status, 200, 'the provider token is valid at first');
  await page.getByRole('button', { name: 'Create account' }).click();
  const tokens = await client.authorizationCodeGrant(app.config, new URL(await app.redirects.next()), checks);
  const ada = await user(server, adminToken, tokens.claims().sub);
  assert.equal(ada.username, 'ada');
  const [identity] = await loginData(server, adminToken, ada.id);
  assert.equal(identity.strategyInstance.id, instance.id);

  // A backend with client credentials and the scope `sync`.
  const robot = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: { username: 'sync-robot', displayName: 'Sync robot' } });
  assert.equal(robot.status, 201, robot.text);
  const c = await api(server, 'POST', '/auth/api/login/client', {
    bearer: adminToken,
    body: { name: 'sync backend', redirectUrls: [], requiresSecret: true, validScopes: ['sync'], clientCredentialFlowUser: robot.body.id },
  });
  assert.equal(c.status, 201, c.text);
  const secret = await api(server, 'POST', `/auth/api/login/client/${c.body.id}/client-secret`, { bearer: adminToken });
  assert.equal(secret.status, 201, secret.text);
  const basic = (id, pw) => 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(pw)}`).toString('base64');
  const cc = await fetch(server.base + '/auth/oauth/token', {
    method: 'POST',
    headers: { authorization: basic(c.body.id, secret.body.secretText), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'sync' }),
  });
  const ccBody = await cc.json();
  assert.equal(cc.status, 200, JSON.stringify(ccBody));
  const sync = (id = identity.id) => api(server, 'GET', `/auth/api/sync/token/${id}`, { bearer: ccBody.access_token });

  // The provider's access token expires (its lifetime is `ttl` seconds): wait until the
  // provider itself refuses it.
  const deadline = Date.now() + 60_000;
  while ((await userinfo(first.access_token)).status === 200) {
    assert.ok(Date.now() < deadline, 'the provider token never expired');
    await sleep(250);
  }

  const r = await sync();
  assert.equal(r.status, 200, r.text);
  assert.notEqual(r.body.token, first.access_token, 'a new provider token');
  assert.ok(Date.parse(r.body.expiresAt) > Date.now(), `expiresAt in the future: ${r.body.expiresAt}`);
  assert.equal(r.body.strategyInstance.id, instance.id);
  const refreshes = op.seen.tokens.filter((x) => x.grantType === 'refresh_token');
  assert.ok(refreshes.length >= 1, 'keyward used the refresh token grant');
  assert.ok(refreshes.every((x) => x.status === 200));
  const info = await userinfo(r.body.token);
  assert.equal(info.status, 200, 'the provider accepts the new token');
  assert.equal((await info.json()).sub, ACCOUNTS.ada.sub);

  // The sync API is for client credentials only: a user's token with the scope `sync` is refused.
  const own = await api(server, 'GET', `/auth/api/sync/token/${identity.id}`, { bearer: await token(server, 'ada', 'sync') });
  assert.ok(own.status === 401 || own.status === 403, `a user's token: ${own.status} ${own.text}`);
  assert.equal((await sync('00000000-0000-4000-8000-000000000000')).status, 404);

  // The user revokes keyward's access at the provider: the next refresh is refused (502), and
  // from then on the identity needs a new login (409) — until ada signs in with it again.
  const latest = op.seen.tokens.findLast((x) => x.body?.refresh_token).body.refresh_token;
  const revoked = await fetch(op.issuer + '/token/revocation', {
    method: 'POST',
    headers: { authorization: basic(op.clientId, op.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: latest, token_type_hint: 'refresh_token' }),
  });
  assert.equal(revoked.status, 200, await revoked.text());
  // keyward's token expires within its one-minute margin, so the next call refreshes.
  const refused = await sync();
  assert.equal(refused.status, 502, refused.text);
  assert.equal(op.seen.tokens.at(-1).grantType, 'refresh_token');
  assert.equal(op.seen.tokens.at(-1).status, 400, 'the provider refused it');
  const asked = op.seen.tokens.length;
  const later = await sync();
  assert.equal(later.status, 409, later.text);
  assert.equal(op.seen.tokens.length, asked, 'the provider is not asked again');

  const again = await pageFor(browser, t, DESKTOP);
  const checks2 = await startAuthorization(again.page, server, app);
  await viaProvider(again.page, op, 'ada');
  const second = await client.authorizationCodeGrant(app.config, new URL(await app.redirects.next()), checks2);
  assert.equal(second.claims().sub, ada.id);
  const renewed = await sync();
  assert.equal(renewed.status, 200, renewed.text);
  assert.equal((await userinfo(renewed.body.token)).status, 200, 'a working provider token again');
});
