//! The appliance: start-up, CLI, tokens, strategies, strategy instances, users, audit.

mod common;

use common::{Server, expect_error};
use serde_json::{Value, json};
use std::process::{Command, Stdio};

#[test]
fn no_flags_start_creates_database_keys_and_setup_link() {
    common::tls();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::BIN)
        .current_dir(dir.path())
        .env("KEYWARD_LOG", "warn")
        .env_remove("KEYWARD_LISTEN")
        .env_remove("KEYWARD_DB")
        .env_remove("KEYWARD_PUBLIC_URL")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let lines: Vec<String> = {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(out).lines();
        let mut v = Vec::new();
        while let Some(Ok(l)) = r.next() {
            let done = l.contains("keyward admin create");
            v.push(l);
            if done {
                break;
            }
        }
        v
    };
    let text = lines.join("\n");
    assert!(
        text.contains("keyward listening on http://127.0.0.1:8080"),
        "{text}"
    );
    assert!(text.contains("/auth/flow/setup#token="), "{text}");
    let body: Value = reqwest::blocking::get("http://127.0.0.1:8080/healthz")
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert!(dir.path().join("keyward.db").exists());
    let key = dir.path().join("keyward.db.key");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "master key mode {mode:o}");
    // The first signing key is published.
    let jwks: Value = reqwest::blocking::get("http://127.0.0.1:8080/.well-known/jwks.json")
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    // SIGTERM shuts down gracefully with exit code 0.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn setup_link_creates_the_first_admin_once() {
    let s = Server::start();
    let lines = s.stdout_with("#token=");
    let link = lines
        .iter()
        .find_map(|l| l.split("#token=").nth(1))
        .expect("setup link printed")
        .trim()
        .to_string();
    let page = s.get("/auth/flow/setup", None);
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("setup.js"));

    assert_eq!(
        s.post("/auth/api/flow/setup/check", None, &json!({"token": link}))
            .status(),
        200
    );
    expect_error(
        s.post(
            "/auth/api/flow/setup/check",
            None,
            &json!({"token": "wrong"}),
        ),
        401,
    );
    // A page of this browser sends the CSRF cookie back as a header (double submit).
    let setup = |body: &Value, csrf: bool| {
        let mut rb = s
            .http
            .post(s.url("/auth/api/flow/setup"))
            .header("cookie", "kw_csrf=t0k3n");
        if csrf {
            rb = rb.header("x-csrf-token", "t0k3n");
        }
        rb.json(body).send().unwrap()
    };
    expect_error(
        setup(
            &json!({"token": link, "username": "root", "password": "short"}),
            true,
        ),
        400,
    );
    // Without the CSRF token (a cross-site form, say): refused, and the link stays good.
    let body = json!({"token": link, "username": "root", "password": "long enough password"});
    let r = setup(&body, false);
    assert_eq!(r.status(), 403);
    let v: Value = r.json().unwrap();
    assert_eq!(v["code"], "forbidden", "{v}");
    assert_eq!(
        s.post("/auth/api/flow/setup/check", None, &json!({"token": link}))
            .status(),
        200
    );
    let r = setup(&body, true);
    assert_eq!(r.status(), 201);
    let user: Value = r.json().unwrap();
    assert_eq!(user["isAdmin"], true);
    // Used up.
    expect_error(
        setup(
            &json!({"token": link, "username": "root2", "password": "long enough password"}),
            true,
        ),
        401,
    );
    // The new admin can get a token and act.
    let t = s.token("root", "login");
    assert_eq!(s.get("/auth/api/login/user/self", Some(&t)).status(), 200);
}

