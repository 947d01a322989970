//! Registration and linking on the login API: new password identities waiting for
//! registration, data suggestions, self-register, self-link and admin-link (each answer and
//! each error), the password grant to a waiting identity, a register token used only once even
//! when requests race, unlinking login data, and the registration window.

mod common;

use base64::Engine;
use common::{Server, expect_error, jwt_claims};
use reqwest::blocking::Response;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const REG_PASSWORD: &str = "registered password";

struct Ctx {
    s: Server,
    admin: String,
    local: String,
}

fn setup() -> Ctx {
    setup_with(&[])
}

fn setup_with(extra: &[&str]) -> Ctx {
    let s = Server::start_with(extra);
    let admin = s.admin("admin");
    let local = s.instance_id("local");
    Ctx { s, admin, local }
}

fn register_path(instance: &str) -> String {
    format!("/auth/api/login/strategy-instance/{instance}/userpass/register")
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn uuid() -> String {
    // Any well-formed id that nothing has.
    "7f0c6a52-4f5e-4d9b-9a51-0d1e2f3a4b5c".to_string()
}

impl Ctx {
    fn register(&self, instance: &str, username: &str, password: &str) -> Response {
        self.s.post(
            &register_path(instance),
            None,
            &json!({"username": username, "password": password}),
        )
    }

    /// A new password identity on `local` waiting for registration; returns its register token.
    fn reg_token(&self, username: &str) -> String {
        let r = self.register(&self.local, username, REG_PASSWORD);
        assert_eq!(r.status(), 201, "{:?}", r.text());
        let v: Value = r.json().unwrap();
        v["register_token"].as_str().unwrap().to_string()
    }

    /// A confidential client that may use the password grant; returns (id, secret).
    fn password_client(&self) -> (String, String) {
        self.s.client_with_secret(
            &self.admin,
            &json!({"name": "legacy", "requiresSecret": true, "validScopes": ["login"],
                   "allowPasswordGrant": true}),
        )
    }

    fn password_grant(&self, client: &(String, String), user: &str, password: &str) -> Response {
        self.s.password_grant(client, user, password, Some("login"))
    }

    /// Logs in with the password grant and returns the id of the user it logged in.
    fn login_user_id(&self, client: &(String, String), user: &str, password: &str) -> String {
        let r = self.password_grant(client, user, password);
        assert_eq!(r.status(), 200, "{:?}", r.text());
        let t: Value = r.json().unwrap();
        assert_eq!(t["scope"], "login", "{t}");
        assert!(t["refresh_token"].is_string(), "{t}");
        let access = t["access_token"].as_str().unwrap();
        let me = self.s.get("/auth/api/login/user/self", Some(access));
        assert_eq!(me.status(), 200);
        me.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn login_data(&self, user_id: &str) -> Vec<Value> {
        let r = self.s.get(
            &format!("/auth/api/login/user/{user_id}/login-data"),
            Some(&self.admin),
        );
        assert_eq!(r.status(), 200);
        r.json::<Value>().unwrap().as_array().unwrap().clone()
    }

    fn set_flags(&self, instance: &str, flags: Value) {
        let r = self.s.put(
            &format!("/auth/api/login/strategy-instance/{instance}"),
            Some(&self.admin),
            &flags,
        );
        assert_eq!(r.status(), 200, "{:?}", r.text());
    }
}

/// Asserts a `DefaultReturn` with `operation`.
fn default_return(r: Response, operation: &str) {
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["operation"], operation, "{v}");
    assert_eq!(v["result"], "success", "{v}");
    let time = v["time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok()
            && time.ends_with('Z')
            && time.len() == "2025-04-20T18:05:34.780Z".len(),
        "{time}"
    );
}

#[test]
fn userpass_register_answers_and_errors() {
    let c = setup();
    // 201 with a register token: typ register+jwt, scope login-register, sub the identity.
    let r = c.register(&c.local, "alice", REG_PASSWORD);
    assert_eq!(r.status(), 201);
    let v: Value = r.json().unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    let token = v["register_token"].as_str().unwrap();
    assert_eq!(header(token)["typ"], "register+jwt");
    let cl = jwt_claims(token);
    assert_eq!(cl["scope"], "login-register");
    assert_eq!(cl["sub"].as_str().unwrap().len(), 36);
    assert!(cl["sid"].is_string());
    let ttl = cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap();
    assert!((590..=600).contains(&ttl), "{ttl}");
    // The password is exactly 8 characters long: enough.
    assert_eq!(c.register(&c.local, "eight", "12345678").status(), 201);

    // 409: the instance has that username already (also in another case, and a user's password).
    expect_error(c.register(&c.local, "alice", REG_PASSWORD), 409);
    expect_error(c.register(&c.local, "ALICE", "another password"), 409);
    expect_error(c.register(&c.local, "admin", "another password"), 409);
    // 400: empty username (also blank), short password, missing fields, unknown fields.
    let m = expect_error(c.register(&c.local, "", REG_PASSWORD), 400);
    assert!(m.contains("username"), "{m}");
    expect_error(c.register(&c.local, "   ", REG_PASSWORD), 400);
    let m = expect_error(c.register(&c.local, "bobby", "1234567"), 400);
    assert!(m.contains("password"), "{m}");
    expect_error(
        c.s.post(
            &register_path(&c.local),
            None,
            &json!({"username": "bobby"}),
        ),
        400,
    );
    expect_error(
        c.s.post(
            &register_path(&c.local),
            None,
            &json!({"password": REG_PASSWORD}),
        ),
        400,
    );
    expect_error(
        c.s.post(
            &register_path(&c.local),
            None,
            &json!({"username": "bobby", "password": REG_PASSWORD, "isAdmin": true}),
        ),
        400,
    );
    // A short password does not take the name.
    assert_eq!(c.register(&c.local, "bobby", REG_PASSWORD).status(), 201);

    // 400: not a userpass instance.
    let r = c.s.post(
        "/auth/api/login/strategy-instance",
        Some(&c.admin),
        &json!({"name": "keys", "type": "passkey"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let passkey = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect_error(c.register(&passkey, "carol", REG_PASSWORD), 400);
    // 404: no such instance.
    expect_error(c.register(&uuid(), "carol", REG_PASSWORD), 404);
    expect_error(c.register("not-an-id", "carol", REG_PASSWORD), 404);
    // 403: login is disabled on the instance.
    let r = c.s.post(
        "/auth/api/login/strategy-instance",
        Some(&c.admin),
        &json!({"name": "closed", "type": "userpass", "isLoginActive": false}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let closed = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect_error(c.register(&closed, "carol", REG_PASSWORD), 403);
    c.set_flags(&closed, json!({"isLoginActive": true}));
    assert_eq!(c.register(&closed, "carol", REG_PASSWORD).status(), 201);
    // The same name on another instance is another identity.
    assert_eq!(c.register(&closed, "alice", REG_PASSWORD).status(), 201);
    // The hosted register page uses the same path: GET is not allowed there.
    assert_eq!(c.s.get(&register_path(&c.local), None).status(), 405);
}

#[test]
fn data_suggestion_statuses() {
    let c = setup();
    let path = "/auth/api/login/registration/data-suggestion";
    let t = c.reg_token("newcomer");
    let r = c.s.post(path, None, &json!({"register_token": t}));
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["status"], "OK", "{v}");
    assert_eq!(v["username"], "newcomer");
    // Nothing known of an e-mail address: no key at all, and nothing is null.
    assert!(v.get("email").is_none(), "{v}");
    assert!(v.as_object().unwrap().values().all(|x| !x.is_null()), "{v}");

    // USERNAME_TAKEN: a user (without a password identity) has this username.
    let r = c.s.post(
        "/auth/api/login/user",
        Some(&c.admin),
        &json!({"username": "dora", "displayName": "Dora"}),
    );
    assert_eq!(r.status(), 201);
    let taken = c.reg_token("Dora");
    let v: Value =
        c.s.post(path, None, &json!({"register_token": taken}))
            .json()
            .unwrap();
    assert_eq!(v["status"], "USERNAME_TAKEN", "{v}");
    assert_eq!(v["username"], "Dora");

    // 401: not a register token (garbage, an access token).
    expect_error(
        c.s.post(path, None, &json!({"register_token": "x.y.z"})),
        401,
    );
    expect_error(
        c.s.post(path, None, &json!({"register_token": c.admin})),
        401,
    );
    // 400: missing.
    expect_error(c.s.post(path, None, &json!({})), 400);

    // ALREADY_REGISTERED once the identity is linked.
    let (_, bob) = c.s.user(&c.admin, "bob");
    default_return(
        c.s.post(
            "/auth/api/login/registration/self-link",
            Some(&bob),
            &json!({"register_token": t}),
        ),
        "self-link",
    );
    let v: Value =
        c.s.post(path, None, &json!({"register_token": t}))
            .json()
            .unwrap();
    assert_eq!(v["status"], "ALREADY_REGISTERED", "{v}");
}

#[test]
fn self_register_creates_a_user_with_the_identity() {
    let c = setup();
    let path = "/auth/api/login/registration/self-register";
    let client = c.password_client();
    let t = c.reg_token("newcomer");

    // 400: missing fields (and nothing is used up).
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"username": "newcomer", "displayName": "N"}),
        ),
        400,
    );
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": "", "username": "newcomer", "displayName": "N"}),
        ),
        400,
    );
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": t, "displayName": "N"}),
        ),
        400,
    );
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": t, "username": "newcomer"}),
        ),
        400,
    );
    // 401: an invalid token.
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": "x.y.z", "username": "newcomer", "displayName": "N"}),
        ),
        401,
    );
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": c.admin, "username": "newcomer", "displayName": "N"}),
        ),
        401,
    );
    // 409: the username is taken (in any case); the token still works afterwards.
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": t, "username": "ADMIN", "displayName": "N"}),
        ),
        409,
    );

    let r = c.s.post(
        path,
        None,
        &json!({"register_token": t, "username": "newcomer", "displayName": "New Comer",
               "email": "new@example.com"}),
    );
    assert_eq!(r.status(), 201);
    let u: Value = r.json().unwrap();
    assert_eq!(u["username"], "newcomer");
    assert_eq!(u["displayName"], "New Comer");
    assert_eq!(u["email"], "new@example.com");
    assert_eq!(u["isAdmin"], false);
    let uid = u["id"].as_str().unwrap().to_string();
    // The identity is linked: VALID, no expiry, on local.
    let data = c.login_data(&uid);
    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!(data[0]["state"], "VALID");
    assert!(data[0]["expires"].is_null(), "{:?}", data[0]);
    assert_eq!(data[0]["strategyInstance"]["name"], "local");
    assert_eq!(data[0]["description"], "newcomer");
    // The session of the registering login now belongs to the user.
    let sessions: Value =
        c.s.get(
            &format!("/auth/api/login/user/{uid}/active-login"),
            Some(&c.admin),
        )
        .json()
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    // The password logs in as the new user.
    assert_eq!(c.login_user_id(&client, "newcomer", REG_PASSWORD), uid);
    // The token works once.
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": t, "username": "another", "displayName": "A"}),
        ),
        401,
    );

    // 403 when self-registration is disabled on the instance; self-link still works there.
    c.set_flags(&c.local, json!({"isSelfRegisterActive": false}));
    let t2 = c.reg_token("second");
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": t2, "username": "second", "displayName": "S"}),
        ),
        403,
    );
    let (bob_id, bob) = c.s.user(&c.admin, "bob");
    default_return(
        c.s.post(
            "/auth/api/login/registration/self-link",
            Some(&bob),
            &json!({"register_token": t2}),
        ),
        "self-link",
    );
    assert_eq!(c.login_user_id(&client, "second", REG_PASSWORD), bob_id);
}

