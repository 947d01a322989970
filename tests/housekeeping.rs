//! Stored state over time: outdated password hashes are upgraded at the next login, and
//! identities that waited past their registration window are purged.

mod common;

use common::Server;
use serde_json::{Value, json};

fn stored_hash(s: &Server, username: &str) -> String {
    let c = rusqlite::Connection::open(s.db_path()).unwrap();
    c.query_row(
        "SELECT password_hash FROM identities WHERE subject = ?1",
        [username],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn outdated_password_hash_is_upgraded_on_login() {
    // The harness's cheap parameters (m=256, t=1) make the first hash.
    let s = Server::start();
    let admin = s.admin("admin");
    s.user(&admin, "bob");
    let before = stored_hash(&s, "bob");
    assert!(
        before.starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
        "{before}"
    );
    let dir = s.stop_keep_dir();
    // The same database under new parameters.
    let s = Server::start_in(dir, &["--argon2-memory", "512", "--argon2-iterations", "2"]);
    let client = s.client_with_secret(
        &s.token("admin", "login"),
        &json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
    );
    // A failed login changes nothing.
    let r = s.password_grant(&client, "bob", "wrong one!", None);
    assert_eq!(r.status(), 400);
    assert_eq!(stored_hash(&s, "bob"), before);
    let r = s.password_grant(&client, "bob", "password-of-user", None);
    assert_eq!(r.status(), 200);
    let after = stored_hash(&s, "bob");
    assert!(
        after.starts_with("$argon2id$v=19$m=512,t=2,p=1$"),
        "{after}"
    );
    // And the new hash still checks.
    let r = s.password_grant(&client, "bob", "password-of-user", None);
    assert_eq!(r.status(), 200);
}

#[test]
fn expired_waiting_identities_are_purged() {
    let s = Server::start();
    let list: Value = s
        .get("/auth/api/login/strategy-instance", None)
        .json()
        .unwrap();
    let local = list[0]["id"].as_str().unwrap().to_string();
    let path = format!("/auth/api/login/strategy-instance/{local}/userpass/register");
    let r = s.post(
        &path,
        None,
        &json!({"username": "late", "password": "late password"}),
    );
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().unwrap()["register_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.post(
        &path,
        None,
        &json!({"username": "fresh", "password": "fresh password"}),
    );
    assert_eq!(r.status(), 201);
    // `late` waited past its window; housekeeping (which the server runs every minute) drops it
    // and its session, and leaves `fresh` alone.
    let c = rusqlite::Connection::open(s.db_path()).unwrap();
    c.execute(
        "UPDATE identities SET expires = 1 WHERE subject = 'late'",
        [],
    )
    .unwrap();
    keyward::db::Db::open(&s.db_path(), 1)
        .unwrap()
        .write_blocking(keyward::core::housekeeping)
        .unwrap();
    let subjects: Vec<String> = c
        .prepare("SELECT subject FROM identities WHERE state = 'WAITING_FOR_REGISTER'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(subjects, ["fresh"]);
    // Its register token is void, and the name can be registered again.
    let r = s.post(
        "/auth/api/login/registration/self-register",
        None,
        &json!({"register_token": token, "username": "late", "displayName": "Late"}),
    );
    assert_eq!(r.status(), 401);
    let r = s.post(
        &path,
        None,
        &json!({"username": "late", "password": "late password"}),
    );
    assert_eq!(r.status(), 201);
}
