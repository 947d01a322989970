"""The keyward a schemathesis run talks to: the server process, its command line and the
credentials the fuzzer sends. Shared by `fuzz.py` (which sets the server up) and `hooks.py`
(which schemathesis loads, and which asks for fresh credentials when the fuzzer has destroyed
its own). Only the standard library, so that it needs nothing besides the venv's schemathesis.
"""

import base64
import itertools
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request

# Cheap argon2 parameters, as the Rust tests use: the hashing code is the same, only faster.
FAST_HASH = ["--argon2-memory", "256", "--argon2-iterations", "1"]
ADMIN_PASSWORD = "correct horse battery"
# Every scope an operation may ask of an access token, but `login-register` (register tokens
# only). Scopes that operations name in the document's security requirements are added.
BASE_SCOPES = [
    "login",
    "openid",
    "profile",
    "email",
    "read:current_user",
    "update:current_user_identities",
    "read:users",
    "update:users",
]
# The hosted pages' cookies: the browser session, and the CSRF cookie their calls must repeat in
# the X-CSRF-Token header.
SESSION_COOKIE = "kw_session"
CSRF_COOKIE = "kw_csrf"
# A token outlives any run; the fuzzer gets a new one whenever its old one stops working.
TOKEN_TTL = "3600"


class HarnessError(Exception):
    pass


class Keyward:
    """A running keyward: `base` is its URL, `db` its database, `bin` the binary."""

    def __init__(self, bin, db, base, scopes):
        self.bin = bin
        self.db = db
        self.base = base.rstrip("/")
        self.scopes = scopes
        self.admin = None
        # The admin's user id, known once it got a working token.
        self.admin_id = None
        self._names = itertools.count(1)

    def cli(self, args, stdin=None):
        p = subprocess.run(
            [self.bin, *args, "--db", self.db],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, "KEYWARD_LOG": "warn"},
            timeout=60,
        )
        return p.returncode, p.stdout.strip(), p.stderr.strip()

    def http(self, method, path, token=None, body=None, basic=None):
        """(status, parsed JSON or None) of one request."""
        headers = {}
        data = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if basic:
            raw = f"{basic[0]}:{basic[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, None

    def create_admin(self, username):
        rc, out, err = self.cli(
            ["admin", "create", "--username", username, "--password-stdin", *FAST_HASH],
            stdin=ADMIN_PASSWORD + "\n",
        )
        if rc != 0:
            raise HarnessError(f"keyward admin create {username}: {err or out}")
        self.admin = username

    def _token(self, username):
        rc, out, err = self.cli(
            ["admin", "token", "--username", username, "--scope", " ".join(self.scopes),
             "--ttl", TOKEN_TTL]
        )
        return out if rc == 0 else None

    def _is_admin(self, token):
        """Whether the token works and is an admin's: 200 and `isAdmin`, or the status."""
        status, me = self.http("GET", "/auth/api/login/user/self", token=token)
        if status == 200 and isinstance(me, dict):
            self.admin_id = me.get("id")
            return me.get("isAdmin") is True and me.get("isBlocked") is not True
        return status

    def admin_token(self):
        """A working admin token. The fuzzer may have revoked its admin's tokens, ended its
        session, taken its admin rights, blocked, renamed or deleted it (once it has made
        another admin, keyward lets it): a new token, or else a new admin, puts it back."""
        for _ in range(2):
            token = self.admin and self._token(self.admin)
            if not token:
                break
            verdict = self._is_admin(token)
            if verdict is True:
                return token
            if verdict != 401:
                break
            # Tokens issued before a revocation are refused, and a token's `iat` is in whole
            # seconds: one minted in the second of the revocation counts as issued before it.
            time.sleep(1.1)
        self.new_admin()
        token = self._token(self.admin)
        if not token or self._is_admin(token) is not True:
            raise HarnessError(f"a new admin {self.admin} gets no working token")
        return token

    def new_admin(self):
        # A name the fuzzer took meanwhile is refused (409): the next one is tried.
        for attempt in range(3):
            try:
                self.create_admin(f"fuzz-admin-{os.getpid()}-{next(self._names)}")
                return
            except HarnessError:
                if attempt == 2:
                    raise

    def browser_session(self):
        """The admin's login through the hosted pages' call (as a browser on the login page
        makes it): the value of its session cookie, or None when the login is refused (the
        fuzzer may have changed the password, or blocked or deleted the admin)."""
        csrf = secrets.token_urlsafe(24)
        req = urllib.request.Request(
            self.base + "/auth/api/flow/login",
            data=json.dumps({"username": self.admin, "password": ADMIN_PASSWORD}).encode(),
            headers={
                "Content-Type": "application/json",
                "X-CSRF-Token": csrf,
                "Cookie": f"{CSRF_COOKIE}={csrf}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                set_cookies = r.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError:
            return None
        for c in set_cookies:
            name, _, rest = c.partition("=")
            if name == SESSION_COOKIE:
                return rest.split(";")[0]
        return None

    def client(self, token):
        """A confidential OAuth client with a fresh secret, for the operations that take
        client authentication: (id, secret). Its client-credentials user is the admin."""
        status, me = self.http("GET", "/auth/api/login/user/self", token=token)
        if status != 200:
            raise HarnessError(f"GET /auth/api/login/user/self: {status} {me}")
        status, c = self.http(
            "POST",
            "/auth/api/login/client",
            token=token,
            body={
                "name": "fuzz",
                "redirectUrls": ["http://127.0.0.1/callback"],
                "requiresSecret": True,
                "validScopes": [s for s in self.scopes if s in BASE_SCOPES],
                "clientCredentialFlowUser": me["id"],
                "allowPasswordGrant": True,
            },
        )
        if status != 201:
            raise HarnessError(f"POST /auth/api/login/client: {status} {c}")
        status, s = self.http("POST", f"/auth/api/login/client/{c['id']}/client-secret", token=token)
        if status != 201:
            raise HarnessError(f"POST client-secret: {status} {s}")
        return c["id"], s["secretText"]


def from_env():
    """The keyward that `fuzz.py` described in the environment of schemathesis."""
    kw = Keyward(
        os.environ["KW_BIN"],
        os.environ["KW_DB"],
        os.environ["KW_BASE"],
        os.environ["KW_SCOPES"].split(),
    )
    kw.admin = os.environ["KW_ADMIN"]
    return kw
