// The admin console's frame (/admin): sign-in through keyward's own OAuth server as the built-in
// public client keyward-admin with PKCE, the sections, signing out, non-admins refused, the
// system's dark setting, and a phone without sideways scrolling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserFor, token } from './harness.mjs';
import { ADMIN, LAPTOP, PHONE, adminServer, assertNoSideways, makeUser, screenshot, signInToAdmin } from './admin.mjs';

const BOB = { username: 'bob', displayName: 'Bob Builder', password: 'can we fix it 123' };

test('an admin signs in at /admin through keyward-admin with PKCE and sees every section', async (t) => {
  const { server } = await adminServer(t);
  const browser = await browserFor(t);
  const p = await pageFor2(browser, t, server);
  const { page, errors, authorize } = p;
  const q = new URL(authorize).searchParams;
  assert.equal(q.get('client_id'), 'keyward-admin');
  assert.equal(q.get('redirect_uri'), server.base + '/admin');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.ok((q.get('code_challenge') || '').length >= 43);
  assert.ok(q.get('state'));
  // An SSO session older than an hour does not pass through into the console.
  assert.equal(q.get('max_age'), '3600');

  const nav = await page.locator('#nav a').allTextContents();
  assert.deepEqual(nav, ['Dashboard', 'Users', 'Logins', 'Clients', 'Keys', 'Audit log']);
  assert.match(await page.locator('#me-name').textContent(), /admin/);
  // The code is gone from the address bar and the tokens belong to this tab.
  assert.equal(new URL(page.url()).search, '');
  const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem('kw_admin_tokens') || 'null'));
  assert.ok(stored && stored.access && stored.refresh);
  const me = await api(server, 'GET', '/auth/api/login/user/self', { bearer: stored.access });
  assert.equal(me.status, 200);
  assert.equal(me.body.username, ADMIN.username);

  // Each section has its own address; the back button goes back.
  await page.locator('#nav a', { hasText: 'Users' }).click();
  await page.waitForURL((u) => u.hash === '#/users');
  assert.equal(await page.locator('#nav a[aria-current="page"]').textContent(), 'Users');
  await page.goBack();
  await page.waitForURL((u) => u.hash === '' || u.hash === '#/');
  assert.equal(await page.locator('#nav a[aria-current="page"]').textContent(), 'Dashboard');

  // Signing out ends the session the console had.
  await page.locator('#signout').click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  const after = await api(server, 'GET', '/auth/api/login/user/self', { bearer: stored.access });
  assert.equal(after.status, 401);
  assert.deepEqual(errors, []);
});

async function pageFor2(browser, t, server) {
  const seen = [];
  const p = await signInWatching(browser, t, server, seen);
  const authorize = seen.find((u) => new URL(u).pathname === '/auth/oauth/authorize');
  assert.ok(authorize, `an authorization request among ${seen.join(', ')}`);
  return { ...p, authorize };
}

async function signInWatching(browser, t, server, seen) {
  // The navigations of the sign-in are recorded through the context's requests.
  const orig = browser.newContext.bind(browser);
  browser.newContext = async (o) => {
    const c = await orig(o);
    c.on('request', (r) => {
      if (r.isNavigationRequest()) seen.push(r.url());
    });
    return c;
  };
  try {
    return await signInToAdmin(browser, t, server);
  } finally {
    browser.newContext = orig;
  }
}

test('a view named in the address survives the sign-in', async (t) => {
  const { server } = await adminServer(t);
  const browser = await browserFor(t);
  const { page } = await signInToAdmin(browser, t, server, { hash: '#/keys' });
  await page.waitForURL((u) => u.hash === '#/keys');
  assert.equal(await page.locator('#nav a[aria-current="page"]').textContent(), 'Keys');
});

test('a user who is not an admin sees "not an admin" and nothing of the console', async (t) => {
  const { server, adminToken } = await adminServer(t);
  await makeUser(server, adminToken, BOB);
  const browser = await browserFor(t);
  const { page, errors } = await signInToAdmin(browser, t, server, { who: BOB, expect: 'not-admin' });
  assert.match(await page.locator('#not-admin').textContent(), /not an admin/i);
  assert.match(await page.locator('#not-admin-user').textContent(), /bob/);
  assert.equal(await page.locator('#top').isVisible(), false);
  assert.equal(await page.locator('#view').isVisible(), false);
  // Whatever the address asks for, the page shows nothing else.
  await page.evaluate(() => {
    location.hash = '#/users';
  });
  await page.waitForTimeout(200);
  assert.equal(await page.locator('#view').isVisible(), false);
  // And the token the page holds is refused by the admin API anyway.
  const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem('kw_admin_tokens')));
  const r = await api(server, 'GET', '/auth/api/login/user', { bearer: stored.access });
  assert.equal(r.status, 403);
  await screenshot(page, 'not-admin-laptop');
  // "Sign in as someone else" signs bob out.
  await page.getByRole('button', { name: 'Sign in as someone else' }).click();
  await page.waitForURL((u) => u.pathname === '/auth/flow/login');
  assert.deepEqual(errors, []);
});

test('the console follows the system dark setting and fits a phone', async (t) => {
  const { server } = await adminServer(t);
  const browser = await browserFor(t);
  const dark = await signInToAdmin(browser, t, server, { options: { ...PHONE, colorScheme: 'dark' } });
  const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(17, 20, 27)');
  await assertNoSideways(dark.page, 'phone, dark');
  await screenshot(dark.page, 'frame-phone-dark');
  const light = await signInToAdmin(browser, t, server, { options: { ...LAPTOP, colorScheme: 'light' } });
  assert.equal(await light.page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(244, 246, 250)');
  await assertNoSideways(light.page, 'laptop');
  // An unknown view says so instead of showing nothing.
  await light.page.evaluate(() => {
    location.hash = '#/nowhere';
  });
  await light.page.getByRole('heading', { name: 'Nothing here' }).waitFor();
  assert.ok(await token(server, ADMIN.username));
});
