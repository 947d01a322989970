//! `GET /metrics`: counters move by exactly what a test did (password and passkey logins by
//! instance and outcome, tokens by grant, requests by route template), no id ever becomes a
//! label, every line of the exposition follows the Prometheus text format, the gauges are
//! there, and `--metrics-token` guards the metrics when it is set.

mod common;

use common::softkey::SoftKey;
use common::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// A parsed exposition: sample name with its labels as written (`{k="v",...}`) → value.
struct Scrape {
    text: String,
    samples: HashMap<String, f64>,
}

impl Scrape {
    fn of(s: &Server, token: Option<&str>) -> Scrape {
        let r = s.get("/metrics", token);
        assert_eq!(r.status(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            ct.starts_with("text/plain") && ct.contains("version=0.0.4"),
            "{ct}"
        );
        let text = r.text().unwrap();
        let samples = parse_exposition(&text);
        Scrape { text, samples }
    }

    /// The value of a series (0 when it does not exist yet: a counter not yet moved).
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    /// The value of a series that must be there.
    fn must(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{}", self.text))
    }
}

fn login(strategy: &str, instance: &str, outcome: &str) -> String {
    format!(
        r#"keyward_logins_total{{strategy="{strategy}",instance="{instance}",outcome="{outcome}"}}"#
    )
}

fn tokens(grant: &str) -> String {
    format!(r#"keyward_tokens_issued_total{{grant="{grant}"}}"#)
}

fn requests(route: &str, method: &str, status: &str) -> String {
    format!(r#"keyward_http_requests_total{{route="{route}",method="{method}",status="{status}"}}"#)
}

/// Checks every line against the Prometheus text exposition format (0.0.4): `# HELP` and
/// `# TYPE` lines, each family typed once and before its samples, sample names of the typed
/// family (with `_bucket`, `_sum`, `_count` for histograms), labels `name="escaped value"`
/// (each name once; `le` on every bucket), a float value, buckets cumulative and ending in
/// `+Inf` equal to `_count`. Returns the samples.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut seen_samples: HashSet<String> = HashSet::new();
    let mut samples = HashMap::new();
    let mut last_bucket: HashMap<String, (f64, f64)> = HashMap::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "an empty line in\n{text}");
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().expect(line));
            assert!(is_metric_name(name), "{line}");
            match kind {
                "HELP" => {
                    let help = parts.next().unwrap_or("");
                    assert!(!help.contains('\n'));
                    check_escapes(help, false, line);
                }
                "TYPE" => {
                    let t = parts.next().expect(line);
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                        "{line}"
                    );
                    assert!(
                        types.insert(name.to_string(), t.to_string()).is_none(),
                        "{name} typed twice"
                    );
                    assert!(
                        !seen_samples.contains(name),
                        "{name} typed after its samples"
                    );
                }
                _ => panic!("an unknown comment: {line}"),
            }
            continue;
        }
        assert!(!line.starts_with('#'), "{line}");
        let name_end = line.find(['{', ' ']).expect(line);
        let name = &line[..name_end];
        assert!(is_metric_name(name), "{line}");
        let (labels, value) = if line[name_end..].starts_with('{') {
            let close = label_block_end(&line[name_end..], line) + name_end;
            (&line[name_end..=close], &line[close + 1..])
        } else {
            ("", &line[name_end..])
        };
        let label_map = parse_labels(labels, line);
        let value = value.strip_prefix(' ').expect(line);
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        // The family this sample belongs to, and its type.
        let family = [name, name.trim_end_matches("_bucket")]
            .into_iter()
            .chain(["_sum", "_count"].map(|s| name.trim_end_matches(s)))
            .find(|f| types.contains_key(*f))
            .unwrap_or_else(|| panic!("{name} has no TYPE line before it"));
        let t = &types[family];
        if family != name {
            assert_eq!(t, "histogram", "{line}");
        }
        if t == "counter" {
            assert!(name.ends_with("_total"), "{line}");
            assert!(value >= 0.0, "{line}");
        }
        if t == "histogram" {
            let series = labels_without(&label_map, "le");
            if name.ends_with("_bucket") {
                let le = label_map.get("le").expect(line);
                let le: f64 = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().expect(line)
                };
                let (prev_le, prev) = last_bucket
                    .get(&series)
                    .copied()
                    .unwrap_or((f64::NEG_INFINITY, 0.0));
                assert!(
                    le > prev_le && value >= prev,
                    "buckets not cumulative: {line}"
                );
                last_bucket.insert(series, (le, value));
            } else if name.ends_with("_count") {
                let (le, inf) = last_bucket[&series];
                assert!(
                    le.is_infinite() && inf == value,
                    "+Inf bucket != count: {line}"
                );
            }
        }
        seen_samples.insert(family.to_string());
        assert!(
            samples.insert(format!("{name}{labels}"), value).is_none(),
            "a sample twice: {line}"
        );
    }
    samples
}

