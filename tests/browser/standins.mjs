// Stand-ins for GitHub and GitLab (their real servers are out of reach here): small HTTP
// servers on 127.0.0.1 that speak the parts of their OAuth 2 and user APIs keyward uses, and
// check what keyward sends them as strictly as the real ones would, or more: the authorize
// request must carry `state` and a PKCE S256 challenge, the token request the verifier that
// matches it, the API calls the token and a User-Agent (GitHub refuses calls without one).
// Everything they refuse is recorded in `problems`, so a test can require that there were none.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const PATHS = {
  github: { authorize: '/login/oauth/authorize', token: '/login/oauth/access_token' },
  gitlab: { authorize: '/oauth/authorize', token: '/oauth/token' },
};

const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = (n = 20) => b64url(randomBytes(n));

function readBody(req) {
  return new Promise((res, rej) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (data += d));
    req.on('end', () => res(data));
    req.on('error', rej);
  });
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** A loopback port nobody listens on: a provider that is down. */
export async function closedPort() {
  const s = createServer();
  await new Promise((res, rej) => {
    s.once('error', rej);
    s.listen(0, '127.0.0.1', res);
  });
  const { port } = s.address();
  await new Promise((res) => s.close(res));
  return port;
}

/**
 * Starts a stand-in of `kind` (`github` or `gitlab`), stopped when the test `t` ends. Returns
 * an object with:
 * - `base`: its URL (GitHub's `baseUrl` and `apiUrl`; GitLab's `baseUrl`), `clientId`,
 *   `clientSecret`;
 * - `allowRedirect(uri)`: registers keyward's callback URL (as one does at the provider);
 * - `signIn(user)`: the person signed in at the provider in "the browser"
 *   (`{id, login, name, email}`; `login` is GitLab's `username`);
 * - `denyNext()`: the next authorization is refused by the person (`error=access_denied`);
 * - `failTokenNext()`: the token endpoint's next answer is an error;
 * - `problems`: what keyward sent that the provider refused; `calls`: `METHOD path` of each
 *   request; `authorizations`: the query of each authorize request.
 */
