// Upstream logins (GitHub, GitLab) against a real keyward, in Chromium, with node stand-ins for
// the providers (standins.mjs: they check `state`, PKCE S256 and the verifier, and record
// whatever they refuse). Driven from the login page inside an OAuth authorization request and
// from the account page: sign in with a linked account, implicit registration (the register
// page filled in from the provider), no account (the problem page offers to create one), denied
// consent, a provider error, a provider that is down, a replayed callback, linking from the
// account page (one provider account per user), unlinking, the last-method rule. Also the
// problem page on its own, for every reason.
// The pages are opened at the server's public URL (http://localhost:{port}): the provider
// sends the browser back to the instance's callbackUrl there, and the flow's cookies must match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  PHONE,
  api,
  browserFor,
  createAdmin,
  expectAccountPage,
  fillLogin,
  pageFor,
  redirectCatcher,
  serverFor,
  sidewaysOverflow,
  token,
} from './harness.mjs';
import { closedPort, startStandin } from './standins.mjs';

const ADMIN = { username: 'admin', password: 'admin password 123' };
const ALICE = { username: 'alice', displayName: 'Alice Liddell', email: 'alice@example.org', password: 'through the looking glass' };
const BOB = { username: 'bob', displayName: 'Bob Builder', password: 'can we fix it yes' };
const DESKTOP = { viewport: { width: 1280, height: 900 } };

// People at the providers (numeric ids, as GitHub and GitLab have them).
const OCTO = { id: 1001, login: 'octocat', name: 'The Octocat', email: 'octocat@example.com' };
const ALICE_GH = { id: 2002, login: 'alice-gh', name: 'Alice at GitHub', email: 'alice@users.example.com' };
const TANUKI = { id: 3003, login: 'tanuki', name: 'Tanu Ki', email: 'tanuki@example.org' };

/** Creates an upstream instance through the login API as the admin; answers it. */
async function createInstance(s, body) {
  const r = await api(s.server, 'POST', '/auth/api/login/strategy-instance', { bearer: s.adminToken, body });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.callbackUrl, `${s.server.publicUrl}/auth/api/flow/callback/${r.body.id}`);
  return r.body;
}

async function setup(t) {
  const server = await serverFor(t);
  assert.match(server.publicUrl, /^http:\/\/localhost:\d+$/, 'the default public URL is on localhost');
  await expectAccountPage(server);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const s = { server, adminToken };
  for (const u of [ALICE, BOB]) {
    const r = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: u });
    assert.equal(r.status, 201, r.text);
    s[u.username] = r.body;
  }

  s.github = await startStandin(t, 'github');
  s.gitlab = await startStandin(t, 'gitlab');
  // GitHub: no implicit registration, but self-registration is open.
  s.gh = await createInstance(s, {
    name: 'GitHub',
    type: 'github',
    instanceConfig: { clientId: s.github.clientId, clientSecret: s.github.clientSecret, baseUrl: s.github.base, apiUrl: s.github.base },
    doesImplicitRegister: false,
    isSelfRegisterActive: true,
  });
  s.github.allowRedirect(s.gh.callbackUrl);
  // GitLab: an unknown account becomes a new one (implicit registration).
  s.gl = await createInstance(s, {
    name: 'GitLab',
    type: 'gitlab',
    instanceConfig: { clientId: s.gitlab.clientId, clientSecret: s.gitlab.clientSecret, baseUrl: s.gitlab.base },
    doesImplicitRegister: true,
    isSelfRegisterActive: true,
  });
  s.gitlab.allowRedirect(s.gl.callbackUrl);
  // A GitHub Enterprise whose API is down: its sign-in page answers, its API does not.
  s.down = await createInstance(s, {
    name: 'Acme GitHub',
    type: 'github',
    instanceConfig: { clientId: s.github.clientId, clientSecret: s.github.clientSecret, baseUrl: s.github.base, apiUrl: `http://127.0.0.1:${await closedPort()}` },
  });
  s.github.allowRedirect(s.down.callbackUrl);
  // A GitLab that only syncs: nobody signs in with it, but accounts can be linked to it.
  s.sync = await createInstance(s, {
    name: 'GitLab Sync',
    type: 'gitlab',
    instanceConfig: { clientId: s.gitlab.clientId, clientSecret: s.gitlab.clientSecret, baseUrl: s.gitlab.base },
    isLoginActive: false,
    isSelfRegisterActive: false,
    doesImplicitRegister: false,
    isSyncActive: true,
  });

  // An application: an OAuth client with its redirect endpoint.
  s.redirects = await redirectCatcher(t);
  const c = await api(server, 'POST', '/auth/api/login/client', {
    bearer: adminToken,
    body: { name: 'test app', redirectUrls: [s.redirects.uri], requiresSecret: false, validScopes: ['openid', 'profile', 'login'] },
  });
  assert.equal(c.status, 201, c.text);
  s.clientId = c.body.id;
  return s;
}

