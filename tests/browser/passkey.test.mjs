// Passkeys in Chromium with its virtual authenticator (CDP WebAuthn: ctap2, internal, resident
// keys, user verification): the link page /auth/flow/passkey, passkey sign-in on the login page
// through the OAuth flow (username-first, usernameless), and the account page's Passkeys section.
// The pages are opened at the server's public URL (http://localhost:{port}): browsers refuse an
// IP address as a relying-party id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, browserFor, createAdmin, fillLogin, pageFor, redirectCatcher, serverFor, token } from './harness.mjs';

const ADMIN = { username: 'admin', password: 'admin password 123' };
const ALICE = { username: 'alice', displayName: 'Alice Liddell', email: 'alice@example.org', password: 'through the looking glass' };
const DESKTOP = { viewport: { width: 1280, height: 900 } };

/** Script errors, without the console lines of refused calls the test provokes. */
const scriptErrors = (errors) => errors.filter((e) => !/Failed to load resource: .* (400|401|404|409|410) /.test(e));

/** A server (public URL on localhost) with an admin and the user alice. */
async function setup(t, extraArgs = []) {
  const server = await serverFor(t, { extraArgs });
  assert.match(server.publicUrl, /^http:\/\/localhost:\d+$/, 'the default public URL is on localhost');
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const u = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: ALICE });
  assert.equal(u.status, 201, u.text);
  return { server, adminToken, alice: { ...ALICE, id: u.body.id } };
}

/** A passkey link for `userId`, made by the admin through the passwordless API. */
async function makeLink(s, userId) {
  const r = await api(s.server, 'POST', `/management/v1/users/${userId}/passwordless/_link`, { bearer: s.adminToken, body: {} });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.body.link.startsWith(s.server.publicUrl + '/auth/flow/passkey?'), r.body.link);
  return r.body.link;
}

/** Adds Chromium's virtual authenticator to the page's tab. */
async function authenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    id: authenticatorId,
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
    verified(isUserVerified) {
      return cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    },
  };
}

/**
 * Hides conditional mediation (passkeys in the username field's autofill) from the context's
 * pages, as in a browser without it. Chromium's virtual authenticator answers an autofill
 * request at once, which would sign in before the button could be tried.
 */
