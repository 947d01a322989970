// Access tokens from the CLI verify with an independent JOSE library against the published JWKS,
// before and after a key rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as jose from 'jose';
import { api, createAdmin, serverFor, token } from './harness.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function verify(server, jwt, jwks) {
  return jose.jwtVerify(jwt, jwks, { issuer: server.publicUrl, audience: server.publicUrl, typ: 'at+jwt' });
}

function remoteJwks(server) {
  return jose.createRemoteJWKSet(new URL(server.base + '/.well-known/jwks.json'));
}

function checkClaims(payload, header, userId) {
  assert.equal(payload.sub, userId);
  assert.match(payload.sid, UUID, 'sid is the active login id');
  assert.equal(typeof payload.jti, 'string');
  assert.ok(payload.jti.length >= 16, 'jti is unique enough');
  assert.equal(payload.scope, 'login');
  for (const c of ['exp', 'nbf', 'iat']) assert.ok(Number.isInteger(payload[c]), `${c} is a number`);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(payload.iat <= now + 5 && payload.iat >= now - 60, 'iat is now');
  assert.ok(payload.nbf <= now + 5, 'nbf is not in the future');
  assert.ok(payload.exp > now && payload.exp <= payload.iat + 86_400, 'exp is ahead, at most a day');
  assert.equal(typeof header.kid, 'string');
  assert.equal(header.typ, 'at+jwt');
}

test('CLI access tokens verify against the JWKS, across a key rotation', async (t) => {
  const server = await serverFor(t);
  await createAdmin(server, 'admin', 'correct horse battery');
  const first = await token(server, 'admin');

  const self = await api(server, 'GET', '/auth/api/login/user/self', { bearer: first });
  assert.equal(self.status, 200, self.text);
  const userId = self.body.id;
  assert.match(userId, UUID);

  const jwks = await api(server, 'GET', '/.well-known/jwks.json');
  assert.equal(jwks.status, 200);
  assert.ok(Array.isArray(jwks.body.keys) && jwks.body.keys.length >= 1);
  for (const k of jwks.body.keys) {
    assert.equal(k.use, 'sig');
    assert.equal(typeof k.kid, 'string');
    assert.equal(typeof k.alg, 'string');
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `no private part ${priv}`);
  }

  const v1 = await verify(server, first, remoteJwks(server));
  checkClaims(v1.payload, v1.protectedHeader, userId);

  // A tampered token is refused.
  const [h, p, s] = first.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  claims.scope = 'login read:users';
  const forged = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
  await assert.rejects(verify(server, forged, remoteJwks(server)), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });

  // Rotate to an EdDSA key: new tokens use it; the old key stays published.
  const rot = await server.cli(['keys', 'rotate', '--alg', 'EdDSA']);
  assert.equal(rot.code, 0, rot.stderr);
  const second = await token(server, 'admin');
  const h2 = jose.decodeProtectedHeader(second);
  assert.equal(h2.alg, 'EdDSA');
  assert.notEqual(h2.kid, v1.protectedHeader.kid, 'a new key signs');

  // The running server picks up a key rotated by the CLI within a few seconds (it rereads the
  // key table every 2 s); tokens the server itself signs switch at the same moment.
  let after;
  let kids = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(200)) {
    after = await api(server, 'GET', '/.well-known/jwks.json');
    kids = after.body.keys.map((k) => k.kid);
    if (kids.includes(h2.kid)) break;
  }
  assert.ok(kids.includes(v1.protectedHeader.kid), 'the old key is still published');
  assert.ok(kids.includes(h2.kid), 'the new key is published');
  const okp = after.body.keys.find((k) => k.kid === h2.kid);
  assert.equal(okp.kty, 'OKP');
  assert.equal(okp.crv, 'Ed25519');
  assert.equal(okp.alg, 'EdDSA');

  // A fresh key set instance fetches the JWKS again and verifies both.
  const fresh = remoteJwks(server);
  const v2 = await verify(server, second, fresh);
  checkClaims(v2.payload, v2.protectedHeader, userId);
  assert.notEqual(v2.payload.jti, v1.payload.jti);
  const v1again = await verify(server, first, fresh);
  assert.equal(v1again.payload.jti, v1.payload.jti);

  // Both still work on keyward's own endpoints.
  for (const tok of [first, second]) {
    const r = await api(server, 'GET', '/auth/api/login/user/self', { bearer: tok });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.id, userId);
  }
});
