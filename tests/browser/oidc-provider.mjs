// A real, independent OpenID Connect provider for keyward's upstream-login tests: the npm package
// `oidc-provider` on a loopback port, with one confidential client (keyward's `oidc` instance),
// PKCE required, refresh tokens, accounts with a profile, and a small login + consent interaction
// that a test drives in Chromium. In front of it sits a tamper proxy: its URL is the issuer (so
// that `iss` and every endpoint in the discovery document name the proxy), it passes everything
// through unchanged unless a test asks it to break the ID token's signature in the token response
// or to swap the `nonce` of the authorization request.
import { createServer, request as httpRequest } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

/** The provider's accounts, by the login name typed on its sign-in page. `sub` is opaque on purpose. */
export const ACCOUNTS = {
  ada: {
    sub: 'op-7c1e2a90-ada',
    email: 'ada@analytical.example',
    email_verified: true,
    name: 'Ada Lovelace',
    preferred_username: 'ada',
  },
  grace: {
    sub: 'op-51b0d3f4-grace',
    email: 'grace@cobol.example',
    email_verified: true,
    name: 'Grace Hopper',
    preferred_username: 'grace',
  },
  alan: {
    sub: 'op-9e44f018-alan',
    email: 'alan@bletchley.example',
    email_verified: false,
    name: 'Alan Turing',
    preferred_username: 'alan',
  },
};

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** A small page without any external resource (the browser has no network beyond loopback). */
function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function listen(server) {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res(server.address().port));
  });
}

function close(server) {
  return new Promise((res) => {
    server.closeAllConnections();
    server.close(() => res());
  });
}

function readBody(req) {
  return new Promise((res, rej) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res(Buffer.concat(chunks)));
    req.on('error', rej);
  });
}