async function withoutAutofill(context) {
  await context.addInitScript(() => {
    if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
}

/** The user's passkeys as the passwordless API lists them. */
async function passkeysOf(s, userId) {
  const r = await api(s.server, 'GET', `/v2/users/${userId}/passkeys`, { bearer: s.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.result || [];
}

/** Opens a link page and waits until it shows the form or a refusal. */
async function openLink(page, link) {
  await page.goto(link);
  await page.locator('#passkey-form:not(.hidden), #refused:not(.hidden)').first().waitFor();
}

/** Registers a passkey named `name` on the link page (already open). */
async function registerOnPage(page, name) {
  await page.locator('#passkey-form').waitFor({ state: 'visible' });
  if (name !== undefined) await page.getByLabel('Name of the passkey').fill(name);
  await page.getByRole('button', { name: 'Create passkey' }).click();
}

async function refusal(page) {
  await page.locator('#refused').waitFor({ state: 'visible' });
  return page.locator('#refused').innerText();
}

/** An OAuth client with a PKCE authorization request ready to go to. */
async function oauthClient(t, s) {
  const redirects = await redirectCatcher(t);
  const c = await api(s.server, 'POST', '/auth/api/login/client', {
    bearer: s.adminToken,
    body: { name: 'test app', redirectUrls: [redirects.uri], requiresSecret: false, validScopes: ['openid', 'profile', 'login'] },
  });
  assert.equal(c.status, 201, c.text);
  const clientId = c.body.id;
  return {
    redirects,
    /** `{url, verifier, state}` of a new authorization request at the public URL. */
    request() {
      const verifier = randomBytes(32).toString('base64url');
      const state = randomBytes(16).toString('base64url');
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirects.uri,
        scope: 'openid profile',
        state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      return { url: `${s.server.publicUrl}/auth/oauth/authorize?${q}`, verifier, state };
    },
    /** Trades the code the redirect carried for tokens; answers the ID token's claims. */
    async redeem(req, redirected) {
      const u = new URL(redirected);
      assert.equal(u.searchParams.get('state'), req.state);
      const code = u.searchParams.get('code');
      assert.ok(code, `a code in ${redirected}`);
      const r = await fetch(s.server.base + '/auth/oauth/token', {
        method: 'POST',
        headers: { accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirects.uri, client_id: clientId, code_verifier: req.verifier }),
      });
      const body = await r.json();
      assert.equal(r.status, 200, JSON.stringify(body));
      return JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString());
    },
  };
}

test('a passkey link registers a passkey; the passkey signs in through the OAuth flow, username-first and usernameless', async (t) => {
  const s = await setup(t);
  const browser = await browserFor(t);
  const { context, page, errors } = await pageFor(browser, t, DESKTOP);
  await withoutAutofill(context);
  const auth = await authenticator(page);

  const link = await makeLink(s, s.alice.id);
  await openLink(page, link);
  const name = page.getByLabel('Name of the passkey');
  assert.ok((await name.inputValue()).length > 0, 'a default name');
  await registerOnPage(page, 'Test laptop');
  await page.locator('#done').waitFor({ state: 'visible' });
  assert.match(await page.locator('#done').innerText(), /Your passkey “Test laptop” is saved/);
  assert.match(await page.locator('#done').innerText(), /Sign in with a passkey/);
  await page.screenshot({ path: '/tmp/passkey-link-done.png', fullPage: true });

  const creds = await auth.credentials();
  assert.equal(creds.length, 1, 'one credential on the authenticator');
  assert.equal(creds[0].isResidentCredential, true, 'a discoverable credential');
  assert.equal(creds[0].rpId, 'localhost');
  const listed = await passkeysOf(s, s.alice.id);
  assert.deepEqual(listed.map((p) => p.name), ['Test laptop']);

  // The same link again: used up.
  await openLink(page, link);
  assert.match(await refusal(page), /used already/);
  assert.equal(await page.locator('#passkey-form').isVisible(), false);

  // Username-first: the typed username's passkeys.
  const app = await oauthClient(t, s);
  let req = app.request();
  await page.goto(req.url);
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.locator('#passkey-box').waitFor({ state: 'visible' });
  assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username webauthn');
  await page.getByLabel('Username').fill(ALICE.username);
  const starts = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/auth/api/flow/passkey/login/start')) starts.push(r.postDataJSON());
  });
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  let claims = await app.redeem(req, await app.redirects.next());
  assert.equal(claims.sub, s.alice.id);
  assert.ok(starts.some((b) => b.username === ALICE.username), `started with the username: ${JSON.stringify(starts)}`);
  // The browser's own navigation to the application's callback ends before the next one starts.
  await page.waitForURL((u) => u.pathname === '/cb');

  // Usernameless, in a browser without a session: the button with an empty username field.
  await context.clearCookies();
  req = app.request();
  await page.goto(req.url);
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.locator('#passkey-box').waitFor({ state: 'visible' });
  starts.length = 0;
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  claims = await app.redeem(req, await app.redirects.next());
  assert.equal(claims.sub, s.alice.id);
  assert.ok(starts.some((b) => !b.username), `a usernameless start: ${JSON.stringify(starts)}`);

  // The login was counted: the passkey's last use is known.
  const data = await api(s.server, 'GET', `/auth/api/login/user/${s.alice.id}/login-data`, { bearer: s.adminToken });
  const pk = data.body.find((l) => l.passkey);
  assert.ok(pk && pk.passkey.lastUsedAt, `lastUsedAt set: ${data.text}`);
  assert.deepEqual(scriptErrors(errors), []);

  // Autofill: in a browser with conditional mediation (here another one, holding a copy of
  // the passkey), the login page offers the passkey in the username field at once; Chromium's
  // virtual authenticator takes the offer without a click.
  const second = await pageFor(browser, t, DESKTOP);
  const copy = await authenticator(second.page);
  // A copy as it is now: with an older signature counter, keyward would take it for a clone.
  const [now] = await auth.credentials();
  await copy.cdp.send('WebAuthn.addCredential', { authenticatorId: copy.id, credential: now });
  const autofill = [];
  second.page.on('request', (r) => {
    if (r.url().endsWith('/auth/api/flow/passkey/login/start')) autofill.push(r.postDataJSON());
  });

  req = app.request();
  await second.page.goto(req.url);
  claims = await app.redeem(req, await app.redirects.next());
  assert.equal(claims.sub, s.alice.id);
  assert.equal(autofill.length, 1, 'one ceremony, started by the page itself');
  assert.ok(!autofill[0].username, 'usernameless');
  assert.deepEqual(scriptErrors(second.errors), []);
});

