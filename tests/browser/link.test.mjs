// The hosted link page (/auth/flow/link) against a real keyward, in Chromium: a signed-in user
// adds a password login, signs in with it later; conflicts are shown; a waiting login signed in
// with in this browser is named and linked, a register token from anyone else links nothing;
// nobody signed in gets a way to sign in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PHONE,
  api,
  browserFor,
  createAdmin,
  expectAccountPage,
  fillLogin,
  localInstanceId,
  pageFor,
  serverFor,
  sidewaysOverflow,
  token,
} from './harness.mjs';

const ADMIN = { username: 'admin', password: 'admin password 123' };
const ALICE = { username: 'alice', displayName: 'Alice Liddell', email: 'alice@example.org', password: 'through the looking glass' };
const BOB = { username: 'bob', displayName: 'Bob Builder', password: 'can we fix it yes' };
const SECOND = { username: 'a-second', password: 'second password 1' };

/** A server with an admin, alice and bob (password logins on `local`). */
async function setup(t) {
  const server = await serverFor(t);
  await expectAccountPage(server);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const users = {};
  for (const u of [ALICE, BOB]) {
    const r = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: u });
    assert.equal(r.status, 201, r.text);
    users[u.username] = r.body;
  }
  return { server, adminToken, users };
}

async function flowUser(page) {
  return page.evaluate(async () => (await (await fetch('/auth/api/flow/context')).json()).user);
}

/** The account page's login table as [instance, type, name, state] rows. */
async function loginRows(page) {
  await page.locator('#logins tbody tr').first().waitFor();
  return page.locator('#logins tbody tr').evaluateAll((rows) =>
    rows.map((r) => Array.from(r.querySelectorAll('td')).slice(0, 4).map((td) => td.textContent.trim())));
}

/** The register token the register page keeps for its tab (it is out of the address bar). */
async function keptToken(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('kw_register_token')).token);
}

async function fillLink(page, username, password) {
  await page.locator('#link').waitFor({ state: 'visible' });
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Add password login' }).click();
}

test('a signed-in user adds a password login and signs in with it later', async (t) => {
  const { server, users } = await setup(t);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, PHONE);

  await page.goto(server.base + '/auth/flow/login');
  await fillLogin(page, ALICE.username, ALICE.password);
  await page.waitForURL((u) => u.pathname === '/account');

  const resp = await page.goto(server.base + '/auth/flow/link');
  assert.match(resp.headers()['content-security-policy'] || '', /script-src 'self'/);
  await page.locator('#link').waitFor({ state: 'visible' });
  assert.match(await page.locator('#signed-in').innerText(), /Signed in as Alice Liddell/);
  assert.equal(await page.locator('#instance-row').isVisible(), false, 'one password instance: no select');
  assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');
  assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('autocomplete'), 'new-password');
  assert.ok(await page.getByLabel('Username').evaluate((el) => el === document.activeElement));
  assert.equal(await sidewaysOverflow(page), 0);
  await page.screenshot({ path: '/tmp/link-phone.png', fullPage: true });

  await fillLink(page, SECOND.username, SECOND.password);
  await page.waitForURL((u) => u.pathname === '/account');
  await page.locator('#app').waitFor({ state: 'visible' });
  const rows = (await loginRows(page)).map((r) => r.join(' | ')).sort();
  assert.deepEqual(rows, ['local | Password | a-second | Active', 'local | Password | alice | Active']);

  // Sign out, then sign in with the new login: the same user.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  assert.equal(await flowUser(page), null, 'signed out');
  await fillLogin(page, SECOND.username, SECOND.password);
  await page.waitForURL((u) => u.pathname === '/account');
  assert.deepEqual(await flowUser(page), { username: ALICE.username, displayName: ALICE.displayName });
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#username').innerText(), ALICE.username);

  // The API agrees: alice has both logins; the new one belongs to nobody else.
  const ld = await api(server, 'GET', `/auth/api/login/user/${users.alice.id}/login-data`, { bearer: await token(server, ALICE.username) });
  assert.equal(ld.status, 200, ld.text);
  assert.deepEqual(ld.body.map((l) => l.description).sort(), ['a-second', 'alice']);
  assert.deepEqual(errors, []);
});

