//! Attacks on the password paths: bursts of guesses that must not all be checked, spoofed
//! `X-Forwarded-For`, registration floods, a hash queue that must not make everything wait,
//! half-done registrations, lost updates and out-of-range flags.
//!
//! Where a test must show that a request did not wait for a hash, it does so without a clock:
//! with one hashing slot and a queue of one, a request that needed a hash while the queue is
//! full would get 503, so a 409 then proves no hash was asked for.

mod common;

use common::{BIN, Server, expect_error, oauth_error};
use reqwest::blocking::Response;
use serde_json::{Value, json};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

/// Real argon2 cost (about a tenth of a second a hash), with one hashing slot: a burst's
/// checked attempts are still in flight while the rest of it arrives.
const REAL_HASH: &[&str] = &[
    "--argon2-memory",
    "19456",
    "--argon2-iterations",
    "2",
    "--hash-concurrency",
    "1",
];

/// Slow hashes (about a second each), one slot and one waiting place: two requests fill it.
const SLOW_QUEUE: &[&str] = &[
    "--argon2-memory",
    "65536",
    "--argon2-iterations",
    "12",
    "--hash-concurrency",
    "1",
    "--hash-queue",
    "1",
];

fn register_path(instance: &str) -> String {
    format!("/auth/api/login/strategy-instance/{instance}/userpass/register")
}

/// A password grant with an optional `X-Forwarded-For`.
fn grant_from(
    s: &Server,
    client: &(String, String),
    xff: Option<&str>,
    username: &str,
    password: &str,
) -> Response {
    let mut rb = s
        .http
        .post(s.url("/auth/oauth/token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ]);
    if let Some(x) = xff {
        rb = rb.header("x-forwarded-for", x);
    }
    rb.send().expect("request")
}

fn password_client(s: &Server, admin: &str) -> (String, String) {
    s.client_with_secret(
        admin,
        &json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
    )
}

/// Runs `n` requests at once (released together by a barrier); returns the statuses in the
/// order the answers came back.
fn burst(n: usize, f: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Vec<u16> {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(n));
    let (tx, rx) = mpsc::channel();
    for i in 0..n {
        let (f, barrier, tx) = (f.clone(), barrier.clone(), tx.clone());
        thread::spawn(move || {
            barrier.wait();
            let _ = tx.send(f(i));
        });
    }
    drop(tx);
    rx.iter().collect()
}

#[test]
fn a_burst_of_wrong_passwords_checks_at_most_five_and_the_right_one_inside_it_fails() {
    let s = Arc::new(Server::start_with(REAL_HASH));
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    s.user(&admin, "victim");
    let n = 49;
    let barrier = Arc::new(Barrier::new(n));
    let (tx, rx) = mpsc::channel();
    for _ in 0..n {
        let (s, client, barrier, tx) = (s.clone(), client.clone(), barrier.clone(), tx.clone());
        thread::spawn(move || {
            barrier.wait();
            let r = s.password_grant(&client, "victim", "wrong password", None);
            let _ = tx.send(r.status().as_u16());
        });
    }
    drop(tx);
    // Once 44 answers are back, at least 44 attempts were decided: the right password comes
    // now, inside the burst, while the checked ones are still hashing or have just failed.
    let mut statuses: Vec<u16> = rx.iter().take(44).collect();
    let right = s.password_grant(&client, "victim", "password-of-user", None);
    let right_status = right.status().as_u16();
    let right_body: Value = right.json().unwrap();
    statuses.extend(rx.iter());
    assert_eq!(statuses.len(), n);
    let checked = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        checked <= 5,
        "{checked} of {n} simultaneous guesses were checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 429 || *s == 400),
        "{statuses:?}"
    );
    assert_eq!(right_status, 429, "the right password got {right_body}");
    assert!(right_body.get("access_token").is_none());
    assert_eq!(right_body["error"], "slow_down");
}

#[test]
fn a_burst_across_usernames_is_held_to_the_address_budget() {
    let s = Arc::new(Server::start_with(REAL_HASH));
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    let s2 = s.clone();
    let statuses = burst(50, move |i| {
        s2.password_grant(&client, &format!("ghost{i}"), "wrong password", None)
            .status()
            .as_u16()
    });
    let checked = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        checked <= 30,
        "{checked} of 50 guesses from one address were checked: {statuses:?}"
    );
    assert!(checked >= 1, "{statuses:?}");
}