test('an expired link is refused', async (t) => {
  const s = await setup(t, ['--passkey-link-ttl', '1']);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await authenticator(page);
  const link = await makeLink(s, s.alice.id);
  // The ttl is 1 s: this waits past the boundary, it measures nothing.
  await sleep(2100);
  await openLink(page, link);
  assert.match(await refusal(page), /expired/);
  assert.equal(await page.locator('#passkey-form').isVisible(), false);
  assert.deepEqual(scriptErrors(errors), []);
});

test('three wrong codes void a link: the right code is refused afterwards', async (t) => {
  const s = await setup(t);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await authenticator(page);

  const link = new URL(await makeLink(s, s.alice.id));
  const right = link.searchParams.get('code');
  for (let i = 0; i < 3; i++) {
    const wrong = new URL(link);
    wrong.searchParams.set('code', right.slice(0, -2) + (right.endsWith('AA') ? 'BB' : 'AA'));
    await openLink(page, wrong.href);
    const text = await refusal(page);
    // Each of the three wrong tries is told that the code is wrong; the link is void after them.
    assert.match(text, /not valid/, `wrong try ${i + 1}: ${text}`);
  }
  await openLink(page, link.href);
  assert.match(await refusal(page), /no longer works/);
  assert.equal(await page.locator('#passkey-form').isVisible(), false);
  assert.deepEqual(await passkeysOf(s, s.alice.id), []);

  // An incomplete link says so without asking the server.
  const cut = new URL(link);
  cut.searchParams.delete('code');
  await openLink(page, cut.href);
  assert.match(await refusal(page), /incomplete/);
  assert.deepEqual(scriptErrors(errors), []);
});

test('a cancelled or abandoned attempt can be retried with the same link', async (t) => {
  const s = await setup(t);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, DESKTOP);
  const auth = await authenticator(page);
  const link = await makeLink(s, s.alice.id);

  // Abandoned: the page started a ceremony, and is left.
  await openLink(page, link);
  await page.locator('#passkey-form').waitFor({ state: 'visible' });
  await page.goto('about:blank');

  // Failed: user verification fails, so the browser refuses.
  await openLink(page, link);
  await auth.verified(false);
  await registerOnPage(page, 'First try');
  await page.locator('#error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#error').innerText(), /cancelled|did not work/);
  assert.equal(await page.locator('#done').isVisible(), false);
  assert.deepEqual(await passkeysOf(s, s.alice.id), []);

  // Again on the same page, now that verification works.
  await auth.verified(true);
  await registerOnPage(page, 'Second try');
  await page.locator('#done').waitFor({ state: 'visible' });
  assert.deepEqual((await passkeysOf(s, s.alice.id)).map((p) => p.name), ['Second try']);
  assert.deepEqual(scriptErrors(errors), []);
});

test('with an IP address for a public URL, the link page says passkeys are off', async (t) => {
  const server = await serverFor(t, { extraArgs: ['--public-url', 'http://127.0.0.1:9'] });
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  const u = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: ALICE });
  assert.equal(u.status, 201, u.text);
  const browser = await browserFor(t);
  const { page } = await pageFor(browser, t, DESKTOP);
  const q = new URLSearchParams({ userID: u.body.id, orgID: 'org', codeID: 'c0de', code: 'x'.repeat(22) });
  await openLink(page, `${server.base}/auth/flow/passkey?${q}`);
  const text = await refusal(page);
  assert.match(text, /Passkeys are not available/);
  assert.match(text, /host name/);
});

/** Opens /account at the public URL and signs in as alice with her password. */
async function accountWithPassword(page, s) {
  await page.goto(s.server.publicUrl + '/account');
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await fillLogin(page, ALICE.username, ALICE.password);
  await page.waitForURL((u) => u.pathname === '/account' && !u.search);
  await page.locator('#app').waitFor({ state: 'visible' });
}

const passkeyRows = (page) =>
  page.locator('#passkeys tbody tr[data-id]').evaluateAll((rows) =>
    rows.map((r) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent.trim())));

