//! The passkey-login load of `bench/run`: sets up users with one passkey each (a software
//! authenticator, `tests/common/softkey.rs`), then runs usernameless passkey logins through the
//! hosted login's calls (`/auth/api/flow/passkey/login/start` + `/finish`) on CONNS connections
//! for SECONDS, and writes a summary in the format of the wrk phases (bench/lua/stats.lua).
//!
//! Usage: passkey_load URL ORIGIN ADMIN_TOKEN SERVER_PID USERS CONNS WARMUP SECONDS OUT
//! URL is where to connect (127.0.0.1 only), ORIGIN the server's public URL (the relying
//! party's origin, and the Origin header its CSRF check expects). It writes OUT.json (the
//! summary) and OUT.cpu.json (CPU seconds of the server, of this load generator and of the
//! machine during the measured run only, as bench/run's `cpu_end` does for wrk phases).

#[path = "../tests/common/softkey.rs"]
mod softkey;

use reqwest::blocking::Client;
use serde_json::{Value, json};
use softkey::SoftKey;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CSRF: &str = "bench-csrf-token";

struct Target {
    url: String,
    origin: String,
}

fn client() -> Client {
    // reqwest comes without a default crypto provider (see Cargo.toml): ring, as keyward.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(1)
        .build()
        .expect("HTTP client")
}

/// One user with a passkey registered through the passwordless API (as an admin, no code).
fn enrol(http: &Client, t: &Target, admin: &str, name: &str) -> SoftKey {
    let r = http
        .post(format!("{}/auth/api/login/user", t.url))
        .bearer_auth(admin)
        .json(&json!({"username": name, "displayName": name, "password": "bench-user-password-1"}))
        .send()
        .expect("create user");
    assert_eq!(r.status(), 201, "create user {name}: {}", r.text().unwrap());
    let id = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .post(format!("{}/v2/users/{id}/passkeys", t.url))
        .bearer_auth(admin)
        .json(&json!({}))
        .send()
        .expect("start registration");
    assert_eq!(r.status(), 200, "start registration: {}", r.text().unwrap());
    let started: Value = r.json().unwrap();
    let key = SoftKey::new();
    let credential = key.register(&started["publicKeyCredentialCreationOptions"], &t.origin);
    let passkey = started["passkeyId"].as_str().unwrap();
    let r = http
        .post(format!("{}/v2/users/{id}/passkeys/{passkey}", t.url))
        .bearer_auth(admin)
        .json(&json!({"publicKeyCredential": credential, "passkeyName": "bench"}))
        .send()
        .expect("finish registration");
    assert_eq!(
        r.status(),
        200,
        "finish registration: {}",
        r.text().unwrap()
    );
    key
}

/// One usernameless passkey login: the status that ended it (0: no answer).
fn login(http: &Client, t: &Target, key: &SoftKey) -> u16 {
    let call = |path: &str, body: &Value| {
        http.post(format!("{}{path}", t.url))
            .header("Origin", &t.origin)
            .header("Cookie", format!("kw_csrf={CSRF}"))
            .header("X-CSRF-Token", CSRF)
            .json(body)
            .send()
    };
    let Ok(r) = call("/auth/api/flow/passkey/login/start", &json!({})) else {
        return 0;
    };
    if r.status() != 200 {
        return r.status().as_u16();
    }
    let Ok(started) = r.json::<Value>() else {
        return 0;
    };
    let assertion = key.assert(&started["options"], &t.origin);
    let body = json!({"ceremonyId": started["ceremonyId"], "credential": assertion});
    match call("/auth/api/flow/passkey/login/finish", &body) {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
}

fn run(t: &Arc<Target>, keys: &Arc<Vec<SoftKey>>, conns: usize, secs: u64) -> (Tally, Duration) {
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let workers: Vec<_> = (0..conns)
        .map(|w| {
            let (t, keys) = (t.clone(), keys.clone());
            std::thread::spawn(move || {
                let http = client();
                let mut tally = Tally::default();
                let mut n = 0;
                while Instant::now() < until {
                    let key = &keys[(w + n * conns) % keys.len()];
                    n += 1;
                    let began = Instant::now();
                    let status = login(&http, &t, key);
                    tally.latencies_us.push(began.elapsed().as_micros() as u64);
                    *tally.statuses.entry(status).or_default() += 1;
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for w in workers {
        let tally = w.join().expect("worker");
        all.latencies_us.extend(tally.latencies_us);
        for (k, v) in tally.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    (all, start.elapsed())
}

/// CPU seconds (user + system) of a process, from /proc/PID/stat.
fn process_cpu(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// The machine's busy and total CPU seconds, from /proc/stat.
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let t: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    let all: f64 = t.iter().sum();
    let idle = t.get(3).unwrap_or(&0.0) + t.get(4).unwrap_or(&0.0);
    ((all - idle) / clock_ticks(), all / clock_ticks())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 10 {
        eprintln!(
            "usage: passkey_load URL ORIGIN ADMIN_TOKEN SERVER_PID USERS CONNS WARMUP SECONDS OUT"
        );
        std::process::exit(2);
    }
    let pid = args[4].clone();
    let t = Arc::new(Target {
        url: args[1].trim_end_matches('/').to_string(),
        origin: args[2].trim_end_matches('/').to_string(),
    });
    let num = |i: usize| args[i].parse::<u64>().expect("a number");
    let (users, conns, warmup, secs) = (num(5), num(6) as usize, num(7), num(8));
    let http = client();
    let keys: Vec<SoftKey> = (1..=users)
        .map(|i| enrol(&http, &t, &args[3], &format!("pk{i:04}")))
        .collect();
    let keys = Arc::new(keys);
    if warmup > 0 {
        run(&t, &keys, conns, warmup);
    }
    let (server0, me0, (busy0, all0)) = (process_cpu(&pid), process_cpu("self"), machine_cpu());
    let (mut tally, took) = run(&t, &keys, conns, secs);
    let (server1, me1, (busy1, all1)) = (process_cpu(&pid), process_cpu("self"), machine_cpu());
    let cpu = json!({
        "server_s": server1 - server0,
        "loadgen_s": me1 - me0,
        "busy_s": busy1 - busy0,
        "all_s": all1 - all0,
    });
    std::fs::write(format!("{}.cpu.json", args[9]), format!("{cpu}\n")).expect("write CPU");
    tally.latencies_us.sort_unstable();
    let l = &tally.latencies_us;
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p / 100.0) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let failed: u64 = tally.statuses.get(&0).copied().unwrap_or(0);
    let bad: u64 = tally
        .statuses
        .iter()
        .filter(|(k, _)| **k != 0 && !(200..300).contains(*k))
        .map(|(_, v)| v)
        .sum();
    let statuses: BTreeMap<String, u64> = tally
        .statuses
        .iter()
        .filter(|(k, _)| **k != 0)
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let summary = json!({
        "requests": l.len(),
        "duration_us": took.as_micros() as u64,
        "bytes": 0,
        "errors": {"connect": failed, "read": 0, "write": 0, "status": bad, "timeout": 0},
        "latency_us": {
            "min": l.first().copied().unwrap_or(0),
            "mean": if l.is_empty() { 0.0 } else { l.iter().sum::<u64>() as f64 / l.len() as f64 },
            "max": l.last().copied().unwrap_or(0),
            "p50": pct(50.0), "p90": pct(90.0), "p99": pct(99.0), "p999": pct(99.9),
        },
        "statuses": statuses,
    });
    std::fs::write(format!("{}.json", args[9]), format!("{summary}\n")).expect("write the summary");
}
