//! The per-identity password throttle: an unknown username costs what a wrong password costs,
//! and the sixth failure in a row is refused before any hash. Its own test binary, because
//! cargo runs test binaries one after another: no other test's hashing disturbs the timing.

mod common;

use common::{Server, oauth_error};
use serde_json::{Value, json};

#[test]
fn throttling_refuses_before_hashing_and_resets() {
    // Real argon2 parameters here, so that a refused attempt is visibly cheaper than a hash.
    let s = Server::start_with(&["--argon2-memory", "19456", "--argon2-iterations", "2"]);
    let admin = s.admin("admin");
    let client = s.client_with_secret(
        &admin,
        &json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
    );
    s.user(&admin, "bob");
    s.user(&admin, "carol");
    let attempt = |user: &str, password: &str| {
        let t = std::time::Instant::now();
        let r = s.password_grant(&client, user, password, None);
        (r, t.elapsed())
    };
    // Unknown usernames cost what a wrong password costs. Timing is noisy on a shared machine,
    // so each side is measured by its fastest of 8 interleaved tries (the least disturbed),
    // within 20%. The first unknown try also builds the dummy hash and is not counted.
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
