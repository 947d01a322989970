// The admin console's Users view: the list (search as you type, cursor pages, empty state),
// creating (also keyboard only), editing, blocking, deleting, and a user's page: logins
// (unlink, the last-method refusal), admin-link, sessions (end one, log out everywhere) and
// passkey links (shown with their QR code, or mailed through a real SMTP server). Each action
// is done through the page and its result checked through the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserFor, localInstanceId, smtpServer, token } from './harness.mjs';
import { ADMIN, LAPTOP, PHONE, adminServer, assertNoSideways, makeUser, openView, screenshot, signInToAdmin } from './admin.mjs';

/** The page's errors, without the browser's notes of the refusals a test provokes on purpose
 *  (`statuses`), which the page shows in words. */
const unexpected = (errors, statuses) =>
  errors.filter((e) => !statuses.some((s) => e.includes(`Failed to load resource: the server responded with a status of ${s} `)));

/** The usernames the list shows, in order. */
const shown = (page) => page.locator('#users tbody tr td:first-child a').allTextContents();

/** Waits until the list shows exactly `names`. */
async function waitForList(page, names) {
  await page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll('#users tbody tr td:first-child a')].map((a) => a.textContent)) === want,
    JSON.stringify(names),
  );
}

/** The user with this username, through the API (null when there is none). */
async function userNamed(server, adminToken, username) {
  const r = await api(server, 'GET', '/auth/api/login/user?search=' + encodeURIComponent(username), { bearer: adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.items.find((u) => u.username === username) || null;
}

/** Answers the confirmation dialog with its "yes" button; answers its text. */
async function agree(page) {
  await page.locator('#confirm').waitFor({ state: 'visible' });
  const text = await page.locator('#confirm-title').textContent() + ' ' + await page.locator('#confirm-text').textContent();
  await page.locator('#confirm-yes').click();
  await page.locator('#confirm').waitFor({ state: 'hidden' });
  return text;
}

test('the list searches as you type, drops stale answers, pages by cursor; create, edit, block, unblock, delete', async (t) => {
  const { server, adminToken } = await adminServer(t);
  for (let i = 0; i < 30; i++) {
    await makeUser(server, adminToken, { username: `member-${String(i).padStart(2, '0')}`, displayName: `Member ${i}` });
  }
  await makeUser(server, adminToken, { username: 'memo', displayName: 'A memo', email: 'memo@example.com' });
  const browser = await browserFor(t);
  const { page, errors } = await signInToAdmin(browser, t, server, { hash: '#/users?limit=10' });
  await page.waitForURL((u) => u.hash.startsWith('#/users'));
  await page.locator('#users').waitFor();
  // The first page: 10 of 32 (admin, member-00…, memo), ordered by username.
  assert.deepEqual(await shown(page), ['admin', ...Array.from({ length: 9 }, (_, i) => `member-0${i}`)]);
  assert.equal(await page.locator('#users-prev').isDisabled(), true);
  await screenshot(page, 'users-list-laptop');
  await assertNoSideways(page, 'users list, laptop');

  // Typing asks the server once the typing pauses, not at every keystroke.
  const searches = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/auth/api/login/user' && u.searchParams.has('search')) searches.push(u.searchParams.get('search'));
  });
  await page.locator('#user-search').click();
  await page.keyboard.type('member', { delay: 20 });
  const members = Array.from({ length: 30 }, (_, i) => `member-${String(i).padStart(2, '0')}`);
  await waitForList(page, members.slice(0, 10));
  assert.ok(searches.length < 'member'.length, `fewer requests than keystrokes: ${searches}`);
  assert.equal(searches.at(-1), 'member');
  assert.match(new URL(page.url()).hash, /q=member/);

  // Next and Previous walk the server's cursor pages.
  await page.locator('#users-next').click();
  await waitForList(page, members.slice(10, 20));
  await page.locator('#users-next').click();
  await waitForList(page, members.slice(20, 30));
  assert.equal(await page.locator('#users-next').isDisabled(), true, 'the last page');
  await page.locator('#users-prev').click();
  await waitForList(page, members.slice(10, 20));
  assert.equal(await page.locator('#users-page').textContent(), 'Page 2');

  // An answer that arrives after a newer search's answer is dropped: "mem" (which also finds
  // memo) is held back until "memb" has been shown.
  let release;
  const held = new Promise((r) => (release = r));
  const stale = (u) => u.pathname === '/auth/api/login/user' && u.searchParams.get('search') === 'mem';
  await page.route(stale, async (route) => {
    await held;
    await route.continue();
  });
  const answers = () => page.locator('#users-list').getAttribute('data-answers').then(Number);
  await page.locator('#user-search').fill('mem');
  await page.waitForRequest((r) => new URL(r.url()).searchParams.get('search') === 'mem');
  const before = await answers();
  await page.locator('#user-search').fill('memb');
  await waitForList(page, members.slice(0, 10));
  release();
  await page.waitForFunction((n) => Number(document.getElementById('users-list').dataset.answers) >= n, before + 2);
  assert.deepEqual(await shown(page), members.slice(0, 10), 'the stale answer (with memo) is not shown');
  await page.unroute(stale);

  // An e-mail address finds its user; nothing found says so.
  await page.locator('#user-search').fill('MEMO@example.com');
  await waitForList(page, ['memo']);
  await page.locator('#user-search').fill('nobody-here');
  await page.locator('#users-list .empty').waitFor();
  assert.equal(await page.locator('#users-list .empty').textContent(), 'No users match “nobody-here”.');

  // Create (with an initial password), through the dialog.
  await page.locator('#user-new').click();
  const dlg = page.locator('dialog.form[open]');
  await dlg.getByLabel('Username').fill('carol');
  await dlg.getByLabel('Display name').fill('Carol Cole');
  await dlg.getByLabel('E-mail address').fill('carol@example.com');
  await dlg.getByLabel('Admin: may use this console').check();
  await dlg.getByLabel('Initial password').fill('carol password 1');
  await dlg.getByRole('button', { name: 'Create user' }).click();
  await page.waitForURL((u) => /^#\/users\/[0-9a-f-]{36}$/.test(u.hash));
  await page.locator('#user-facts').waitFor();
  let carol = await userNamed(server, adminToken, 'carol');
  assert.equal(carol.displayName, 'Carol Cole');
  assert.equal(carol.email, 'carol@example.com');
  assert.equal(carol.isAdmin, true);
  assert.equal(new URL(page.url()).hash, '#/users/' + carol.id);
  const logins = await api(server, 'GET', `/auth/api/login/user/${carol.id}/login-data`, { bearer: adminToken });
  assert.deepEqual(logins.body.map((l) => [l.strategyInstance.type, l.subject]), [['userpass', 'carol']]);

  // A taken username is said next to its field.
  await page.locator('#user-edit').click();
  await dlg.getByLabel('Username').fill('memo');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.locator('.field-error:not(.hidden), .msg.error:not(.hidden)').first().waitFor();
  assert.match(await dlg.locator('.field-error:not(.hidden), .msg.error:not(.hidden)').first().textContent(), /taken/i);
  // Edit: username, display name, e-mail, admin.
  await dlg.getByLabel('Username').fill('carol2');
  await dlg.getByLabel('Display name').fill('Carol Two');
  await dlg.getByLabel('E-mail address').fill('');
  await dlg.getByLabel('Admin: may use this console').uncheck();
  await dlg.getByRole('button', { name: 'Save' }).click();
  await page.locator('.view-head h1', { hasText: 'Carol Two' }).waitFor();
  carol = (await api(server, 'GET', `/auth/api/login/user/${carol.id}`, { bearer: adminToken })).body;
  assert.deepEqual([carol.username, carol.displayName, carol.email, carol.isAdmin], ['carol2', 'Carol Two', null, false]);

  // Block (after a confirmation), unblock.
  await page.locator('#user-block').click();
  assert.match(await agree(page), /Block Carol Two/);
  await page.locator('#user-block', { hasText: 'Unblock' }).waitFor();
  assert.equal((await api(server, 'GET', `/auth/api/login/user/${carol.id}`, { bearer: adminToken })).body.isBlocked, true);
  await page.locator('#user-block').click();
  await page.locator('#user-block', { hasText: /^Block$/ }).waitFor();
  assert.equal((await api(server, 'GET', `/auth/api/login/user/${carol.id}`, { bearer: adminToken })).body.isBlocked, false);
  await screenshot(page, 'users-user-laptop');
  await assertNoSideways(page, 'user page, laptop');

  // Delete, after a confirmation that names the user; then the list.
  await page.locator('#user-delete').click();
  assert.match(await agree(page), /Delete Carol Two \(carol2\)/);
  await page.waitForURL((u) => u.hash === '#/users');
  assert.equal((await api(server, 'GET', `/auth/api/login/user/${carol.id}`, { bearer: adminToken })).status, 404);

  // The last admin cannot be deleted: said in words.
  const me = (await api(server, 'GET', '/auth/api/login/user/self', { bearer: adminToken })).body;
  await openView(page, '#/users/' + me.id, '#user-delete');
  await page.locator('#user-delete').click();
  await agree(page);
  const refusal = page.locator('#user-about .msg.error');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /cannot be deleted: the last admin cannot be deleted\. Make another user an admin first/);
  assert.equal((await api(server, 'GET', `/auth/api/login/user/${me.id}`, { bearer: adminToken })).status, 200);
  assert.deepEqual(unexpected(errors, [409]), []);
});