#[test]
fn a_password_change_burst_checks_at_most_five_old_passwords() {
    let s = Arc::new(Server::start_with(REAL_HASH));
    let admin = s.admin("admin");
    let (uid, token) = s.user(&admin, "changer");
    let data: Value = s
        .get(
            &format!("/auth/api/login/user/{uid}/login-data"),
            Some(&token),
        )
        .json()
        .unwrap();
    let path = format!(
        "/auth/api/login/login-data/{}/password",
        data[0]["id"].as_str().unwrap()
    );
    let s2 = s.clone();
    let statuses = burst(20, move |_| {
        s2.put(
            &path,
            Some(&token),
            &json!({"oldPassword": "not the password", "newPassword": "a new password"}),
        )
        .status()
        .as_u16()
    });
    let checked = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        checked <= 5,
        "{checked} old passwords checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 429 || *s == 403),
        "{statuses:?}"
    );
}

#[test]
fn spoofed_forwarded_for_from_an_untrusted_peer_shares_one_budget() {
    let s = Server::start();
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    for i in 0..30 {
        let xff = format!("10.0.{i}.1");
        let r = grant_from(&s, &client, Some(&xff), &format!("ghost{i}"), "wrong");
        oauth_error(r, 400, "invalid_grant");
    }
    // Rotating the header does not make a new client: the peer (127.0.0.1) is out of budget.
    let r = grant_from(&s, &client, Some("192.0.2.77"), "fresh", "wrong");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().unwrap()["error"], "slow_down");
}

#[test]
fn forwarded_for_from_a_trusted_proxy_separates_clients() {
    let s = Server::start_with(&["--trusted-proxies", "127.0.0.1/32"]);
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    for i in 0..30 {
        // The proxy's own hop on the right is skipped: the client is 198.51.100.1.
        let r = grant_from(
            &s,
            &client,
            Some("198.51.100.1, 127.0.0.1"),
            &format!("ghost{i}"),
            "wrong",
        );
        oauth_error(r, 400, "invalid_grant");
    }
    let r = grant_from(&s, &client, Some("198.51.100.1"), "fresh", "wrong");
    assert_eq!(r.status(), 429);
    // Another client behind the same proxy has its own budget; so has the proxy itself.
    let r = grant_from(&s, &client, Some("198.51.100.2"), "fresh", "wrong");
    oauth_error(r, 400, "invalid_grant");
    let r = grant_from(&s, &client, None, "fresh", "wrong");
    oauth_error(r, 400, "invalid_grant");
    // A header that is not a list of addresses counts as the proxy itself.
    let r = grant_from(&s, &client, Some("not-an-address"), "fresh2", "wrong");
    oauth_error(r, 400, "invalid_grant");
    // A session records the client's address, not the proxy's.
    let (uid, _) = s.user(&admin, "walker");
    let r = grant_from(
        &s,
        &client,
        Some("203.0.113.9"),
        "walker",
        "password-of-user",
    );
    assert_eq!(r.status(), 200);
    let list: Value = s
        .get(
            &format!("/auth/api/login/user/{uid}/active-login"),
            Some(&admin),
        )
        .json()
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|l| l["address"] == "203.0.113.9"),
        "{list}"
    );
}

#[test]
fn a_register_flood_from_one_address_gets_429_after_30() {
    let s = Server::start();
    s.admin("admin");
    let local = s.instance_id("local");
    for i in 0..30 {
        let r = s.post(
            &register_path(&local),
            None,
            &json!({"username": format!("flood{i}"), "password": "flood password"}),
        );
        assert_eq!(r.status(), 201, "attempt {i}: {:?}", r.text());
    }
    let r = s.post(
        &register_path(&local),
        None,
        &json!({"username": "flood30", "password": "flood password"}),
    );
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    expect_error(r, 429);
}