/** Opens a new authorization request of the application in `page`; answers it once the login
 *  page shows, with its `flow`. */
async function authorize(s, page) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: s.clientId,
    redirect_uri: s.redirects.uri,
    scope: 'openid profile',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  await page.goto(`${s.server.publicUrl}/auth/oauth/authorize?${q}`);
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.locator('#providers-box').waitFor({ state: 'visible' });
  const flow = new URL(page.url()).searchParams.get('flow');
  assert.ok(flow, 'the login page serves a flow');
  return { verifier, state, flow };
}

/** The application trades the code it was sent for tokens: answers the ID token's claims. */
async function redeem(s, req, redirected) {
  const u = new URL(redirected);
  assert.equal(u.searchParams.get('state'), req.state);
  const code = u.searchParams.get('code');
  assert.ok(code, `a code in ${redirected}`);
  const r = await fetch(s.server.base + '/auth/oauth/token', {
    method: 'POST',
    headers: { accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: s.redirects.uri, client_id: s.clientId, code_verifier: req.verifier }),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString());
}

/** Waits for the problem page and its script; answers its query. */
async function problemPage(page) {
  await page.waitForURL((u) => u.pathname === '/auth/flow/problem');
  await page.locator('#card:not([aria-busy])').waitFor();
  return new URL(page.url()).searchParams;
}

/** The problem page's heading (its first line) and message. */
async function problemTexts(page) {
  return {
    heading: (await page.locator('h1').innerText()).trim(),
    text: await page.locator('#problem-text').innerText(),
  };
}

/** Opens /account at the public URL in a fresh browser and signs in with a password. */
async function signInToAccount(browser, t, s, who, options = DESKTOP) {
  const p = await pageFor(browser, t, options);
  await p.page.goto(s.server.publicUrl + '/account');
  await p.page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await fillLogin(p.page, who.username, who.password);
  await p.page.waitForURL((u) => u.pathname === '/account' && !u.search);
  await p.page.locator('#app').waitFor({ state: 'visible' });
  return p;
}

const rowTexts = (page) =>
  page.locator('#logins tbody tr[data-id]').evaluateAll((rows) =>
    rows.map((r) => Array.from(r.querySelectorAll('td')).slice(0, 4).map((td) => td.textContent.trim())));

async function waitForRows(page, n) {
  await page.waitForFunction((n) => document.querySelectorAll('#logins tbody tr[data-id]').length === n, n);
}

