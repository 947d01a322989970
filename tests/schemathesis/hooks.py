"""schemathesis hooks for keyward (loaded through SCHEMATHESIS_HOOKS by fuzz.py).

Credentials: every operation gets what its `security` in the document asks for: a Bearer token
of an admin (with every scope an operation may need), an OAuth client's Basic credentials, the
hosted pages' CSRF token (cookie and header) and the admin's browser session cookie.
The fuzzer calls destructive operations with its own ids (schemathesis reads the user id out of
the token), so it revokes its own tokens, ends its own session, and, once it has made a second
admin, demotes, blocks or deletes its own. A 401 or 403 therefore makes schemathesis ask for
fresh credentials and send the request again (`retry_on`); `harness.Keyward.admin_token` mints a
new token, or makes a new admin when the old one is gone, and logs in on the pages again. A request that is refused again with
the fresh credentials keeps its answer, and its operation is not retried again: its 401 or 403
is then the server's verdict on the request itself, so nothing that would be a finding is hidden.

User ids: see `flatmap_path_parameters`. Client addresses: see `before_call`.
"""

import base64
import json
import os
import random
import secrets
import sys

import schemathesis
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

KEYWARD = harness.from_env()
with open(os.environ["KW_DOC"]) as f:
    DOC = json.load(f)
SCHEMES = DOC.get("components", {}).get("securitySchemes", {})
WANT_CLIENT = os.environ.get("KW_CLIENT") == "1"
WANT_SESSION = os.environ.get("KW_SESSION") == "1"
RENEWALS = os.environ["KW_RENEWALS"]


def credential(name, data):
    """(where, name, value) of the credential the security scheme `name` asks for, or None
    when the run has none for it."""
    s = SCHEMES.get(name, {})
    kind = s.get("type")
    if kind in ("oauth2", "openIdConnect") or (kind == "http" and s.get("scheme", "").lower() == "bearer"):
        return ("header", "Authorization", f"Bearer {data['bearer']}")
    if kind == "http" and s.get("scheme", "").lower() == "basic":
        if not data["client"]:
            return None
        raw = "{}:{}".format(*data["client"]).encode()
        return ("header", "Authorization", "Basic " + base64.b64encode(raw).decode())
    if kind == "apiKey":
        if s.get("in") == "cookie" and s.get("name") == harness.SESSION_COOKIE:
            value = data["session"]
        else:
            # The hosted pages' CSRF token: one value, as cookie and as header alike.
            value = data["csrf"]
        return (s.get("in"), s.get("name"), value) if value else None
    return None


@schemathesis.auth(refresh_interval=3600, retry_on=[401, 403])
class KeywardAuth:
    def get(self, case, ctx):
        token = KEYWARD.admin_token()
        client = KEYWARD.client(token) if WANT_CLIENT else None
        session = None
        if WANT_SESSION:
            session = KEYWARD.browser_session()
            if session is None:
                KEYWARD.new_admin()
                token = KEYWARD.admin_token()
                session = KEYWARD.browser_session()
                if session is None:
                    raise harness.HarnessError(f"{KEYWARD.admin} cannot log in on the pages")
        with open(RENEWALS, "a") as f:
            f.write(f"{KEYWARD.admin}\n")
        return {"bearer": token, "client": client, "session": session,
                "csrf": secrets.token_urlsafe(24)}

    def set(self, case, data, ctx):
        security = ctx.operation.definition.raw.get("security", DOC.get("security", []))
        # The first way of authenticating that the run has every credential for.
        for requirement in security:
            found = [credential(name, data) for name in requirement]
            if all(found):
                break
        else:
            return
        places = {"header": dict(case.headers or {}), "cookie": dict(case.cookies or {}),
                  "query": dict(case.query or {})}
        for where, name, value in found:
            places[where][name] = value
        case.headers, case.cookies, case.query = places["header"], places["cookie"], places["query"]


# Password and code checks and new password identities are throttled per client address (30 a
# minute), and one fuzzer on one address would spend that budget within seconds and then see
# only 429s: the handlers behind the throttle would go untested. So the server trusts 127.0.0.1
# as a reverse proxy (`--trusted-proxies`, as a deployment behind one does), and each request
# says it comes from one of 254 documentation addresses. That is honest: the throttle stays on
# and is fuzzed as it is (per identity as always, per address over these 254, whose 429 answers
# are documented and checked like any other), the proxy path of the address code is exercised,
# and the fuzzer's requests are spread the way real clients behind a proxy are.
@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = dict(case.headers or {})
    headers["X-Forwarded-For"] = f"198.51.100.{random.randint(1, 254)}"
    case.headers = headers


# A user id is a random UUID that the fuzzer cannot guess, and until other operations have
# answered with ids, it would only ever see 404s on a user's operations (the identities API has
# no operation that lists users). So a user's `{id}` is, in half of the generated cases, the
# fuzzer's own admin's: the operations' success paths are then fuzzed too.
@schemathesis.hook
def flatmap_path_parameters(ctx, path_parameters):
    path = ctx.operation.path if ctx.operation is not None else ""
    segments = path.split("/")
    names = [
        segments[i][1:-1]
        for i in range(1, len(segments))
        if segments[i - 1] in ("user", "users") and segments[i].startswith("{")
    ]
    own = KEYWARD.admin_id
    if not own or not names or not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **{n: own for n in names}}])