#[test]
fn self_link_adds_the_password_to_the_caller() {
    let c = setup();
    let path = "/auth/api/login/registration/self-link";
    let client = c.password_client();
    let (bob_id, bob) = c.s.user(&c.admin, "bob");
    let t = c.reg_token("bob-alt");
    // A token without the login scope (made first: it is a session of its own).
    let openid = c.s.token("bob", "openid");
    let sessions_before =
        c.s.get("/auth/api/login/user/self/active-login", Some(&bob))
            .json::<Value>()
            .unwrap()
            .as_array()
            .unwrap()
            .len();

    // 401 without a Bearer token (or with one that is not an access token).
    expect_error(c.s.post(path, None, &json!({"register_token": t})), 401);
    expect_error(
        c.s.post(path, Some("garbage"), &json!({"register_token": t})),
        401,
    );
    expect_error(c.s.post(path, Some(&t), &json!({"register_token": t})), 401);
    // 400: missing, empty or blank register_token.
    expect_error(c.s.post(path, Some(&bob), &json!({})), 400);
    expect_error(
        c.s.post(path, Some(&bob), &json!({"register_token": ""})),
        400,
    );
    expect_error(
        c.s.post(path, Some(&bob), &json!({"register_token": "  "})),
        400,
    );
    expect_error(
        c.s.post(path, Some(&bob), &json!({"register_token": null})),
        400,
    );
    // 401: a register token that is not one.
    expect_error(
        c.s.post(path, Some(&bob), &json!({"register_token": "x.y.z"})),
        401,
    );
    expect_error(
        c.s.post(path, Some(&bob), &json!({"register_token": bob})),
        401,
    );
    // A token without the login scope.
    expect_error(
        c.s.post(path, Some(&openid), &json!({"register_token": t})),
        403,
    );

    default_return(
        c.s.post(path, Some(&bob), &json!({"register_token": t})),
        "self-link",
    );
    // Used: 401 the second time, for anyone.
    expect_error(
        c.s.post(path, Some(&bob), &json!({"register_token": t})),
        401,
    );
    expect_error(
        c.s.post(path, Some(&c.admin), &json!({"register_token": t})),
        401,
    );

    let data = c.login_data(&bob_id);
    assert_eq!(data.len(), 2, "{data:?}");
    let linked = data
        .iter()
        .find(|d| d["description"] == "bob-alt")
        .expect("the linked identity");
    assert_eq!(linked["state"], "VALID");
    assert!(linked["expires"].is_null());
    // The registering login's session joined bob, with a fresh inactivity expiry (30 days).
    let sessions: Value =
        c.s.get("/auth/api/login/user/self/active-login", Some(&bob))
            .json()
            .unwrap();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), sessions_before + 1);
    for s in sessions {
        let exp = chrono::DateTime::parse_from_rfc3339(s["expires"].as_str().unwrap()).unwrap();
        let left = exp.timestamp() - chrono::Utc::now().timestamp();
        assert!(left > 29 * 86_400, "{s}");
    }
    // Both passwords log in as bob.
    assert_eq!(c.login_user_id(&client, "bob-alt", REG_PASSWORD), bob_id);
    assert_eq!(c.login_user_id(&client, "bob", "password-of-user"), bob_id);
}

