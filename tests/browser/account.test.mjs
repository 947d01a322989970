// The account page (/account) against a real keyward, in Chromium: it signs in through keyward's
// own OAuth server (public client keyward-account, PKCE S256), lists the user's logins and
// sessions, removes logins (never the last), changes a password, ends sessions, signs out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
  smtpServer,
  token,
} from './harness.mjs';

const ADMIN = { username: 'admin', password: 'admin password 123' };
const ALICE = { username: 'alice', displayName: 'Alice Liddell', email: 'alice@example.org', password: 'through the looking glass' };
const DESKTOP = { viewport: { width: 1280, height: 900 } };

async function setup(t, opts) {
  const server = await serverFor(t, opts);
  await expectAccountPage(server);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const r = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: ALICE });
  assert.equal(r.status, 201, r.text);
  return { server, adminToken, alice: r.body };
}

function recordNavigations(context) {
  const urls = [];
  context.on('request', (r) => {
    if (r.isNavigationRequest()) urls.push(r.url());
  });
  return urls;
}

const rowTexts = (page, table) =>
  page.locator(`#${table} tbody tr`).evaluateAll((rows) =>
    rows.map((r) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent.trim())));

async function waitForRows(page, table, n) {
  await page.waitForFunction(
    ([t, n]) => document.querySelectorAll(`#${t} tbody tr[data-id]`).length === n,
    [table, n],
  );
}

const stored = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('kw_account_tokens') || 'null'));

/** Opens /account in a fresh browser and signs in on the login page it is sent to. */
async function signInToAccount(browser, t, server, options = DESKTOP) {
  const p = await pageFor(browser, t, options);
  const navigations = recordNavigations(p.context);
  await p.page.goto(server.base + '/account');
  await p.page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await fillLogin(p.page, ALICE.username, ALICE.password);
  await p.page.waitForURL((u) => u.pathname === '/account' && !u.search);
  await p.page.locator('#app').waitFor({ state: 'visible' });
  return { ...p, navigations };
}

test('the account page signs in with OAuth + PKCE and shows the user, logins and sessions', async (t) => {
  const { server } = await setup(t);
  const browser = await browserFor(t);
  const { page, errors, navigations } = await signInToAccount(browser, t, server, PHONE);

  // It went through the authorization endpoint as keyward-account, with S256 PKCE and a state.
  const auth = navigations.map((u) => new URL(u)).find((u) => u.pathname === '/auth/oauth/authorize');
  assert.ok(auth, `an authorization request: ${navigations.join(', ')}`);
  const q = auth.searchParams;
  assert.equal(q.get('client_id'), 'keyward-account');
  assert.equal(q.get('redirect_uri'), server.base + '/account');
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('scope'), 'login');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.ok((q.get('state') || '').length >= 16, 'a state');
  const back = navigations.map((u) => new URL(u)).find((u) => u.pathname === '/account' && u.searchParams.has('code'));
  assert.ok(back, 'back at /account with a code');
  assert.equal(back.searchParams.get('state'), q.get('state'));
  assert.equal(new URL(page.url()).search, '', 'code and state are out of the address bar');

  // Tokens in this tab's storage, none left of the authorization request.
  const tokens = await stored(page);
  assert.ok(tokens && tokens.access && tokens.refresh, 'access and refresh tokens are kept');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('kw_account_auth')), null);
  const claims = JSON.parse(Buffer.from(tokens.access.split('.')[1], 'base64url').toString());
  assert.equal(claims.client_id, 'keyward-account');
  assert.equal(claims.scope, 'login');

  // The user, the logins, the sessions.
  assert.match(await page.locator('#who').innerText(), /Signed in as Alice Liddell\s+\(alice\)/);
  assert.equal(await page.locator('#email-line').innerText(), ALICE.email);
  await waitForRows(page, 'logins', 1);
  const logins = await rowTexts(page, 'logins');
  assert.deepEqual(logins[0].slice(0, 4), ['local', 'Password', 'alice', 'Active']);
  assert.equal(await page.getByRole('link', { name: 'Add another way to log in' }).getAttribute('href'), '/auth/flow/link');
  await waitForRows(page, 'sessions', 1);
  const current = page.locator('#sessions tbody tr.current');
  assert.equal(await current.count(), 1, 'this browser is marked');
  assert.match(await current.innerText(), /This browser/);
  assert.match(await current.innerText(), /Chrome/);
  assert.match(await current.innerText(), /127\.0\.0\.1/);

  assert.equal(await sidewaysOverflow(page), 0, 'no sideways scrolling on a phone');
  await page.screenshot({ path: '/tmp/account-phone.png', fullPage: true });

  // The PKCE fallback hash (for plain-http deployments) agrees with SHA-256.
  for (const s of ['', 'abc', 'x'.repeat(55), 'y'.repeat(64), 'z'.repeat(200)]) {
    const want = createHash('sha256').update(s).digest('base64url');
    assert.equal(await page.evaluate((s) => window.__kwSha256(s), s), want, `sha256 of ${s.length} chars`);
  }

  // A reload keeps the tokens: no new authorization.
  navigations.length = 0;
  await page.reload();
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.ok(!navigations.some((u) => u.includes('/auth/oauth/authorize')), navigations.join(', '));
  assert.deepEqual(errors, []);
});

