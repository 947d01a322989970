// The hosted login page on its own: the page's files from assets/, its JSON API played by the
// test (so every answer, 429 and 403 included, can be shown on demand), in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { PHONE, REPO, browserFor } from './harness.mjs';

const ORIGIN = 'http://keyward.test';
const CSRF = 'csrf-value-123';
// The same policy keyward sends with its pages: no inline script or style may be needed.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

const LOCAL = { id: '11111111-1111-4111-8111-111111111111', name: 'local', type: 'userpass' };
const STAFF = { id: '22222222-2222-4222-8222-222222222222', name: 'staff', type: 'userpass' };
const GITHUB = { id: '33333333-3333-4333-8333-333333333333', name: 'GitHub', type: 'github' };

function json(status, body, headers = {}) {
  return { status, contentType: 'application/json', headers, body: JSON.stringify(body) };
}

function problem(status, error, message, headers) {
  return json(status, { statusCode: status, error, message }, headers);
}

/**
 * Plays keyward at ORIGIN in a browser context. `ctx` answers GET /auth/api/flow/context,
 * `login(body)` answers POST /auth/api/flow/login; the calls are recorded in `calls`.
 */
async function fakeKeyward(context, { ctx, login = () => problem(500, 'Internal Server Error', 'unexpected') }) {
  const calls = { context: [], login: [] };
  await context.route(`${ORIGIN}/**`, async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    if (url.pathname === '/auth/flow/login') {
      return route.fulfill({
        status: 200,
        contentType: TYPES['.html'],
        headers: {
          'content-security-policy': CSP,
          'set-cookie': `kw_csrf=${CSRF}; Path=/; SameSite=Strict`,
        },
        body: await readFile(join(REPO, 'assets/flow/login.html')),
      });
    }
    if (url.pathname.startsWith('/assets/') && !url.pathname.includes('..')) {
      const file = join(REPO, 'assets', url.pathname.slice('/assets/'.length));
      return route.fulfill({ status: 200, contentType: TYPES[extname(file)] || 'application/octet-stream', body: await readFile(file) });
    }
    if (url.pathname === '/auth/api/flow/context' && req.method() === 'GET') {
      calls.context.push(url);
      return route.fulfill(typeof ctx === 'function' ? ctx(url) : ctx);
    }
    if (url.pathname === '/auth/api/flow/login' && req.method() === 'POST') {
      const call = { body: req.postDataJSON(), headers: await req.allHeaders() };
      calls.login.push(call);
      return route.fulfill(login(call.body));
    }
    if (url.pathname === '/done' || url.pathname === '/register') {
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>next</title><p>next</p>' });
    }
    return route.fulfill(problem(404, 'Not Found', 'no such page'));
  });
  return calls;
}

function contextBody({ client = { id: 'c1', name: 'test app' }, instances = [LOCAL], user = null } = {}) {
  return json(200, { client, instances, user });
}

/** A page of a fresh context (phone-sized unless told otherwise) that records script errors. */
async function newPage(browser, t, options = PHONE) {
  const context = await browser.newContext(options);
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  return { context, page, errors };
}

