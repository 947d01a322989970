// Shared pieces of keyward's end-to-end tests: a fresh server per test, its CLI, Chromium.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.KEYWARD_BIN || join(REPO, 'target', 'debug', 'keyward');
export const CHROMIUM = process.env.KEYWARD_CHROMIUM || '/usr/bin/chromium';

/** Cheap password hashing: the tests check behaviour, not hash strength. */
const ARGON2 = ['--argon2-memory', '256', '--argon2-iterations', '1'];
const START_TIMEOUT_MS = 30_000;
const CLI_TIMEOUT_MS = 30_000;

const LISTENING = /^keyward listening on (http:\/\/127\.0\.0\.1:\d+) \(public URL (.*)\)\s*$/;

function childEnv() {
  return { ...process.env, KEYWARD_LOG: 'warn' };
}

/**
 * Starts `keyward serve` on a free loopback port with a fresh database.
 * Returns `{base, publicUrl, dbPath, dir, lines, stderr, waitForLine, cli, stop}`: `base` is the
 * listening address, `publicUrl` the one the server names itself by (the origin of passkeys);
 * `lines` keeps growing with the server's later stdout lines (the setup link among them).
 */
export async function startServer({ extraArgs = [] } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-test-'));
  const dbPath = join(dir, 'keyward.db');
  const args = ['serve', '--listen', '127.0.0.1:0', '--db', dbPath, ...ARGON2, ...extraArgs];
  const child = spawn(BIN, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const stderr = [];
  const waiters = new Set();
  let exited = null;

  const exitPromise = new Promise((res) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      for (const w of waiters) w.fail(new Error(`keyward exited (${signal || code}) before the line appeared`));
      res(exited);
    });
  });
  const spawnError = new Promise((_, rej) => child.once('error', rej));
  spawnError.catch(() => {});

  createInterface({ input: child.stderr }).on('line', (l) => {
    stderr.push(l);
    if (process.env.KEYWARD_TEST_VERBOSE) process.stderr.write(`[keyward] ${l}\n`);
  });
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters) w.check();
  });

  /** Resolves with the first stdout line (seen so far or later) matching `re`. */
  function waitForLine(re, timeoutMs = START_TIMEOUT_MS) {
    return new Promise((res, rej) => {
      const w = {
        check() {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) {
            done();
            res(hit);
          }
        },
        fail(e) {
          done();
          rej(e);
        },
      };
      const timer = setTimeout(
        () => w.fail(new Error(`no line matching ${re} within ${timeoutMs} ms; stdout:\n${lines.join('\n')}\nstderr:\n${stderr.join('\n')}`)),
        timeoutMs,
      );
      function done() {
        clearTimeout(timer);
        waiters.delete(w);
      }
      waiters.add(w);
      if (exited) w.fail(new Error(`keyward has exited (${exited.signal || exited.code})`));
      else w.check();
    });
  }

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitPromise;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  }

  let listening;
  try {
    listening = await Promise.race([waitForLine(LISTENING), spawnError]);
  } catch (e) {
    await stop().catch(() => {});
    throw new Error(`keyward did not start (${BIN}): ${e.message}\nstderr:\n${stderr.join('\n')}`);
  }
  const [, base, publicUrl] = LISTENING.exec(listening);

  /** Runs the binary with `args` plus `--db <dbPath>`; `stdin` is written and closed. */
  function cli(cliArgs, stdin = '') {
    return runBinary([...cliArgs, '--db', dbPath], stdin);
  }

  return { base, publicUrl, dbPath, dir, lines, stderr, waitForLine, cli, stop, process: child };
}

/** Runs the keyward binary once and collects its output. */
export function runBinary(args, stdin = '') {
  return new Promise((res, rej) => {
    const child = spawn(BIN, args, { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`keyward ${args.join(' ')} timed out`));
    }, CLI_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the binary may exit before reading everything
    child.stdin.end(stdin);
  });
}

