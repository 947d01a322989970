// The hosted register page (/auth/flow/register) against a real keyward, in Chromium: a new
// account from a username and password, a taken username, and the register-token path that a
// login to an identity waiting for registration starts (also inside an OAuth client's flow);
// a register token made anywhere but in this browser creates nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import {
  PHONE,
  api,
  browserFor,
  createAdmin,
  expectAccountPage,
  fillLogin,
  localInstanceId,
  pageFor,
  redirectCatcher,
  serverFor,
  sidewaysOverflow,
  token,
} from './harness.mjs';

const ADMIN = { username: 'admin', password: 'admin password 123' };
const DESKTOP = { viewport: { width: 1280, height: 900 } };

/** Fills the register form; `password` undefined leaves the password fields alone. */
async function fillRegister(page, { username, displayName, email, password }) {
  await page.locator('#register').waitFor({ state: 'visible' });
  if (username !== undefined) await page.getByLabel('Username').fill(username);
  if (displayName !== undefined) await page.getByLabel('Display name').fill(displayName);
  if (email !== undefined) await page.getByLabel('Email').fill(email);
  if (password !== undefined) {
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Repeat the password').fill(password);
  }
}

async function self(server, username) {
  const r = await api(server, 'GET', '/auth/api/login/user/self', { bearer: await token(server, username) });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

test('a new visitor creates an account and lands on the account page', async (t) => {
  const server = await serverFor(t);
  await expectAccountPage(server);
  const browser = await browserFor(t);

  // On a phone first: the form fits, the links keep their place.
  {
    const { page, errors } = await pageFor(browser, t, PHONE);
    const resp = await page.goto(server.base + '/auth/flow/register');
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()['content-security-policy'] || '', /script-src 'self'/);
    await page.locator('#register').waitFor({ state: 'visible' });
    assert.equal((await page.locator('h1').innerText()).trim(), 'Create an account');
    assert.ok(await page.getByLabel('Username').evaluate((el) => el === document.activeElement), 'the username has the focus');
    assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('autocomplete'), 'new-password');
    assert.equal(await page.getByLabel('Repeat the password').getAttribute('autocomplete'), 'new-password');
    assert.equal(await page.getByLabel('Email').getAttribute('autocomplete'), 'email');
    assert.equal(await page.locator('#instance-row').isVisible(), false, 'one instance: no select');
    assert.equal(await page.getByRole('link', { name: 'Sign in' }).getAttribute('href'), '/auth/flow/login');
    assert.equal(await sidewaysOverflow(page), 0, 'no sideways scrolling on a phone');
    const box = await page.getByRole('button', { name: 'Create account' }).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390 && box.height >= 40, 'the button is on screen and big enough');

    // Checks in the page: a short password, two different passwords. Nothing is sent.
    await fillRegister(page, { username: 'zed', password: 'short' });
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#password-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#password-error').innerText(), /at least 8 characters/);
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    await page.screenshot({ path: '/tmp/register-phone-error.png', fullPage: true });
    await page.getByLabel('Password', { exact: true }).fill('long enough password');
    await page.getByLabel('Repeat the password').fill('another long password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#password2-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#password2-error').innerText(), /differ/);
    await page.screenshot({ path: '/tmp/register-phone.png', fullPage: true });
    assert.deepEqual(errors, []);
    await assert.rejects(token(server, 'zed'), 'no account yet');
  }

  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await page.goto(server.base + '/auth/flow/register');
  await fillRegister(page, { username: 'newbie', displayName: 'New Bie', email: 'newbie@example.org', password: 'a fresh password' });
  await page.screenshot({ path: '/tmp/register-desktop.png', fullPage: true });
  await page.getByRole('button', { name: 'Create account' }).click();

  // The account page signs in by itself (single sign-on) and shows the new user.
  await page.waitForURL((u) => u.pathname === '/account' && !u.search);
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#username').innerText(), 'newbie');
  assert.equal(await page.locator('#display-name').innerText(), 'New Bie');
  assert.deepEqual(errors, []);

  const me = await self(server, 'newbie');
  assert.equal(me.displayName, 'New Bie');
  assert.equal(me.email, 'newbie@example.org');
  assert.equal(me.isAdmin, false);

  // The password works on the login page of a fresh browser.
  const other = await pageFor(browser, t);
  await other.page.goto(server.base + '/auth/flow/login');
  await fillLogin(other.page, 'newbie', 'a fresh password');
  await other.page.waitForURL((u) => u.pathname === '/account');
});

