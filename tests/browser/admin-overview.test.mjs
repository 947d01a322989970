// The admin console's Dashboard, Signing keys and Audit log views: each action done through the
// page and its result checked through the API; screenshots at laptop and phone sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserFor } from './harness.mjs';
import { LAPTOP, PHONE, adminServer, assertNoSideways, makeUser, openView, screenshot, signInToAdmin } from './admin.mjs';

/** Both sizes: a screenshot each, and no sideways scroll on the phone. */
async function shoot(page, name) {
  await page.setViewportSize(LAPTOP.viewport);
  await screenshot(page, name + '-laptop');
  await page.setViewportSize(PHONE.viewport);
  await assertNoSideways(page, name);
  await screenshot(page, name + '-phone');
  await page.setViewportSize(LAPTOP.viewport);
}

test('the dashboard shows the API figures; a key rotated in the page signs and is published', async (t) => {
  const { server, adminToken } = await adminServer(t);
  for (const name of ['ann', 'ben', 'cat']) {
    await makeUser(server, adminToken, { username: name, displayName: name.toUpperCase(), password: 'password of ' + name });
  }
  const browser = await browserFor(t);
  const { page, errors } = await signInToAdmin(browser, t, server);

  // The dashboard: one call, its figures as the API gives them.
  await page.locator('#tile-users .figure').waitFor();
  const stats = (await api(server, 'GET', '/auth/api/login/stats', { bearer: adminToken })).body;
  assert.equal(stats.users.total, 4);
  assert.equal(await page.locator('#tile-users .figure').textContent(), '4');
  assert.match(await page.locator('#tile-users').textContent(), /1 admin · 0 blocked/);
  assert.equal(await page.locator('#tile-sessions .figure').textContent(), String(stats.activeSessions));
  assert.equal(await page.locator('#tile-logins .figure').textContent(), String(stats.logins.success));
  // The server started moments ago: the figures say since when they count.
  assert.match(await page.locator('#tile-logins').textContent(), /since /);
  assert.match(await page.locator('#tile-db .figure').textContent(), /^\d+(\.\d)? MB$/);
  assert.match(await page.locator('.view-head p').textContent(), new RegExp(stats.version.replace(/[()]/g, '\\$&')));
  const local = stats.identities.find((i) => i.name === 'local');
  const row = page.locator('#dash-identities tbody tr', { hasText: 'local' });
  assert.match(await row.textContent(), new RegExp('Password' + String(local.count)));
  assert.equal(await page.locator('#dash-keys tbody tr').count(), stats.signingKeys.length);
  await shoot(page, 'dashboard');

  // Signing keys: rotate in the page, see it signing through the API and in the JWKS.
  await openView(page, '#/keys', '#keys-table');
  const before = (await api(server, 'GET', '/auth/api/login/signing-key', { bearer: adminToken })).body;
  assert.equal(await page.locator('#keys-table tbody tr').count(), before.length);
  await page.locator('#rotate-key').click();
  const dlg = page.locator('dialog[open]');
  assert.match(await dlg.textContent(), /new token/i);
  assert.match(await dlg.textContent(), /stay valid/);
  await dlg.locator('select').selectOption('EdDSA');
  await dlg.locator('button[type=submit]').click();
  await page.locator('.msg.ok').waitFor();
  const after = (await api(server, 'GET', '/auth/api/login/signing-key', { bearer: adminToken })).body;
  assert.equal(after.length, before.length + 1);
  const signing = after.find((k) => k.signing);
  assert.equal(signing.alg, 'EdDSA');
  assert.notEqual(signing.kid, before[0].kid);
  assert.match(await page.locator('.msg.ok').textContent(), new RegExp(signing.kid));
  const first = page.locator('#keys-table tbody tr').first();
  assert.equal(await first.getAttribute('data-id'), signing.kid);
  assert.match(await first.textContent(), /signing/);
  assert.match(await page.locator(`#keys-table tr[data-id="${before[0].kid}"]`).textContent(), /published/);
  const jwks = (await api(server, 'GET', '/.well-known/jwks.json')).body;
  assert.ok(jwks.keys.some((k) => k.kid === signing.kid));
  await shoot(page, 'keys');

  // Cancelling the confirmation rotates nothing.
  await page.locator('#rotate-key').click();
  await page.keyboard.press('Escape');
  await page.locator('dialog[open]').waitFor({ state: 'detached' });
  const still = (await api(server, 'GET', '/auth/api/login/signing-key', { bearer: adminToken })).body;
  assert.equal(still.length, after.length);
  assert.deepEqual(errors, []);
});

