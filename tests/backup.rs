//! `keyward backup` and `keyward restore`: a consistent copy while the server runs and writes,
//! put back into a stopped installation, after which an old password logs in again; and every
//! refusal (a running server, a damaged, foreign, newer or missing file, another installation's
//! master key, an existing backup file), each leaving the database exactly as it was.

mod common;

use common::{BIN, Server};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn keyward(args: &[&str], db: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db)
        .env("KEYWARD_LOG", "warn")
        .output()
        .expect("run keyward")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn password_client(s: &Server, admin: &str) -> (String, String) {
    s.client_with_secret(
        admin,
        &json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
    )
}

fn usernames(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT username FROM users ORDER BY username")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The database file's bytes and the names in its directory, to show that a refusal changed
/// nothing and left nothing behind.
fn snapshot(db: &Path) -> (Vec<u8>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (std::fs::read(db).unwrap(), names)
}

#[test]
fn a_backup_taken_while_the_server_writes_restores_and_an_old_password_logs_in() {
    let s = Arc::new(Server::start());
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    let (alice, _) = s.user(&admin, "alice");

    // A writer creates users as fast as the server takes them, all through the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let (s, admin, stop, acked) = (s.clone(), admin.clone(), stop.clone(), acked.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("w{i:05}");
                let r = s.post(
                    "/auth/api/login/user",
                    Some(&admin),
                    &json!({"username": name, "displayName": name}),
                );
                assert_eq!(r.status(), 201);
                acked.lock().unwrap().push(name);
                i += 1;
            }
        })
    };
    while acked.lock().unwrap().len() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out_dir = tempfile::tempdir().unwrap();
    let backup = out_dir.path().join("keyward-backup.db");
    let before: Vec<String> = acked.lock().unwrap().clone();
    let b = keyward(&["backup", "--out", backup.to_str().unwrap()], &s.db_path());
    let after: Vec<String> = acked.lock().unwrap().clone();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(b.status.success(), "{}", text(&b.stderr));
    assert!(
        after.len() > before.len(),
        "the server wrote during the backup"
    );

    // It says where the master key is and that it is not inside.
    let stderr = text(&b.stderr);
    assert!(stderr.contains("NOT in the backup"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}.key", s.db_path().display())),
        "{stderr}"
    );
    assert!(text(&b.stdout).contains("integrity check ok"));
    #[cfg(unix)]
    assert_eq!(mode(&backup), 0o600);
    // One file, nothing beside it.
    let names: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);

    // Consistent: every write acknowledged before the backup began is in it, and what is in
    // it is a prefix of the writes (the writer's users are made one after the other).
    let in_backup: Vec<String> = usernames(&backup)
        .into_iter()
        .filter(|u| u.starts_with('w'))
        .collect();
    assert!(in_backup.len() >= before.len());
    assert!(in_backup.len() <= after.len());
    assert_eq!(in_backup[..], after[..in_backup.len()]);
    let c = rusqlite::Connection::open(&backup).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(c);

    // Later changes: alice is deleted, a new user comes.
    assert_eq!(
        s.delete(&format!("/auth/api/login/user/{alice}"), Some(&admin))
            .status(),
        200
    );
    s.user(&admin, "late");
    let r = s.password_grant(&client, "alice", "password-of-user", None);
    assert_eq!(r.status(), 400);

    // Restore into the stopped installation.
    let s = Arc::try_unwrap(s).ok().expect("the writer is done");
    let dir = s.stop_keep_dir();
    let db = dir.path().join("keyward.db");
    let r = keyward(&["restore", "--from", backup.to_str().unwrap()], &db);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert!(text(&r.stdout).contains("restored"), "{}", text(&r.stdout));
    #[cfg(unix)]
    assert_eq!(mode(&db), 0o600);
    for leftover in ["keyward.db-wal", "keyward.db-shm"] {
        assert!(!dir.path().join(leftover).exists(), "{leftover}");
    }
    let s = Server::start_in(dir, &[]);
    let r = s.password_grant(&client, "alice", "password-of-user", None);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let names = usernames(&s.db_path());
    assert!(names.contains(&"alice".to_string()));
    assert!(!names.contains(&"late".to_string()));
}