test('a taken username: a clear message next to the field, the other fields kept', async (t) => {
  const server = await serverFor(t);
  await expectAccountPage(server);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, PHONE);

  await page.goto(server.base + '/auth/flow/register');
  const form = { username: ADMIN.username, displayName: 'Not The Admin', email: 'someone@example.org', password: 'some long password' };
  await fillRegister(page, form);
  const answered = page.waitForResponse((r) => r.url().endsWith('/auth/api/flow/register'));
  await page.getByRole('button', { name: 'Create account' }).click();
  assert.equal((await answered).status(), 409);

  const msg = page.locator('#username-error');
  await msg.waitFor({ state: 'visible' });
  assert.equal(await msg.innerText(), `The username “${ADMIN.username}” is already taken. Choose another one.`);
  assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
  assert.ok(await page.getByLabel('Username').evaluate((el) => el === document.activeElement), 'the username has the focus');
  assert.equal(await page.getByLabel('Display name').inputValue(), form.displayName);
  assert.equal(await page.getByLabel('Email').inputValue(), form.email);
  assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), form.password);
  assert.equal(await page.getByLabel('Repeat the password').inputValue(), form.password);
  assert.ok(await page.getByRole('button', { name: 'Create account' }).isEnabled());
  assert.equal(await sidewaysOverflow(page), 0);
  await page.screenshot({ path: '/tmp/register-taken-phone.png', fullPage: true });

  // Typing clears the message; a 400 from the server lands next to its field.
  await page.getByLabel('Username').fill('bad name!');
  assert.equal(await msg.isVisible(), false);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForFunction(() => /letters, digits/.test(document.getElementById('username-error').textContent));
  assert.equal(await page.getByLabel('Email').inputValue(), form.email);

  await page.getByLabel('Username').fill('not-admin');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL((u) => u.pathname === '/account');
  assert.equal((await self(server, 'not-admin')).displayName, form.displayName);
  assert.equal((await self(server, ADMIN.username)).isAdmin, true, 'the admin is untouched');
  assert.deepEqual(errors.filter((e) => !/Failed to load resource: .* (409|400) /.test(e)), [], 'only the expected refusals');

  // Self-registration switched off on every instance: the page says so and shows no form.
  const adminToken = await token(server, ADMIN.username);
  const localId = await localInstanceId(server);
  const off = await api(server, 'PUT', `/auth/api/login/strategy-instance/${localId}`, { bearer: adminToken, body: { isSelfRegisterActive: false } });
  assert.equal(off.status, 200, off.text);
  // The passkey instance still allows sign-up: the form asks for no password, only a passkey.
  const passkeyOnly = await pageFor(browser, t);
  await passkeyOnly.page.goto(server.publicUrl + '/auth/flow/register');
  await passkeyOnly.page.locator('#passkey-box').waitFor({ state: 'visible' });
  assert.equal(await passkeyOnly.page.locator('#password-rows').isVisible(), false);
  assert.equal(await passkeyOnly.page.getByRole('button', { name: 'Create account' }).isVisible(), false);
  assert.equal(await passkeyOnly.page.locator('#passkey-or').isVisible(), false);
  const list = await api(server, 'GET', '/auth/api/login/strategy-instance', { bearer: adminToken });
  const passkeyId = list.body.find((i) => i.name === 'passkey').id;
  const pkOff = await api(server, 'PUT', `/auth/api/login/strategy-instance/${passkeyId}`, { bearer: adminToken, body: { isSelfRegisterActive: false } });
  assert.equal(pkOff.status, 200, pkOff.text);
  const fresh = await pageFor(browser, t);
  await fresh.page.goto(server.base + '/auth/flow/register');
  await fresh.page.locator('#disabled').waitFor({ state: 'visible' });
  assert.equal(await fresh.page.locator('#register').isVisible(), false);
  assert.deepEqual(fresh.errors, []);
});

