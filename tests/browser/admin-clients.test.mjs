// The admin console's OAuth clients view: the list, creating and editing a client in its dialog
// (redirect URLs, scopes as checkboxes, resources, secret required, valid, password grant, the
// client-credentials user found by username), an error under its field, secrets (added and
// shown once with a copy button, used for a client_credentials grant, removed), the built-in
// clients (not deletable), deleting a client. Each result is checked through the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserFor } from './harness.mjs';
import { adminServer, assertNoSideways, makeUser, openView, screenshot, signInToAdmin } from './admin.mjs';

const PHONE_SIZE = { width: 390, height: 844 };

/** A client_credentials grant with HTTP Basic: `{status, body}`. */
async function clientCredentials(server, id, secret) {
  const r = await fetch(server.base + '/auth/oauth/token', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from(encodeURIComponent(id) + ':' + encodeURIComponent(secret)).toString('base64'),
    },
    body: 'grant_type=client_credentials',
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

const clearToasts = (page) => page.evaluate(() => document.getElementById('toasts').replaceChildren());

test('clients: create and edit a client, add a secret shown once and used, remove it, delete the client', async (t) => {
  const { server, adminToken } = await adminServer(t);
  const robot = await makeUser(server, adminToken, { username: 'robot', displayName: 'Report robot' });
  const browser = await browserFor(t);
  const { page, errors, context } = await signInToAdmin(browser, t, server, { hash: '#/clients' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  await page.locator('#clients').waitFor();
  const rows = await page.locator('#clients tbody tr').allInnerTexts();
  assert.ok(rows.some((r) => /Admin console[\s\S]*built in[\s\S]*keyward-admin/.test(r)), rows.join('\n'));
  await screenshot(page, 'clients-laptop');
  await assertNoSideways(page, 'clients list');

  // Create: a wrong redirect URL is refused under its field, then the client is made.
  await page.getByRole('button', { name: 'New client' }).click();
  const dlg = page.locator('dialog.form[open]');
  await dlg.waitFor();
  const scopes = await dlg.locator('input[name="scope"]').evaluateAll((l) => l.map((i) => i.value));
  const discovery = await api(server, 'GET', '/.well-known/openid-configuration');
  assert.deepEqual(scopes, discovery.body.scopes_supported, 'a checkbox for every client scope');
  assert.equal(await dlg.getByLabel('login', { exact: true }).isChecked(), true, 'login by default');
  await dlg.getByLabel('Name').fill('Reports');
  await dlg.getByLabel('Redirect URLs').fill('not a url');
  await dlg.getByRole('button', { name: 'Create' }).click();
  const redirectError = dlg.locator('[data-field="redirectUrls"] .field-error');
  await redirectError.waitFor({ state: 'visible' });
  assert.match(await redirectError.innerText(), /^Redirect URLs.*not a valid URL/);
  await dlg.getByLabel('Redirect URLs').fill('https://reports.example/cb\n\nhttps://reports.example/cb2');
  await dlg.getByLabel('read:users').check();
  await dlg.getByLabel('Resources').fill('https://api.reports.example');
  await dlg.getByLabel('Allow the password grant').check();
  const user = dlg.getByLabel('Client-credentials user');
  await user.fill('nobody-here');
  await dlg.getByRole('button', { name: 'Create' }).click();
  await dlg.locator('[data-field="clientCredentialFlowUser"] .field-error', { hasText: 'No user is called "nobody-here"' }).waitFor();
  await user.fill('rob');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('dialog[open] datalist option')).some((o) => o.value === 'robot'));
  await user.fill('robot');
  await screenshot(page, 'client-form-laptop');
  await user.press('Enter');
  await page.waitForURL((u) => /^#\/clients\/[^/?]+\?created=1$/.test(u.hash));
  const id = decodeURIComponent(/#\/clients\/([^?]+)/.exec(page.url())[1]);
  let r = await api(server, 'GET', `/auth/api/login/client/${id}`, { bearer: adminToken });
  assert.equal(r.status, 200);
  assert.deepEqual(
    { ...r.body, id: undefined },
    {
      id: undefined,
      name: 'Reports',
      redirectUrls: ['https://reports.example/cb', 'https://reports.example/cb2'],
      isValid: true,
      requiresSecret: true,
      validScopes: ['login', 'read:users'],
      clientCredentialFlowUser: robot.id,
      allowPasswordGrant: true,
      resources: ['https://api.reports.example'],
      builtin: false,
    },
  );
  const facts = await page.locator('#client-facts').innerText();
  assert.match(facts, new RegExp(id));
  await page.locator('#client-facts a', { hasText: 'robot' }).waitFor();
  assert.match(await page.locator('#secret-list, #secrets .empty').first().innerText(), /No secrets yet/);

  // Edit: the dialog holds the client as it is; the username is shown for the stored id.
  await page.getByRole('button', { name: 'Edit' }).click();
  await dlg.waitFor();
  await page.waitForFunction(() => document.querySelector('dialog[open] [data-field="clientCredentialFlowUser"] input').value === 'robot');
  assert.equal(await dlg.getByLabel('Redirect URLs').inputValue(), 'https://reports.example/cb\nhttps://reports.example/cb2');
  await dlg.getByLabel('Name').fill('Reports v2');
  await dlg.getByLabel('read:users').uncheck();
  await dlg.getByLabel('sync').check();
  await dlg.getByRole('button', { name: 'Save' }).click();
  await page.locator('.view-head h1', { hasText: 'Reports v2' }).waitFor();
  r = await api(server, 'GET', `/auth/api/login/client/${id}`, { bearer: adminToken });
  assert.equal(r.body.name, 'Reports v2');
  assert.deepEqual(r.body.validScopes, ['login', 'sync']);
  assert.equal(r.body.clientCredentialFlowUser, robot.id, 'the user is kept');

  // A secret: shown once with a copy button; it works for a client_credentials grant.
  await page.getByRole('button', { name: 'Add a secret' }).click();
  const shown = page.locator('dialog[open] #new-secret');
  await shown.waitFor();
  const secret = await shown.inputValue();
  assert.ok(secret.length >= 40, secret);
  assert.match(await page.locator('dialog[open]').innerText(), /cannot show it again/);
  await page.locator('dialog[open]').getByRole('button', { name: 'Copy' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await clearToasts(page);
  await screenshot(page, 'client-secret-laptop');
  await page.keyboard.press('Escape');
  await page.locator('#secret-list tbody tr').waitFor();
  const text = await page.evaluate(() => document.body.innerText + Array.from(document.querySelectorAll('input')).map((i) => i.value).join(' '));
  assert.ok(!text.includes(secret), 'the secret is not in the page any more');
  const listed = (await api(server, 'GET', `/auth/api/login/client/${id}/client-secret`, { bearer: adminToken })).body;
  assert.equal(listed.length, 1);
  assert.match(await page.locator('#secret-list tbody tr').innerText(), new RegExp(listed[0].fingerprint));
  assert.equal(listed[0].censored, secret.slice(0, 4) + '…');
  const grant = await clientCredentials(server, id, secret);
  assert.equal(grant.status, 200, JSON.stringify(grant.body));
  assert.ok(grant.body.access_token);
  await clearToasts(page);
  await screenshot(page, 'client-laptop');
  await assertNoSideways(page, 'client');

  // Removing it asks first; then the secret no longer works.
  await page.getByRole('button', { name: /Remove the secret/ }).click();
  await page.locator('#confirm[open]').waitFor();
  assert.match(await page.locator('#confirm-text').innerText(), new RegExp(listed[0].fingerprint));
  await page.locator('#confirm-yes').click();
  await page.locator('#secrets .empty').waitFor();
  assert.deepEqual((await api(server, 'GET', `/auth/api/login/client/${id}/client-secret`, { bearer: adminToken })).body, []);
  assert.equal((await clientCredentials(server, id, secret)).status, 401);

  // The built-in clients: editable in part, never deletable.
  await openView(page, '#/clients/keyward-admin', '#client-facts');
  assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0);
  assert.match(await page.locator('.msg.info').innerText(), /cannot be deleted/);
  await page.getByRole('button', { name: 'Edit' }).click();
  await dlg.waitFor();
  assert.equal(await dlg.getByLabel('Redirect URLs').count(), 0, 'fixed for a built-in client');
  assert.equal(await dlg.getByLabel(/Requires a secret/).count(), 0);
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached' });

  // Phone: the list and a client.
  await page.setViewportSize(PHONE_SIZE);
  for (const [route, sel, name] of [
    ['#/clients', '#clients', 'clients-phone'],
    ['#/clients/' + encodeURIComponent(id), '#client-facts', 'client-phone'],
  ]) {
    await openView(page, route, sel);
    await clearToasts(page);
    await screenshot(page, name);
    await assertNoSideways(page, name);
  }

  // Deleting a client asks first.
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.locator('#confirm-yes').click();
  await page.waitForURL((u) => u.hash === '#/clients');
  assert.equal((await api(server, 'GET', `/auth/api/login/client/${id}`, { bearer: adminToken })).status, 404);
  // The refusals the test provoked (400) are logged by the browser; nothing else.
  assert.deepEqual(errors.filter((e) => !/Failed to load resource: the server responded with a status of 400/.test(e)), []);
});