export async function startStandin(t, kind) {
  const paths = PATHS[kind];
  if (!paths) throw new Error(`no stand-in for ${kind}`);
  const clientId = `${kind}-client-${random(6)}`;
  const clientSecret = `${kind}-secret-${random(12)}`;
  const redirects = new Set();
  const codes = new Map(); // code → {challenge, redirectUri, user}
  const tokens = new Map(); // access token → user
  const problems = [];
  const calls = [];
  const authorizations = [];
  let user = null;
  let deny = false;
  let failToken = false;

  const refuse = (res, status, what) => {
    problems.push(what);
    if (res) sendJson(res, status, { error: 'invalid_request', error_description: what });
  };

  function authorize(url, res) {
    const q = url.searchParams;
    authorizations.push(q);
    const redirectUri = q.get('redirect_uri') || '';
    if (q.get('client_id') !== clientId) return refuse(res, 400, `authorize: client_id ${q.get('client_id')}`);
    if (!redirects.has(redirectUri)) return refuse(res, 400, `authorize: redirect_uri ${redirectUri} is not registered`);
    if (kind === 'gitlab' && q.get('response_type') !== 'code') return refuse(res, 400, `authorize: response_type ${q.get('response_type')}`);
    const state = q.get('state') || '';
    // At least 128 bits, however it is encoded.
    if (state.length < 22) return refuse(res, 400, `authorize: state "${state}" is missing or short`);
    if (q.get('code_challenge_method') !== 'S256') return refuse(res, 400, `authorize: code_challenge_method ${q.get('code_challenge_method')}`);
    if (!/^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') || '')) return refuse(res, 400, `authorize: code_challenge ${q.get('code_challenge')}`);
    const back = new URL(redirectUri);
    back.searchParams.set('state', state);
    if (deny) {
      deny = false;
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user has denied your application access.');
    } else {
      if (!user) return refuse(res, 400, 'authorize: nobody is signed in at the stand-in (signIn first)');
      const code = random();
      codes.set(code, { challenge: q.get('code_challenge'), redirectUri, user });
      back.searchParams.set('code', code);
    }
    res.writeHead(302, { location: back.toString() });
    res.end();
  }

  /** The client's id and secret, from HTTP Basic or the form. */
  function clientOf(req, form) {
    const auth = req.headers.authorization || '';
    if (auth.startsWith('Basic ')) {
      const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      return { id: decodeURIComponent(id || ''), secret: decodeURIComponent(secret || '') };
    }
    return { id: form.get('client_id'), secret: form.get('client_secret') };
  }

  async function token(req, res) {
    const text = await readBody(req);
    const form = (req.headers['content-type'] || '').includes('application/json')
      ? new URLSearchParams(Object.entries(JSON.parse(text || '{}')))
      : new URLSearchParams(text);
    if (kind === 'github' && !(req.headers.accept || '').includes('application/json')) {
      return refuse(res, 406, 'token: GitHub answers JSON only with Accept: application/json');
    }
    const client = clientOf(req, form);
    if (client.id !== clientId || client.secret !== clientSecret) return refuse(res, 401, 'token: wrong client credentials');
    if (form.get('grant_type') !== 'authorization_code') return refuse(res, 400, `token: grant_type ${form.get('grant_type')}`);
    const code = codes.get(form.get('code') || '');
    codes.delete(form.get('code') || '');
    if (!code) return refuse(res, 400, 'token: unknown or used code');
    if (form.get('redirect_uri') !== null && form.get('redirect_uri') !== code.redirectUri) {
      return refuse(res, 400, `token: redirect_uri ${form.get('redirect_uri')} differs from the authorize request's`);
    }
    const verifier = form.get('code_verifier') || '';
    if (b64url(createHash('sha256').update(verifier).digest()) !== code.challenge) {
      return refuse(res, 400, 'token: code_verifier does not match the code_challenge');
    }
    if (failToken) {
      failToken = false;
      // As the providers answer a code they do not accept.
      if (kind === 'github') return sendJson(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
      return sendJson(res, 400, { error: 'invalid_grant', error_description: 'The provided authorization grant is invalid.' });
    }
    const access = `${kind}-at-${random()}`;
    tokens.set(access, code.user);
    if (kind === 'github') {
      return sendJson(res, 200, { access_token: access, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    return sendJson(res, 200, {
      access_token: access,
      token_type: 'Bearer',
      expires_in: 7200,
      refresh_token: `${kind}-rt-${random()}`,
      scope: 'read_user',
      created_at: Math.floor(Date.now() / 1000),
    });
  }

  /** The user of the request's access token, or null (answered 401). */
  function bearer(req, res, what) {
    const auth = req.headers.authorization || '';
    const m = /^(?:Bearer|token) (.+)$/i.exec(auth);
    const u = m ? tokens.get(m[1]) : undefined;
    if (!u) {
      refuse(null, 401, `${what}: no valid access token`);
      sendJson(res, 401, { message: 'Bad credentials' });
      return null;
    }
    if (kind === 'github' && !req.headers['user-agent']) {
      refuse(null, 403, `${what}: no User-Agent header (GitHub refuses such calls)`);
      sendJson(res, 403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.' });
      return null;
    }
    return u;
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    calls.push(`${req.method} ${url.pathname}`);
    if (req.method === 'GET' && url.pathname === paths.authorize) return authorize(url, res);
    if (req.method === 'POST' && url.pathname === paths.token) return token(req, res);
    if (kind === 'github' && req.method === 'GET' && url.pathname === '/user') {
      const u = bearer(req, res, '/user');
      if (!u) return;
      return sendJson(res, 200, { login: u.login, id: u.id, name: u.name ?? null, email: u.publicEmail ?? null, type: 'User' });
    }
    if (kind === 'github' && req.method === 'GET' && url.pathname === '/user/emails') {
      const u = bearer(req, res, '/user/emails');
      if (!u) return;
      const list = [{ email: `${u.id}+${u.login}@users.noreply.github.com`, primary: false, verified: true, visibility: null }];
      if (u.email) list.unshift({ email: u.email, primary: true, verified: true, visibility: 'private' });
      return sendJson(res, 200, list);
    }
    if (kind === 'gitlab' && req.method === 'GET' && url.pathname === '/api/v4/user') {
      const u = bearer(req, res, '/api/v4/user');
      if (!u) return;
      return sendJson(res, 200, {
        id: u.id,
        username: u.login,
        name: u.name ?? '',
        state: 'active',
        email: u.email ?? null,
        confirmed_at: u.email ? '2024-01-01T00:00:00.000Z' : null,
      });
    }
    refuse(null, 404, `no such endpoint: ${req.method} ${url.pathname}`);
    sendJson(res, 404, { message: 'Not Found' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      problems.push(`stand-in failed: ${e.message}`);
      if (!res.headersSent) sendJson(res, 500, { message: 'stand-in failed' });
    });
  });
  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', res);
  });
  t.after(() => new Promise((res) => {
    server.closeAllConnections();
    server.close(res);
  }));

  return {
    kind,
    base: `http://127.0.0.1:${server.address().port}`,
    clientId,
    clientSecret,
    problems,
    calls,
    authorizations,
    allowRedirect(uri) {
      redirects.add(uri);
    },
    signIn(u) {
      user = u;
    },
    denyNext() {
      deny = true;
    },
    failTokenNext() {
      failToken = true;
    },
  };
}