test('the register-token path: a waiting password login becomes an account, inside an OAuth flow', async (t) => {
  const server = await serverFor(t);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const localId = await localInstanceId(server);

  // An OAuth client of a relying party, with its redirect endpoint.
  const redirects = await redirectCatcher(t);
  const c = await api(server, 'POST', '/auth/api/login/client', {
    bearer: adminToken,
    body: { name: 'test app', redirectUrls: [redirects.uri], requiresSecret: false, validScopes: ['openid', 'profile', 'email'] },
  });
  assert.equal(c.status, 201, c.text);
  const config = await client.discovery(new URL(server.publicUrl), c.body.id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });

  // A password identity that waits for registration (nobody logged in).
  const carol = { username: 'carol', password: 'carol password 1' };
  const w = await api(server, 'POST', `/auth/api/login/strategy-instance/${localId}/userpass/register`, { body: carol });
  assert.equal(w.status, 201, w.text);

  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, PHONE);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirects.uri,
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  await page.goto(url.href);
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  const flow = new URL(page.url()).searchParams.get('flow');
  assert.ok(flow);
  assert.equal(
    await page.getByRole('link', { name: 'Create an account' }).getAttribute('href'),
    '/auth/flow/register?flow=' + encodeURIComponent(flow),
    'the login page offers registration, keeping the flow',
  );
  await fillLogin(page, carol.username, carol.password);

  // The login page sends the browser on to the register page, the token in the fragment.
  await page.waitForURL((u) => u.pathname === '/auth/flow/register');
  await page.locator('#register').waitFor({ state: 'visible' });
  const here = new URL(page.url());
  assert.equal(here.searchParams.get('flow'), flow, 'the flow is kept');
  assert.equal(here.hash, '', 'the token is out of the address bar');
  assert.equal(await page.getByLabel('Username').inputValue(), carol.username, 'the suggestion fills the username');
  assert.equal(await page.locator('#password-rows').isVisible(), false, 'no password asked: the login has one');
  assert.equal(await page.locator('#token-intro').isVisible(), true);
  assert.equal(await page.locator('#token-login-account').innerText(), carol.username, 'the page names the login');
  assert.equal(await page.locator('#token-login-where').innerText(), 'Password login on local');
  assert.match(await page.locator('h1').innerText(), /Create an account\s+to continue to test app/);
  assert.equal(await page.getByRole('link', { name: 'Sign in' }).getAttribute('href'), '/auth/flow/login?flow=' + encodeURIComponent(flow));
  assert.equal(await sidewaysOverflow(page), 0);
  await page.screenshot({ path: '/tmp/register-token-phone.png', fullPage: true });

  // A reload keeps the token (this tab's storage).
  await page.reload();
  await page.locator('#register').waitFor({ state: 'visible' });
  assert.equal(await page.getByLabel('Username').inputValue(), carol.username);

  await page.getByLabel('Display name').fill('Carol Singer');
  await page.getByLabel('Email').fill('carol@example.org');
  await page.getByRole('button', { name: 'Create account' }).click();

  // Back at the application with a code for the new user.
  const back = new URL(await redirects.next());
  assert.equal(back.searchParams.get('state'), state);
  const tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
  const me = await self(server, carol.username);
  assert.equal(tokens.claims().sub, me.id);
  assert.equal(me.displayName, 'Carol Singer');
  assert.equal(me.email, 'carol@example.org');
  const logins = await api(server, 'GET', '/auth/api/login/user/self/login-data', { bearer: await token(server, carol.username) });
  assert.equal(logins.status, 200, logins.text);
  assert.deepEqual(logins.body.map((l) => [l.strategyInstance.id, l.description, l.state]), [[localId, 'carol', 'VALID']]);
  assert.deepEqual(errors, []);
});