test('the audit log filters by user and by action through the page, as the API does', async (t) => {
  const { server, adminToken } = await adminServer(t);
  const bob = await makeUser(server, adminToken, { username: 'bob', displayName: 'Bob', password: 'password of bob' });
  const carl = await makeUser(server, adminToken, { username: 'carl', displayName: 'Carl', password: 'password of carl' });
  for (const [id, body] of [[bob.id, { displayName: 'Bob B.' }], [carl.id, { isBlocked: true }], [bob.id, { email: 'bob@example.org' }]]) {
    const r = await api(server, 'PUT', '/auth/api/login/user/' + id, { bearer: adminToken, body });
    assert.equal(r.status, 200);
  }
  const browser = await browserFor(t);
  const { page, errors } = await signInToAdmin(browser, t, server);
  const rowIds = async () => page.locator('#audit-table tbody tr').evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
  const apiIds = async (query) =>
    (await api(server, 'GET', '/auth/api/login/audit?limit=50&' + query, { bearer: adminToken })).body.map((e) => e.id);

  await openView(page, '#/audit', '#audit-table');
  assert.deepEqual(await rowIds(), await apiIds(''));
  // Each entry in words: who (a username, the command line), what, the target by name.
  const created = page.locator('#audit-table tbody tr', { hasText: 'created a user' }).first();
  assert.match(await created.textContent(), /admin/);
  assert.match(await created.textContent(), /carl/);
  assert.match(await page.locator('#audit-table').textContent(), /the command line/);
  assert.match(await page.locator('#audit-table').textContent(), /changed: isBlocked/);
  await shoot(page, 'audit');

  // By user: typed as a username, picked, resolved to the id in the address.
  await page.locator('#audit-user').fill('bob');
  await page.locator('#audit-apply').click();
  await page.waitForURL((u) => u.hash === '#/audit?user=' + bob.id);
  await page.locator('#audit-table').waitFor();
  assert.deepEqual(await rowIds(), await apiIds('user=' + bob.id));
  assert.equal((await rowIds()).length, 3, 'created and two changes');
  assert.equal(await page.locator('#audit-user').inputValue(), 'bob');

  // And by action, chosen in the select (which applies at once).
  await page.locator('#audit-action').selectOption('user.update');
  await page.waitForURL((u) => u.hash === `#/audit?user=${bob.id}&action=user.update`);
  await page.locator('#audit-table').waitFor();
  assert.deepEqual(await rowIds(), await apiIds(`user=${bob.id}&action=user.update`));
  assert.equal((await rowIds()).length, 2);

  // The back button goes back to the filter before; the address alone makes the view.
  await page.goBack();
  await page.waitForURL((u) => u.hash === '#/audit?user=' + bob.id);
  await page.locator('#audit-table').waitFor();
  assert.deepEqual(await rowIds(), await apiIds('user=' + bob.id));
  await openView(page, '#/audit?action=user.', '#audit-table');
  assert.deepEqual(await rowIds(), await apiIds('action=user.'));
  assert.equal(await page.locator('#audit-action').inputValue(), 'user.');

  // An unknown username is said in words, and nothing changes.
  await page.locator('#audit-user').fill('nobody-here');
  await page.locator('#audit-apply').click();
  await page.locator('#audit-filter-error').waitFor({ state: 'visible' });
  assert.match(await page.locator('#audit-filter-error').textContent(), /No user is called/);
  assert.equal(new URL(page.url()).hash, '#/audit?action=user.');
  await shoot(page, 'audit-filtered');
  assert.deepEqual(errors, []);
});
