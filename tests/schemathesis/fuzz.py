"""Runs schemathesis over keyward's whole OpenAPI document (see `run` beside this file).

It starts a fresh keyward on a free port with a fresh database, creates an admin, checks the
served document with openapi-spec-validator, and runs schemathesis over every operation with
the checks `not_a_server_error` and `response_schema_conformance`. It fails on any finding, when
an operation of the document got no answer at all or only 429s, when the fuzzer's credentials
could not be renewed, and when the server logged an error or panicked. It prints how many
operations and test cases really ran.

Environment: KEYWARD_BIN (default target/debug/keyward), KEYWARD_FUZZ_EXAMPLES (test cases per
operation and phase, default 50), KEYWARD_FUZZ_SEED (to replay a run), KEYWARD_FUZZ_TIMEOUT
(seconds the schemathesis run may take, default 300), KEYWARD_FUZZ_REPORT (where schemathesis'
JSON and NDJSON reports and the server's log are kept, default target/schemathesis).
"""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def start_server(bin, db, log):
    """Starts `keyward serve` and returns (process, base URL)."""
    proc = subprocess.Popen(
        [bin, "serve", "--listen", "127.0.0.1:0", "--db", db, "--log-format", "json",
         # The fuzzer's requests come through 127.0.0.1 as a proxy: see hooks.before_call.
         "--trusted-proxies", "127.0.0.1", *harness.FAST_HASH],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "KEYWARD_LOG": "warn"},
    )
    found = []

    def read():
        for line in proc.stdout:
            if line.startswith("keyward listening on ") and not found:
                found.append(line.split()[3])
                ready.set()
        ready.set()

    ready = threading.Event()
    threading.Thread(target=read, daemon=True).start()
    ready.wait(30)
    if not found:
        proc.kill()
        raise harness.HarnessError("keyward did not start")
    return proc, found[0]


def operations(doc):
    return sorted(
        (method.upper(), path)
        for path, item in doc.get("paths", {}).items()
        for method in item
        if method in METHODS
    )


def scopes(doc):
    """The base scopes and any that an operation's security requirement names."""
    out = list(harness.BASE_SCOPES)
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if method not in METHODS:
                continue
            for requirement in op.get("security", []):
                for names in requirement.values():
                    out.extend(s for s in names if s not in out)
    return out


def wants_session(doc):
    """Whether some security scheme is the hosted pages' session cookie."""
    schemes = doc.get("components", {}).get("securitySchemes", {}).values()
    return any(
        s.get("type") == "apiKey" and s.get("in") == "cookie" and s.get("name") == harness.SESSION_COOKIE
        for s in schemes
    )


def wants_client(doc):
    """Whether some operation takes HTTP Basic (OAuth client) authentication."""
    schemes = doc.get("components", {}).get("securitySchemes", {})
    basic = {n for n, s in schemes.items() if s.get("type") == "http" and s.get("scheme", "").lower() == "basic"}
    return any(
        name in basic
        for item in doc.get("paths", {}).values()
        for method, op in item.items()
        if method in METHODS
        for requirement in op.get("security", [])
        for name in requirement
    )


def answers_per_operation(ndjson):
    """(method, path template) -> Counter of the statuses the server answered."""
    seen = collections.defaultdict(collections.Counter)
    with open(ndjson) as f:
        for line in f:
            event = json.loads(line)
            done = event.get("ScenarioFinished")
            if not done:
                continue
            recorder = done.get("recorder", {})
            cases = recorder.get("cases", {})
            for case_id, interaction in recorder.get("interactions", {}).items():
                case = cases.get(case_id, {}).get("value", {})
                response = interaction.get("response")
                if case and response:
                    seen[(case["method"].upper(), case["path"])][response["status_code"]] += 1
    return seen