/// Fills the hash queue with `n` registrations of new usernames on `instance` in the
/// background; returns once one of them was refused with 503 (so the queue is full) and a
/// receiver for the rest of the statuses.
fn fill_hash_queue(s: &Arc<Server>, instance: &str, n: usize) -> (Response, mpsc::Receiver<u16>) {
    let (tx, rx) = mpsc::channel();
    let (first_tx, first_rx) = mpsc::channel();
    for i in 0..n {
        let (s, tx, first_tx) = (s.clone(), tx.clone(), first_tx.clone());
        let path = register_path(instance);
        thread::spawn(move || {
            let r = s.post(
                &path,
                None,
                &json!({"username": format!("busy{i}"), "password": "busy password"}),
            );
            if r.status() == 503 {
                let _ = first_tx.send(r);
            } else {
                let _ = tx.send(r.status().as_u16());
            }
        });
    }
    let first = first_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("no request was refused with 503: the hash queue has no bound");
    (first, rx)
}

#[test]
fn a_flood_past_the_hash_queue_gets_503_at_once_and_health_still_answers() {
    let s = Arc::new(Server::start_with(SLOW_QUEUE));
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    let local = s.instance_id("local");
    let (first, rest) = fill_hash_queue(&s, &local, 6);
    let retry: u64 = first.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    expect_error(first, 503);
    // While the queue is full: health answers, a password grant gets OAuth's shape of 503.
    let h = s.get("/healthz", None);
    assert_eq!(h.status(), 200);
    let r = s.password_grant(&client, "someone", "some password", None);
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], "temporarily_unavailable", "{v}");
    // Those that got a place finish normally.
    let done: Vec<u16> = rest.iter().collect();
    assert!(
        done.len() >= 2 && done.iter().all(|s| *s == 201),
        "{done:?}"
    );
}

#[test]
fn a_taken_username_is_answered_without_a_hash() {
    let s = Arc::new(Server::start_with(SLOW_QUEUE));
    s.admin("admin");
    let local = s.instance_id("local");
    let (_, rest) = fill_hash_queue(&s, &local, 4);
    // "admin" is taken on `local`: 409, not 503 — it never asked for a hash.
    let r = s.post(
        &register_path(&local),
        None,
        &json!({"username": "admin", "password": "whatever password"}),
    );
    expect_error(r, 409);
    // The queue was still full after it: a request that needs a hash is refused.
    let r = s.post(
        &register_path(&local),
        None,
        &json!({"username": "newcomer", "password": "some password"}),
    );
    expect_error(r, 503);
    rest.iter().for_each(drop);
}