/// Runs keyward to its exit; (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(common::BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("KEYWARD_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `keyward` with `args` and `env`, waits for it to say where it listens, checks that
/// it answers there, and stops it.
fn serves_on_its_own_port(args: &[&str], env: &[(&str, &str)]) {
    common::tls();
    let mut child = Command::new(common::BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("KEYWARD_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let first = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line
    };
    let _ = child.kill();
    let _ = child.wait();
    let addr = first
        .strip_prefix("keyward listening on http://")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{args:?} {env:?}: {first}"));
    assert!(
        addr.starts_with("127.0.0.1:") && addr != "127.0.0.1:8080",
        "{args:?} {env:?}: {first}"
    );
}

/// `keyward` with no subcommand is `keyward serve`: it takes the same flags and the same
/// variables (`KEYWARD_LISTEN` among them), and refuses the same bad values.
#[test]
fn keyward_without_a_subcommand_takes_serves_flags_and_variables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let db = db.to_str().unwrap();
    serves_on_its_own_port(&["--db", db, "--listen", "127.0.0.1:0"], &[]);
    serves_on_its_own_port(
        &["--db", db],
        &[("KEYWARD_LISTEN", "127.0.0.1:0"), ("KEYWARD_DB", db)],
    );
    let (code, _, err) = run(&["--db", db, "--listen", "nowhere"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--listen"), "{err}");
    let (code, _, err) = run(&["--db", db], &[("KEYWARD_LISTEN", "nowhere")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--listen"), "{err}");
    // Flags that are each in range but do not go together: exit 2, naming them.
    for args in [
        &["--argon2-memory", "16", "--argon2-parallelism", "4"][..],
        &[
            "serve",
            "--argon2-memory",
            "16",
            "--argon2-parallelism",
            "4",
        ][..],
    ] {
        let mut all = vec!["--db", db];
        all.extend_from_slice(args);
        let (code, _, err) = run(&all, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("--argon2-memory") && err.contains("--argon2-parallelism"),
            "{err}"
        );
    }
    // The other subcommands keep working beside it.
    let (code, out, err) = run(&["keys", "list", "--db", db], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signing"), "{out}");
}

/// `keys rotate` keeps the algorithm of the key that signs unless told otherwise; `keys list`
/// into a closed pipe ends with one line on stderr and exit 1, never a panic.
#[test]
fn keys_rotate_keeps_the_algorithm_and_list_survives_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let db = db.to_str().unwrap();
    let (code, out, err) = run(&["keys", "rotate", "--alg", "RS256", "--db", db], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("new RS256 signing key "), "{out}");
    let (code, out, err) = run(&["keys", "rotate", "--db", db], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("new RS256 signing key "), "{out}");

    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(common::BIN)
        .args(["keys", "list", "--db", db])
        .env("KEYWARD_LOG", "warn")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn cli_admin_create_token_and_exit_codes() {
    let s = Server::start();
    let t = s.admin("alice");
    let r = s.get("/auth/api/login/user/self", Some(&t));
    assert_eq!(r.status(), 200);
    let me: Value = r.json().unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["isAdmin"], true);
    // The password identity sits on the default `local` instance.
    let data: Value = s
        .get("/auth/api/login/user/self/login-data", Some(&t))
        .json()
        .unwrap();
    assert_eq!(data[0]["strategyInstance"]["name"], "local");
    assert_eq!(data[0]["state"], "VALID");

    // Same username again: exit 1 with one line on stderr.
    let out = s.cli(
        &["admin", "create", "--username", "ALICE", "--password-stdin"],
        Some("another password\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already taken"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);
    // Bad usage: exit 2.
    let out = s.cli(&["admin", "create", "--nope"], None);
    assert_eq!(out.status.code(), Some(2));
    // Unknown user: exit 1.
    let out = s.cli(&["admin", "token", "--username", "nobody"], None);
    assert_eq!(out.status.code(), Some(1));
    // A token with another scope than `login` is refused by the login API with 403.
    let other = s.token("alice", "openid");
    expect_error(s.get("/auth/api/login/user/self", Some(&other)), 403);
}

#[test]
fn strategies_are_listed_with_capabilities() {
    let s = Server::start();
    let list: Value = s.get("/auth/api/login/strategy", None).json().unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["typeName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["userpass", "passkey", "github", "gitlab", "oidc"]);
    let oidc: Value = s.get("/auth/api/login/strategy/oidc", None).json().unwrap();
    assert_eq!(oidc["canSync"], true);
    assert_eq!(oidc["needsRedirectFlow"], true);
    assert_eq!(oidc["allowsImplicitSignup"], true);
    assert!(
        oidc["instanceConfigSchema"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("issuer"))
    );
    let up: Value = s
        .get("/auth/api/login/strategy/userpass", None)
        .json()
        .unwrap();
    assert_eq!(up["canSync"], false);
    assert_eq!(up["acceptsVariables"][1]["type"], "password");
    expect_error(s.get("/auth/api/login/strategy/nope", None), 404);
    expect_error(s.get("/auth/api/login/strategy/nope/instance", None), 404);
    expect_error(s.post("/auth/api/login/strategy", None, &json!({})), 405);
}

#[test]
fn strategy_instance_creation_and_every_400() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (_, user) = s.user(&admin, "bob");
    let path = "/auth/api/login/strategy-instance";

    expect_error(s.post(path, None, &json!({"type": "userpass"})), 401);
    expect_error(s.post(path, Some(&user), &json!({"type": "userpass"})), 403);

    // Defaults follow what the strategy can do.
    let r = s.post(
        path,
        Some(&admin),
        &json!({"name": "pw2", "type": "userpass"}),
    );
    assert_eq!(r.status(), 201);
    let v: Value = r.json().unwrap();
    assert_eq!(v["type"], "userpass");
    assert_eq!(v["isLoginActive"], true);
    assert_eq!(v["isSelfRegisterActive"], true);
    assert_eq!(v["isSyncActive"], false);
    assert_eq!(v["doesImplicitRegister"], false);
    assert_eq!(v["callbackUrl"], Value::Null);
    assert!(v["createdAt"].as_str().unwrap().ends_with('Z'));

    // The type in the URL wins over the body.
    let r = s.post(
        "/auth/api/login/strategy/userpass/instance",
        Some(&admin),
        &json!({"type": "oidc", "name": "by-url"}),
    );
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().unwrap()["type"], "userpass");

    // A redirect strategy gets a callback URL, and secrets are censored. An oidc issuer's
    // discovery document is fetched at creation: a stand-in provider on 127.0.0.1 serves it.
    let op = common::upstream::StandIn::start(common::upstream::Flavor::Oidc);
    let r = s.post(
        "/auth/api/login/strategy/oidc/instance",
        Some(&admin),
        &json!({"name": "corp", "instanceConfig": {"issuer": op.base, "clientId": "kw", "clientSecret": "s3cret"}, "isSyncActive": false}),
    );
    assert_eq!(r.status(), 201);
    let oidc: Value = r.json().unwrap();
    let id = oidc["id"].as_str().unwrap();
    assert_eq!(
        oidc["callbackUrl"],
        format!("{}/auth/api/flow/callback/{id}", s.public_url())
    );
    assert_eq!(oidc["instanceConfig"]["clientSecret"], "**********");
    assert_eq!(oidc["isSyncActive"], false);
    assert_eq!(oidc["doesImplicitRegister"], true);

    let bad = |path: &str, body: Value, field: &str| {
        let msg = expect_error(s.post(path, Some(&admin), &body), 400);
        assert!(msg.contains(field), "{body}: {msg:?} should name {field}");
    };
    bad(path, json!({"type": "userpass", "name": ""}), "name");
    bad(path, json!({"name": "x"}), "type");
    bad(path, json!({"type": "ldap"}), "type");
    bad(
        "/auth/api/login/strategy/ldap/instance",
        json!({"type": "userpass"}),
        "type",
    );
    bad(path, json!({"type": 7}), "type");
    bad(
        path,
        json!({"type": "userpass", "instanceConfig": "x"}),
        "instanceConfig",
    );
    bad(
        path,
        json!({"type": "userpass", "instanceConfig": [1]}),
        "instanceConfig",
    );
    bad(
        path,
        json!({"type": "oidc", "instanceConfig": {"clientId": "a"}}),
        "issuer",
    );
    bad(
        path,
        json!({"type": "oidc", "instanceConfig": {"issuer": "not a url", "clientId": "a"}}),
        "issuer",
    );
    bad(
        path,
        json!({"type": "github", "instanceConfig": {"clientId": "a"}}),
        "clientSecret",
    );
    bad(
        path,
        json!({"type": "userpass", "isLoginActive": "yes"}),
        "isLoginActive",
    );
    bad(
        path,
        json!({"type": "userpass", "isSyncActive": true}),
        "isSyncActive",
    );
    bad(
        path,
        json!({"type": "passkey", "doesImplicitRegister": true}),
        "doesImplicitRegister",
    );
    bad(path, json!({"type": "userpass", "colour": "red"}), "colour");
    // Not JSON, or not an object.
    let r = s
        .http
        .post(s.url(path))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .unwrap();
    expect_error(r, 400);
    bad(path, json!([1, 2]), "object");
    // A name is unique.
    expect_error(
        s.post(
            path,
            Some(&admin),
            &json!({"type": "userpass", "name": "pw2"}),
        ),
        409,
    );
}

#[test]
fn strategy_instance_read_update_delete() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (_, user) = s.user(&admin, "bob");
    let r = s.post(
        "/auth/api/login/strategy/github/instance",
        Some(&admin),
        &json!({"name": "gh", "instanceConfig": {"clientId": "abc", "clientSecret": "topsecret"}}),
    );
    let gh: Value = r.json().unwrap();
    let id = gh["id"].as_str().unwrap().to_string();
    let one = format!("/auth/api/login/strategy-instance/{id}");

    // Public lists carry no config; the admin read censors secrets.
    let list: Value = s
        .get("/auth/api/login/strategy-instance", None)
        .json()
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|i| i.get("instanceConfig").is_none())
    );
    let gh_list: Value = s
        .get("/auth/api/login/strategy/github/instance", None)
        .json()
        .unwrap();
    assert_eq!(gh_list.as_array().unwrap().len(), 1);
    let got: Value = s.get(&one, Some(&admin)).json().unwrap();
    assert_eq!(got["instanceConfig"]["clientSecret"], "**********");
    assert_eq!(got["instanceConfig"]["clientId"], "abc");
    assert!(!got.to_string().contains("topsecret"));
    expect_error(s.get(&one, Some(&user)), 403);
    expect_error(s.get(&one, None), 401);
    expect_error(
        s.get(
            "/auth/api/login/strategy-instance/00000000-0000-0000-0000-000000000000",
            Some(&admin),
        ),
        404,
    );

    // Update: the censored secret sent back keeps the stored one.
    let mut cfg = got["instanceConfig"].clone();
    cfg["clientId"] = json!("xyz");
    let r = s.put(
        &one,
        Some(&admin),
        &json!({"name": "GitHub", "instanceConfig": cfg, "isSyncActive": false}),
    );
    assert_eq!(r.status(), 200);
    let up: Value = r.json().unwrap();
    assert_eq!(up["name"], "GitHub");
    assert_eq!(up["instanceConfig"]["clientId"], "xyz");
    assert_eq!(up["instanceConfig"]["clientSecret"], "**********");
    assert_eq!(up["isSyncActive"], false);
    assert_eq!(up["isLoginActive"], true);
    let msg = expect_error(s.put(&one, Some(&admin), &json!({"type": "gitlab"})), 400);
    assert!(msg.contains("type"));
    expect_error(s.put(&one, Some(&admin), &json!({"name": ""})), 400);
    expect_error(s.put(&one, Some(&user), &json!({"name": "x"})), 403);
    expect_error(
        s.put(
            "/auth/api/login/strategy-instance/00000000-0000-0000-0000-000000000000",
            Some(&admin),
            &json!({"name": "x"}),
        ),
        404,
    );

    // Delete: free instance goes.
    let r = s.delete(&one, Some(&admin));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["result"], "success");
    expect_error(s.delete(&one, Some(&admin)), 404);

    // The `local` instance holds identities (admin's and bob's): 409 without cascade, and with
    // cascade still 409, because it is the last admin's last login method.
    let local_id = s.instance_id("local");
    let local_path = format!("/auth/api/login/strategy-instance/{local_id}");
    expect_error(s.delete(&local_path, Some(&admin)), 409);
    let msg = expect_error(
        s.delete(&format!("{local_path}?cascade=true"), Some(&admin)),
        409,
    );
    assert!(msg.contains("admin"), "{msg}");
    expect_error(
        s.delete(&format!("{local_path}?cascade=maybe"), Some(&admin)),
        400,
    );

    // A second instance that only bob uses can go with cascade, and takes bob's identity along.
    let r = s.post(
        "/auth/api/login/strategy/userpass/instance",
        Some(&admin),
        &json!({"name": "spare"}),
    );
    let spare = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let spare_path = format!("/auth/api/login/strategy-instance/{spare}");
    assert_eq!(
        s.delete(&format!("{spare_path}?cascade=true"), Some(&admin))
            .status(),
        200
    );
}