async function waitForPasskeys(page, n) {
  await page.waitForFunction((n) => document.querySelectorAll('#passkeys tbody tr[data-id]').length === n, n);
}

test('the account page adds a passkey on this device, renames it, and makes a link with a QR code', async (t) => {
  const s = await setup(t);
  const browser = await browserFor(t);
  const { context, page, errors } = await pageFor(browser, t, DESKTOP);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.server.publicUrl });
  const auth = await authenticator(page);
  await accountWithPassword(page, s);

  assert.match(await page.locator('#passkeys').innerText(), /No passkeys yet/);
  await page.getByRole('button', { name: 'Add a passkey on this device' }).click();
  await page.getByLabel('Name of the passkey').fill('Desk');
  await page.getByRole('button', { name: 'Create passkey' }).click();
  await waitForPasskeys(page, 1);
  let rows = await passkeyRows(page);
  assert.equal(rows[0][0], 'Desk');
  assert.ok(rows[0][1].length > 0, 'when it was added');
  assert.equal(rows[0][2], 'Never');
  assert.match(await page.locator('#passkeys-msg').innerText(), /Added the passkey “Desk”/);
  assert.equal((await auth.credentials()).length, 1);
  // Passkeys are not repeated among the other logins.
  assert.equal(await page.locator('#logins tbody tr[data-id]').count(), 1);

  // Rename.
  await page.getByRole('button', { name: 'Rename passkey Desk' }).click();
  const dialog = page.locator('#rename');
  await dialog.waitFor({ state: 'visible' });
  await dialog.getByLabel('Name').fill('Desk computer');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await page.waitForFunction(() => document.querySelector('#passkeys tbody tr[data-id] td')?.textContent === 'Desk computer');
  assert.deepEqual((await passkeysOf(s, s.alice.id)).map((p) => p.name), ['Desk computer']);

  // A link for another device, with its QR code and a copy button.
  await page.getByRole('button', { name: 'Add a passkey on another device' }).click();
  await page.locator('#pk-link').waitFor({ state: 'visible' });
  const link = await page.locator('#pk-link-url').inputValue();
  assert.ok(link.startsWith(s.server.publicUrl + '/auth/flow/passkey?'), link);
  assert.match(await page.locator('#pk-link-expiry').innerText(), /Valid until/);
  const qr = page.locator('#pk-link-qr');
  assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml/);
  await page.waitForFunction(() => document.getElementById('pk-link-qr').naturalWidth > 0);
  assert.equal(await page.locator('#pk-link svg').count(), 0, 'the SVG is an image, not markup in the page');
  await page.getByRole('button', { name: 'Copy link' }).click();
  await page.locator('#pk-link-copied').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);
  await page.screenshot({ path: '/tmp/account-passkeys.png', fullPage: true });

  // The link works on another device (here: another browser with its own authenticator).
  const other = await pageFor(browser, t, DESKTOP);
  await authenticator(other.page);
  await openLink(other.page, link);
  await registerOnPage(other.page, 'Phone');
  await other.page.locator('#done').waitFor({ state: 'visible' });
  await page.reload();
  await waitForPasskeys(page, 2);
  rows = await passkeyRows(page);
  assert.deepEqual(rows.map((r) => r[0]).sort(), ['Desk computer', 'Phone']);
  assert.deepEqual(scriptErrors(errors), []);
});