test('keyboard only: a user is created with Tab, typing and Enter; Escape closes the dialog; phone screenshots', async (t) => {
  const { server, adminToken } = await adminServer(t);
  await makeUser(server, adminToken, { username: 'erin', displayName: 'Erin Example', email: 'erin-with-a-long-address@example.com' });
  const browser = await browserFor(t);
  const { page, errors } = await signInToAdmin(browser, t, server, { options: PHONE, hash: '#/users' });
  await page.locator('#users').waitFor();
  await screenshot(page, 'users-list-phone');
  await assertNoSideways(page, 'users list, phone');

  // From the top of the page, Tab to "New user".
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  let tabs = 0;
  while ((await page.evaluate(() => document.activeElement && document.activeElement.id)) !== 'user-new') {
    await page.keyboard.press('Tab');
    assert.ok(++tabs < 40, 'New user is reachable with Tab');
  }
  await page.keyboard.press('Escape'); // nothing open: nothing happens
  await page.keyboard.press('Enter');
  await page.locator('dialog.form[open]').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('dialog.form').waitFor({ state: 'detached' });
  await page.locator('#user-new').focus();
  await page.keyboard.press('Enter');
  await page.locator('dialog.form[open]').waitFor();
  await page.keyboard.type('frank');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Frank Keys');
  await page.keyboard.press('Tab');
  await page.keyboard.type('frank@example.com');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Space'); // admin
  await page.keyboard.press('Tab');
  await page.keyboard.type('frank password 1');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => /^#\/users\/[0-9a-f-]{36}$/.test(u.hash));
  const frank = await userNamed(server, adminToken, 'frank');
  assert.deepEqual([frank.displayName, frank.email, frank.isAdmin], ['Frank Keys', 'frank@example.com', true]);
  await page.locator('#user-sessions-card').waitFor();
  await screenshot(page, 'users-user-phone');
  await assertNoSideways(page, 'user page, phone');
  // The list's usernames are links: Enter on one opens the user.
  await openView(page, '#/users', '#users');
  await page.locator('#users a', { hasText: 'erin' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('.view-head h1', { hasText: 'Erin Example' }).waitFor();
  assert.deepEqual(errors, []);
});

test("a user's page: logins, unlink and its refusal, admin-link, sessions, log out everywhere, passkey links shown and mailed", async (t) => {
  const smtp = await smtpServer(t);
  const { server, adminToken } = await adminServer(t, { extraArgs: ['--smtp-url', smtp.url, '--smtp-from', 'keyward@example.com'] });
  const dave = await makeUser(server, adminToken, { username: 'dave', displayName: 'Dave Doe', email: 'dave@example.com', password: 'dave password 1' });
  // Two sessions of dave's (the command line's tokens).
  const t1 = await token(server, 'dave');
  const t2 = await token(server, 'dave');
  const browser = await browserFor(t);
  const { page, errors } = await signInToAdmin(browser, t, server, { hash: '#/users/' + dave.id });
  await page.locator('#user-logins').waitFor();
  const loginRows = () => page.locator('#user-logins tbody tr');
  assert.equal(await loginRows().count(), 1);
  assert.match(await loginRows().first().textContent(), /local.*Password.*dave.*Active/);
  assert.equal(await page.locator('#user-sessions tbody tr').count(), 2);
  assert.match(await page.locator('#user-sessions tbody tr').first().textContent(), /The command line/);

  // The only login cannot be unlinked: the page says why, next to the list.
  await loginRows().first().getByRole('button', { name: /Unlink/ }).click();
  assert.match(await agree(page), /no longer be able to sign in with local “dave”/);
  const why = page.locator('#user-logins-card .msg.error');
  await why.waitFor();
  assert.match(await why.textContent(), /This login cannot be removed: this is the user's last login method\. It is Dave Doe’s only way left to sign in/);
  let data = (await api(server, 'GET', `/auth/api/login/user/${dave.id}/login-data`, { bearer: adminToken })).body;
  assert.equal(data.length, 1);

  // Admin-link: a bad token is refused in words; a register token from userpass/register links.
  const localId = await localInstanceId(server);
  const w = await api(server, 'POST', `/auth/api/login/strategy-instance/${localId}/userpass/register`, { body: { username: 'dave-two', password: 'dave two password' } });
  assert.equal(w.status, 201, w.text);
  await page.locator('#user-admin-link').click();
  const dlg = page.locator('dialog.form[open]');
  await dlg.getByLabel('Register token').fill('not.a.token');
  await dlg.getByRole('button', { name: 'Link' }).click();
  await dlg.locator('.field-error:not(.hidden)').waitFor();
  assert.match(await dlg.locator('.field-error:not(.hidden)').textContent(), /cannot be used: it is not valid, has expired/);
  await dlg.getByLabel('Register token').fill(w.body.register_token);
  await dlg.getByRole('button', { name: 'Link' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#user-logins tbody tr').length === 2);
  data = (await api(server, 'GET', `/auth/api/login/user/${dave.id}/login-data`, { bearer: adminToken })).body;
  assert.deepEqual(data.map((l) => l.subject).sort(), ['dave', 'dave-two']);
  assert.ok(data.every((l) => l.state === 'VALID'));

  // With two, one can go.
  await loginRows().filter({ hasText: 'dave-two' }).getByRole('button', { name: /Unlink/ }).click();
  await agree(page);
  await page.waitForFunction(() => document.querySelectorAll('#user-logins tbody tr').length === 1);
  data = (await api(server, 'GET', `/auth/api/login/user/${dave.id}/login-data`, { bearer: adminToken })).body;
  assert.deepEqual(data.map((l) => l.subject), ['dave']);

  // End one session: its token is refused, the other still works.
  const sessions = (await api(server, 'GET', `/auth/api/login/user/${dave.id}/active-login`, { bearer: adminToken })).body;
  const first = sessions.find((s) => s.id === JSON.parse(Buffer.from(t1.split('.')[1], 'base64url')).sid);
  assert.ok(first);
  await page.locator(`#user-sessions tr[data-id="${first.id}"]`).getByRole('button', { name: /End/ }).click();
  await page.waitForFunction(() => document.querySelectorAll('#user-sessions tbody tr').length === 1);
  assert.equal((await api(server, 'GET', '/auth/api/login/user/self', { bearer: t1 })).status, 401);
  assert.equal((await api(server, 'GET', '/auth/api/login/user/self', { bearer: t2 })).status, 200);
  // Log out everywhere, after a confirmation.
  await page.locator('#user-revoke').click();
  assert.match(await agree(page), /Log Dave Doe out everywhere/);
  await page.locator('#user-sessions-card .empty').waitFor();
  assert.equal((await api(server, 'GET', '/auth/api/login/user/self', { bearer: t2 })).status, 401);
  assert.deepEqual((await api(server, 'GET', `/auth/api/login/user/${dave.id}/active-login`, { bearer: adminToken })).body, []);
  assert.ok((await api(server, 'GET', `/auth/api/login/user/${dave.id}`, { bearer: adminToken })).body.revokeTokensBefore);

  // A passkey link, shown with its QR code, link and expiry.
  await page.locator('#user-pk-link').click();
  const info = page.locator('dialog[open]');
  await info.locator('#pk-link-url').waitFor();
  const link = new URL(await info.locator('#pk-link-url').inputValue());
  assert.equal(link.pathname, '/auth/flow/passkey');
  assert.equal(link.searchParams.get('userID'), dave.id);
  assert.ok(link.searchParams.get('code'));
  assert.match(await info.locator('#pk-link-qr img').getAttribute('src'), /^data:image\/svg\+xml/);
  assert.ok(await info.locator('#pk-link-qr img').evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR code is an image');
  assert.match(await info.locator('#pk-link-expiry').textContent(), /^Valid until .+, for one passkey\.$/);
  await screenshot(page, 'users-passkey-link-laptop');
  await info.getByRole('button', { name: 'Done' }).click();
  await info.waitFor({ state: 'detached' });

  // Mailed: the message with the link arrives at the SMTP server.
  await page.locator('#user-pk-mail').click();
  assert.match(await agree(page), /dave@example\.com/);
  await page.locator('#user-passkeys-card .msg.ok').waitFor();
  assert.match(await page.locator('#user-passkeys-card .msg.ok').textContent(), /on its way to dave@example\.com/);
  const mails = await smtp.messages();
  assert.equal(mails.length, 1);
  assert.match(mails[0], /X-Envelope-To: dave@example\.com/);
  const unfolded = mails[0].replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  assert.ok(unfolded.includes(`/auth/flow/passkey?userID=${dave.id}`), unfolded);
  assert.deepEqual(unexpected(errors, [401, 409]), []);
});