#[test]
fn admin_link_links_to_any_user() {
    let c = setup();
    let path = "/auth/api/login/registration/admin-link";
    let client = c.password_client();
    let (bob_id, bob) = c.s.user(&c.admin, "bob");
    let t = c.reg_token("for-bob");

    // 401 without a login, 403 for a non-admin; the token is not used up by either.
    expect_error(
        c.s.post(
            path,
            None,
            &json!({"register_token": t, "userIdToLink": bob_id}),
        ),
        401,
    );
    expect_error(
        c.s.post(
            path,
            Some(&bob),
            &json!({"register_token": t, "userIdToLink": bob_id}),
        ),
        403,
    );
    // 400: missing or empty fields.
    expect_error(
        c.s.post(path, Some(&c.admin), &json!({"userIdToLink": bob_id})),
        400,
    );
    expect_error(
        c.s.post(
            path,
            Some(&c.admin),
            &json!({"register_token": "", "userIdToLink": bob_id}),
        ),
        400,
    );
    expect_error(
        c.s.post(path, Some(&c.admin), &json!({"register_token": t})),
        400,
    );
    // 404: no such user (and the token still works).
    let m = expect_error(
        c.s.post(
            path,
            Some(&c.admin),
            &json!({"register_token": t, "userIdToLink": uuid()}),
        ),
        404,
    );
    assert!(!m.is_empty());
    // 401: a bad register token.
    expect_error(
        c.s.post(
            path,
            Some(&c.admin),
            &json!({"register_token": "x.y.z", "userIdToLink": bob_id}),
        ),
        401,
    );

    default_return(
        c.s.post(
            path,
            Some(&c.admin),
            &json!({"register_token": t, "userIdToLink": bob_id}),
        ),
        "admin-link",
    );
    expect_error(
        c.s.post(
            path,
            Some(&c.admin),
            &json!({"register_token": t, "userIdToLink": bob_id}),
        ),
        401,
    );
    let data = c.login_data(&bob_id);
    assert!(
        data.iter().any(|d| d["description"] == "for-bob"
            && d["state"] == "VALID"
            && d["expires"].is_null()),
        "{data:?}"
    );
    assert_eq!(c.login_user_id(&client, "for-bob", REG_PASSWORD), bob_id);
    // The admin did not get it.
    assert_eq!(
        c.login_data(jwt_claims(&c.admin)["sub"].as_str().unwrap())
            .len(),
        1
    );
}