def server_errors(log_path):
    """Error lines and panics the server logged."""
    bad = []
    with open(log_path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            try:
                entry = json.loads(line)
                level, target = entry.get("level"), entry.get("target", "")
            except ValueError:
                level, target = None, ""
            # hyper's own parse errors of malformed requests are logged by warp at ERROR too;
            # they never reach keyward's code (hyper answers 400 itself).
            if (level == "ERROR" and target.startswith("keyward")) or "panicked" in line:
                bad.append(line)
    return bad


def main():
    bin = os.environ.get("KEYWARD_BIN", os.path.join(ROOT, "target", "debug", "keyward"))
    examples = os.environ.get("KEYWARD_FUZZ_EXAMPLES", "50")
    limit = int(os.environ.get("KEYWARD_FUZZ_TIMEOUT", "300"))
    report = os.path.abspath(
        os.environ.get("KEYWARD_FUZZ_REPORT") or os.path.join(ROOT, "target", "schemathesis")
    )
    problems = []
    with tempfile.TemporaryDirectory(prefix="keyward-fuzz-") as tmp:
        db = os.path.join(tmp, "keyward.db")
        log_path = os.path.join(tmp, "server.log")
        with open(log_path, "w") as log:
            server, base = start_server(bin, db, log)
        try:
            kw = harness.Keyward(bin, db, base, [])
            status, doc = kw.http("GET", "/api/openapi.json")
            if status != 200:
                raise harness.HarnessError(f"GET /api/openapi.json answered {status}")
            ops = operations(doc)

            from openapi_spec_validator import validate

            try:
                validate(doc)
            except Exception as e:
                raise harness.HarnessError(f"the served document is not valid OpenAPI: {e}")
            print(f"openapi-spec-validator: the served document is valid OpenAPI "
                  f"{doc['openapi']} ({len(ops)} operations)")

            kw.scopes = scopes(doc)
            kw.create_admin("fuzz-admin")
            doc_path = os.path.join(tmp, "openapi.json")
            with open(doc_path, "w") as f:
                json.dump(doc, f)
            renewals = os.path.join(tmp, "renewals")
            open(renewals, "w").close()
            # The reports of an earlier run must not pass for this one's.
            for name in ("run.json", "events.ndjson", "server.log"):
                if os.path.exists(os.path.join(report, name)):
                    os.remove(os.path.join(report, name))
            cmd = [
                os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run",
                # From the file, with the server as base URL: loaded from its own URL,
                # schemathesis would leave that operation out.
                doc_path, "--url", base,
                "--checks", "not_a_server_error,response_schema_conformance",
                "--max-examples", examples,
                "--request-timeout", "10",
                "--generation-database", "none",
                "--no-color",
                "--report", "json,ndjson",
                "--report-dir", report,
                "--report-json-path", os.path.join(report, "run.json"),
                "--report-ndjson-path", os.path.join(report, "events.ndjson"),
            ]
            if os.environ.get("KEYWARD_FUZZ_SEED"):
                cmd += ["--seed", os.environ["KEYWARD_FUZZ_SEED"]]
            env = {
                **os.environ,
                "SCHEMATHESIS_HOOKS": os.path.join(HERE, "hooks.py"),
                "KW_BIN": bin,
                "KW_DB": db,
                "KW_BASE": base,
                "KW_SCOPES": " ".join(kw.scopes),
                "KW_ADMIN": kw.admin,
                "KW_DOC": doc_path,
                "KW_CLIENT": "1" if wants_client(doc) else "0",
                "KW_SESSION": "1" if wants_session(doc) else "0",
                "KW_RENEWALS": renewals,
            }
            sys.stdout.flush()
            # Run in the temporary folder: schemathesis and hypothesis leave caches in theirs.
            try:
                code = subprocess.run(cmd, cwd=tmp, env=env, timeout=limit).returncode
            except subprocess.TimeoutExpired:
                raise harness.HarnessError(
                    f"schemathesis took longer than {limit} s; lower KEYWARD_FUZZ_EXAMPLES"
                )
            if code != 0:
                problems.append(f"schemathesis exited with {code} (findings above)")

            with open(os.path.join(report, "run.json")) as f:
                run = json.load(f)
            answers = answers_per_operation(os.path.join(report, "events.ndjson"))
            requests = sum(sum(c.values()) for c in answers.values())
            with open(renewals) as f:
                renewed = max(0, len(f.read().splitlines()) - 1)

            print()
            print("operation answers (status x count):")
            for op in ops:
                c = answers.get(op, collections.Counter())
                statuses = " ".join(f"{s}x{n}" for s, n in sorted(c.items()))
                print(f"  {op[0]:6} {op[1]:60} {sum(c.values()):5}  {statuses}")
                if not c:
                    problems.append(f"{op[0]} {op[1]} got no answer")
                elif set(c) == {429}:
                    problems.append(f"{op[0]} {op[1]} got only 429 answers")
            tested = run["operations"]["tested"]
            if tested < len(ops):
                problems.append(f"schemathesis tested {tested} operations of the {len(ops)} listed")
            if run["auth"]["reauth_broke"]:
                problems.append("the fuzzer's credentials could not be renewed")
            errors = server_errors(log_path)
            if errors:
                problems.append("the server logged errors or panicked:\n    " + "\n    ".join(errors[:20]))
            print(
                f"schemathesis executed {tested} of {len(ops)} operations: "
                f"{run['test_cases']['generated']} test cases, {requests} requests answered, "
                f"credentials renewed {renewed} times ({run['auth']['reauth_count']} requests "
                f"replayed with them); seed {run['seed']}"
            )
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
            os.makedirs(report, exist_ok=True)
            shutil.copy(log_path, report)
    if problems:
        print("schemathesis run FAILED:")
        for p in problems:
            print(f"  - {p}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except harness.HarnessError as e:
        print(f"schemathesis run FAILED: {e}")
        sys.exit(1)