test('conflicts on the link page: another user\'s login, one\'s own, a wrong password', async (t) => {
  const { server } = await setup(t);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, PHONE);
  await page.goto(server.base + '/auth/flow/login');
  await fillLogin(page, ALICE.username, ALICE.password);
  await page.waitForURL((u) => u.pathname === '/account');
  await page.goto(server.base + '/auth/flow/link');

  const msg = page.locator('#username-error');
  const submitAndWait = async (username, password, status) => {
    const answered = page.waitForResponse((r) => r.url().endsWith('/auth/api/flow/link'));
    await fillLink(page, username, password);
    assert.equal((await answered).status(), status);
    await msg.waitFor({ state: 'visible' });
    assert.ok(await page.getByRole('button', { name: 'Add password login' }).isEnabled());
    return (await msg.innerText()).trim();
  };

  // Bob's username with bob's password: it is his, not hers.
  assert.equal(await submitAndWait(BOB.username, BOB.password, 409), 'The username “bob” belongs to another account.');
  assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
  await page.screenshot({ path: '/tmp/link-conflict-phone.png', fullPage: true });

  // Her own login.
  assert.equal(await submitAndWait(ALICE.username, ALICE.password, 409), 'The username “alice” is already one of your ways to sign in.');

  // Bob's username with another password: refused, nothing learned about bob's password.
  assert.match(await submitAndWait(BOB.username, 'not bobs password', 401), /already taken, and the password does not match/);
  assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
  assert.equal(page.url(), server.base + '/auth/flow/link', 'still on the link page');

  // A short password is caught in the page.
  await page.getByLabel('Username').fill('fresh-name');
  await page.getByLabel('Password', { exact: true }).fill('short');
  await page.getByRole('button', { name: 'Add password login' }).click();
  await page.locator('#password-error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#password-error').innerText(), /at least 8 characters/);

  // Bob still logs in as bob; alice still has one login.
  const ld = await api(server, 'GET', '/auth/api/login/user/self/login-data', { bearer: await token(server, ALICE.username) });
  assert.deepEqual(ld.body.map((l) => l.description), ['alice']);
  assert.deepEqual(errors.filter((e) => !/Failed to load resource: .* (409|401) /.test(e)), []);
});

