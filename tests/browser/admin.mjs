// Shared pieces of the admin console's browser tests: a server with an admin, signing in to
// /admin, the two window sizes, and screenshots as test artifacts (target/screenshots/admin/,
// not committed: look at them after a run).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, api, createAdmin, fillLogin, pageFor, serverFor, sidewaysOverflow, token } from './harness.mjs';

export const ADMIN = { username: 'admin', password: 'admin password 123' };
export const LAPTOP = { viewport: { width: 1366, height: 860 } };
export { PHONE } from './harness.mjs';
export const SCREENSHOTS = join(REPO, 'target', 'screenshots', 'admin');

/** A fresh server with an admin: `{server, adminToken}`. */
export async function adminServer(t, opts) {
  const server = await serverFor(t, opts);
  await createAdmin(server, ADMIN.username, ADMIN.password);
  const adminToken = await token(server, ADMIN.username);
  return { server, adminToken };
}

/** A user made through the API (201 checked); answers the user. */
export async function makeUser(server, adminToken, user) {
  const r = await api(server, 'POST', '/auth/api/login/user', { bearer: adminToken, body: user });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

/**
 * Opens /admin<hash> in a fresh browser context and signs in on the login page it is sent to
 * (as the admin unless `who` says otherwise); waits for the console (or, with `expect: 'not-admin'`,
 * for the refusal). Answers `{context, page, errors}`.
 */
export async function signInToAdmin(browser, t, server, { who = ADMIN, options = LAPTOP, hash = '', expect = 'console' } = {}) {
  const p = await pageFor(browser, t, options);
  await p.page.goto(server.base + '/admin' + hash);
  await p.page.waitForURL((u) => u.pathname === '/auth/flow/login');
  await fillLogin(p.page, who.username, who.password);
  await p.page.waitForURL((u) => u.pathname === '/admin' && !u.search);
  await p.page.locator(expect === 'console' ? '#top' : '#not-admin').waitFor({ state: 'visible' });
  return p;
}

/** Writes a full-page screenshot to target/screenshots/admin/<name>.png. */
export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name + '.png'), fullPage: true });
}

/** Fails when the page scrolls sideways. */
export async function assertNoSideways(page, what) {
  assert.equal(await sidewaysOverflow(page), 0, `${what}: no horizontal scroll`);
}

/** Goes to a view of the console (`#/users` …) and waits until `selector` shows. */
export async function openView(page, route, selector) {
  await page.evaluate((r) => {
    location.hash = r;
  }, route);
  if (selector) await page.locator(selector).first().waitFor({ state: 'visible' });
}