async function fill(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('the login page', async (t) => {
  const browser = await browserFor(t);

  await t.test('signs in and follows the redirect, with the CSRF header', async (t) => {
    const { context, page, errors } = await newPage(browser, t);
    const calls = await fakeKeyward(context, {
      ctx: contextBody(),
      login: () => json(200, { redirect: `${ORIGIN}/done?code=x` }),
    });
    await page.goto(`${ORIGIN}/auth/flow/login?flow=f-123`);
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(calls.context.length, 1);
    assert.equal(calls.context[0].searchParams.get('flow'), 'f-123');
    assert.match(await page.locator('h1').innerText(), /^Sign in\s+to continue to test app$/);
    assert.equal(await page.locator('#instance-row').isVisible(), false, 'one instance: no select');
    assert.equal(await page.locator('#signed-in').isVisible(), false);
    assert.ok(await page.getByLabel('Username').evaluate((el) => el === document.activeElement), 'the username has the focus');
    assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('autocomplete'), 'current-password');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px)`);
    await page.screenshot({ path: '/tmp/login-mock-phone.png', fullPage: true });

    await fill(page, '  alice ', 'secret password');
    await page.waitForURL(`${ORIGIN}/done?code=x`);
    assert.equal(calls.login.length, 1);
    const { body, headers } = calls.login[0];
    assert.deepEqual(body, { flow: 'f-123', instanceId: LOCAL.id, username: 'alice', password: 'secret password' });
    assert.equal(headers['x-csrf-token'], CSRF);
    assert.match(headers['content-type'], /application\/json/);
    assert.deepEqual(errors, []);
  });

  await t.test('several password instances: a "Sign in with" select; the user who is signed in', async (t) => {
    const { context, page, errors } = await newPage(browser, t, { viewport: { width: 1280, height: 800 } });
    const calls = await fakeKeyward(context, {
      ctx: contextBody({
        client: null,
        instances: [LOCAL, STAFF, GITHUB],
        user: { username: 'bob', displayName: 'Bob Builder' },
      }),
      login: () => json(200, { registerToken: 'rt', redirect: '/register?flow=f' }),
    });
    await page.goto(`${ORIGIN}/auth/flow/login`);
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(calls.context[0].search, '', 'no flow: no query');
    assert.equal((await page.locator('h1').innerText()).trim(), 'Sign in');
    assert.match(await page.locator('#signed-in').innerText(), /Signed in as Bob Builder/);
    const select = page.getByLabel('Sign in with');
    assert.ok(await select.isVisible());
    assert.deepEqual(await select.locator('option').allTextContents(), ['local', 'staff']);
    await select.selectOption({ label: 'staff' });
    // Upstream logins: a button per instance, with its name and built-in icon, that starts
    // keyward's redirect flow (no flow here: none in the link either).
    const github = page.getByRole('link', { name: 'Sign in with GitHub' });
    assert.equal(await github.count(), 1);
    assert.equal(await github.getAttribute('href'), `/auth/api/flow/redirect/${GITHUB.id}?mode=login`);
    assert.equal(await github.locator('svg.provider-icon path').count(), 1, 'the GitHub mark, drawn in the page');
    assert.ok(await page.locator('#providers-or').isVisible(), '"or" between the password form and the buttons');
    await page.screenshot({ path: '/tmp/login-mock-desktop.png', fullPage: true });

    // An identity that waits for registration: follow the redirect as well.
    await fill(page, 'bob', 'secret password');
    await page.waitForURL(`${ORIGIN}/register?flow=f`);
    assert.deepEqual(calls.login[0].body, { flow: null, instanceId: STAFF.id, username: 'bob', password: 'secret password' });
    assert.deepEqual(errors, []);
  });

  await t.test('errors: 401, 429, 403, 400, and a broken answer', async (t) => {
    const { context, page } = await newPage(browser, t);
    const answers = [
      problem(401, 'Unauthorized', 'Wrong username or password.'),
      problem(429, 'Too Many Requests', 'Too many failed attempts; wait 8 seconds.', { 'retry-after': '8' }),
      problem(403, 'Forbidden', 'This user is blocked.'),
      problem(400, 'Bad Request', 'The login flow has expired.'),
      json(200, {}),
      { status: 502, contentType: 'text/html', body: '<h1>bad gateway</h1>' },
      json(200, { redirect: `${ORIGIN}/done` }),
    ];
    const calls = await fakeKeyward(context, { ctx: contextBody({ client: { id: 'c', name: '<b>Evil</b> app' } }), login: () => answers.shift() });
    await page.goto(`${ORIGIN}/auth/flow/login?flow=f`);
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#client-name').innerText(), '<b>Evil</b> app', 'names are text, not HTML');

    const alert = page.locator('#error');
    const user = page.getByLabel('Username');
    const pass = page.getByLabel('Password', { exact: true });
    const button = page.getByRole('button', { name: 'Sign in', exact: true });

    await fill(page, 'alice', 'wrong password');
    await alert.waitFor({ state: 'visible' });
    assert.equal(await alert.innerText(), 'Wrong username or password.');
    assert.equal(await alert.getAttribute('role'), 'alert');
    assert.equal(await user.inputValue(), 'alice');
    assert.equal(await pass.inputValue(), '');
    assert.ok(await pass.evaluate((el) => el === document.activeElement));
    assert.ok(await button.isEnabled());
    await page.screenshot({ path: '/tmp/login-mock-401.png', fullPage: true });

    const expect = async (text) => {
      await pass.fill('another password');
      await button.click();
      await page.waitForFunction((t) => {
        const e = document.getElementById('error');
        return !e.classList.contains('hidden') && e.textContent.includes(t);
      }, text);
      assert.ok(await button.isEnabled(), 'the button works again');
      assert.equal(await user.inputValue(), 'alice');
    };
    await expect('Too many failed attempts; wait 8 seconds.');
    await expect('This user is blocked.');
    await expect('The login flow has expired.');
    await expect('Unexpected answer');
    await expect('(502)');
    await pass.fill('right password');
    await button.click();
    await page.waitForURL(`${ORIGIN}/done`);
    assert.equal(calls.login.length, 7);
    for (const c of calls.login) assert.equal(c.headers['x-csrf-token'], CSRF);
  });

  await t.test('an invalid or expired flow: the message, no form', async (t) => {
    const { context, page, errors } = await newPage(browser, t);
    await fakeKeyward(context, { ctx: problem(400, 'Bad Request', 'unknown or expired flow') });
    await page.goto(`${ORIGIN}/auth/flow/login?flow=gone`);
    const invalid = page.locator('#invalid');
    await invalid.waitFor({ state: 'visible' });
    assert.match(await invalid.innerText(), /invalid or expired/);
    assert.match(await invalid.innerText(), /unknown or expired flow/);
    assert.equal(await page.locator('#login').isVisible(), false);
    assert.equal(await page.locator('#loading').isVisible(), false);
    await page.screenshot({ path: '/tmp/login-mock-invalid.png', fullPage: true });
    assert.deepEqual(errors.filter((e) => !e.includes('400')), []);
  });

  await t.test('no password instance: says so, no form', async (t) => {
    const { context, page } = await newPage(browser, t);
    await fakeKeyward(context, { ctx: contextBody({ instances: [GITHUB] }) });
    await page.goto(`${ORIGIN}/auth/flow/login?flow=f`);
    await page.locator('#no-password').waitFor({ state: 'visible' });
    assert.match(await page.locator('#no-password').innerText(), /Password login is not available/);
    assert.equal(await page.locator('#login').isVisible(), false);
    // The upstream login is the way in, inside the page's flow.
    const github = page.getByRole('link', { name: 'Sign in with GitHub' });
    assert.equal(await github.getAttribute('href'), `/auth/api/flow/redirect/${GITHUB.id}?mode=login&flow=f`);
    assert.equal(await page.locator('#providers-or').isVisible(), false, 'nothing above it: no "or"');
  });

  await t.test('the context cannot be loaded', async (t) => {
    const { context, page } = await newPage(browser, t);
    await fakeKeyward(context, { ctx: problem(503, 'Service Unavailable', 'the database is not answering') });
    await page.goto(`${ORIGIN}/auth/flow/login`);
    await page.locator('#load-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#load-error').innerText(), /the database is not answering/i);
    assert.equal(await page.locator('#login').isVisible(), false);
  });
});