#[test]
fn users_crud_pagination_and_permissions() {
    let s = Server::start();
    let admin = s.admin("admin");
    let p = "/auth/api/login/user";
    let r = s.post(p, Some(&admin), &json!({"username": "carol", "displayName": "Carol C", "email": "carol@example.com", "password": "carol's password"}));
    assert_eq!(r.status(), 201);
    let carol: Value = r.json().unwrap();
    let carol_id = carol["id"].as_str().unwrap().to_string();
    assert_eq!(carol["isAdmin"], false);
    let data: Value = s
        .get(&format!("{p}/{carol_id}/login-data"), Some(&admin))
        .json()
        .unwrap();
    assert_eq!(data.as_array().unwrap().len(), 1);
    assert_eq!(data[0]["description"], "carol");

    expect_error(
        s.post(
            p,
            Some(&admin),
            &json!({"username": "CAROL", "displayName": "x"}),
        ),
        409,
    );
    expect_error(
        s.post(
            p,
            Some(&admin),
            &json!({"username": "", "displayName": "x"}),
        ),
        400,
    );
    expect_error(
        s.post(
            p,
            Some(&admin),
            &json!({"username": "a b", "displayName": "x"}),
        ),
        400,
    );
    expect_error(
        s.post(
            p,
            Some(&admin),
            &json!({"username": "dave", "displayName": "x", "password": "short"}),
        ),
        400,
    );
    expect_error(
        s.post(
            p,
            Some(&admin),
            &json!({"username": "dave", "displayName": "x", "email": "nope"}),
        ),
        400,
    );
    expect_error(s.post(p, Some(&admin), &json!({"username": "dave"})), 400);

    let carol_t = s.token("carol", "login");
    expect_error(
        s.post(
            p,
            Some(&carol_t),
            &json!({"username": "eve", "displayName": "x"}),
        ),
        403,
    );
    expect_error(s.get(p, Some(&carol_t)), 403);
    expect_error(s.get(p, None), 401);

    // Self may read and change their profile, not their flags; others' accounts are closed.
    assert_eq!(
        s.get(&format!("{p}/{carol_id}"), Some(&carol_t)).status(),
        200
    );
    let r = s.put(
        &format!("{p}/self"),
        Some(&carol_t),
        &json!({"displayName": "Caroline", "email": null}),
    );
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["displayName"], "Caroline");
    assert_eq!(v["email"], Value::Null);
    expect_error(
        s.put(
            &format!("{p}/self"),
            Some(&carol_t),
            &json!({"isAdmin": true}),
        ),
        403,
    );
    expect_error(
        s.put(
            &format!("{p}/self"),
            Some(&carol_t),
            &json!({"username": "carol-renamed"}),
        ),
        403,
    );
    // What GET gave, edited and sent back: the admin fields unchanged and the read-only ones
    // are no change, for self and admin alike.
    let mut mine: Value = s.get(&format!("{p}/self"), Some(&carol_t)).json().unwrap();
    mine["displayName"] = json!("Carol C.");
    let r = s.put(&format!("{p}/self"), Some(&carol_t), &mine);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    assert_eq!(r.json::<Value>().unwrap()["displayName"], "Carol C.");
    mine["isAdmin"] = json!(true);
    expect_error(s.put(&format!("{p}/self"), Some(&carol_t), &mine), 403);
    mine["isAdmin"] = json!(false);
    mine["displayName"] = json!("Caroline");
    let r = s.put(&format!("{p}/{carol_id}"), Some(&admin), &mine);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    expect_error(
        s.put(
            &format!("{p}/self"),
            Some(&carol_t),
            &json!({"displayName": " "}),
        ),
        400,
    );
    let admin_id = s
        .get(&format!("{p}/self"), Some(&admin))
        .json::<Value>()
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect_error(s.get(&format!("{p}/{admin_id}"), Some(&carol_t)), 403);
    expect_error(
        s.get(
            &format!("{p}/00000000-0000-0000-0000-000000000000"),
            Some(&admin),
        ),
        404,
    );

    // Pagination with a cursor, and search.
    for i in 0..7 {
        let r = s.post(
            p,
            Some(&admin),
            &json!({"username": format!("user{i:02}"), "displayName": format!("Person {i}")}),
        );
        assert_eq!(r.status(), 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{p}?limit=3&cursor={c}"),
            None => format!("{p}?limit=3"),
        };
        let page: Value = s.get(&q, Some(&admin)).json().unwrap();
        for u in page["items"].as_array().unwrap() {
            seen.push(u["username"].as_str().unwrap().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 9);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|a| a.to_lowercase());
    assert_eq!(seen, sorted);
    let found: Value = s
        .get(&format!("{p}?search=USER0"), Some(&admin))
        .json()
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 7);
    let found: Value = s
        .get(&format!("{p}?search=caroline"), Some(&admin))
        .json()
        .unwrap();
    assert_eq!(found["items"][0]["username"], "carol");
    expect_error(s.get(&format!("{p}?limit=0"), Some(&admin)), 400);
    expect_error(s.get(&format!("{p}?cursor=%%%"), Some(&admin)), 400);

    // Admin blocks carol: her token is refused from then on.
    let r = s.put(
        &format!("{p}/{carol_id}"),
        Some(&admin),
        &json!({"isBlocked": true}),
    );
    assert_eq!(r.status(), 200);
    expect_error(s.get(&format!("{p}/self"), Some(&carol_t)), 401);

    // The last admin can neither be deleted, demoted nor blocked.
    expect_error(s.delete(&format!("{p}/{admin_id}"), Some(&admin)), 409);
    expect_error(
        s.put(
            &format!("{p}/{admin_id}"),
            Some(&admin),
            &json!({"isAdmin": false}),
        ),
        409,
    );
    expect_error(
        s.put(
            &format!("{p}/{admin_id}"),
            Some(&admin),
            &json!({"isBlocked": true}),
        ),
        409,
    );

    let r = s.delete(&format!("{p}/{carol_id}"), Some(&admin));
    assert_eq!(r.status(), 200);
    expect_error(s.get(&format!("{p}/{carol_id}"), Some(&admin)), 404);
    expect_error(s.delete(&format!("{p}/{carol_id}"), Some(&admin)), 404);
}