/** `keyward admin create` with the password on stdin; throws when it fails. */
export async function createAdmin(server, username, password) {
  const r = await server.cli(
    ['admin', 'create', '--username', username, '--password-stdin', ...ARGON2],
    password + '\n',
  );
  if (r.code !== 0) throw new Error(`admin create failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

/** An access token printed by `keyward admin token`; throws when it fails. */
export async function token(server, username, scope = 'login') {
  const r = await server.cli(['admin', 'token', '--username', username, '--scope', scope]);
  if (r.code !== 0) throw new Error(`admin token failed (${r.code}): ${r.stderr}${r.stdout}`);
  const t = r.stdout.trim();
  if (!t) throw new Error('admin token printed nothing');
  return t;
}

/**
 * A JSON call to the server: `{status, headers, body, text}`; `body` is the parsed JSON or null.
 */
export async function api(server, method, path, { bearer, body, headers = {} } = {}) {
  const h = { accept: 'application/json', ...headers };
  if (bearer) h.authorization = `Bearer ${bearer}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const r = await fetch(server.base + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: r.status, headers: r.headers, body: json, text };
}

/** Chromium from the system, headless; never a downloaded browser. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A server for one test, stopped when the test ends, pass or fail. */
export async function serverFor(t, opts) {
  const server = await startServer(opts);
  t.after(() => server.stop());
  return server;
}

/** A browser for one test, closed when the test ends, pass or fail. */
export async function browserFor(t) {
  const browser = await launchBrowser();
  t.after(() => browser.close());
  return browser;
}

/** A phone-sized browser context (iPhone 12-ish). */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** The setup link the server printed, or it fails after a while. */
export async function setupLink(server) {
  const line = await server.waitForLine(/#token=/);
  const m = /(https?:\/\/\S+#token=\S+)/.exec(line);
  if (!m) throw new Error(`no link in ${line}`);
  return m[1];
}

/** Collects a page's script errors and console errors (a CSP violation shows up there). */
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/**
 * A page of a fresh browser context (closed when the test ends), with its errors collected:
 * `{context, page, errors}`.
 */
export async function pageFor(browser, t, options = {}) {
  const context = await browser.newContext(options);
  t.after(() => context.close().catch(() => {}));
  const page = await context.newPage();
  return { context, page, errors: watchErrors(page) };
}

/** Fills and submits the hosted login form. */
export async function fillLogin(page, username, password) {
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  // exact: the page also has a "Sign in with a passkey" button.
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** How many pixels the page scrolls sideways (0 when it fits the window). */
export function sidewaysOverflow(page) {
  return page.evaluate(() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth));
}

/**
 * A relying party's redirect endpoint: a small HTTP server on a loopback port (path `/cb`)
 * that records every request and answers with a small page; stopped when the test ends.
 * `uri` is its address; `next()` resolves with the next URL it got.
 */
export async function redirectCatcher(t) {
  const { createServer } = await import('node:http');
  const caught = [];
  const waiting = [];
  const server = createServer((req, res) => {
    const url = `http://127.0.0.1:${server.address().port}${req.url}`;
    if (new URL(url).pathname !== '/cb') {
      res.writeHead(404).end();
      return;
    }
    const w = waiting.shift();
    if (w) w(url);
    else caught.push(url);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>cb</title><link rel="icon" href="data:,"><p>back at the app</p>');
  });
  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', res);
  });
  t.after(() => new Promise((res) => { server.closeAllConnections(); server.close(res); }));
  return {
    uri: `http://127.0.0.1:${server.address().port}/cb`,
    next(timeoutMs = 15_000) {
      if (caught.length) return Promise.resolve(caught.shift());
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no request to the redirect URI within ${timeoutMs} ms`)), timeoutMs);
        waiting.push((u) => {
          clearTimeout(timer);
          res(u);
        });
      });
    },
  };
}

/** The id of the default password instance (`local`), from the public instance list. */
export async function localInstanceId(server) {
  const r = await api(server, 'GET', '/auth/api/login/strategy-instance');
  if (r.status !== 200) throw new Error(`GET /strategy-instance: ${r.status} ${r.text}`);
  const local = r.body.find((i) => i.type === 'userpass' && i.name === 'local') || r.body.find((i) => i.type === 'userpass');
  if (!local) throw new Error('no userpass instance');
  return local.id;
}

/** Fails clearly when `GET /account` does not serve the account page. */
export async function expectAccountPage(server) {
  const r = await fetch(server.base + '/account', { redirect: 'manual' });
  const type = r.headers.get('content-type') || '';
  await r.body?.cancel();
  if (r.status !== 200 || !type.startsWith('text/html')) {
    throw new Error(`GET /account answers ${r.status} (${type}), not the account page: the route does not reach assets::handle`);
  }
}

/** A free port of 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** tests/common/smtp_server.py (aiosmtpd, from tests/.venv) on a free port, stopped with the
 *  test: `{url, messages()}`. */
export async function smtpServer(t) {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-smtp-'));
  const port = await freePort();
  const child = spawn(join(REPO, 'tests/.venv/bin/python'), [join(REPO, 'tests/common/smtp_server.py'), '--port', String(port), '--dir', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(async () => {
    child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });
  const ready = await new Promise((res, rej) => {
    child.once('error', rej);
    child.once('exit', (code) => rej(new Error(`the SMTP server exited (${code}): is tests/.venv made (tests/run)?`)));
    createInterface({ input: child.stdout }).once('line', res);
  });
  if (ready !== 'ready') throw new Error(`the SMTP server said ${ready}`);
  const messages = async () => Promise.all((await readdir(dir)).sort().map((f) => readFile(join(dir, f), 'utf8')));
  return { url: `smtp://127.0.0.1:${port}`, messages };
}