test('removing logins: never the last one; a second one goes', async (t) => {
  const { server, alice } = await setup(t);
  const browser = await browserFor(t);
  const { page, errors } = await signInToAccount(browser, t, server);
  await waitForRows(page, 'logins', 1);

  // The only login: asked first, then refused with the server's reason.
  await page.locator('#logins tbody tr').getByRole('button', { name: /^Remove/ }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.innerText(), /Remove this way to sign in\?/);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator('#logins tbody tr').getByRole('button', { name: /^Remove/ }).click();
  await dialog.getByRole('button', { name: 'Remove' }).click();
  const msg = page.locator('#logins-msg');
  await msg.waitFor({ state: 'visible' });
  assert.match(await msg.innerText(), /last login method/);
  assert.ok(await msg.evaluate((e) => e.classList.contains('error')));
  await waitForRows(page, 'logins', 1);
  await page.screenshot({ path: '/tmp/account-last-login.png', fullPage: true });

  // A second login (a waiting password identity, self-linked through the API).
  const localId = await localInstanceId(server);
  const w = await api(server, 'POST', `/auth/api/login/strategy-instance/${localId}/userpass/register`, {
    body: { username: 'alice-two', password: 'second password 1' },
  });
  assert.equal(w.status, 201, w.text);
  const l = await api(server, 'POST', '/auth/api/login/registration/self-link', {
    bearer: await token(server, ALICE.username),
    body: { register_token: w.body.register_token },
  });
  assert.equal(l.status, 200, l.text);
  await page.reload();
  await waitForRows(page, 'logins', 2);
  const row = page.locator('#logins tbody tr', { hasText: 'alice-two' });
  await row.getByRole('button', { name: /^Remove/ }).click();
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await waitForRows(page, 'logins', 1);
  assert.match(await msg.innerText(), /Removed local “alice-two”/);
  assert.deepEqual((await rowTexts(page, 'logins')).map((r) => r[2]), ['alice']);
  const ld = await api(server, 'GET', `/auth/api/login/user/${alice.id}/login-data`, { bearer: await token(server, ALICE.username) });
  assert.deepEqual(ld.body.map((x) => x.description), ['alice']);
  assert.deepEqual(errors.filter((e) => !/Failed to load resource: .* 409 /.test(e)), []);
});

test('changing the password; ending sessions; a dead access token is refreshed', async (t) => {
  const { server } = await setup(t);
  const browser = await browserFor(t);
  const { page, errors } = await signInToAccount(browser, t, server);
  await waitForRows(page, 'logins', 1);

  // Change password: the wrong current password first.
  await page.getByRole('button', { name: 'Change password' }).click();
  const form = page.locator('#password-form');
  await form.waitFor({ state: 'visible' });
  await page.getByLabel('Current password').fill('not the password');
  await page.getByLabel('New password', { exact: true }).fill('a brand new password');
  await page.getByLabel('Repeat the new password').fill('a brand new password');
  await form.getByRole('button', { name: 'Change password' }).click();
  await page.waitForFunction(() => /current password is wrong/.test(document.getElementById('pw-msg').textContent));
  await page.screenshot({ path: '/tmp/account-password-desktop.png', fullPage: true });
  await page.getByLabel('Current password').fill(ALICE.password);
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.waitFor({ state: 'hidden' });
  assert.match(await page.locator('#logins-msg').innerText(), /has been changed/);
  const check = await api(server, 'POST', '/auth/api/flow/login', {
    body: { username: ALICE.username, password: 'a brand new password' },
    headers: { cookie: 'kw_csrf=abcdefghijklmnopqrstuvwx', 'x-csrf-token': 'abcdefghijklmnopqrstuvwx' },
  });
  assert.equal(check.status, 200, 'the new password works: ' + check.text);

  // That login made another session; end it from here.
  await page.reload();
  await waitForRows(page, 'sessions', 2);
  const others = page.locator('#sessions tbody tr:not(.current)');
  assert.equal(await others.count(), 1);
  await others.getByRole('button', { name: /^End/ }).click();
  await waitForRows(page, 'sessions', 1);
  assert.equal(await page.locator('#sessions tbody tr.current').count(), 1);

  // A dead access token: the page refreshes once (a new refresh token) and goes on.
  const before = await stored(page);
  await page.evaluate(() => {
    const t = JSON.parse(sessionStorage.getItem('kw_account_tokens'));
    t.access = 'not-a-token';
    sessionStorage.setItem('kw_account_tokens', JSON.stringify(t));
  });
  const refreshed = page.waitForResponse((r) => r.url().endsWith('/auth/oauth/token'));
  await page.reload();
  assert.equal((await refreshed).status(), 200);
  await page.locator('#app').waitFor({ state: 'visible' });
  await waitForRows(page, 'logins', 1);
  const after = await stored(page);
  assert.notEqual(after.refresh, before.refresh, 'the refresh token rotated');
  assert.notEqual(after.access, 'not-a-token');

  // Both tokens dead: it starts over, and single sign-on brings it straight back.
  await page.evaluate(() => sessionStorage.setItem('kw_account_tokens', JSON.stringify({ access: 'x', refresh: 'y', expiresAt: Date.now() + 600000 })));
  await page.reload();
  await page.waitForURL((u) => u.pathname === '/account' && !u.search);
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.match(await page.locator('#who').innerText(), /Alice Liddell/);
  assert.ok((await stored(page)).access.split('.').length === 3);

  assert.deepEqual(errors.filter((e) => !/Failed to load resource: .* (401|403|400) /.test(e)), []);
});