#[test]
fn restore_is_refused_while_a_server_uses_the_database() {
    let s = Server::start();
    let admin = s.admin("admin");
    let out_dir = tempfile::tempdir().unwrap();
    let backup = out_dir.path().join("b.db");
    assert!(
        s.cli(&["backup", "--out", backup.to_str().unwrap()], None)
            .status
            .success()
    );
    s.user(&admin, "after");

    let r = s.cli(&["restore", "--from", backup.to_str().unwrap()], None);
    assert_eq!(r.status.code(), Some(1));
    let stderr = text(&r.stderr);
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(stderr.contains("stop it"), "{stderr}");
    // Nothing changed: the server still has its user and answers.
    assert!(usernames(&s.db_path()).contains(&"after".to_string()));
    assert_eq!(s.get("/readyz", None).status(), 200);
    let me: Value = s
        .get("/auth/api/login/user/self", Some(&admin))
        .json()
        .unwrap();
    assert_eq!(me["username"], "admin");

    // Stopped, but another program (here the sqlite library in this test) has it open:
    // refused too, found by SQLite's own lock on the shared-memory file.
    let dir = s.stop_keep_dir();
    let db = dir.path().join("keyward.db");
    let other = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = other
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    let r = keyward(&["restore", "--from", backup.to_str().unwrap()], &db);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        text(&r.stderr).contains("open in another program"),
        "{}",
        text(&r.stderr)
    );
    assert!(usernames(&db).contains(&"after".to_string()));
    drop(other);

    // Once nothing has it open, the same restore goes through.
    let r = keyward(&["restore", "--from", backup.to_str().unwrap()], &db);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert!(!usernames(&db).contains(&"after".to_string()));
}

