//! `keyward users export` and `keyward users import`: JSON lines that carry users with their
//! identities and password hashes from one installation to another (both running), bcrypt and
//! argon2i hashes that log in and are then re-hashed to argon2id, and bad or clashing lines
//! reported by their line numbers and skipped while the rest goes in.

mod common;

use common::Server;
use serde_json::{Value, json};
use std::path::Path;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn password_client(s: &Server, admin: &str) -> (String, String) {
    s.client_with_secret(
        admin,
        &json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
    )
}

fn stored_hash(db: &Path, subject: &str) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT password_hash FROM identities WHERE subject = ?1",
        [subject],
        |r| r.get(0),
    )
    .unwrap()
}

/// Runs `users import` on the server's database with `lines` as the file.
fn import(s: &Server, lines: &str, extra: &[&str]) -> (String, String, Option<i32>) {
    let file = s.dir.path().join(format!("import-{}.jsonl", rand_suffix()));
    std::fs::write(&file, lines).unwrap();
    let mut args = vec!["users", "import", "--from", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = s.cli(&args, None);
    (text(&out.stdout), text(&out.stderr), out.status.code())
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[test]
fn export_then_import_into_a_fresh_running_installation_then_log_in() {
    let s1 = Server::start();
    let admin = s1.admin("admin");
    let (alice, _) = s1.user(&admin, "alice");
    let r = s1.post(
        "/auth/api/login/user",
        Some(&admin),
        &json!({"username": "Bob.Builder", "displayName": "Bob the Builder",
                "email": "bob@example.com", "password": "bob's password"}),
    );
    assert_eq!(r.status(), 201);
    let r = s1.post(
        "/auth/api/login/user",
        Some(&admin),
        &json!({"username": "nopass", "displayName": "No Password"}),
    );
    assert_eq!(r.status(), 201);
    let blocked = s1.user(&admin, "blocked").0;
    let r = s1.put(
        &format!("/auth/api/login/user/{blocked}"),
        Some(&admin),
        &json!({"isBlocked": true}),
    );
    assert_eq!(r.status(), 200);

    // To standard output: only the lines; the count goes to stderr.
    let out = s1.cli(&["users", "export"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = text(&out.stdout);
    assert!(
        text(&out.stderr).contains("exported 5 users"),
        "{}",
        text(&out.stderr)
    );
    let lines: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert_eq!(lines.len(), 5);
    let a = lines.iter().find(|l| l["username"] == "alice").unwrap();
    assert_eq!(a["id"], alice.as_str());
    assert_eq!(a["isAdmin"], false);
    assert_eq!(a["isBlocked"], false);
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a["identities"][0]["instance"], "local");
    assert_eq!(a["identities"][0]["subject"], "alice");
    assert!(
        a["identities"][0]["passwordHash"]
            .as_str()
            .unwrap()
            .starts_with("$argon2id$")
    );
    let b = lines
        .iter()
        .find(|l| l["username"] == "Bob.Builder")
        .unwrap();
    assert_eq!(b["displayName"], "Bob the Builder");
    assert_eq!(b["email"], "bob@example.com");
    let n = lines.iter().find(|l| l["username"] == "nopass").unwrap();
    assert_eq!(n["identities"], json!([]));
    let bl = lines.iter().find(|l| l["username"] == "blocked").unwrap();
    assert_eq!(bl["isBlocked"], true);

    // To a file: private, the same lines; an existing file is never overwritten.
    let file = s1.dir.path().join("users.jsonl");
    let out = s1.cli(&["users", "export", "--out", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), exported);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let out = s1.cli(&["users", "export", "--out", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), exported);

    // Into a fresh installation that is running.
    let s2 = Server::start();
    let (stdout, stderr, code) = import(&s2, &exported, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "imported 5, skipped 0", "{stderr}");

    // Everything came over as it was: exporting again gives the same lines.
    let again = s2.cli(&["users", "export"], None);
    assert_eq!(text(&again.stdout), exported);

    // The ids are kept, and the old passwords log in on the new server.
    let admin2 = s2.token("admin", "login");
    let u: Value = s2
        .get(&format!("/auth/api/login/user/{alice}"), Some(&admin2))
        .json()
        .unwrap();
    assert_eq!(u["username"], "alice");
    let client = password_client(&s2, &admin2);
    let r = s2.password_grant(&client, "alice", "password-of-user", None);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let r = s2.password_grant(&client, "bob.builder", "bob's password", None);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let r = s2.password_grant(&client, "blocked", "password-of-user", None);
    assert_ne!(r.status(), 200);

    // The same file again: every line clashes, is reported, and nothing changes.
    let (stdout, stderr, code) = import(&s2, &exported, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(stdout.trim(), "imported 0, skipped 5");
    for n in 1..=5 {
        assert!(stderr.contains(&format!("line {n}: ")), "{stderr}");
    }
    assert_eq!(text(&s2.cli(&["users", "export"], None).stdout), exported);
}

#[test]
fn a_bcrypt_line_logs_in_and_its_hash_becomes_argon2id() {
    let s = Server::start();
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    // As Auth0 and the Gropius login service export them: $2b$, $2a$, $2y$ (the same
    // algorithm; the prefix tells which implementation made it).
    let h = bcrypt::hash("carol's password", 4).unwrap();
    assert!(h.starts_with("$2b$04$"));
    let a = h.replacen("$2b$", "$2a$", 1);
    let y = bcrypt::hash("erin's password", 5)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let lines = [
        json!({"username": "carol", "identities": [{"instance": "local", "subject": "carol", "passwordHash": h}]}),
        json!({"username": "dave", "identities": [{"instance": "local", "subject": "dave", "passwordHash": a}]}),
        json!({"username": "erin", "identities": [{"instance": "local", "subject": "erin", "passwordHash": y}]}),
        // A password identity without a subject logs in with the line's username.
        json!({"username": "Gina", "identities": [{"instance": "local", "passwordHash": h}]}),
    ]
    .map(|l| l.to_string())
    .join("\n");
    let (stdout, stderr, code) = import(&s, &lines, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "imported 4, skipped 0", "{stderr}");

    // A wrong password fails and leaves the hash as it is.
    let r = s.password_grant(&client, "carol", "not carol's password", None);
    assert_eq!(r.status(), 400);
    assert_eq!(stored_hash(&s.db_path(), "carol"), h);

    for (user, password, imported) in [
        ("carol", "carol's password", &h),
        ("dave", "carol's password", &a),
        ("erin", "erin's password", &y),
        ("gina", "carol's password", &h),
    ] {
        let r = s.password_grant(&client, user, password, None);
        assert_eq!(r.status(), 200, "{user}: {:?}", r.text());
        let now = stored_hash(&s.db_path(), user);
        assert_ne!(&now, imported);
        assert!(
            now.starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
            "{user}: {now}"
        );
        // The new hash checks too.
        let r = s.password_grant(&client, user, password, None);
        assert_eq!(r.status(), 200, "{user} again");
    }
}

#[test]
fn an_argon2i_line_logs_in_and_its_hash_becomes_argon2id() {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
    let s = Server::start();
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    let h = Argon2::new(
        Algorithm::Argon2i,
        Version::V0x13,
        Params::new(64, 2, 1, None).unwrap(),
    )
    .hash_password(b"frank's password")
    .unwrap()
    .to_string();
    assert!(h.starts_with("$argon2i$"), "{h}");
    let line = json!({"username": "frank", "displayName": "Frank",
                      "identities": [{"instance": "local", "subject": "Frank", "passwordHash": h}]});
    let (stdout, stderr, _) = import(&s, &line.to_string(), &[]);
    assert_eq!(stdout.trim(), "imported 1, skipped 0", "{stderr}");
    // The subject is stored as usernames are: lowercase.
    assert_eq!(stored_hash(&s.db_path(), "frank"), h);
    let r = s.password_grant(&client, "frank", "wrong password", None);
    assert_eq!(r.status(), 400);
    let r = s.password_grant(&client, "Frank", "frank's password", None);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let now = stored_hash(&s.db_path(), "frank");
    assert!(now.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{now}");
}

#[test]
fn invalid_and_clashing_lines_are_reported_by_number_and_skipped() {
    let s = Server::start();
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    let good_hash = bcrypt::hash("ok1 password", 4).unwrap();
    let id = "7d4a3c3e-7a55-4f5e-9a43-5f0c1d2e3f40";
    let lines = [
        /* 1 */
        json!({"username": "ok1", "identities": [{"instance": "local", "subject": "ok1", "passwordHash": good_hash}]}).to_string(),
        /* 2 */ r#"{"username": "#.to_string(),
        /* 3 */ json!({"displayName": "No Username"}).to_string(),
        /* 4 */
        json!({"username": "u4", "identities": [{"instance": "nowhere", "subject": "u4"}]}).to_string(),
        /* 5: the same name as line 1, in the same batch, in other case */
        json!({"username": "OK1"}).to_string(),
        /* 6: an MD5-crypt hash */
        json!({"username": "u6", "identities": [{"instance": "local", "subject": "u6", "passwordHash": "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}]}).to_string(),
        /* 7 */ json!({"id": id, "username": "ok2"}).to_string(),
        /* 8: ok1's password identity for another user */
        json!({"username": "u8", "identities": [{"instance": "local", "subject": "OK1"}]}).to_string(),
        /* 9 */ String::new(),
        /* 10: line 7's id, in the same batch */
        json!({"id": id, "username": "u10"}).to_string(),
        /* 11 */ json!({"username": "ok3", "email": "ok3@example.com"}).to_string(),
        /* 12 */
        json!({"username": "u12", "identities": [{"instance": "passkey", "subject": "AAAA"}]}).to_string(),
        /* 13: a field the format does not have (a plain password) */
        json!({"username": "u13", "password": "plain text"}).to_string(),
        /* 14: the existing admin */
        json!({"username": "admin"}).to_string(),
        /* 15 */ json!({"username": "u15", "id": "not-a-uuid"}).to_string(),
        /* 16: a bcrypt hash with a broken body */
        json!({"username": "u16", "identities": [{"instance": "local", "subject": "u16", "passwordHash": "$2b$04$tooshort"}]}).to_string(),
        /* 17 */ json!({"username": "bad name!"}).to_string(),
    ]
    .join("\n");
    // Small batches: clashes inside one batch and across batches.
    let (stdout, stderr, code) = import(&s, &lines, &["--batch", "5"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "imported 3, skipped 13\n", "{stderr}");
    let skipped = [2, 3, 4, 5, 6, 8, 10, 12, 13, 14, 15, 16, 17];
    for n in skipped {
        assert!(
            stderr.contains(&format!("line {n}: ")),
            "line {n}: {stderr}"
        );
    }
    for n in [1, 7, 9, 11] {
        assert!(
            !stderr.contains(&format!("line {n}: ")),
            "line {n}: {stderr}"
        );
    }
    let says = |n: u32, what: &str| {
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("line {n}: ")))
            .unwrap();
        assert!(line.contains(what), "line {n} should say {what:?}: {line}");
    };
    says(3, "username");
    says(4, "nowhere");
    says(5, "taken");
    says(6, "unsupported password hash");
    says(8, "belongs to another user");
    says(10, "exists already");
    says(12, "passkeys cannot be imported");
    says(13, "password");
    says(14, "taken");
    says(15, "UUID");
    says(16, "bcrypt");

    // The good lines went in, whole; the others left nothing.
    let admin_list: Value = s
        .get("/auth/api/login/user?limit=100", Some(&admin))
        .json()
        .unwrap();
    let mut names: Vec<String> = admin_list
        .as_array()
        .or_else(|| admin_list["items"].as_array())
        .or_else(|| admin_list["users"].as_array())
        .expect("a user list")
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["admin", "ok1", "ok2", "ok3"]);
    let u: Value = s
        .get(&format!("/auth/api/login/user/{id}"), Some(&admin))
        .json()
        .unwrap();
    assert_eq!(u["username"], "ok2");
    let r = s.password_grant(&client, "ok1", "ok1 password", None);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    // Each batch left one audit event.
    let c = rusqlite::Connection::open(s.db_path()).unwrap();
    let batches: i64 = c
        .query_row(
            "SELECT count(*) FROM audit_events WHERE action = 'users.import'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(batches, 4);

    // A file that is not there: exit 1, before anything else.
    let out = s.cli(
        &["users", "import", "--from", "/nonexistent/users.jsonl"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no file"),
        "{}",
        text(&out.stderr)
    );
    // Usage errors: exit 2.
    assert_eq!(s.cli(&["users", "import"], None).status.code(), Some(2));
    let out = s.cli(&["users", "import", "--from", "-", "--batch", "0"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn thousands_of_lines_from_standard_input_go_in_batches() {
    let s = Server::start();
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    let hash = bcrypt::hash("shared password", 4).unwrap();
    let lines: String = (0..5000)
        .map(|i| {
            let u = format!("user{i:05}");
            format!(
                "{}\n",
                json!({"username": u, "displayName": format!("User {i}"),
                       "identities": [{"instance": "local", "subject": u, "passwordHash": hash}]})
            )
        })
        .collect();
    let out = s.cli(
        &["users", "import", "--from", "-", "--batch", "2000"],
        Some(&lines),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "imported 5000, skipped 0\n");
    let r = s.password_grant(&client, "user04999", "shared password", None);
    assert_eq!(r.status(), 200);
    let c = rusqlite::Connection::open(s.db_path()).unwrap();
    let (users, batches): (i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM users),
                    (SELECT count(*) FROM audit_events WHERE action = 'users.import')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((users, batches), (5001, 3));
}
