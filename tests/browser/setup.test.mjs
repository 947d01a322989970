// The one-time setup link the server prints when no admin exists, driven in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PHONE, api, browserFor, serverFor, setupLink, token } from './harness.mjs';

/** Collects page errors and console errors (a CSP violation shows up there). */
function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

test('the setup link creates the first admin, once', async (t) => {
  const server = await serverFor(t);
  const link = await setupLink(server);
  assert.ok(link.startsWith(server.publicUrl + '/auth/flow/setup#token='), link);
  const browser = await browserFor(t);

  // On a phone: the form fits the screen, nothing scrolls sideways.
  {
    const ctx = await browser.newContext(PHONE);
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    await page.goto(link);
    await page.locator('#setup').waitFor({ state: 'visible' });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    const box = await page.locator('#setup button[type=submit]').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, 'the button is on screen');
    assert.ok(box.height >= 40, 'the button is big enough to tap');
    await page.screenshot({ path: '/tmp/setup-phone.png', fullPage: true });
    assert.deepEqual(errors, []);
    await ctx.close();
  }

  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  const resp = await page.goto(link);
  assert.equal(resp.status(), 200);
  const csp = resp.headers()['content-security-policy'] || '';
  assert.match(csp, /script-src 'self'/);
  await page.getByLabel('Username').waitFor({ state: 'visible' });
  assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');
  assert.equal(await page.locator('#password').getAttribute('autocomplete'), 'new-password');

  // Two different passwords: an error, nothing created.
  await page.getByLabel('Username').fill('root');
  await page.getByLabel('Display name').fill('Root Admin');
  await page.locator('#password').fill('a long enough password');
  await page.getByLabel('Repeat the password').fill('another long password');
  await page.getByRole('button', { name: 'Create admin' }).click();
  const alert = page.locator('#error');
  await alert.waitFor({ state: 'visible' });
  assert.match(await alert.textContent(), /differ/);
  assert.equal(await alert.getAttribute('role'), 'alert');
  await assert.rejects(token(server, 'root'), 'no user yet');

  // Matching passwords: done.
  await page.locator('#password').fill('a long enough password');
  await page.getByLabel('Repeat the password').fill('a long enough password');
  await page.getByRole('button', { name: 'Create admin' }).click();
  const done = page.locator('#done');
  await done.waitFor({ state: 'visible' });
  assert.match(await done.textContent(), /admin account is ready/);
  assert.equal(await page.locator('#setup').isVisible(), false);
  assert.equal(new URL(page.url()).hash, '', 'the token is removed from the address bar');
  await page.screenshot({ path: '/tmp/setup.png', fullPage: true });
  assert.deepEqual(errors, []);

  // The admin exists, with the display name, and can use the login API.
  const tok = await token(server, 'root');
  const self = await api(server, 'GET', '/auth/api/login/user/self', { bearer: tok });
  assert.equal(self.status, 200, self.text);
  assert.equal(self.body.username, 'root');
  assert.equal(self.body.displayName, 'Root Admin');
  assert.equal(self.body.isAdmin, true);

  // The link is used up.
  const again = await ctx.newPage();
  await again.goto(link);
  const invalid = again.locator('#invalid');
  await invalid.waitFor({ state: 'visible' });
  assert.match(await invalid.textContent(), /invalid, used or expired/);
  assert.equal(await again.locator('#setup').isVisible(), false);

  // And the API refuses it too.
  const token2 = new URL(link).hash.slice('#token='.length);
  const direct = await api(server, 'POST', '/auth/api/flow/setup/check', { body: { token: token2 } });
  assert.ok(direct.status >= 400 && direct.status < 500, `check answers ${direct.status}`);
});

test('a made-up setup token is refused', async (t) => {
  const server = await serverFor(t);
  await setupLink(server);
  const browser = await browserFor(t);
  const page = await browser.newPage();
  await page.goto(server.base + '/auth/flow/setup#token=not-the-token');
  const invalid = page.locator('#invalid');
  await invalid.waitFor({ state: 'visible' });
  assert.match(await invalid.textContent(), /invalid, used or expired/);
  await page.goto(server.base + '/auth/flow/setup');
  await page.reload();
  await invalid.waitFor({ state: 'visible' });
});
