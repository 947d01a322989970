// The admin console's Logins view (strategy instances): the list, creation through forms
// generated from each strategy's instanceConfigSchema (required fields, errors under their
// field, only the flags the strategy allows), secrets write-only (set / not set, kept when
// untouched), the callback URL with its copy button, and deletion with the cascade question
// and the last admin's refusal said in words. Each result is checked through the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserFor, fillLogin } from './harness.mjs';
import { closedPort } from './standins.mjs';
import { oidcProviderFor } from './oidc-provider.mjs';
import { ADMIN, adminServer, assertNoSideways, openView, screenshot, signInToAdmin } from './admin.mjs';

const PHONE_SIZE = { width: 390, height: 844 };
const LAPTOP_SIZE = { width: 1366, height: 860 };

async function instance(server, adminToken, id) {
  const r = await api(server, 'GET', `/auth/api/login/strategy-instance/${id}`, { bearer: adminToken });
  return r;
}

/** The id in `#/instances/<id>?created=1`, once the page has gone there. */
async function createdId(page) {
  await page.waitForURL((u) => /^#\/instances\/[0-9a-f-]{36}\?created=1$/.test(u.hash));
  return /#\/instances\/([0-9a-f-]{36})/.exec(page.url())[1];
}

/** Everything the page holds as text, input values included. */
const pageText = (page) =>
  page.evaluate(() => document.body.innerText + '\n' + Array.from(document.querySelectorAll('input, textarea')).map((i) => i.value).join('\n'));

test('logins: create userpass and oidc instances through generated forms, edit, copy the callback, delete with cascade', async (t) => {
  const { server, adminToken } = await adminServer(t);
  const op = await oidcProviderFor(t);
  const browser = await browserFor(t);
  const { page, errors, context } = await signInToAdmin(browser, t, server, { hash: '#/instances' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  await page.locator('#instances').waitFor();
  const names = await page.locator('#instances tbody tr td:first-child').allTextContents();
  assert.deepEqual(names, ['local', 'passkey']);
  assert.match(await page.locator('#instances tbody tr').first().innerText(), /Password[\s\S]*Login[\s\S]*Register/);
  await screenshot(page, 'instances-laptop');
  await assertNoSideways(page, 'instances list');

  // A userpass instance: its form has no config fields and only the flags userpass allows.
  await page.getByRole('button', { name: 'New login method' }).click();
  await page.locator('#strategies').waitFor();
  await screenshot(page, 'instances-new-laptop');
  await page.locator('#strategies a[data-type="userpass"]').click();
  await page.locator('#instance-form').waitFor();
  assert.equal(await page.getByLabel('Sync').count(), 0, 'userpass cannot sync');
  assert.equal(await page.getByLabel('Implicit registration').count(), 0);
  await page.getByLabel('Name').fill('staff');
  await page.getByLabel('Self-registration').uncheck();
  await page.getByRole('button', { name: 'Create' }).click();
  const staffId = await createdId(page);
  let r = await instance(server, adminToken, staffId);
  assert.equal(r.status, 200);
  assert.equal(r.body.name, 'staff');
  assert.equal(r.body.type, 'userpass');
  assert.equal(r.body.isLoginActive, true);
  assert.equal(r.body.isSelfRegisterActive, false);
  assert.equal(await page.locator('#callback').count(), 0, 'no callback URL for a password login');

  // An oidc instance: required fields marked; an empty issuer is refused under its field,
  // a provider that cannot be reached too (the server's answer, mapped to the field).
  await openView(page, '#/instances/new?type=oidc', '#instance-form');
  const issuerField = page.locator('[data-field="instanceConfig.issuer"]');
  assert.match(await issuerField.locator('label').innerText(), /Issuer\s*\(required\)/);
  assert.match(await page.locator('[data-field="instanceConfig.clientSecret"] label').innerText(), /Client secret\s*\(optional\)/);
  assert.equal(await page.getByLabel('Client secret').getAttribute('type'), 'password');
  assert.equal(await page.getByLabel('Scopes').evaluate((e) => e.tagName), 'TEXTAREA');
  assert.equal(await page.getByLabel('Sync').count(), 1, 'oidc may sync');
  await page.getByLabel('Name').fill('Acme SSO');
  await page.getByLabel('Client ID').fill(op.clientId);
  await page.getByLabel('Client ID').press('Enter');
  await issuerField.locator('.field-error').waitFor({ state: 'visible' });
  assert.match(await issuerField.locator('.field-error').innerText(), /Issuer is required/);
  assert.equal(await page.getByLabel('Issuer').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Issuer').fill('http://127.0.0.1:' + (await closedPort()));
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForFunction(() => /cannot be reached/.test(document.querySelector('[data-field="instanceConfig.issuer"] .field-error').textContent));
  assert.match(await issuerField.locator('.field-error').innerText(), /^Issuer: the provider cannot be reached/);
  await screenshot(page, 'instances-form-error-laptop');

  await page.getByLabel('Issuer').fill(op.issuer);
  await page.getByLabel('Client secret').fill(op.clientSecret);
  await page.getByLabel('Scopes').fill('openid\nprofile\n\nemail');
  await page.getByLabel('Sync').uncheck();
  await page.getByRole('button', { name: 'Create' }).click();
  const oidcId = await createdId(page);
  r = await instance(server, adminToken, oidcId);
  assert.equal(r.status, 200);
  assert.equal(r.body.type, 'oidc');
  assert.deepEqual(r.body.instanceConfig, { issuer: op.issuer, clientId: op.clientId, clientSecret: '**********', scopes: ['openid', 'profile', 'email'] });
  assert.equal(r.body.isSyncActive, false);
  assert.equal(r.body.doesImplicitRegister, true);
  op.setRedirectUris([r.body.callbackUrl]);

  // The callback URL, to register at the provider, shown after creation with a copy button.
  const callback = `${server.publicUrl}/auth/api/flow/callback/${oidcId}`;
  assert.equal(await page.locator('#callback-url').inputValue(), callback);
  await page.locator('#callback').getByRole('button', { name: 'Copy' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), callback);
  // The secret is nowhere in the page: only whether one is set.
  assert.ok(!(await pageText(page)).includes(op.clientSecret), 'the secret is not readable in the page');
  const secretField = page.locator('[data-field="instanceConfig.clientSecret"]');
  assert.equal(await secretField.locator('.badge').innerText(), 'set');
  assert.equal(await page.getByLabel('Client secret').isVisible(), false);
  await screenshot(page, 'instance-oidc-laptop');
  await assertNoSideways(page, 'oidc instance');

  // Editing the name leaves the secret alone: it goes back censored and the server keeps it.
  const puts = [];
  page.on('request', (q) => {
    if (q.method() === 'PUT') puts.push(JSON.parse(q.postData()));
  });
  await page.getByLabel('Name').fill('Acme');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('.view-head h1', { hasText: /^Acme$/ }).waitFor();
  assert.equal(puts.at(-1).instanceConfig.clientSecret, '**********');
  r = await instance(server, adminToken, oidcId);
  assert.equal(r.body.name, 'Acme');
  assert.equal(r.body.instanceConfig.clientSecret, '**********', 'still set');

  // The kept secret is the real one: a login through the provider exchanges its code with it.
  // (On the public URL, where the provider sends the browser back: a session there first.)
  const acct = await context.newPage();
  await acct.goto(server.publicUrl + '/account');
  await acct.waitForURL((u) => u.pathname === '/auth/flow/login');
  await fillLogin(acct, ADMIN.username, ADMIN.password);
  await acct.waitForURL((u) => u.pathname === '/account' && !u.search);
  await acct.goto(server.publicUrl + '/auth/api/flow/redirect/' + oidcId + '?mode=link');
  await acct.waitForURL((u) => u.href.startsWith(op.issuer + '/interaction/'));
  await acct.getByLabel('Account').fill('ada');
  await acct.getByRole('button', { name: 'Continue to the app' }).click();
  await acct.getByRole('button', { name: 'Allow' }).click();
  await acct.waitForURL((u) => u.origin === server.publicUrl && !u.pathname.startsWith('/auth/api/'));
  const exchange = op.seen.tokens.filter((x) => x.grantType === 'authorization_code').at(-1);
  assert.equal(exchange && exchange.status, 200, 'the provider accepted the kept client secret');
  await acct.close();

  // Replacing the secret sends the new one; "Keep the current one" undoes it.
  await page.locator('[data-field="instanceConfig.clientSecret"]').getByRole('button', { name: 'Replace' }).click();
  await page.getByLabel('Client secret').fill('a new secret');
  await page.getByRole('button', { name: 'Keep the current one' }).click();
  assert.equal(await page.getByLabel('Client secret').isVisible(), false);

  // Delete with cascade: the instance has an identity now (the admin's linked provider account).
  const linked = (await api(server, 'GET', '/auth/api/login/user/self/login-data', { bearer: adminToken })).body;
  assert.ok(linked.some((l) => l.strategyInstance && l.strategyInstance.id === oidcId), JSON.stringify(linked));
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.locator('#confirm[open]').waitFor();
  await page.locator('#confirm-yes').click();
  await page.locator('#confirm-title', { hasText: 'Delete its logins too?' }).waitFor();
  assert.match(await page.locator('#confirm-text').innerText(), /One login of a user is on "Acme"/);
  assert.equal(await page.locator('#confirm-yes').innerText(), 'Delete it and 1 login');
  await screenshot(page, 'instance-cascade-laptop');
  await page.locator('#confirm-yes').click();
  await page.waitForURL((u) => u.hash === '#/instances');
  assert.equal((await instance(server, adminToken, oidcId)).status, 404);

  // The last admin's last login method cannot go: the refusal in words.
  const local = (await api(server, 'GET', '/auth/api/login/strategy-instance')).body.find((i) => i.name === 'local');
  await openView(page, '#/instances/' + local.id, '#instance-form');
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.locator('#confirm-yes').click();
  await page.locator('#confirm-title', { hasText: 'Delete its logins too?' }).waitFor();
  await page.locator('#confirm-yes').click();
  const refusal = page.locator('.msg.error', { hasText: 'last admin' });
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /would leave the last admin without any way to sign in/);
  assert.equal((await instance(server, adminToken, local.id)).status, 200);

  // Phone: the list, the new-instance form, one instance.
  await page.setViewportSize(PHONE_SIZE);
  for (const [route, sel, name] of [
    ['#/instances', '#instances', 'instances-phone'],
    ['#/instances/new', '#strategies', 'instances-new-phone'],
    ['#/instances/new?type=github', '#instance-form', 'instances-form-phone'],
    ['#/instances/' + staffId, '#instance-form', 'instance-phone'],
  ]) {
    await openView(page, route, sel);
    await page.evaluate(() => document.getElementById('toasts').replaceChildren()); // gone soon anyway
    await screenshot(page, name);
    await assertNoSideways(page, name);
  }
  await page.setViewportSize(LAPTOP_SIZE);
  // The refusals the test provoked (400, 409) are logged by the browser; nothing else.
  assert.deepEqual(errors.filter((e) => !/Failed to load resource: the server responded with a status of 40[09]/.test(e)), []);
});
