//! The per-identity password throttle: an unknown username costs what a wrong password costs,
//! and the sixth failure in a row is refused before any hash. Its own test binary, because
//! cargo runs test binaries one after another: no other test's hashing disturbs the timing.

mod common;

use common::Server;
use reqwest::blocking::Response;
use serde_json::{Value, json};

/// A confidential client allowed the password grant, and its secret.
fn password_client(s: &Server, admin: &str) -> (String, String) {
    let body = json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true});
    let r = s.post("/auth/api/login/client", Some(admin), &body);
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/auth/api/login/client/{id}/client-secret");
    let r = s.post(&path, Some(admin), &json!({}));
    assert_eq!(r.status(), 201);
    let secret = r.json::<Value>().unwrap()["secretText"]
        .as_str()
        .unwrap()
        .to_string();
    (id, secret)
}

fn oauth_error(r: Response, status: u16, code: &str) {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], code, "{v}");
}

#[test]
fn throttling_refuses_before_hashing_and_resets() {
    // Real argon2 parameters here, so that a refused attempt is visibly cheaper than a hash.
    let s = Server::start_with(&["--argon2-memory", "19456", "--argon2-iterations", "2"]);
    let admin = s.admin("admin");
    let (pw, secret) = password_client(&s, &admin);
    s.user(&admin, "bob");
    s.user(&admin, "carol");
    let attempt = |user: &str, password: &str| {
        let t = std::time::Instant::now();
        let r = s
            .http
            .post(s.url("/auth/oauth/token"))
            .basic_auth(&pw, Some(&secret))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ])
            .send()
            .unwrap();
        (r, t.elapsed())
    };
    // Unknown usernames cost what a wrong password costs. Other tests hash in parallel, so each
    // side is measured by its fastest of 8 interleaved tries (the least disturbed), within 20%.
    // This binary holds only this test, so no other test hashes at the same time.
    // The first unknown try also builds the dummy hash and is not counted.
    attempt("ghost", "wrong password");
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..8 {
        wrong.push(attempt(["bob", "carol"][i % 2], "wrong password").1);
        unknown.push(attempt(&format!("ghost{i}"), "wrong password").1);
    }
    let (w, u) = (*wrong.iter().min().unwrap(), *unknown.iter().min().unwrap());
    let ratio = u.as_secs_f64() / w.as_secs_f64();
    assert!((0.8..=1.2).contains(&ratio), "unknown {u:?} vs wrong {w:?}");
    // bob has 4 failures; the fifth is answered normally, the sixth refused with 429 at once.
    let (r, _) = attempt("bob", "wrong password");
    oauth_error(r, 400, "invalid_grant");
    let (r, took) = attempt("bob", "password-of-user");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    assert_eq!(r.json::<Value>().unwrap()["error"], "slow_down");
    assert!(
        took < w / 2,
        "a refused attempt took {took:?}, a hash {w:?}"
    );
    // After the delay the right password works, and resets the streak.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (r, _) = attempt("bob", "password-of-user");
    assert_eq!(r.status(), 200);
    let (r, _) = attempt("bob", "wrong password");
    oauth_error(r, 400, "invalid_grant");
}