#[test]
fn a_register_whose_account_part_fails_leaves_no_waiting_identity() {
    // With no waiting place in the queue, a login that needs a hash while the registration
    // hashes is refused at once: that tells the test when the registration is hashing.
    let s = Arc::new(Server::start_with(&[
        "--argon2-memory",
        "65536",
        "--argon2-iterations",
        "12",
        "--hash-concurrency",
        "1",
        "--hash-queue",
        "0",
    ]));
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    let local = s.instance_id("local");
    let mut probes = 0;
    let page = loop {
        let s2 = s.clone();
        let page = thread::spawn(move || {
            s2.http
                .post(s2.url("/auth/api/flow/register"))
                .header("cookie", "kw_csrf=t0k3n")
                .header("x-csrf-token", "t0k3n")
                .json(
                    &json!({"username": "eve", "password": "eve's password", "displayName": "Eve"}),
                )
                .send()
                .unwrap()
        });
        let hashing = loop {
            // Each probe its own username, so no identity's throttle answers instead.
            probes += 1;
            let r = s.password_grant(&client, &format!("probe{probes}"), "probe", None);
            if r.status() == 503 {
                break true;
            }
            if page.is_finished() {
                break false;
            }
        };
        if hashing {
            break page;
        }
        // A probe had the hashing slot when the page came: the page got 503; again.
        let r = page.join().unwrap();
        assert_eq!(r.status(), 503, "{:?}", r.text());
    };
    // While the page's registration hashes, an admin takes the username for another account.
    let r = s.post(
        "/auth/api/login/user",
        Some(&admin),
        &json!({"username": "eve", "displayName": "Other Eve"}),
    );
    assert_eq!(r.status(), 201);
    let r = page.join().unwrap();
    expect_error(r, 409);
    // Nothing of the failed registration holds the username on the instance.
    let r = s.post(
        &register_path(&local),
        None,
        &json!({"username": "eve", "password": "eve's password"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
}

#[test]
fn concurrent_instance_updates_keep_both_fields() {
    let s = Arc::new(Server::start());
    let admin = s.admin("admin");
    let r = s.post(
        "/auth/api/login/strategy-instance",
        Some(&admin),
        &json!({"name": "round-0", "type": "userpass", "isSelfRegisterActive": false}),
    );
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/auth/api/login/strategy-instance/{id}");
    for round in 1..=40 {
        let flag = round % 2 == 1;
        let (s1, s2) = (s.clone(), s.clone());
        let (a1, a2) = (admin.clone(), admin.clone());
        let (p1, p2) = (path.clone(), path.clone());
        let b = Arc::new(Barrier::new(2));
        let b2 = b.clone();
        let t1 = thread::spawn(move || {
            b.wait();
            s1.put(&p1, Some(&a1), &json!({"name": format!("round-{round}")}))
                .status()
        });
        let t2 = thread::spawn(move || {
            b2.wait();
            s2.put(&p2, Some(&a2), &json!({"isSelfRegisterActive": flag}))
                .status()
        });
        assert_eq!(t1.join().unwrap(), 200);
        assert_eq!(t2.join().unwrap(), 200);
        let v: Value = s.get(&path, Some(&admin)).json().unwrap();
        assert_eq!(v["name"], format!("round-{round}"), "round {round}: {v}");
        assert_eq!(v["isSelfRegisterActive"], flag, "round {round}: {v}");
    }
}

/// Runs the binary with `args` and returns its exit code and stderr; a binary that keeps
/// running (it accepted the flags and serves) is stopped and fails the test.
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("k.db"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("keyward started with {args:?} {env:?}");
}

#[test]
fn out_of_range_flags_exit_2_naming_the_flag() {
    for (flag, value) in [
        ("--session-inactivity", "99999999999999"),
        ("--session-lifetime", "18446744073709551615"),
        ("--session-inactivity", "0"),
        ("--hash-concurrency", "100000"),
        ("--hash-queue", "100000000"),
        ("--argon2-memory", "4294967295"),
        ("--argon2-iterations", "100000"),
        ("--access-token-ttl", "0"),
        ("--register-window", "99999999"),
        ("--db-pool", "0"),
        ("--trusted-proxies", "10.0.0.0/99"),
    ] {
        let (code, err) = run_to_exit(&[flag, value], &[]);
        assert_eq!(code, 2, "{flag} {value}: {err}");
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
    let (code, err) = run_to_exit(&[], &[("KEYWARD_SESSION_LIFETIME", "99999999999999")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--session-lifetime"), "{err}");
}

/// Signs in on the hosted login page; returns the browser's cookie header.
fn page_login(s: &Server, username: &str, password: &str) -> String {
    let r = s
        .http
        .post(s.url("/auth/api/flow/login"))
        .header("cookie", "kw_csrf=t0k3n")
        .header("x-csrf-token", "t0k3n")
        .json(&json!({"username": username, "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kw_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    format!("kw_csrf=t0k3n; {session}")
}

#[test]
fn the_link_page_claims_a_waiting_password_login_only_with_its_password() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (alice, token) = s.user(&admin, "alice");
    let local = s.instance_id("local");
    let r = s.post(
        &register_path(&local),
        None,
        &json!({"username": "spare", "password": "spare password"}),
    );
    assert_eq!(r.status(), 201);
    let cookies = page_login(&s, "alice", "password-of-user");
    let link = |password: &str| {
        s.http
            .post(s.url("/auth/api/flow/link"))
            .header("cookie", &cookies)
            .header("x-csrf-token", "t0k3n")
            .json(&json!({"username": "spare", "password": password}))
            .send()
            .unwrap()
    };
    expect_error(link("not the password"), 401);
    let r = link("spare password");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["redirect"], "/account");
    let data: Value = s
        .get(
            &format!("/auth/api/login/user/{alice}/login-data"),
            Some(&token),
        )
        .json()
        .unwrap();
    assert_eq!(data.as_array().unwrap().len(), 2, "{data}");
    assert!(
        data.as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "VALID")
    );
    // Now it is hers: linking it again is a conflict, told to whoever knows its password.
    expect_error(link("spare password"), 409);
    let cookies = page_login(&s, "spare", "spare password");
    assert!(cookies.contains("kw_session="));
}