async function loginData(s, username) {
  const r = await api(s.server, 'GET', '/auth/api/login/user/self/login-data', { bearer: await token(s.server, username) });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

test('GitHub and GitLab through the login page and the account page', async (t) => {
  const s = await setup(t);
  const browser = await browserFor(t);

  await t.test('the login page: a button per provider, with its icon, inside the flow', async (t) => {
    const { page, errors } = await pageFor(browser, t, PHONE);
    const req = await authorize(s, page);
    const names = await page.locator('#providers a').allTextContents();
    assert.deepEqual(names.map((n) => n.trim()), ['Sign in with GitHub', 'Sign in with GitLab', 'Sign in with Acme GitHub']);
    for (const [name, inst] of [['GitHub', s.gh], ['GitLab', s.gl]]) {
      const link = page.getByRole('link', { name: `Sign in with ${name}`, exact: true });
      assert.equal(await link.getAttribute('href'), `/auth/api/flow/redirect/${inst.id}?mode=login&flow=${encodeURIComponent(req.flow)}`);
      assert.equal(await link.locator('svg.provider-icon').count(), 1, `${name} has its icon`);
    }
    assert.equal(await sidewaysOverflow(page), 0, 'no sideways scrolling on a phone');
    await page.screenshot({ path: '/tmp/upstream-login-phone.png', fullPage: true });

    // The register page offers a sign-up at each provider open for self-registration.
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.waitForURL((u) => u.pathname === '/auth/flow/register');
    await page.locator('#providers-box').waitFor({ state: 'visible' });
    for (const [name, inst] of [['GitHub', s.gh], ['GitLab', s.gl]]) {
      const link = page.getByRole('link', { name: `Sign up with ${name}`, exact: true });
      assert.equal(await link.getAttribute('href'), `/auth/api/flow/redirect/${inst.id}?mode=register&flow=${encodeURIComponent(req.flow)}`);
    }
    assert.ok(await page.locator('#register').isVisible(), 'the password form is still there');
    assert.deepEqual(errors, []);
  });

  await t.test('no account for a GitHub login: the problem page offers to create one; it is made, filled in from GitHub', async (t) => {
    const { page, errors } = await pageFor(browser, t, DESKTOP);
    const req = await authorize(s, page);
    s.github.signIn(OCTO);
    await page.getByRole('link', { name: 'Sign in with GitHub', exact: true }).click();

    const q = await problemPage(page);
    assert.equal(q.get('reason'), 'no_account');
    assert.equal(q.get('instance'), s.gh.id);
    assert.equal(q.get('flow'), req.flow, 'the flow is kept');
    assert.equal(q.get('register'), '1', 'GitHub is open for self-registration');
    const { heading, text } = await problemTexts(page);
    assert.equal(heading.split('\n')[0], 'No account for this login');
    assert.match(text, /no account here for the GitHub account you signed in with/);
    assert.equal(await page.getByRole('link', { name: 'Back to the sign-in page' }).getAttribute('href'),
      '/auth/flow/login?flow=' + encodeURIComponent(req.flow));
    await page.screenshot({ path: '/tmp/upstream-no-account.png', fullPage: true });
    // Nothing was made: no user, and no waiting login holds the provider account.
    const users = await api(s.server, 'GET', '/auth/api/login/user?search=octocat', { bearer: s.adminToken });
    assert.equal(users.status, 200, users.text);
    assert.deepEqual(users.body.items, []);

    const create = page.getByRole('link', { name: /Create an account/ });
    assert.equal(await create.getAttribute('href'), `/auth/api/flow/redirect/${s.gh.id}?mode=register&flow=${encodeURIComponent(req.flow)}`);
    await create.click();

    // Back from GitHub (signed in there still) on the register page, filled in.
    await page.waitForURL((u) => u.pathname === '/auth/flow/register');
    await page.locator('#register').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).searchParams.get('flow'), req.flow);
    assert.equal(new URL(page.url()).hash, '', 'the register token is out of the address bar');
    assert.equal(await page.getByLabel('Username').inputValue(), OCTO.login);
    assert.equal(await page.getByLabel('Display name').inputValue(), OCTO.name);
    assert.equal(await page.getByLabel('Email').inputValue(), OCTO.email);
    assert.equal(await page.locator('#password-rows').isVisible(), false, 'no password: GitHub is the login');
    assert.equal(await page.locator('#token-login-account').innerText(), OCTO.login, 'the page names the login');
    assert.equal(await page.locator('#token-login-where').innerText(), 'GitHub account');
    await page.getByRole('button', { name: 'Create account' }).click();

    const claims = await redeem(s, req, await s.redirects.next());
    const logins = await loginData(s, OCTO.login);
    assert.equal(logins.length, 1);
    assert.equal(logins[0].strategyInstance.id, s.gh.id);
    assert.equal(logins[0].description, OCTO.login);
    assert.equal(logins[0].state, 'VALID');
    const me = await api(s.server, 'GET', '/auth/api/login/user/self', { bearer: await token(s.server, OCTO.login) });
    assert.equal(claims.sub, me.body.id);
    assert.deepEqual(s.github.problems, []);
    assert.deepEqual(errors, []);
  });

  await t.test('implicit registration with GitLab: the register page, filled in; then back at the application', async (t) => {
    const { page, errors } = await pageFor(browser, t, PHONE);
    const req = await authorize(s, page);
    s.gitlab.signIn(TANUKI);
    await page.getByRole('link', { name: 'Sign in with GitLab', exact: true }).click();

    await page.waitForURL((u) => u.pathname === '/auth/flow/register');
    await page.locator('#register').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).searchParams.get('flow'), req.flow);
    assert.equal(await page.getByLabel('Username').inputValue(), TANUKI.login);
    assert.equal(await page.getByLabel('Display name').inputValue(), TANUKI.name);
    assert.equal(await page.getByLabel('Email').inputValue(), TANUKI.email);
    assert.equal(await page.locator('#token-login-account').innerText(), TANUKI.login);
    assert.equal(await page.locator('#token-login-where').innerText(), 'GitLab account');
    assert.match(await page.locator('h1').innerText(), /to continue to test app/);
    assert.equal(await sidewaysOverflow(page), 0);
    await page.screenshot({ path: '/tmp/upstream-register-phone.png', fullPage: true });

    await page.getByLabel('Display name').fill('Tanuki of GitLab');
    await page.getByRole('button', { name: 'Create account' }).click();
    const claims = await redeem(s, req, await s.redirects.next());
    const me = await api(s.server, 'GET', '/auth/api/login/user/self', { bearer: await token(s.server, TANUKI.login) });
    assert.equal(me.status, 200, me.text);
    assert.equal(claims.sub, me.body.id);
    assert.equal(me.body.displayName, 'Tanuki of GitLab');
    const logins = await loginData(s, TANUKI.login);
    assert.deepEqual(logins.map((l) => [l.strategyInstance.id, l.description, l.state]), [[s.gl.id, TANUKI.login, 'VALID']]);

    // The stand-in saw a state and a PKCE S256 challenge, and the matching verifier.
    const a = s.gitlab.authorizations.at(-1);
    assert.equal(a.get('code_challenge_method'), 'S256');
    assert.equal(a.get('redirect_uri'), s.gl.callbackUrl);
    assert.deepEqual(s.gitlab.problems, []);
    assert.deepEqual(errors, []);
  });

  await t.test('the account page links GitHub; the GitHub login signs in through the OAuth flow; a replayed callback is refused; another user cannot take it; it is unlinked', async (t) => {
    const { page, errors } = await signInToAccount(browser, t, s, ALICE);
    await waitForRows(page, 1);
    assert.ok(await page.locator('#last-method').isVisible(), 'one way to sign in: the rule is said before anyone tries');
    const link = page.getByRole('link', { name: 'Link GitHub', exact: true });
    assert.equal(await link.getAttribute('href'), `/auth/api/flow/redirect/${s.gh.id}?mode=link`);
    assert.equal(await page.getByRole('link', { name: 'Link GitLab', exact: true }).count(), 1);
    assert.equal(await page.getByRole('link', { name: 'Link GitLab Sync', exact: true }).getAttribute('href'),
      `/auth/api/flow/redirect/${s.sync.id}?mode=link`, 'an instance that only syncs can be linked too');
    await page.screenshot({ path: '/tmp/upstream-account-before.png', fullPage: true });

    s.github.signIn(ALICE_GH);
    await link.click();
    await page.waitForURL((u) => u.pathname === '/account');
    await waitForRows(page, 2);
    const msg = page.locator('#logins-msg');
    await msg.waitFor({ state: 'visible' });
    assert.match(await msg.innerText(), /Linked your GitHub account “alice-gh”/);
    assert.equal(new URL(page.url()).search, '', 'the notice is out of the address bar');
    const rows = await rowTexts(page);
    assert.deepEqual(rows.find((r) => r[0] === 'GitHub'), ['GitHub', 'GitHub', ALICE_GH.login, 'Active']);
    assert.equal(await page.locator('#last-method').isVisible(), false);
    await page.screenshot({ path: '/tmp/upstream-account-linked.png', fullPage: true });

    // A made-up notice names nothing: only a login the user has is confirmed.
    await page.goto(s.server.publicUrl + '/account?linked=Evil%20Corp');
    await waitForRows(page, 2);
    assert.equal(await msg.isVisible(), false);

    // Signing in to the application with that GitHub account is signing in as Alice.
    {
      const other = await pageFor(browser, t, DESKTOP);
      const callbacks = [];
      other.context.on('request', (r) => {
        if (r.isNavigationRequest() && new URL(r.url()).pathname.startsWith('/auth/api/flow/callback/')) callbacks.push(r.url());
      });
      const req = await authorize(s, other.page);
      await other.page.getByRole('link', { name: 'Sign in with GitHub', exact: true }).click();
      const claims = await redeem(s, req, await s.redirects.next());
      assert.equal(claims.sub, s.alice.id);
      assert.equal(callbacks.length, 1);

      // The provider's answer once more (a replay): refused, nothing signed in.
      await other.page.goto(callbacks[0]);
      const q = await problemPage(other.page);
      assert.equal(q.get('reason'), 'state_invalid');
      assert.match((await problemTexts(other.page)).text, /does not belong to a sign-in started in this browser/);
      assert.deepEqual(other.errors, []);
    }

    // Bob cannot link Alice's GitHub account to himself.
    {
      const bob = await signInToAccount(browser, t, s, BOB);
      await bob.page.getByRole('link', { name: 'Link GitHub', exact: true }).click();
      const q = await problemPage(bob.page);
      assert.equal(q.get('reason'), 'identity_taken');
      assert.match((await problemTexts(bob.page)).text, /already belongs to another account/);
      await bob.page.getByRole('link', { name: 'Back to your account' }).click();
      await bob.page.waitForURL((u) => u.pathname === '/account');
      await bob.page.locator('#app').waitFor({ state: 'visible' });
      await waitForRows(bob.page, 1);
      assert.deepEqual(bob.errors, []);
    }

    // Unlink GitHub.
    await page.getByRole('button', { name: `Unlink GitHub login ${ALICE_GH.login}` }).click();
    const dialog = page.locator('#confirm');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.innerText(), /Unlink this account\?/);
    await dialog.getByRole('button', { name: 'Unlink' }).click();
    await waitForRows(page, 1);
    assert.match(await msg.innerText(), /Unlinked GitHub “alice-gh”/);
    assert.deepEqual((await loginData(s, ALICE.username)).map((l) => l.strategyInstance.type), ['userpass']);

    // The password is now the last way in: refused, in words.
    await page.getByRole('button', { name: /^Remove local login/ }).click();
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await page.waitForFunction(() => /only way left to sign in/.test(document.getElementById('logins-msg').textContent));
    assert.match(await msg.innerText(), /cannot be removed/);
    await waitForRows(page, 1);
    assert.deepEqual(s.github.problems, []);
    assert.deepEqual(errors.filter((e) => !/status of 409/.test(e)), [], 'only the refused removal');
  });

  await t.test('denied consent, a provider error, a provider that is down: the problem page, nothing made', async (t) => {
    const { page, errors } = await pageFor(browser, t, DESKTOP);
    const req = await authorize(s, page);
    s.github.signIn({ id: 4004, login: 'nobody', name: 'No Body', email: 'nobody@example.com' });

    s.github.denyNext();
    await page.getByRole('link', { name: 'Sign in with GitHub', exact: true }).click();
    let q = await problemPage(page);
    assert.equal(q.get('reason'), 'consent_denied');
    assert.equal(q.get('flow'), req.flow);
    let texts = await problemTexts(page);
    assert.equal(texts.heading.split('\n')[0], 'Sign-in cancelled');
    assert.match(texts.text, /did not allow keyward to use your GitHub account/);
    assert.match(texts.heading, /for test app/, 'the application is named');
    await page.screenshot({ path: '/tmp/upstream-denied.png', fullPage: true });

    // The way back keeps the application's flow.
    await page.getByRole('link', { name: 'Back to the sign-in page' }).click();
    await page.waitForURL((u) => u.pathname === '/auth/flow/login' && u.searchParams.get('flow') === req.flow);
    await page.locator('#providers-box').waitFor({ state: 'visible' });

    s.github.failTokenNext();
    await page.getByRole('link', { name: 'Sign in with GitHub', exact: true }).click();
    q = await problemPage(page);
    assert.equal(q.get('reason'), 'provider_error');
    assert.match((await problemTexts(page)).text, /GitHub answered with an error/);

    await page.goto(`${s.server.publicUrl}/auth/flow/login?flow=${encodeURIComponent(req.flow)}`);
    await page.getByRole('link', { name: 'Sign in with Acme GitHub', exact: true }).click();
    q = await problemPage(page);
    assert.equal(q.get('reason'), 'provider_unreachable');
    texts = await problemTexts(page);
    assert.match(texts.text, /Acme GitHub cannot be reached right now/);
    await page.screenshot({ path: '/tmp/upstream-down.png', fullPage: true });

    // Nobody was made, nothing waits.
    const users = await api(s.server, 'GET', '/auth/api/login/user?search=nobody', { bearer: s.adminToken });
    assert.deepEqual(users.body.items, []);
    assert.deepEqual(s.github.problems, []);
    assert.deepEqual(errors, []);
  });
});