fn is_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn check_escapes(s: &str, quotes: bool, line: &str) {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let next = chars.next().expect(line);
            assert!(
                next == '\\' || next == 'n' || (quotes && next == '"'),
                "a bad escape in {line}"
            );
        } else {
            assert!(!(quotes && c == '"'), "an unescaped quote in {line}");
        }
    }
}

/// The index of the `}` that closes the label block starting at `s[0] == '{'`.
fn label_block_end(s: &str, line: &str) -> usize {
    let mut in_value = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (in_value, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => in_value = !in_value,
            (false, _, '}') => return i,
            _ => {}
        }
    }
    panic!("an unclosed label block: {line}")
}

fn parse_labels(block: &str, line: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(inner) = block.strip_prefix('{').and_then(|b| b.strip_suffix('}')) else {
        return out;
    };
    let mut rest = inner;
    while !rest.is_empty() {
        let eq = rest.find('=').expect(line);
        let name = &rest[..eq];
        assert!(
            is_metric_name(name) && !name.contains(':') && !name.starts_with("__"),
            "a bad label name in {line}"
        );
        let after = rest[eq + 1..].strip_prefix('"').expect(line);
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.expect(line);
        let value = &after[..end];
        check_escapes(value, true, line);
        assert!(
            out.insert(name.to_string(), value.to_string()).is_none(),
            "a label twice in {line}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

fn labels_without(labels: &HashMap<String, String>, skip: &str) -> String {
    let mut v: Vec<_> = labels
        .iter()
        .filter(|(k, _)| *k != skip)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    v.sort();
    v.join(",")
}

/// Whether `text` holds something shaped like a UUID (8-4-4-4-12 hex digits).
fn has_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    let shape = [8, 4, 4, 4, 12];
    (0..b.len()).any(|start| {
        let mut i = start;
        for (n, len) in shape.iter().enumerate() {
            if n > 0 {
                if b.get(i) != Some(&b'-') {
                    return false;
                }
                i += 1;
            }
            for _ in 0..*len {
                if !b.get(i).is_some_and(u8::is_ascii_hexdigit) {
                    return false;
                }
                i += 1;
            }
        }
        true
    })
}

#[test]
fn password_logins_and_tokens_move_their_counters_by_exactly_what_was_done() {
    let s = Server::start();
    let admin = s.admin("admin");
    let client = s.client_with_secret(
        &admin,
        &json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
    );
    s.user(&admin, "bob");
    let before = Scrape::of(&s, None);
    // 3 failures, then a success (which ends the streak).
    for _ in 0..3 {
        oauth_error(
            s.password_grant(&client, "bob", "wrong password", None),
            400,
            "invalid_grant",
        );
    }
    let r = s.password_grant(&client, "bob", "password-of-user", None);
    assert_eq!(r.status(), 200);
    let refresh = r.json::<Value>().unwrap()["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string();
    let mid = Scrape::of(&s, None);
    let delta = |a: &Scrape, b: &Scrape, k: &str| b.get(k) - a.get(k);
    assert_eq!(
        delta(&before, &mid, &login("userpass", "local", "failure")),
        3.0
    );
    assert_eq!(
        delta(&before, &mid, &login("userpass", "local", "success")),
        1.0
    );
    assert_eq!(
        delta(&before, &mid, &login("userpass", "local", "throttled")),
        0.0
    );
    assert_eq!(delta(&before, &mid, &tokens("password")), 1.0);
    assert_eq!(delta(&before, &mid, "keyward_active_sessions"), 1.0);
    // Five failures in a row, then the sixth attempt is throttled (even with the right
    // password); a refresh and a wrong refresh.
    for _ in 0..5 {
        oauth_error(
            s.password_grant(&client, "bob", "wrong password", None),
            400,
            "invalid_grant",
        );
    }
    let r = s.password_grant(&client, "bob", "password-of-user", None);
    assert_eq!(r.status(), 429);
    let refreshed = s
        .http
        .post(s.url("/auth/oauth/token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let wrong = s
        .http
        .post(s.url("/auth/oauth/token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")])
        .send()
        .unwrap();
    oauth_error(wrong, 400, "invalid_grant");
    let after = Scrape::of(&s, None);
    assert_eq!(
        delta(&mid, &after, &login("userpass", "local", "failure")),
        5.0
    );
    assert_eq!(
        delta(&mid, &after, &login("userpass", "local", "success")),
        0.0
    );
    assert_eq!(
        delta(&mid, &after, &login("userpass", "local", "throttled")),
        1.0
    );
    assert_eq!(delta(&mid, &after, &tokens("refresh_token")), 1.0);
    assert_eq!(delta(&mid, &after, &tokens("password")), 0.0);
    // Every grant has its series from the start.
    for g in [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
    ] {
        after.must(&tokens(g));
    }
    // The token endpoint's requests: 5 + 1 + 1 + 1 in this stretch, by status class.
    let route = "/auth/oauth/token";
    assert_eq!(delta(&mid, &after, &requests(route, "POST", "4xx")), 7.0);
    assert_eq!(delta(&mid, &after, &requests(route, "POST", "2xx")), 1.0);
    let count =
        format!(r#"keyward_http_request_duration_seconds_count{{route="{route}",method="POST"}}"#);
    assert_eq!(delta(&mid, &after, &count), 8.0);
    // Nothing hashes now.
    assert_eq!(after.must("keyward_password_hashes_waiting"), 0.0);
    assert_eq!(after.must("keyward_password_hashes_running"), 0.0);
}

#[test]
fn requests_are_labeled_by_route_template_and_no_id_becomes_a_label() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (bob, _) = s.user(&admin, "bob");
    let before = Scrape::of(&s, None);
    let user_path = format!("/auth/api/login/user/{bob}");
    assert_eq!(s.get(&user_path, Some(&admin)).status(), 200);
    let ghost = "/auth/api/login/user/0b6a1f0e-9a59-4c4e-8d6e-1f2a3b4c5d6e";
    assert_eq!(s.get(ghost, Some(&admin)).status(), 404);
    // A path no route has, with an id in it; a method the route does not take.
    assert_eq!(
        s.get("/no/such/9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b", None)
            .status(),
        404
    );
    assert_eq!(s.send("PATCH", "/healthz", None, None).status(), 405);
    assert_eq!(s.send("HEAD", "/healthz", None, None).status(), 200);
    let after = Scrape::of(&s, None);
    assert!(!has_uuid(&after.text), "an id in\n{}", after.text);
    assert!(!after.text.contains(&bob));
    let template = "/auth/api/login/user/{id}";
    let d = |k: &str| after.get(k) - before.get(k);
    assert_eq!(d(&requests(template, "GET", "2xx")), 1.0);
    assert_eq!(d(&requests(template, "GET", "4xx")), 1.0);
    assert_eq!(d(&requests("unmatched", "GET", "4xx")), 1.0);
    assert_eq!(d(&requests("/healthz", "PATCH", "4xx")), 1.0);
    assert_eq!(d(&requests("/healthz", "HEAD", "2xx")), 1.0);
    // The scrape before this one is counted too, under its own template.
    assert!(after.must(&requests("/metrics", "GET", "2xx")) >= 1.0);
    // Every route label is a template (a path) or `unmatched`.
    for key in after.samples.keys() {
        if let Some(i) = key.find("route=\"") {
            let route = key[i + 7..].split('"').next().unwrap();
            assert!(route == "unmatched" || route.starts_with('/'), "{key}");
        }
    }
}

#[test]
fn the_exposition_has_every_series_of_the_contract() {
    let s = Server::start();
    let scrape = Scrape::of(&s, None);
    let text = &scrape.text;
    for family in [
        "# TYPE keyward_http_requests_total counter",
        "# TYPE keyward_http_request_duration_seconds histogram",
        "# TYPE keyward_logins_total counter",
        "# TYPE keyward_tokens_issued_total counter",
        "# TYPE keyward_password_hashes_waiting gauge",
        "# TYPE keyward_password_hashes_running gauge",
        "# TYPE keyward_active_sessions gauge",
        "# TYPE keyward_db_connections_in_use gauge",
        "# TYPE keyward_db_connections gauge",
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_start_time_seconds gauge",
    ] {
        assert!(text.lines().any(|l| l == family), "{family} not in\n{text}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = scrape.must("process_start_time_seconds");
    assert!(
        start <= now + 1.0 && start > now - 600.0,
        "{start} vs {now}"
    );
    let rss = scrape.must("process_resident_memory_bytes");
    assert!(rss > 1e6 && rss < 4e9, "{rss}");
    // Housekeeping may hold a connection at any moment: in use is at most what the pool has.
    let pool = scrape.must("keyward_db_connections");
    assert!(pool >= 1.0 && scrape.must("keyward_db_connections_in_use") <= pool);
    assert_eq!(scrape.must("keyward_active_sessions"), 0.0);
    // The two default instances have their login series from the start.
    for (strategy, instance) in [("userpass", "local"), ("passkey", "passkey")] {
        for outcome in ["success", "failure", "throttled"] {
            assert_eq!(scrape.must(&login(strategy, instance, outcome)), 0.0);
        }
    }
    // It is in the OpenAPI document as text.
    let doc: Value = s.get("/api/openapi.json", None).json().unwrap();
    let op = &doc["paths"]["/metrics"]["get"];
    assert!(
        op["responses"]["200"]["content"]["text/plain"].is_object(),
        "{op}"
    );
}

#[test]
fn passkey_logins_count_under_the_passkey_instance() {
    let s = Server::start();
    let admin = s.admin("admin");
    let origin = s.public_url();
    let (alice, token) = s.user(&admin, "alice");
    let key = SoftKey::new();
    // Register a passkey for alice (v2 API).
    let r = s.post(
        &format!("/v2/users/{alice}/passkeys"),
        Some(&token),
        &json!({}),
    );
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    let id = v["passkeyId"].as_str().unwrap();
    let cred = key.register(&v["publicKeyCredentialCreationOptions"], &origin);
    let r = s.post(
        &format!("/v2/users/{alice}/passkeys/{id}"),
        Some(&token),
        &json!({"publicKeyCredential": cred, "passkeyName": "laptop"}),
    );
    assert_eq!(r.status(), 200);
    let call = |path: &str, body: &Value| {
        s.http
            .post(s.url(path))
            .header("cookie", "kw_csrf=t0k3n")
            .header("x-csrf-token", "t0k3n")
            .json(body)
            .send()
            .unwrap()
    };
    let attempt = |k: &SoftKey| {
        let v: Value = call("/auth/api/flow/passkey/login/start", &json!({}))
            .json()
            .unwrap();
        let ceremony = v["ceremonyId"].as_str().unwrap();
        call(
            "/auth/api/flow/passkey/login/finish",
            &json!({"ceremonyId": ceremony, "credential": k.assert(&v["options"], &origin)}),
        )
        .status()
    };
    let before = Scrape::of(&s, None);
    assert_eq!(attempt(&key), 200);
    assert_eq!(attempt(&key.impostor()), 401);
    assert_eq!(attempt(&key.impostor()), 401);
    let after = Scrape::of(&s, None);
    let d = |k: &str| after.get(k) - before.get(k);
    assert_eq!(d(&login("passkey", "passkey", "success")), 1.0);
    assert_eq!(d(&login("passkey", "passkey", "failure")), 2.0);
    assert_eq!(d(&login("userpass", "local", "success")), 0.0);
    assert!(!has_uuid(&after.text));
}

#[test]
fn a_metrics_token_guards_the_metrics() {
    let secret = "metrics-secret-0123456789";
    let s = Server::start_with(&["--metrics-token", secret]);
    expect_error(s.get("/metrics", None), 401);
    expect_error(s.get("/metrics", Some("metrics-secret-012345678")), 401);
    expect_error(s.get("/metrics", Some(&format!("{secret}x"))), 401);
    let scrape = Scrape::of(&s, Some(secret));
    // The refused scrapes were counted like any request.
    assert_eq!(scrape.must(&requests("/metrics", "GET", "4xx")), 3.0);
    // Other operations stay open.
    assert_eq!(s.get("/healthz", None).status(), 200);
    // A short token is refused at start, naming the flag.
    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-token",
            "short",
        ])
        .arg("--db")
        .arg(s.dir.path().join("other.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--metrics-token"));
}