test('signing out, and ending the current session, log the browser out', async (t) => {
  const { server } = await setup(t);
  const browser = await browserFor(t);
  const { page, errors } = await signInToAccount(browser, t, server);
  const tokens = await stored(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the tab forgot its tokens');
  const dead = await api(server, 'GET', '/auth/api/login/user/self', { bearer: tokens.access });
  assert.equal(dead.status, 401, 'the old access token is refused');

  // The next visit shows the login form again.
  await page.goto(server.base + '/account');
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await fillLogin(page, ALICE.username, ALICE.password);
  await page.waitForURL((u) => u.pathname === '/account' && !u.search);
  await page.locator('#app').waitFor({ state: 'visible' });

  // Ending the current session: asked first, then signed out.
  await page.locator('#sessions tbody tr.current').getByRole('button', { name: /^End/ }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.innerText(), /signs you out/);
  await page.screenshot({ path: '/tmp/account-end-session-dialog.png' });
  await dialog.getByRole('button', { name: 'End and sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.goto(server.base + '/account');
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.locator('#login').waitFor({ state: 'visible' });
  assert.deepEqual(errors, []);
});

test('the account page on a desktop, for the screenshot', async (t) => {
  const { server } = await setup(t);
  const browser = await browserFor(t);
  // An extra session from elsewhere, so the sessions table has two rows.
  await token(server, ALICE.username);
  const { page, errors } = await signInToAccount(browser, t, server);
  await waitForRows(page, 'sessions', 2);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.screenshot({ path: '/tmp/account-desktop.png', fullPage: true });
  const phone = await pageFor(browser, t, PHONE);
  await phone.context.addCookies(await page.context().cookies());
  await phone.page.goto(server.base + '/account');
  await phone.page.locator('#app').waitFor({ state: 'visible' });
  await waitForRows(phone.page, 'sessions', 2);
  assert.equal(await sidewaysOverflow(phone.page), 0);
  await phone.page.screenshot({ path: '/tmp/account-phone-sessions.png', fullPage: true });
  assert.deepEqual([...errors, ...phone.errors], []);
});

test('the account page mails a passkey link when keyward can send mail, and offers it only then', async (t) => {
  const browser = await browserFor(t);
  // Without a mail server there is no button for it.
  const plain = await setup(t);
  const without = await signInToAccount(browser, t, plain.server);
  await without.page.locator('#pk-link-make').waitFor({ state: 'visible' });
  assert.equal(await without.page.locator('#pk-link-mail').isVisible(), false);

  const smtp = await smtpServer(t);
  const { server } = await setup(t, { extraArgs: ['--smtp-url', smtp.url, '--smtp-from', 'keyward@example.com'] });
  const { page, errors } = await signInToAccount(browser, t, server);
  await page.getByRole('button', { name: 'Mail me a passkey link' }).click();
  const said = page.locator('#passkeys-msg');
  await said.waitFor({ state: 'visible' });
  assert.match(await said.textContent(), /on its way to alice@example\.org/);
  const mails = await smtp.messages();
  assert.equal(mails.length, 1);
  assert.match(mails[0], /X-Envelope-To: alice@example\.org/);
  const unfolded = mails[0].replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  assert.match(unfolded, /\/auth\/flow\/passkey\?userID=/);
  assert.deepEqual([...without.errors, ...errors], []);
});