test('the register-token path without an application; a used or bad token', async (t) => {
  const server = await serverFor(t);
  await expectAccountPage(server);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const localId = await localInstanceId(server);
  const dave = { username: 'dave', password: 'dave password 1' };
  const w = await api(server, 'POST', `/auth/api/login/strategy-instance/${localId}/userpass/register`, { body: dave });
  assert.equal(w.status, 201, w.text);

  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await page.goto(server.base + '/auth/flow/login');
  await fillLogin(page, dave.username, dave.password);
  await page.waitForURL((u) => u.pathname === '/auth/flow/register');
  await page.locator('#register').waitFor({ state: 'visible' });
  // The token the page keeps for this tab, made in this browser.
  const daves = await page.evaluate(() => JSON.parse(sessionStorage.getItem('kw_register_token')).token);
  assert.equal(await page.getByLabel('Username').inputValue(), 'dave');
  assert.equal(await page.getByLabel('Display name').inputValue(), 'dave', 'suggested from the login');
  // A different account name than the login's is fine; no display name: the username.
  await page.getByLabel('Username').fill('david');
  await page.getByLabel('Display name').fill('');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL((u) => u.pathname === '/account');
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#username').innerText(), 'david');
  const me = await self(server, 'david');
  assert.equal(me.displayName, 'david', 'the display name defaults to the username');
  assert.deepEqual(errors, []);

  // The token is used up: a second visit with it, in this browser, says the login has an
  // account now.
  await page.goto(server.base + '/auth/flow/register#registerToken=' + daves);
  await page.locator('#already').waitFor({ state: 'visible' });
  assert.match(await page.locator('#already').innerText(), /already belongs to an account/);
  assert.equal(await page.locator('#register').isVisible(), false);

  // In another browser it is a token made elsewhere, used or not: refused, telling nothing.
  const again = await pageFor(browser, t, PHONE);
  for (const foreign of [daves, w.body.register_token]) {
    await again.page.goto(server.base + '/auth/flow/register#registerToken=' + foreign);
    await again.page.locator('#foreign').waitFor({ state: 'visible' });
    assert.equal(await again.page.locator('#register').isVisible(), false);
    assert.equal(await again.page.locator('#already').isVisible(), false);
  }

  await again.page.goto(server.base + '/auth/flow/register?x=1#registerToken=not-a-token');
  const expired = again.page.locator('#expired');
  await expired.waitFor({ state: 'visible' });
  assert.match(await expired.innerText(), /registration window has passed/);
  assert.equal(await again.page.getByRole('link', { name: /Start again/ }).getAttribute('href'), '/auth/flow/login');
  assert.equal(await again.page.locator('#register').isVisible(), false);
  await again.page.screenshot({ path: '/tmp/register-expired-phone.png', fullPage: true });
  assert.deepEqual(again.errors.filter((e) => !/ (401|403) /.test(e)), []);
});

test('a sign-up link from someone else creates no account: the page refuses it', async (t) => {
  const server = await serverFor(t);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const localId = await localInstanceId(server);
  const before = await api(server, 'GET', '/auth/api/login/user', { bearer: adminToken });
  assert.equal(before.status, 200, before.text);

  // The attacker's password login, made with no login at all: an account made of it would be
  // one the attacker signs in to.
  const mallory = { username: 'mallory-pass', password: 'mallory password 1' };
  const w = await api(server, 'POST', `/auth/api/login/strategy-instance/${localId}/userpass/register`, { body: mallory });
  assert.equal(w.status, 201, w.text);

  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, PHONE);
  await page.goto(server.base + '/auth/flow/register#registerToken=' + w.body.register_token);
  await page.locator('#foreign').waitFor({ state: 'visible' });
  assert.match(await page.locator('#foreign').innerText(), /not made in this browser\. No account was created/);
  assert.equal(await page.locator('#register').isVisible(), false, 'no form to fill');
  assert.equal(new URL(page.url()).hash, '', 'the token is out of the address bar');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('kw_register_token')), null, 'and not kept');
  assert.equal(await sidewaysOverflow(page), 0);
  await page.screenshot({ path: '/tmp/register-foreign-phone.png', fullPage: true });
  // The way out is a registration of one's own.
  await page.getByRole('link', { name: 'start here' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/register');
  await page.locator('#plain-intro').waitFor({ state: 'visible' });

  // Even a call made by hand is refused, and no account exists afterwards.
  const forced = await page.evaluate(async (tok) => {
    const r = await window.keyward.call('POST', '/auth/api/flow/register', { registerToken: tok, username: 'victim', displayName: 'Victim' });
    return { status: r.status, code: r.data.code };
  }, w.body.register_token);
  assert.deepEqual(forced, { status: 403, code: 'register_token_other_browser' });
  const after = await api(server, 'GET', '/auth/api/login/user', { bearer: adminToken });
  assert.deepEqual(after.body.items.map((u) => u.username), before.body.items.map((u) => u.username));
  assert.deepEqual(errors.filter((e) => !/Failed to load resource: .* 403 /.test(e)), []);
});