#[test]
fn password_grant_to_a_waiting_identity_answers_with_a_register_token() {
    let c = setup();
    let client = c.password_client();
    let (bob_id, bob) = c.s.user(&c.admin, "bob");
    c.reg_token("pending");
    let r = c.password_grant(&client, "pending", REG_PASSWORD);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let t: Value = r.json().unwrap();
    assert_eq!(t["scope"], "login-register", "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert!(t.get("refresh_token").is_none(), "{t}");
    assert!(t["expires_in"].as_i64().unwrap() <= 600);
    let reg = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(header(&reg)["typ"], "register+jwt");
    // It is no access token.
    expect_error(c.s.get("/auth/api/login/user/self", Some(&reg)), 401);
    // A wrong password is still wrong.
    let r = c.password_grant(&client, "pending", "not the password");
    assert_eq!(r.status(), 400);
    // It works for registration, once.
    let v: Value =
        c.s.post(
            "/auth/api/login/registration/data-suggestion",
            None,
            &json!({"register_token": reg}),
        )
        .json()
        .unwrap();
    assert_eq!(v["status"], "OK");
    default_return(
        c.s.post(
            "/auth/api/login/registration/self-link",
            Some(&bob),
            &json!({"register_token": reg}),
        ),
        "self-link",
    );
    assert_eq!(c.login_user_id(&client, "pending", REG_PASSWORD), bob_id);
}

/// Runs `n` requests at once, each on its own client, and returns their statuses in order.
fn race(base: &str, path: &str, bodies: Vec<(Option<String>, Value)>) -> Vec<u16> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(bodies.len()));
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|(token, body)| {
            let url = format!("{base}{path}");
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let mut rb = http.post(url).json(&body);
                if let Some(t) = token {
                    rb = rb.bearer_auth(t);
                }
                barrier.wait();
                rb.send().unwrap().status().as_u16()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn identity_rows(c: &Ctx, subject: &str) -> Vec<(String, Option<String>)> {
    let db = rusqlite::Connection::open(c.s.db_path()).unwrap();
    let mut st = db
        .prepare("SELECT state, user_id FROM identities WHERE instance_id = ?1 AND subject = ?2")
        .unwrap();
    st.query_map([&c.local, subject], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn racing_self_links_claim_the_identity_once() {
    let c = setup();
    const N: usize = 16;
    let users: Vec<(String, String)> = (0..N)
        .map(|i| c.s.user(&c.admin, &format!("racer{i}")))
        .collect();
    let t = c.reg_token("contested");
    let statuses = race(
        &c.s.base,
        "/auth/api/login/registration/self-link",
        users
            .iter()
            .map(|(_, tok)| (Some(tok.clone()), json!({"register_token": t})))
            .collect(),
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        N - 1,
        "{statuses:?}"
    );
    let winner = &users[statuses.iter().position(|&s| s == 200).unwrap()].0;
    let rows = identity_rows(&c, "contested");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "VALID");
    assert_eq!(rows[0].1.as_deref(), Some(winner.as_str()));
    // Exactly the winner has it.
    for (id, _) in &users {
        let n = c.login_data(id).len();
        assert_eq!(n, if id == winner { 2 } else { 1 }, "{id}");
    }

    // Self-register racing with itself: one user is created, the rest are 401.
    let t = c.reg_token("selfmade");
    let statuses = race(
        &c.s.base,
        "/auth/api/login/registration/self-register",
        (0..N)
            .map(|i| {
                (
                    None,
                    json!({"register_token": t, "username": format!("selfmade{i}"), "displayName": "S"}),
                )
            })
            .collect(),
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        N - 1,
        "{statuses:?}"
    );
    let db = rusqlite::Connection::open(c.s.db_path()).unwrap();
    let made: i64 = db
        .query_row(
            "SELECT count(*) FROM users WHERE username LIKE 'selfmade%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(made, 1);
    let rows = identity_rows(&c, "selfmade");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "VALID");

    // Registering one username many times at once: one identity.
    let statuses = race(
        &c.s.base,
        &register_path(&c.local),
        (0..N)
            .map(|_| {
                (
                    None,
                    json!({"username": "popular", "password": REG_PASSWORD}),
                )
            })
            .collect(),
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        N - 1,
        "{statuses:?}"
    );
    assert_eq!(identity_rows(&c, "popular").len(), 1);
}

#[test]
fn unlink_login_data() {
    let c = setup();
    let client = c.password_client();
    let (bob_id, bob) = c.s.user(&c.admin, "bob");
    let (carol_id, carol) = c.s.user(&c.admin, "carol");
    let t = c.reg_token("bob-alt");
    default_return(
        c.s.post(
            "/auth/api/login/registration/self-link",
            Some(&bob),
            &json!({"register_token": t}),
        ),
        "self-link",
    );
    let data = c.login_data(&bob_id);
    let id_of = |data: &[Value], d: &str| -> String {
        data.iter().find(|x| x["description"] == d).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let alt = id_of(&data, "bob-alt");
    let main = id_of(&data, "bob");
    let path = |id: &str| format!("/auth/api/login/login-data/{id}");

    // Another user's: 404, as an unknown one; without a login: 401.
    expect_error(c.s.delete(&path(&alt), Some(&carol)), 404);
    expect_error(c.s.delete(&path(&uuid()), Some(&bob)), 404);
    expect_error(c.s.delete(&path(&alt), None), 401);
    // The owner unlinks it; the password no longer logs in.
    let r = c.s.delete(&path(&alt), Some(&bob));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["result"], "success");
    assert_eq!(c.login_data(&bob_id).len(), 1);
    assert_eq!(
        c.password_grant(&client, "bob-alt", REG_PASSWORD).status(),
        400
    );
    // Bob's token still works (its session did not come from that identity).
    assert_eq!(
        c.s.get("/auth/api/login/user/self", Some(&bob)).status(),
        200
    );
    // The last VALID login method: 409, for the owner and for an admin.
    expect_error(c.s.delete(&path(&main), Some(&bob)), 409);
    expect_error(c.s.delete(&path(&main), Some(&c.admin)), 409);
    // The name is free again.
    let t = c.reg_token("bob-alt");
    // An admin may unlink other users' login data.
    let r = c.s.post(
        "/auth/api/login/registration/admin-link",
        Some(&c.admin),
        &json!({"register_token": t, "userIdToLink": carol_id}),
    );
    default_return(r, "admin-link");
    let alt = id_of(&c.login_data(&carol_id), "bob-alt");
    assert_eq!(c.s.delete(&path(&alt), Some(&c.admin)).status(), 200);
    assert_eq!(c.login_data(&carol_id).len(), 1);
    expect_error(c.s.delete(&path(&alt), Some(&c.admin)), 404);
    // The admin's own last login method.
    let admin_id = jwt_claims(&c.admin)["sub"].as_str().unwrap().to_string();
    let own = c.login_data(&admin_id)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect_error(c.s.delete(&path(&own), Some(&c.admin)), 409);
}

#[test]
fn register_tokens_expire_with_the_registration_window() {
    let started = Instant::now();
    let c = setup_with(&["--register-window", "10"]);
    let (_, bob) = c.s.user(&c.admin, "bob");
    let issued = Instant::now();
    let t = c.reg_token("late");
    let cl = jwt_claims(&t);
    assert_eq!(
        cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        10
    );
    let fresh = c.reg_token("punctual");
    let v: Value =
        c.s.post(
            "/auth/api/login/registration/data-suggestion",
            None,
            &json!({"register_token": t}),
        )
        .json()
        .unwrap();
    assert_eq!(v["status"], "OK");
    // Past the window (the JWT itself may have leeway; the identity's expiry has none).
    std::thread::sleep(Duration::from_millis(10_300).saturating_sub(issued.elapsed()));
    expect_error(
        c.s.post(
            "/auth/api/login/registration/self-link",
            Some(&bob),
            &json!({"register_token": t}),
        ),
        401,
    );
    expect_error(
        c.s.post(
            "/auth/api/login/registration/data-suggestion",
            None,
            &json!({"register_token": t}),
        ),
        401,
    );
    expect_error(
        c.s.post(
            "/auth/api/login/registration/self-register",
            None,
            &json!({"register_token": fresh, "username": "punctual", "displayName": "P"}),
        ),
        401,
    );
    expect_error(
        c.s.post(
            "/auth/api/login/registration/admin-link",
            Some(&c.admin),
            &json!({"register_token": fresh, "userIdToLink": jwt_claims(&bob)["sub"]}),
        ),
        401,
    );
    // An abandoned registration does not keep the name.
    assert_eq!(c.register(&c.local, "late", REG_PASSWORD).status(), 201);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}
