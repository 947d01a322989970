#!/usr/bin/env python3
"""Helpers of bench/run, standard library only.

  kwbench.py freeport                       print a free TCP port on 127.0.0.1
  kwbench.py wait URL SECONDS               wait until URL/healthz answers 200
  kwbench.py setup URL ADMIN_TOKEN DIR      users, an OAuth client and its secret -> DIR/setup.json
  kwbench.py tokens URL DIR N FILE          N refresh tokens from N password logins -> FILE
  kwbench.py cpu PID                        CPU seconds of PID and of the machine, as JSON
  kwbench.py idle SECONDS PERCENT           wait (bounded) until the CPUs are under PERCENT busy
  kwbench.py rss PID                        VmRSS and VmHWM of PID in KiB, as JSON
  kwbench.py report DIR                     the results table from DIR/*.json
"""

import base64
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

USER_PREFIX = "bench-u"
PASSWORD = "bench-password-Correct-1"


def conn_for(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def call(url, method, path, body=None, headers=None, form=False):
    c = conn_for(url)
    h = dict(headers or {})
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return r.status, parsed


def expect(status, want, what, body):
    if status != want:
        sys.exit(f"kwbench: {what}: HTTP {status} (wanted {want}): {body}")


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def wait(url, seconds):
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            status, _ = call(url, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"kwbench: {url}/healthz did not answer within {seconds} s")


def setup(url, admin_token, out_dir):
    users = int(os.environ.get("BENCH_USERS", "16"))
    auth = {"Authorization": f"Bearer {admin_token}"}

    def make_user(name):
        status, body = call(url, "POST", "/auth/api/login/user",
                            {"username": name, "displayName": name, "password": PASSWORD}, auth)
        expect(status, 201, f"create user {name}", body)
        return body["id"]

    names = [f"{USER_PREFIX}{i:02d}" for i in range(1, users + 1)] + ["bench-cc"]
    # Two at a time: each creation hashes a password, and the server hashes two at once.
    with ThreadPoolExecutor(2) as ex:
        ids = list(ex.map(make_user, names))
    cc_user = ids[-1]
    status, client = call(url, "POST", "/auth/api/login/client", {
        "name": "bench",
        "requiresSecret": True,
        "validScopes": ["login"],
        "clientCredentialFlowUser": cc_user,
        "allowPasswordGrant": True,
    }, auth)
    expect(status, 201, "create client", client)
    status, secret = call(url, "POST", f"/auth/api/login/client/{client['id']}/client-secret",
                          None, auth)
    expect(status, 201, "create client secret", secret)
    basic = base64.b64encode(f"{client['id']}:{secret['secretText']}".encode()).decode()
    # One of each grant, so a broken setup fails here and not as a table of errors.
    h = {"Authorization": f"Basic {basic}"}
    status, body = call(url, "POST", "/auth/oauth/token", {"grant_type": "client_credentials"}, h, form=True)
    expect(status, 200, "client_credentials grant", body)
    status, body = call(url, "POST", "/auth/oauth/token", {
        "grant_type": "password", "username": names[0], "password": PASSWORD}, h, form=True)
    expect(status, 200, "password grant", body)
    user_token = body["access_token"]
    status, body = call(url, "POST", "/auth/oauth/token", {
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"]}, h, form=True)
    expect(status, 200, "refresh_token grant", body)
    status, body = call(url, "GET", "/auth/api/login/user/self", None,
                        {"Authorization": f"Bearer {user_token}"})
    expect(status, 200, "GET /auth/api/login/user/self", body)
    with open(os.path.join(out_dir, "setup.json"), "w") as f:
        json.dump({"client_id": client["id"], "basic": basic, "users": users,
                   "user_prefix": USER_PREFIX, "password": PASSWORD,
                   "user_token": user_token}, f)


def tokens(url, out_dir, n, path):
    with open(os.path.join(out_dir, "setup.json")) as f:
        s = json.load(f)
    h = {"Authorization": f"Basic {s['basic']}"}

    def login(i):
        name = f"{s['user_prefix']}{i % s['users'] + 1:02d}"
        status, body = call(url, "POST", "/auth/oauth/token", {
            "grant_type": "password", "username": name, "password": s["password"]}, h, form=True)
        expect(status, 200, f"password grant for {name}", body)
        return body["refresh_token"]

    with ThreadPoolExecutor(2) as ex:
        toks = list(ex.map(login, range(int(n))))
    with open(path, "w") as f:
        f.write("\n".join(toks) + "\n")


def issuer(url):
    """The server's public URL (its tokens' issuer): the passkey relying party's origin."""
    status, body = call(url, "GET", "/.well-known/openid-configuration")
    expect(status, 200, "GET /.well-known/openid-configuration", body)
    print(body["issuer"])


def cpu(pid):
    """CPU seconds used so far by PID (user + system) and by the whole machine (busy, all)."""
    hz = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    server = (int(fields[11]) + int(fields[12])) / hz
    with open("/proc/stat") as f:
        t = [int(x) for x in f.readline().split()[1:]]
    total = sum(t[:8]) / hz
    idle = (t[3] + t[4]) / hz
    print(json.dumps({"server_s": server, "busy_s": total - idle, "all_s": total}))


def idle(seconds, threshold):
    """Waits (at most SECONDS) until the machine's CPUs are less than THRESHOLD % busy over one
    second, so that a run does not start in the middle of somebody's build; prints the busy %."""
    deadline = time.monotonic() + float(seconds)

    def busy_over(interval):
        def read():
            with open("/proc/stat") as f:
                t = [int(x) for x in f.readline().split()[1:]]
            return sum(t[:8]), t[3] + t[4]
        a, ai = read()
        time.sleep(interval)
        b, bi = read()
        return 100.0 * (1 - (bi - ai) / max(1, b - a))

    while True:
        b = busy_over(1.0)
        if b < float(threshold) or time.monotonic() >= deadline:
            print(f"{b:.0f}")
            return


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------
# The report

def load(d, name):
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def rate(r):
    return r["requests"] / (r["duration_us"] / 1e6) if r and r["duration_us"] else 0.0


def ok_count(r):
    """Requests answered 2xx. Scripts that count statuses are exact; for the others wrk counts
    status > 399 as errors."""
    if r is None:
        return 0
    if r.get("statuses"):
        return sum(v for k, v in r["statuses"].items() if k.startswith("2"))
    return r["requests"] - r["errors"]["status"]


def ok_rate(r):
    return ok_count(r) / (r["duration_us"] / 1e6) if r and r["duration_us"] else 0.0


def problems(r):
    if r is None:
        return "phase missing"
    bad = r["requests"] - ok_count(r)
    e = r["errors"]
    sock = e["connect"] + e["read"] + e["write"] + e["timeout"]
    parts = []
    if bad:
        st = {k: v for k, v in r.get("statuses", {}).items() if not k.startswith("2")}
        parts.append(f"{bad} non-2xx" + (f" {st}" if st else ""))
    if sock:
        parts.append(f"{sock} socket errors/timeouts")
    return "; ".join(parts)


def report(d):
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    cores = meta["cores"]
    seq_pw, seq_rt = load(d, "seq_password"), load(d, "seq_refresh")
    flood, flood2 = load(d, "flood"), load(d, "flood_mixed")
    hz_flood, self_flood = load(d, "flood_healthz"), load(d, "flood_self")
    hz, me = load(d, "healthz"), load(d, "self")
    cc, rt = load(d, "client_credentials"), load(d, "refresh")
    rss0, rss1 = load(d, "rss_start"), load(d, "rss_end")

    rows = []  # (measurement, value, target, met)

    def row(what, value, target, met):
        rows.append((what, value, target, "yes" if met else "NO"))

    # 1. Password logins against cores / hash time.
    login_p50 = seq_pw["latency_us"]["p50"] / 1000.0
    overhead_p50 = seq_rt["latency_us"]["p50"] / 1000.0
    hash_ms = login_p50 - overhead_p50
    limit = cores / (hash_ms / 1000.0)
    limit_raw = cores / (login_p50 / 1000.0)
    logins = ok_rate(flood)
    ratio = logins / limit
    row("one argon2id hash (est.: p50 login - p50 refresh, 1 client)",
        f"{hash_ms:.2f} ms ({login_p50:.2f} - {overhead_p50:.2f})", "-", True)
    row(f"limit = cores / hash = {cores} / {hash_ms:.2f} ms", f"{limit:.1f} logins/s", "-", True)
    pair = load(d, "pair_password")
    if pair:
        row(f"password logins/s, {cores} connections (one per core)", f"{ok_rate(pair):.1f}/s", "-", True)
    row("password logins/s, 16 connections", f"{logins:.1f}/s", "-", True)
    row("  ratio to the limit", f"{ratio * 100:.1f} %", ">= 90 %", ratio >= 0.9)
    # 2. During the flood.
    hz_p99 = hz_flood["latency_us"]["p99"] / 1000.0
    row("/healthz p99 during the login flood", f"{hz_p99:.2f} ms", "< 10 ms", hz_p99 < 10)
    self_rate = ok_rate(self_flood)
    row("user/self req/s during the login flood", f"{self_rate:.0f}/s", ">= 1,000/s", self_rate >= 1000)
    row("  (password logins/s meanwhile)", f"{ok_rate(flood2):.1f}/s", "-", True)
    # 3. user/self against healthz.
    hz_rate, me_rate = ok_rate(hz), ok_rate(me)
    row("/healthz req/s (alone)", f"{hz_rate:.0f}/s", "-", True)
    row("user/self req/s (alone)", f"{me_rate:.0f}/s", "-", True)
    row("  ratio user/self : healthz", f"{me_rate / hz_rate:.2f}", ">= 0.5", me_rate / hz_rate >= 0.5)
    # 4, 5.
    cc_rate = ok_rate(cc)
    row("client_credentials grants/s, 16 connections", f"{cc_rate:.0f}/s", ">= 10,000/s", cc_rate >= 10000)
    rt_rate = ok_rate(rt)
    row("refresh_token grants/s, 16 chains", f"{rt_rate:.0f}/s", ">= 2,500/s", rt_rate >= 2500)
    # 6. Passkey logins against password logins, on the same 16 connections.
    pk = load(d, "passkey")
    pk_rate = ok_rate(pk)
    pk_cpu = load(d, "passkey.cpu")
    row("passkey logins/s, 16 connections (usernameless)", f"{pk_rate:.0f}/s",
        f">= 10 x password ({10 * logins:.0f}/s)", pk_rate >= 10 * logins)
    if pk_cpu and ok_count(pk):
        row("  server CPU per passkey login", f"{pk_cpu['server_s'] / ok_count(pk) * 1000:.3f} ms", "-", True)
    # 7. Memory.
    row("RSS idle after start-up", f"{rss0['VmRSS'] / 1024:.1f} MiB", "< 20 MB", rss0["VmRSS"] * 1024 < 20e6)
    row("RSS at the end of all runs", f"{rss1['VmRSS'] / 1024:.1f} MiB (peak {rss1['VmHWM'] / 1024:.1f})",
        "< 64 MB", rss1["VmRSS"] * 1024 < 64e6)

    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    print()
    print(f"keyward benchmark  {meta['date']}  {meta['seconds']} s per phase  "
          f"{cores} cores  {meta['cpu']}")
    print(f"binary: {meta['binary']}  (git {meta['git']})")
    print()
    print(f"{'measurement':<{w0}}  {'value':<{w1}}  {'target':<{w2}}  met")
    print(f"{'-' * w0}  {'-' * w1}  {'-' * w2}  ---")
    for r in rows:
        met = r[3] if r[2] != "-" else ""
        print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:<{w2}}  {met}")
    print()
    print("details: phase, requests, 2xx/s, latency p50/p99/max (ms), server CPU per request (ms);")
    print("         CPU during the phase in % of all cores: server, load generator, other processes;")
    print("         server RSS after the phase (MiB); problems")
    disturbed = []
    for name, r in [("seq_password", seq_pw), ("seq_refresh", seq_rt),
                    ("pair_password", load(d, "pair_password")), ("flood", flood),
                    ("flood_mixed", flood2), ("flood_healthz", hz_flood), ("flood_self", self_flood),
                    ("healthz", hz), ("self", me), ("client_credentials", cc), ("refresh", rt),
                    ("passkey", pk)]:
        if r is None:
            print(f"  {name:<19} missing")
            continue
        l = r["latency_us"]
        c = load(d, name + ".cpu")
        m = load(d, name + ".rss")
        cpu_txt = f"{'(with flood_mixed)':>30}"
        if c and c["all_s"] > 0:
            per = c["server_s"] / max(1, r["requests"]) * 1000
            per_txt = "      -" if name == "flood_mixed" else f"{per:>7.3f}"
            # Jiffies are sampled at slightly different moments: a small negative is zero.
            other = max(0.0, c["busy_s"] - c["server_s"] - c.get("loadgen_s", 0))
            pct = lambda x: 100 * x / c["all_s"]
            cpu_txt = (f"{per_txt}  {pct(c['server_s']):>4.0f}% {pct(c.get('loadgen_s', 0)):>4.0f}% "
                       f"{pct(other):>4.0f}%")
            if pct(other) > 5:
                disturbed.append(f"{name} ({pct(other):.0f} %)")
        rss_txt = f"{m['VmRSS'] / 1024:>7.1f}" if m else "       "
        print(f"  {name:<19} {r['requests']:>8}  {ok_rate(r):>9.1f}/s  "
              f"{l['p50'] / 1000:>7.2f} {l['p99'] / 1000:>7.2f} {l['max'] / 1000:>8.2f}  "
              f"{cpu_txt}  {rss_txt}  {problems(r)}")
    print("  (flood_mixed's CPU figures cover the three loads that ran together)")
    print(f"  CPUs busy before the first phase: {meta.get('busy_before', '?')} %; load average "
          f"before/after: {meta.get('load_before', '?')} / {meta.get('load_after', '?')}")
    if disturbed:
        print(f"  WARNING: other processes used more than 5 % of the CPUs during: {', '.join(disturbed)}")
    print(f"  server and load generators ran at nice {meta.get('nice', 0)} "
          f"(autogroup: {meta.get('autogroup', '?')})")
    print(f"  limit if the whole 1-client login latency counted as hash time: {limit_raw:.1f}/s "
          f"(ratio {logins / limit_raw * 100:.1f} %)")
    summary = {
        "hash_ms": hash_ms, "limit_per_s": limit, "logins_per_s": logins, "login_ratio": ratio,
        "healthz_p99_ms_during_flood": hz_p99, "self_per_s_during_flood": self_rate,
        "logins_per_s_during_mixed": ok_rate(flood2),
        "logins_per_s_one_per_core": ok_rate(pair) if pair else None,
        "healthz_per_s": hz_rate, "self_per_s": me_rate, "self_to_healthz": me_rate / hz_rate,
        "client_credentials_per_s": cc_rate, "refresh_per_s": rt_rate, "passkey_logins_per_s": pk_rate,
        "disturbed": disturbed,
        "rss_start_kib": rss0["VmRSS"], "rss_end_kib": rss1["VmRSS"], "rss_peak_kib": rss1["VmHWM"],
    }
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    {"freeport": freeport, "wait": wait, "setup": setup, "tokens": tokens,
     "rss": rss, "cpu": cpu, "idle": idle, "report": report, "issuer": issuer}[cmd](*args)


if __name__ == "__main__":
    main(sys.argv)