#[test]
fn revoke_tokens_logs_out_everywhere() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (bob_id, bob) = s.user(&admin, "bob");
    let bob2 = s.token("bob", "login");
    let (_, carl) = s.user(&admin, "carl");
    expect_error(
        s.post(
            &format!("/auth/api/login/user/{bob_id}/revoke-tokens"),
            Some(&carl),
            &json!({}),
        ),
        403,
    );
    let r = s.post(
        "/auth/api/login/user/self/revoke-tokens",
        Some(&bob),
        &json!({}),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["operation"], "revoke-tokens");
    expect_error(s.get("/auth/api/login/user/self", Some(&bob)), 401);
    expect_error(s.get("/auth/api/login/user/self", Some(&bob2)), 401);
    // A token issued afterwards works.
    let fresh = s.token("bob", "login");
    let me: Value = s
        .get("/auth/api/login/user/self", Some(&fresh))
        .json()
        .unwrap();
    assert!(me["revokeTokensBefore"].is_string());
}

#[test]
fn audit_log_records_privileged_changes() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (_, bob) = s.user(&admin, "bob");
    s.post(
        "/auth/api/login/strategy/userpass/instance",
        Some(&admin),
        &json!({"name": "extra"}),
    );
    let events: Value = s.get("/auth/api/login/audit", Some(&admin)).json().unwrap();
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "strategy-instance.create");
    assert!(actions.contains(&"user.create"));
    assert!(actions.contains(&"token.issue"));
    assert_eq!(events[0]["address"], "127.0.0.1");
    assert!(events[0]["actor"].as_str().unwrap().len() == 36);
    expect_error(s.get("/auth/api/login/audit", Some(&bob)), 403);
    let older: Value = s
        .get(
            &format!("/auth/api/login/audit?limit=1&before={}", events[0]["id"]),
            Some(&admin),
        )
        .json()
        .unwrap();
    assert_eq!(older.as_array().unwrap().len(), 1);
    assert_eq!(older[0]["id"], events[1]["id"]);
}