test('the problem page on its own: a message per reason, its own texts only, the ways on', async (t) => {
  const server = await serverFor(t);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const gh = await startStandin(t, 'github');
  const r = await api(server, 'POST', '/auth/api/login/strategy-instance', {
    bearer: adminToken,
    body: { name: 'Octo Hub', type: 'github', instanceConfig: { clientId: gh.clientId, clientSecret: gh.clientSecret, baseUrl: gh.base, apiUrl: gh.base } },
  });
  assert.equal(r.status, 201, r.text);
  const id = r.body.id;
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, PHONE);

  const open = async (query) => {
    const resp = await page.goto(`${server.publicUrl}/auth/flow/problem?${new URLSearchParams(query)}`);
    assert.equal(resp.status(), 200);
    await page.locator('#card:not([aria-busy])').waitFor();
    return resp;
  };

  const resp = await open({ reason: 'provider_unreachable', instance: id });
  const headers = await resp.allHeaders();
  assert.match(headers['content-type'], /^text\/html/);
  assert.match(headers['content-security-policy'] || '', /script-src 'self'/);
  assert.match(headers['content-security-policy'] || '', /frame-ancestors 'none'/);
  assert.match(headers['set-cookie'] || '', /kw_csrf=/, 'the page hands out its CSRF cookie like every page');
  assert.match(await page.locator('#problem-text').innerText(), /^Octo Hub cannot be reached right now/);
  assert.equal(await page.getByRole('link', { name: 'Back to the sign-in page' }).getAttribute('href'), '/auth/flow/login');
  assert.equal(await page.locator('#account').isVisible(), false, 'nobody is signed in');
  assert.equal(await sidewaysOverflow(page), 0);

  const want = {
    consent_denied: /did not allow keyward to use your Octo Hub account/,
    state_invalid: /does not belong to a sign-in started in this browser/,
    provider_error: /^Octo Hub answered with an error/,
    provider_unreachable: /^Octo Hub cannot be reached/,
    id_token_invalid: /could not be verified/,
    no_account: /no account here for the Octo Hub account/,
    login_disabled: /Signing in with Octo Hub is turned off/,
    blocked: /blocked/,
    identity_taken: /already belongs to another account/,
    not_logged_in: /To link your Octo Hub account, sign in to your account here first/,
    instance_unknown: /does not exist here/,
    invalid_request: /could not start/,
    internal_error: /problem inside keyward/,
  };
  const headings = new Set();
  for (const [reason, text] of Object.entries(want)) {
    await open({ reason, instance: id });
    assert.match(await page.locator('#problem-text').innerText(), text, reason);
    headings.add((await page.locator('h1').innerText()).trim());
    assert.equal(await page.locator('#register').isVisible(), false, `${reason}: no register offer without register=1`);
  }
  assert.ok(headings.size >= 6, 'the headings say what happened');

  // no_account with register=1 and hint=email, inside a flow (a made-up one: the page still
  // explains, and the way back keeps it).
  await open({ reason: 'no_account', instance: id, flow: 'f-1', register: '1', hint: 'email' });
  const create = page.getByRole('link', { name: 'Create an account with Octo Hub' });
  assert.equal(await create.getAttribute('href'), `/auth/api/flow/redirect/${id}?mode=register&flow=f-1`);
  assert.match(await page.locator('#email-hint').innerText(), /You may already have an account: sign in and link this login from your account page/);
  assert.equal(await page.getByRole('link', { name: 'Back to the sign-in page' }).getAttribute('href'), '/auth/flow/login?flow=f-1');
  await page.screenshot({ path: '/tmp/problem-no-account-phone.png', fullPage: true });

  // Anybody can write the query: an unknown reason or instance gets the page's general text,
  // markup stays text, and no register offer points anywhere unknown.
  await open({ reason: '<img src=x onerror=alert(1)>', instance: 'javascript:alert(1)', register: '1' });
  assert.equal((await page.locator('h1').innerText()).trim(), 'Signing in did not work');
  assert.equal(await page.locator('#problem-text').innerText(), 'Signing in with the provider did not work. Nothing was changed.');
  assert.equal(await page.locator('img').count(), 0);
  await open({ reason: 'no_account', instance: 'nope', register: '1' });
  assert.equal(await page.locator('#register').isVisible(), false);
  assert.match(await page.locator('#problem-text').innerText(), /no account here for the account at the provider/);

  // Errors: only the made-up flow's refusal by the context call.
  assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
});