#[test]
fn restore_refuses_damaged_foreign_newer_and_missing_files_and_changes_nothing() {
    let s = Server::start();
    let admin = s.admin("admin");
    s.user(&admin, "alice");
    let out_dir = tempfile::tempdir().unwrap();
    let good = out_dir.path().join("good.db");
    assert!(
        s.cli(&["backup", "--out", good.to_str().unwrap()], None)
            .status
            .success()
    );
    let dir = s.stop_keep_dir();
    let db = dir.path().join("keyward.db");
    let bytes = std::fs::read(&good).unwrap();
    let page = 4096;
    assert!(bytes.len() > 8 * page);

    let mut cases: Vec<(&str, PathBuf, &str)> = Vec::new();
    // Pages in the middle overwritten.
    let mut damaged = bytes.clone();
    for b in &mut damaged[3 * page..5 * page] {
        *b = 0xA5;
    }
    let p = out_dir.path().join("damaged.db");
    std::fs::write(&p, &damaged).unwrap();
    cases.push(("damaged", p, "not a usable keyward backup"));
    // Cut short.
    let p = out_dir.path().join("truncated.db");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    cases.push(("truncated", p, "not a usable keyward backup"));
    // Not a database at all.
    let p = out_dir.path().join("garbage.db");
    std::fs::write(&p, b"this is not a database, just some text\n".repeat(300)).unwrap();
    cases.push(("garbage", p, "not a usable keyward backup"));
    // A sound SQLite file of something else.
    let p = out_dir.path().join("foreign.db");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('hi');")
        .unwrap();
    drop(c);
    cases.push(("foreign", p, "not a keyward database"));
    // A keyward database from a newer keyward.
    let p = out_dir.path().join("newer.db");
    std::fs::copy(&good, &p).unwrap();
    let c = rusqlite::Connection::open(&p).unwrap();
    c.pragma_update(None, "user_version", 999).unwrap();
    drop(c);
    cases.push(("newer", p, "newer than this keyward knows"));
    // Nothing there.
    cases.push((
        "missing",
        out_dir.path().join("missing.db"),
        "no backup file",
    ));

    let before = snapshot(&db);
    for (name, file, says) in &cases {
        let r = keyward(&["restore", "--from", file.to_str().unwrap()], &db);
        let stderr = text(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert!(stderr.starts_with("keyward: "), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(snapshot(&db) == before, "{name} changed the database");
    }
    // No usage: exit 2.
    let r = keyward(&["restore"], &db);
    assert_eq!(r.status.code(), Some(2));

    // The good one still restores, and the server starts on it.
    let r = keyward(&["restore", "--from", good.to_str().unwrap()], &db);
    assert!(r.status.success(), "{}", text(&r.stderr));
    let s = Server::start_in(dir, &[]);
    assert!(usernames(&s.db_path()).contains(&"alice".to_string()));
}

#[test]
fn the_master_key_decides_where_a_backup_may_go() {
    let s = Server::start();
    let admin = s.admin("admin");
    let client = password_client(&s, &admin);
    s.user(&admin, "alice");
    let out_dir = tempfile::tempdir().unwrap();
    let backup = out_dir.path().join("b.db");
    assert!(
        s.cli(&["backup", "--out", backup.to_str().unwrap()], None)
            .status
            .success()
    );
    let key = std::fs::read(format!("{}.key", s.db_path().display())).unwrap();
    drop(s);

    // Another installation, with its own master key: refused, nothing changed.
    let other = Server::start();
    let other_dir = other.stop_keep_dir();
    let other_db = other_dir.path().join("keyward.db");
    let before = snapshot(&other_db);
    let r = keyward(&["restore", "--from", backup.to_str().unwrap()], &other_db);
    assert_eq!(r.status.code(), Some(1));
    let stderr = text(&r.stderr);
    assert!(
        stderr.contains("do not open with the master key"),
        "{stderr}"
    );
    assert!(snapshot(&other_db) == before);

    // A new machine with no database and no key yet: restored, with a word about the key.
    let fresh = tempfile::tempdir().unwrap();
    let db = fresh.path().join("keyward.db");
    let r = keyward(&["restore", "--from", backup.to_str().unwrap()], &db);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert!(
        text(&r.stderr).contains("no master key"),
        "{}",
        text(&r.stderr)
    );
    // With the key put beside it, the server starts and alice logs in.
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(format!("{}.key", db.display()))
            .unwrap()
            .write_all(&key)
            .unwrap();
    }
    let s = Server::start_in(fresh, &[]);
    let r = s.password_grant(&client, "alice", "password-of-user", None);
    assert_eq!(r.status(), 200, "{:?}", r.text());
}

#[test]
fn backup_never_overwrites_and_needs_a_database() {
    let s = Server::start();
    s.admin("admin");
    let out_dir = tempfile::tempdir().unwrap();
    let taken = out_dir.path().join("taken.db");
    std::fs::write(&taken, b"precious").unwrap();
    let r = s.cli(&["backup", "--out", taken.to_str().unwrap()], None);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        text(&r.stderr).contains("already exists"),
        "{}",
        text(&r.stderr)
    );
    assert_eq!(std::fs::read(&taken).unwrap(), b"precious");
    // No --out: usage, exit 2.
    assert_eq!(s.cli(&["backup"], None).status.code(), Some(2));

    // No database there: refused, and none is created.
    let empty = tempfile::tempdir().unwrap();
    let db = empty.path().join("keyward.db");
    let out = empty.path().join("b.db");
    let r = keyward(&["backup", "--out", out.to_str().unwrap()], &db);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        text(&r.stderr).contains("no database"),
        "{}",
        text(&r.stderr)
    );
    assert!(!db.exists() && !out.exists());
}