/** The same compact JWS with one bit of its signature flipped: well-formed, but no longer valid. */
export function breakSignature(jws) {
  const [h, p, s] = jws.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

/**
 * Starts the provider and its proxy. Options: `accessTokenTtl` (seconds, default 3600; a short one
 * lets a test see keyward refresh the provider token), `accounts` (default ACCOUNTS).
 *
 * Returns `{issuer, clientId, clientSecret, accounts, setRedirectUris, tamper, seen, stop}`:
 * - `issuer`: the proxy's URL, to configure keyward's `oidc` instance with;
 * - `setRedirectUris(uris)`: the client's registered redirect URIs (keyward's `callbackUrl` is
 *   only known once the instance exists, after the provider has started);
 * - `tamper`: `{idTokenSignature: false, nonce: false}`, set by a test to make the proxy lie;
 * - `seen`: `{authorizations: URL[], tokens: [{grantType, status, body}]}`: what went through.
 */
export async function startOidcProvider({ accessTokenTtl = 3600, accounts = ACCOUNTS } = {}) {
  const clientId = `keyward-${randomUUID()}`;
  const clientSecret = randomBytes(32).toString('base64url');
  let redirectUris = [];

  // The proxy's port first: it is the issuer the provider names itself by.
  const proxy = createServer();
  const proxyPort = await listen(proxy);
  const issuer = `http://127.0.0.1:${proxyPort}`;

  const bySub = new Map(Object.values(accounts).map((a) => [a.sub, a]));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

  // oidc-provider's own memory adapter (a store of this provider's only), except for the client,
  // which is read from here so that its redirect URIs can be set once keyward's instance exists.
  const memory = createMemoryAdapter();
  const adapter = (model) => {
    if (model !== 'Client') return memory(model);
    return {
      async find(id) {
        if (id !== clientId) return undefined;
        return {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: redirectUris,
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        };
      },
    };
  };

  const provider = new Provider(issuer, {
    adapter,
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
    },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const account = bySub.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ ...account }) };
    },
    // Every login of keyward's client gets a refresh token, with or without `offline_access`
    // (which the provider otherwise grants only together with prompt=consent).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 600,
      RefreshToken: 24 * 60 * 60,
      Interaction: 600,
      Session: 600,
      Grant: 24 * 60 * 60,
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Provider error', `<pre id="op-error">${escapeHtml(JSON.stringify(out))}</pre>`);
    },
  });
  provider.on('server_error', (_ctx, err) => process.stderr.write(`[oidc-provider] ${err.stack}\n`));

  // The provider's own server: oidc-provider plus the interaction pages.
  const oidcCallback = provider.callback();
  const op = createServer((req, res) => {
    const m = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(new URL(req.url, issuer).pathname);
    if (!m) return oidcCallback(req, res);
    interaction(req, res, m[2]).catch((e) => {
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page('Interaction failed', `<p id="op-error">${escapeHtml(e.message)}</p>`));
      }
    });
  });
  const opPort = await listen(op);

  async function interaction(req, res, action) {
    const details = await provider.interactionDetails(req, res);
    const { uid, prompt, params, session } = details;
    const html = (title, body, status = 200) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page(title, body));
    };
    if (req.method === 'GET') {
      if (prompt.name === 'login') return html('Sign in to the provider', loginForm(uid));
      return html('Allow access', consentForm(uid, params));
    }
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    if (action === 'abort') {
      return provider.interactionFinished(
        req, res, { error: 'access_denied', error_description: 'the user said no' }, { mergeWithLastSubmission: false },
      );
    }
    if (action === 'login' && prompt.name === 'login') {
      const account = accounts[form.get('login') || ''];
      if (!account) return html('Sign in to the provider', loginForm(uid, 'No such account.'), 400);
      return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
    }
    if (action === 'confirm' && prompt.name === 'consent') {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    return html('Unexpected step', `<p id="op-error">${escapeHtml(prompt.name)} / ${escapeHtml(action)}</p>`, 400);
  }

  function loginForm(uid, error) {
    return `${error ? `<p id="op-error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="op-login">Account</label> <input id="op-login" name="login" autocomplete="off" autofocus>
<button type="submit">Continue to the app</button></form>`;
  }

  function consentForm(uid, params) {
    return `<p>The app asks for: <span id="op-scopes">${escapeHtml(params.scope || '')}</span></p>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Deny</button></form>`;
  }

  // The proxy: forwards every request with its Host header unchanged, so that the provider names
  // the proxy in its URLs; rewrites only what a test asked for.
  const tamper = { idTokenSignature: false, nonce: false };
  const seen = { authorizations: [], tokens: [] };
  proxy.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      const body = await readBody(req);
      let path = req.url;
      if (url.pathname === '/auth') {
        seen.authorizations.push(new URL(url));
        if (tamper.nonce && url.searchParams.has('nonce')) {
          url.searchParams.set('nonce', randomBytes(16).toString('base64url'));
          path = url.pathname + url.search;
        }
      }
      const upstream = await new Promise((resolve, reject) => {
        const r = httpRequest(
          { host: '127.0.0.1', port: opPort, method: req.method, path, headers: req.headers },
          resolve,
        );
        r.on('error', reject);
        r.end(body);
      });
      if (url.pathname !== '/token') {
        res.writeHead(upstream.statusCode, upstream.headers);
        upstream.pipe(res);
        return;
      }
      let answer = await readBody(upstream);
      const record = { grantType: new URLSearchParams(body.toString('utf8')).get('grant_type'), status: upstream.statusCode, body: null };
      try {
        record.body = JSON.parse(answer.toString('utf8'));
      } catch {
        // not JSON: recorded as null
      }
      if (tamper.idTokenSignature && record.body?.id_token) {
        answer = Buffer.from(JSON.stringify({ ...record.body, id_token: breakSignature(record.body.id_token) }));
      }
      seen.tokens.push(record);
      const headers = { ...upstream.headers, 'content-length': String(answer.length) };
      delete headers['transfer-encoding'];
      res.writeHead(upstream.statusCode, headers);
      res.end(answer);
    } catch (e) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${e.message}`);
    }
  });

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    tamper,
    seen,
    setRedirectUris(uris) {
      redirectUris = [...uris];
    },
    async stop() {
      await Promise.all([close(proxy), close(op)]);
    },
  };
}

/** A provider for one test, stopped when the test ends, pass or fail. */
export async function oidcProviderFor(t, opts) {
  const op = await startOidcProvider(opts);
  t.after(() => op.stop());
  return op;
}

/** Signs in on the provider's pages in Chromium: types the account, then allows (or denies) access. */
export async function providerSignIn(page, login, { deny = false } = {}) {
  await page.locator('#op-login').waitFor({ state: 'visible' });
  await page.getByLabel('Account').fill(login);
  await page.getByRole('button', { name: 'Continue to the app' }).click();
  await page.getByRole('button', { name: deny ? 'Deny' : 'Allow' }).click();
}
