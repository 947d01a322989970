//! The small hardening rules of operations and the HTTP surfaces: private files, the key-file
//! refusal, internal errors that never reach a client, a JWKS that follows the database, body
//! limits and content types in each surface's shape, and control characters in names.

mod common;

use common::{BIN, FAST_HASH, Server, expect_error};
use reqwest::blocking::Response;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `serve` started by hand, with a permissive umask (as a careless service manager would give
/// it) and its log in a file, for the tests that look at files and logs.
struct Proc {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Proc {
    fn spawn(dir: &Path) -> Child {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(dir.join("keyward.db"))
            .args(FAST_HASH)
            .env("KEYWARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap());
        // SAFETY: umask is async-signal-safe and touches nothing but the child's own state.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0o002);
                Ok(())
            });
        }
        cmd.spawn().expect("start keyward")
    }

    fn start(dir: &Path) -> Proc {
        let mut child = Self::spawn(dir);
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("keyward listening on ") {
                    let _ = tx.send(rest.split(' ').next().unwrap_or_default().to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("keyward did not start");
        Proc {
            child,
            base,
            log: dir.join("stderr.log"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a CLI subcommand on the database in `dir`; its stdout.
fn cli(dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(dir.join("keyward.db"))
        .env("KEYWARD_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn admin_token(dir: &Path, scope: &str) -> String {
    let mut args = vec!["admin", "create", "--username", "admin", "--password-stdin"];
    args.extend_from_slice(FAST_HASH);
    cli(dir, &args, Some("correct horse battery\n"));
    cli(
        dir,
        &["admin", "token", "--username", "admin", "--scope", scope],
        None,
    )
}

/// Waits for a process that must exit by itself; a server that keeps running fails the test.
fn exit_of(mut child: Child) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("keyward started although it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn database_and_key_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyward.db");
    let files = [
        db.clone(),
        with_suffix(&db, "-wal"),
        with_suffix(&db, "-shm"),
        with_suffix(&db, ".key"),
    ];
    {
        let p = Proc::start(dir.path());
        // A write from the server and one from the CLI beside it.
        admin_token(dir.path(), "login");
        let r = reqwest::blocking::get(format!("{}/readyz", p.base)).unwrap();
        assert_eq!(r.status(), 200);
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
    }
    // A database an older keyward left readable by others is made private at the next start,
    // and so are the files SQLite keeps beside it.
    for f in &files[..3] {
        if f.exists() {
            chmod(f, 0o644);
        }
    }
    let p = Proc::start(dir.path());
    let r = reqwest::blocking::get(format!("{}/readyz", p.base)).unwrap();
    assert_eq!(r.status(), 200);
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
}

#[test]
fn a_key_file_others_can_read_stops_serve() {
    let s = Server::start();
    let dir = s.stop_keep_dir();
    let key = dir.path().join("keyward.db.key");
    assert_eq!(mode(&key), 0o600);
    for loose in [0o644, 0o640, 0o604, 0o620, 0o602] {
        chmod(&key, loose);
        let child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(dir.path().join("keyward.db"))
            .env("KEYWARD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (code, err) = exit_of(child);
        assert_eq!(code, 1, "mode {loose:o}: {err}");
        assert!(
            err.contains(&format!("chmod 600 {}", key.display())),
            "mode {loose:o}: {err}"
        );
        // Refused without changing the file: the admin decides.
        assert_eq!(mode(&key), loose);
    }
    chmod(&key, 0o600);
    let s = Server::start_in(dir, &[]);
    assert_eq!(s.get("/readyz", None).status(), 200);
}

/// Every answer carries an `X-Request-Id`, a new one each time.
#[test]
fn every_response_has_a_request_id() {
    let s = Server::start();
    let mut seen = std::collections::HashSet::new();
    let big = "x".repeat(2 << 20);
    let answers = [
        s.get("/healthz", None),
        s.get("/nothing/here", None),
        s.get("/auth/flow/login", None),
        s.get("/.well-known/jwks.json", None),
        s.get("/auth/oauth/authorize", None),
        s.get("/api/v2/users/x", None),
        s.http
            .post(s.url("/auth/api/login/user"))
            .body(big)
            .send()
            .unwrap(),
    ];
    for r in answers {
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(id.len() >= 16, "{id}");
        assert!(seen.insert(id), "request ids are not reused");
    }
}

/// The message a client gets for an internal error, with the id of its request.
fn generic(r: &Response) -> String {
    let id = r.headers()["x-request-id"].to_str().unwrap();
    format!("internal error; request id {id}")
}

/// Internal failures (here: stored values that no longer open or parse) answer a generic 500
/// that names the request; the detail goes only to the log, under the same request id.
#[test]
fn internal_errors_never_reach_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start(dir.path());
    let admin = admin_token(dir.path(), "login");
    let privileged = cli(
        dir.path(),
        &[
            "admin",
            "token",
            "--username",
            "admin",
            "--scope",
            "login read:users",
        ],
        None,
    );
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", p.base);
    let me: Value = http
        .get(url("/auth/api/login/user/self"))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let inst: Value = http
        .post(url("/auth/api/login/strategy-instance"))
        .bearer_auth(&admin)
        .json(&json!({"type": "userpass", "name": "extra"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let inst = inst["id"].as_str().unwrap().to_string();
    let client: Value = http
        .post(url("/auth/api/login/client"))
        .bearer_auth(&admin)
        .json(&json!({"name": "legacy", "allowPasswordGrant": true}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let client = client["id"].as_str().unwrap().to_string();
    let secret: Value = http
        .post(url(&format!(
            "/auth/api/login/client/{client}/client-secret"
        )))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let secret = secret["secretText"].as_str().unwrap().to_string();

    // Damage: a sealed config that no longer opens.
    let db = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute(
        "UPDATE strategy_instances SET config = x'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff' WHERE id = ?1",
        [&inst],
    )
    .unwrap();
    let leaks = ["sealed", "master key", "database", "JSON", "task", "panic"];
    let check = |r: Response, status: u16| -> (String, Value) {
        assert_eq!(r.status().as_u16(), status);
        let rid = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let want = generic(&r);
        let text = r.text().unwrap();
        for l in leaks {
            assert!(!text.contains(l), "{l:?} leaked: {text}");
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        let message = v["message"]
            .as_str()
            .or(v["error_description"].as_str())
            .unwrap();
        assert_eq!(message, want, "{v}");
        (rid, v)
    };

    // The login API's shape.
    let (rid, v) = check(
        http.get(url(&format!("/auth/api/login/strategy-instance/{inst}")))
            .bearer_auth(&admin)
            .send()
            .unwrap(),
        500,
    );
    assert_eq!(v["statusCode"], 500);
    assert_eq!(v["error"], "Internal Server Error");
    // The flows' shape (the login page lists the instances).
    let (_, v) = check(http.get(url("/auth/api/flow/context")).send().unwrap(), 500);
    assert_eq!(v["statusCode"], 500);
    // The log has the detail under the same request id.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.log().contains(&rid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = p.log();
    let line = log
        .lines()
        .find(|l| l.contains(&rid))
        .unwrap_or_else(|| panic!("no log line for {rid}: {log}"));
    assert!(line.contains("sealed value"), "{line}");

    // A client row whose stored JSON no longer parses: a database error.
    db.execute(
        "UPDATE oauth_clients SET redirect_urls = 'not json' WHERE id = ?1",
        [&client],
    )
    .unwrap();
    check(
        http.get(url("/auth/api/login/client"))
            .bearer_auth(&admin)
            .send()
            .unwrap(),
        500,
    );
    // The OAuth shape: the token endpoint reads the same client.
    let (_, v) = check(
        http.post(url("/auth/oauth/token"))
            .basic_auth(&client, Some(&secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", "correct horse battery"),
            ])
            .send()
            .unwrap(),
        500,
    );
    assert_eq!(v["error"], "server_error");

    // The Auth0 shape: the user's identity lives on an instance that no longer opens.
    db.execute(
        "UPDATE strategy_instances SET config = x'00' WHERE name = 'local'",
        [],
    )
    .unwrap();
    let id = me["id"].as_str().unwrap();
    let (_, v) = check(
        http.get(url(&format!("/api/v2/users/{id}")))
            .bearer_auth(&privileged)
            .send()
            .unwrap(),
        500,
    );
    assert_eq!(v["statusCode"], 500);
    assert!(v["errorCode"].is_string(), "{v}");
}

/// A key added by `keyward keys rotate` (another process) is in the JWKS as soon as the command
/// has finished, before the server could have signed anything with it.
#[test]
fn jwks_lists_a_cli_rotated_key_at_once() {
    let s = Server::start();
    let kids = |s: &Server| -> Vec<String> {
        let v: Value = s.get("/.well-known/jwks.json", None).json().unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let before = kids(&s);
    assert_eq!(before.len(), 1);
    for alg in ["EdDSA", "ES256"] {
        let out = s.cli(&["keys", "rotate", "--alg", alg], None);
        assert!(out.status.success());
        let printed = String::from_utf8(out.stdout).unwrap();
        let kid = printed.trim().rsplit(' ').next().unwrap().to_string();
        let now = kids(&s);
        assert!(now.contains(&kid), "{kid} missing from {now:?}");
        // The keys it replaced stay published until their tokens have expired.
        assert!(before.iter().all(|k| now.contains(k)), "{now:?}");
    }
    assert_eq!(kids(&s).len(), 3);
}

const BIG: usize = 2 << 20;

/// A body over the limit gets 413 in the shape of the surface it was sent to.
#[test]
fn oversized_bodies_get_413_in_each_shape() {
    let s = Server::start();
    let big = || "x".repeat(BIG);
    let post = |path: &str, ct: &str| {
        s.http
            .post(s.url(path))
            .header("content-type", ct)
            .body(big())
            .send()
            .unwrap()
    };
    // Login API, flows, operations.
    for path in ["/auth/api/login/user", "/auth/api/flow/login", "/healthz"] {
        let r = post(path, "application/json");
        assert_eq!(r.status(), 413, "{path}");
        let v: Value = r.json().unwrap();
        assert_eq!(v["statusCode"], 413, "{path}: {v}");
        assert_eq!(v["error"], "Payload Too Large", "{v}");
        assert!(v["message"].is_string(), "{v}");
    }
    // OAuth.
    for path in ["/auth/oauth/token", "/auth/oauth/introspect"] {
        let r = post(path, "application/x-www-form-urlencoded");
        assert_eq!(r.status(), 413, "{path}");
        let v: Value = r.json().unwrap();
        assert_eq!(v["error"], "invalid_request", "{v}");
        assert!(v["error_description"].is_string(), "{v}");
        assert!(v.get("statusCode").is_none(), "{v}");
    }
    // Auth0's shape.
    let r = post("/api/v2/users/someone/identities", "application/json");
    assert_eq!(r.status(), 413);
    let v: Value = r.json().unwrap();
    assert_eq!(v["statusCode"], 413, "{v}");
    assert_eq!(v["error"], "Payload Too Large", "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert!(
        v["errorCode"].as_str().is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    // Just under the limit is read (and refused for what it says, not for its size).
    let r = s
        .http
        .post(s.url("/auth/api/login/user"))
        .header("content-type", "application/json")
        .body(" ".repeat(1 << 20))
        .send()
        .unwrap();
    expect_error(r, 401);
}

/// NUL and other control characters are refused in names, naming the field; nothing is made.
#[test]
fn control_characters_in_names_are_refused() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (uid, own) = s.user(&admin, "alice");
    let users = "/auth/api/login/user";
    for bad in ["a\u{0}b", "a\u{1b}[31mb", "a\nb", "a\u{7f}b", "a\u{85}b"] {
        let user = |field: &str, value: &str| {
            let mut body = json!({"username": "newbie", "displayName": "Newbie"});
            body[field] = json!(value);
            body
        };
        let m = expect_error(s.post(users, Some(&admin), &user("username", bad)), 400);
        assert!(m.contains("username"), "{m}");
        let m = expect_error(s.post(users, Some(&admin), &user("displayName", bad)), 400);
        assert!(m.contains("displayName"), "{m}");
        let m = expect_error(
            s.post(users, Some(&admin), &user("email", &format!("{bad}@x.org"))),
            400,
        );
        assert!(m.contains("email"), "{m}");
        let m = expect_error(
            s.put(
                &format!("{users}/{uid}"),
                Some(&own),
                &json!({"displayName": bad}),
            ),
            400,
        );
        assert!(m.contains("displayName"), "{m}");
        let m = expect_error(
            s.post(
                "/auth/api/login/client",
                Some(&admin),
                &json!({"name": format!("app {bad}")}),
            ),
            400,
        );
        assert!(m.contains("name"), "{m}");
        let m = expect_error(
            s.post(
                "/auth/api/login/strategy-instance",
                Some(&admin),
                &json!({"type": "userpass", "name": format!("inst {bad}")}),
            ),
            400,
        );
        assert!(m.contains("name"), "{m}");
        let m = expect_error(
            s.post(
                "/auth/api/login/client",
                Some(&admin),
                &json!({"name": "app", "redirectUrls": [format!("https://app.example.com/{bad}")]}),
            ),
            400,
        );
        assert!(m.contains("redirectUrls"), "{m}");
    }
    // Nothing was made or changed by any of these.
    let list: Value = s.get(users, Some(&admin)).json().unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let me: Value = s.get(&format!("{users}/{uid}"), Some(&own)).json().unwrap();
    assert_eq!(me["displayName"], "alice");
    let clients: Vec<Value> = s
        .get("/auth/api/login/client", Some(&admin))
        .json()
        .unwrap();
    assert_eq!(clients.len(), 2);
    // Letters of every script are still names.
    let r = s.post(
        users,
        Some(&admin),
        &json!({"username": "zoë", "displayName": "Zoë Ñandú 山田"}),
    );
    assert_eq!(r.status(), 201);
}

/// A JSON body on the login, flow and identities APIs must say it is JSON.
#[test]
fn json_bodies_need_the_json_content_type() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (uid, own) = s.user(&admin, "alice");
    let send = |path: &str, token: Option<&str>, ct: Option<&str>, body: &Value| {
        let mut rb = s.http.post(s.url(path)).body(body.to_string());
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        rb.send().unwrap()
    };
    let user = |name: &str| json!({"username": name, "displayName": name});
    let users = "/auth/api/login/user";
    for ct in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonp"),
        Some("text/json"),
    ] {
        let r = send(users, Some(&admin), ct, &user("bob"));
        assert_eq!(r.status(), 415, "{ct:?}");
        let v: Value = r.json().unwrap();
        assert_eq!(v["statusCode"], 415, "{v}");
        assert_eq!(v["error"], "Unsupported Media Type", "{v}");
        assert!(
            v["message"].as_str().unwrap().contains("application/json"),
            "{v}"
        );
    }
    // The flows.
    let r = send(
        "/auth/api/flow/setup/check",
        None,
        Some("text/plain"),
        &json!({"token": "x"}),
    );
    assert_eq!(r.status(), 415);
    assert_eq!(r.json::<Value>().unwrap()["statusCode"], 415);
    // The identities API, in Auth0's shape.
    let r = send(
        &format!("/api/v2/users/{uid}/identities"),
        Some(&own),
        Some("text/plain"),
        &json!({"link_with": "x"}),
    );
    assert_eq!(r.status(), 415);
    let v: Value = r.json().unwrap();
    assert_eq!(v["statusCode"], 415, "{v}");
    assert!(v["errorCode"].is_string(), "{v}");
    // Nothing was created.
    let list: Value = s.get(users, Some(&admin)).json().unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // With parameters, in any case.
    for (name, ct) in [
        ("bob", "application/json; charset=utf-8"),
        ("carol", "Application/JSON"),
        ("dave", "application/json;charset=UTF-8"),
    ] {
        let r = send(users, Some(&admin), Some(ct), &user(name));
        assert_eq!(r.status(), 201, "{ct}: {:?}", r.text());
    }
    // No body and no content type, where no body is needed.
    let id = s.new_client(&admin, &json!({"name": "app"}));
    let r = s
        .http
        .post(s.url(&format!("/auth/api/login/client/{id}/client-secret")))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    // The OAuth endpoints keep taking forms.
    let r = s
        .http
        .post(s.url("/auth/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "nope")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}