test('a login that waits, signed in with in this browser, is named and linked to the signed-in user', async (t) => {
  const { server, users } = await setup(t);
  const localId = await localInstanceId(server);
  const third = { username: 'a-third', password: 'third password 1' };
  const w = await api(server, 'POST', `/auth/api/login/strategy-instance/${localId}/userpass/register`, { body: third });
  assert.equal(w.status, 201, w.text);

  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t);
  await page.goto(server.base + '/auth/flow/login');
  await fillLogin(page, ALICE.username, ALICE.password);
  await page.waitForURL((u) => u.pathname === '/account');

  // Signed in, she signs in with the waiting login in this browser: the register page opens
  // with a register token that belongs to this browser.
  await page.goto(server.base + '/auth/flow/login');
  await fillLogin(page, third.username, third.password);
  await page.waitForURL((u) => u.pathname === '/auth/flow/register');
  await page.locator('#register').waitFor({ state: 'visible' });
  const registerToken = await keptToken(page);
  assert.ok(registerToken);
  assert.match(await page.locator('#signed-in').innerText(), /You are signed in as Alice Liddell/);
  assert.equal(await page.locator('#token-login-account').innerText(), 'a-third');
  assert.equal(await page.locator('#token-login-where').innerText(), 'Password login on local');

  // The register page offers to add the waiting login to this account instead.
  await page.getByRole('link', { name: 'Add this login to that account instead' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/link');
  await page.locator('#token-box').waitFor({ state: 'visible' });
  assert.equal(new URL(page.url()).hash, '', 'the token is out of the address bar');
  assert.equal(await page.locator('#link').isVisible(), false, 'no password form');
  assert.match(await page.locator('#token-box').innerText(), /sign in as Alice Liddell/);
  assert.equal(await page.locator('#token-login-account').innerText(), 'a-third', 'the page names the login it adds');
  assert.equal(await page.locator('#token-login-where').innerText(), 'Password login on local');
  await page.screenshot({ path: '/tmp/link-token-desktop.png', fullPage: true });
  await page.getByRole('button', { name: 'Link this login to your account' }).click();
  await page.waitForURL((u) => u.pathname === '/account');
  await page.locator('#app').waitFor({ state: 'visible' });
  const rows = (await loginRows(page)).map((r) => r[2]).sort();
  assert.deepEqual(rows, ['a-third', 'alice']);

  // The linked login signs in as alice now.
  const other = await pageFor(browser, t);
  await other.page.goto(server.base + '/auth/flow/login');
  await fillLogin(other.page, third.username, third.password);
  await other.page.waitForURL((u) => u.pathname === '/account');
  assert.equal((await flowUser(other.page)).username, ALICE.username);

  // The token is used up: the link page says so and offers nothing to link.
  await page.goto(server.base + '/auth/flow/link#registerToken=' + registerToken);
  await page.locator('#already').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#token-box').isVisible(), false);
  const ld = await api(server, 'GET', `/auth/api/login/user/${users.alice.id}/login-data`, { bearer: await token(server, ALICE.username) });
  assert.equal(ld.body.length, 2);
  assert.deepEqual(errors, []);
});

test('a register token from someone else links nothing: the page refuses it', async (t) => {
  const { server, users } = await setup(t);
  const localId = await localInstanceId(server);
  const browser = await browserFor(t);

  // The attacker makes a password login with no login at all, and signs in with it in their
  // own browser too: two register tokens, neither made in the victim's browser.
  const mallory = { username: 'mallory-pass', password: 'mallory password 1' };
  const w = await api(server, 'POST', `/auth/api/login/strategy-instance/${localId}/userpass/register`, { body: mallory });
  assert.equal(w.status, 201, w.text);
  const attacker = await pageFor(browser, t);
  await attacker.page.goto(server.base + '/auth/flow/login');
  await fillLogin(attacker.page, mallory.username, mallory.password);
  await attacker.page.waitForURL((u) => u.pathname === '/auth/flow/register');
  await attacker.page.locator('#register').waitFor({ state: 'visible' });
  const attackersOwn = await keptToken(attacker.page);
  assert.ok(attackersOwn);

  // The victim, signed in, opens the links the attacker sends.
  const { page, errors } = await pageFor(browser, t, PHONE);
  await page.goto(server.base + '/auth/flow/login');
  await fillLogin(page, ALICE.username, ALICE.password);
  await page.waitForURL((u) => u.pathname === '/account');
  for (const foreign of [w.body.register_token, attackersOwn]) {
    await page.goto(server.base + '/auth/flow/link#registerToken=' + foreign);
    await page.locator('#foreign').waitFor({ state: 'visible' });
    assert.match(await page.locator('#foreign').innerText(), /not made in this browser\. Nothing was added to your account/);
    assert.equal(await page.locator('#token-box').isVisible(), false, 'nothing to click');
    assert.equal(await page.getByRole('button', { name: 'Link this login to your account' }).isVisible(), false);
    assert.equal(await sidewaysOverflow(page), 0);
    // Even a call made by hand (as a script on the page could) is refused.
    const forced = await page.evaluate(async (tok) => {
      const r = await window.keyward.call('POST', '/auth/api/flow/link', { registerToken: tok });
      return { status: r.status, code: r.data.code };
    }, foreign);
    assert.deepEqual(forced, { status: 403, code: 'register_token_other_browser' });
  }
  await page.screenshot({ path: '/tmp/link-foreign-phone.png', fullPage: true });

  // Alice's logins are what they were; the attacker's login still waits for registration.
  const ld = await api(server, 'GET', `/auth/api/login/user/${users.alice.id}/login-data`, { bearer: await token(server, ALICE.username) });
  assert.deepEqual(ld.body.map((l) => l.description), ['alice']);
  const again = await pageFor(browser, t);
  await again.page.goto(server.base + '/auth/flow/login');
  await fillLogin(again.page, mallory.username, mallory.password);
  await again.page.waitForURL((u) => u.pathname === '/auth/flow/register');
  assert.deepEqual(errors.filter((e) => !/Failed to load resource: .* 403 /.test(e)), []);
});

test('nobody signed in: a way to sign in, keeping the flow', async (t) => {
  const { server } = await setup(t);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, PHONE);
  await page.goto(server.base + '/auth/flow/link');
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#link').isVisible(), false);
  const signIn = page.getByRole('link', { name: 'Sign in' });
  assert.equal(await signIn.getAttribute('href'), '/auth/flow/login');
  await page.screenshot({ path: '/tmp/link-signed-out-phone.png', fullPage: true });
  await signIn.click();
  await fillLogin(page, BOB.username, BOB.password);
  await page.waitForURL((u) => u.pathname === '/account');
  assert.deepEqual(errors, []);

  // A flow from authorize with prompt=link comes here and keeps its flow on the way to sign in.
  const adminToken = await token(server, ADMIN.username);
  const c = await api(server, 'POST', '/auth/api/login/client', {
    bearer: adminToken,
    body: { name: 'linking app', redirectUrls: ['http://127.0.0.1:9/cb'], requiresSecret: false, validScopes: ['openid'] },
  });
  assert.equal(c.status, 201, c.text);
  const q = new URLSearchParams({
    response_type: 'code', client_id: c.body.id, redirect_uri: 'http://127.0.0.1:9/cb', scope: 'openid', state: 's',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', prompt: 'link',
  });
  const fresh = await pageFor(browser, t);
  await fresh.page.goto(`${server.base}/auth/oauth/authorize?${q}`);
  await fresh.page.waitForURL((u) => u.pathname === '/auth/flow/link');
  const flow = new URL(fresh.page.url()).searchParams.get('flow');
  assert.ok(flow);
  await fresh.page.locator('#signed-out').waitFor({ state: 'visible' });
  assert.match(await fresh.page.locator('h1').innerText(), /for linking app/);
  assert.equal(await fresh.page.getByRole('link', { name: 'Sign in' }).getAttribute('href'), '/auth/flow/login?flow=' + encodeURIComponent(flow));
  assert.deepEqual(fresh.errors, []);
});