test('a passkey-only user signs in to the account page with the passkey and cannot remove the last one', async (t) => {
  const s = await setup(t);
  const browser = await browserFor(t);
  const { context, page, errors } = await pageFor(browser, t, DESKTOP);
  await withoutAutofill(context);
  await authenticator(page);

  await openLink(page, await makeLink(s, s.alice.id));
  await registerOnPage(page, 'Only key');
  await page.locator('#done').waitFor({ state: 'visible' });
  // The password goes: the passkey is alice's only way to sign in.
  const data = await api(s.server, 'GET', `/auth/api/login/user/${s.alice.id}/login-data`, { bearer: s.adminToken });
  const password = data.body.find((l) => !l.passkey);
  const del = await api(s.server, 'DELETE', `/auth/api/login/login-data/${password.id}`, { bearer: s.adminToken });
  assert.equal(del.status, 200, del.text);

  await page.getByRole('link', { name: 'Go to your account' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.waitForURL((u) => u.pathname === '/account' && !u.search);
  await waitForPasskeys(page, 1);
  const rows = await passkeyRows(page);
  assert.equal(rows[0][0], 'Only key');
  assert.notEqual(rows[0][2], 'Never', 'just used');
  assert.match(await page.locator('#logins').innerText(), /you sign in with your passkeys/);

  await page.getByRole('button', { name: 'Remove passkey Only key' }).click();
  const dialog = page.locator('#confirm');
  await dialog.getByRole('button', { name: 'Remove' }).click();
  const msg = page.locator('#passkeys-msg');
  await msg.waitFor({ state: 'visible' });
  assert.match(await msg.innerText(), /This passkey cannot be removed: .*last login method/);
  await waitForPasskeys(page, 1);
  assert.equal((await passkeysOf(s, s.alice.id)).length, 1);
  assert.deepEqual(scriptErrors(errors), []);
});

test('a visitor signs up with a passkey on the register page, inside an OAuth flow, and signs in with it later', async (t) => {
  const s = await setup(t);
  const browser = await browserFor(t);
  const { context, page, errors } = await pageFor(browser, t, DESKTOP);
  await withoutAutofill(context);
  const auth = await authenticator(page);
  const app = await oauthClient(t, s);

  // From the application's sign-in, on to the register page.
  let req = app.request();
  await page.goto(req.url);
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.locator('#register-line').waitFor({ state: 'visible' });
  await page.locator('#register-link').click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/register');
  await page.locator('#passkey-box').waitFor({ state: 'visible' });
  assert.match(await page.locator('#plain-intro').innerText(), /a password or a passkey/);
  // A taken username is said next to the field, before the authenticator is asked.
  await page.getByLabel('Username').fill(ALICE.username);
  await page.getByRole('button', { name: 'Sign up with a passkey' }).click();
  await page.locator('#username-error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#username-error').innerText(), /already taken/);
  assert.equal((await auth.credentials()).length, 0, 'no credential made');

  await page.getByLabel('Username').fill('dodo');
  await page.getByLabel('Display name').fill('The Dodo');
  await page.getByLabel('Email').fill('dodo@example.org');
  await page.screenshot({ path: '/tmp/register-passkey.png', fullPage: true });
  await page.getByRole('button', { name: 'Sign up with a passkey' }).click();
  let claims = await app.redeem(req, await app.redirects.next());
  await page.waitForURL((u) => u.pathname === '/cb');
  const creds = await auth.credentials();
  assert.equal(creds.length, 1, 'one credential on the authenticator');
  assert.equal(creds[0].isResidentCredential, true, 'a discoverable credential');
  const got = await api(s.server, 'GET', `/auth/api/login/user/${claims.sub}`, { bearer: s.adminToken });
  assert.equal(got.status, 200, got.text);
  const dodo = got.body;
  assert.equal(dodo.username, 'dodo');
  assert.equal(dodo.displayName, 'The Dodo');
  assert.equal(dodo.email, 'dodo@example.org');
  assert.equal((await passkeysOf(s, dodo.id)).length, 1);

  // Later, in a browser without a session: the passkey signs in (usernameless).
  await context.clearCookies();
  req = app.request();
  await page.goto(req.url);
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await page.locator('#passkey-box').waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  claims = await app.redeem(req, await app.redirects.next());
  assert.equal(claims.sub, dodo.id);
  assert.deepEqual(scriptErrors(errors), []);
});

test('with sign-up off on the passkey instance, the register page offers no passkey', async (t) => {
  const s = await setup(t);
  const list = await api(s.server, 'GET', '/auth/api/login/strategy-instance', { bearer: s.adminToken });
  const pk = list.body.find((i) => i.name === 'passkey');
  const r = await api(s.server, 'PUT', `/auth/api/login/strategy-instance/${pk.id}`, { bearer: s.adminToken, body: { isSelfRegisterActive: false } });
  assert.equal(r.status, 200, r.text);
  const browser = await browserFor(t);
  const { page, errors } = await pageFor(browser, t, DESKTOP);
  await page.goto(s.server.publicUrl + '/auth/flow/register');
  await page.locator('#register').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#passkey-box').isVisible(), false);
  assert.equal(await page.getByRole('button', { name: 'Create account' }).isVisible(), true);
  assert.deepEqual(scriptErrors(errors), []);
});