test('a server-side field error lands next to the field the answer names, whatever its message says', async (t) => {
  const server = await serverFor(t);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await page.goto(server.base + '/auth/flow/register');
  await fillRegister(page, { username: 'erin', displayName: 'Erin', email: 'not-an-address', password: 'a fresh password' });

  // The server's own check: the answer names `email`, and the message goes next to it.
  const answered = page.waitForResponse((r) => r.url().endsWith('/auth/api/flow/register'));
  await page.getByRole('button', { name: 'Create account' }).click();
  const r = await answered;
  assert.equal(r.status(), 400);
  assert.equal((await r.json()).field, 'email');
  const emailError = page.locator('#email-error');
  await emailError.waitFor({ state: 'visible' });
  assert.equal(await emailError.innerText(), 'Email is not a valid e-mail address.');
  assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
  assert.ok(await page.getByLabel('Email').evaluate((el) => el === document.activeElement), 'the email has the focus');
  assert.equal(await page.locator('#error').isVisible(), false, 'no form-wide error');

  // The page goes by `field`, not by the words: a message that names no field still lands at
  // the field the answer names ...
  let answer = { statusCode: 400, error: 'Bad Request', message: 'this name is reserved', code: 'invalid', field: 'displayName' };
  await page.route('**/auth/api/flow/register', (route) =>
    route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify(answer) }));
  await page.getByLabel('Email').fill('erin@example.org');
  await page.getByRole('button', { name: 'Create account' }).click();
  const nameError = page.locator('#displayName-error');
  await nameError.waitFor({ state: 'visible' });
  assert.equal(await nameError.innerText(), 'This name is reserved.');
  assert.equal(await page.getByLabel('Display name').getAttribute('aria-invalid'), 'true');
  assert.equal(await emailError.isVisible(), false, 'the old error is gone');

  // ... and a message that starts with a field's name, without `field`, is the form's error.
  answer = { statusCode: 400, error: 'Bad Request', message: 'username and password do not go together here', code: 'invalid' };
  await page.getByRole('button', { name: 'Create account' }).click();
  const formError = page.locator('#error');
  await formError.waitFor({ state: 'visible' });
  assert.equal(await formError.innerText(), 'Username and password do not go together here.');
  assert.equal(await page.locator('#username-error').isVisible(), false);
  assert.equal(await page.locator('#password-error').isVisible(), false);
  assert.deepEqual(errors.filter((e) => !/Failed to load resource: .* 400 /.test(e)), []);
});

test('the password minimum the register page asks for is the one the server says', async (t) => {
  const server = await serverFor(t);
  const browser = await browserFor(t);

  // As the server has it: 8.
  const ctx = await api(server, 'GET', '/auth/api/flow/context');
  assert.equal(ctx.status, 200, ctx.text);
  assert.equal(ctx.body.passwordMinLength, 8);
  {
    const { page, errors } = await pageFor(browser, t, DESKTOP);
    await page.goto(server.base + '/auth/flow/register');
    await page.locator('#register').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#password-hint').innerText(), 'At least 8 characters.');
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('minlength'), '8');
    assert.deepEqual(errors, []);
  }

  // A server that says 12: the page follows it, in its hint, its input and its own check.
  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await page.route('**/auth/api/flow/context*', async (route) => {
    const real = await route.fetch();
    const body = { ...(await real.json()), passwordMinLength: 12 };
    await route.fulfill({ response: real, body: JSON.stringify(body) });
  });
  let sent = 0;
  page.on('request', (r) => {
    if (r.url().endsWith('/auth/api/flow/register')) sent++;
  });
  await page.goto(server.base + '/auth/flow/register');
  await page.locator('#register').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#password-hint').innerText(), 'At least 12 characters.');
  assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('minlength'), '12');
  await fillRegister(page, { username: 'frank', password: 'ten chars!' });
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#password-error').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#password-error').innerText(), 'The password must be at least 12 characters long.');
  assert.equal(sent, 0, 'nothing was sent');
  assert.deepEqual(errors, []);
});