#[test]
fn bad_requests_get_clear_4xx() {
    let s = Server::start();
    let admin = s.admin("admin");
    expect_error(s.get("/nothing/here", None), 404);
    expect_error(s.get("/auth/api/login/nothing", None), 404);
    expect_error(s.delete("/auth/api/login/user", Some(&admin)), 405);
    let big = "x".repeat(2 << 20);
    let r = s
        .http
        .post(s.url("/auth/api/login/user"))
        .bearer_auth(&admin)
        .body(big)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = s
        .http
        .post(s.url("/auth/api/login/user"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .unwrap();
    expect_error(r, 400);
    // Malformed Authorization headers are a 401, never a 500.
    for h in [
        "Bearer",
        "Basic abc",
        "Bearer a.b",
        "Bearer ...",
        "Bearer e30.e30.e30",
    ] {
        let r = s
            .http
            .get(s.url("/auth/api/login/user/self"))
            .header("authorization", h)
            .send()
            .unwrap();
        expect_error(r, 401);
    }
    let r = s.get("/healthz", None);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(s.get("/readyz", None).status(), 200);
}

#[test]
fn key_rotation_keeps_old_tokens_valid() {
    let s = Server::start();
    let admin = s.admin("admin");
    let before: Value = s.get("/.well-known/jwks.json", None).json().unwrap();
    let old_kid = before["keys"][0]["kid"].as_str().unwrap().to_string();
    for alg in ["EdDSA", "RS256", "ES256"] {
        let out = s.cli(&["keys", "rotate", "--alg", alg], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A token the CLI signs now uses the new key.
        let t = s.token("admin", "login");
        let header: Value =
            serde_json::from_slice(&base64_url(t.split('.').next().unwrap())).unwrap();
        assert_eq!(header["alg"], alg);
        // The server picks the key up within moments (at once when a token names it).
        let mut status = 0;
        for _ in 0..30 {
            status = s
                .get("/auth/api/login/user/self", Some(&t))
                .status()
                .as_u16();
            if status == 200 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(status, 200, "{alg}");
    }
    // The token signed by the first key still works, and its key is still published.
    assert_eq!(
        s.get("/auth/api/login/user/self", Some(&admin)).status(),
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let after: Value = s.get("/.well-known/jwks.json", None).json().unwrap();
    let kids: Vec<&str> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 4);
    assert!(kids.contains(&old_kid.as_str()));
    // `keys list` shows every key, newest first: the one that signs, then the retired ones.
    let out = s.cli(&["keys", "list"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].ends_with("signing"), "{text}");
    assert!(lines[1..].iter().all(|l| l.contains("retired")), "{text}");
    assert!(lines[3].starts_with(&old_kid), "{text}");
    let bad = s.cli(&["keys", "rotate", "--alg", "HS256"], None);
    assert_eq!(bad.status.code(), Some(2));
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}
