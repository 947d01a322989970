//! Passkey login through the hosted login page's JSON calls, with the software authenticator:
//! username-first and usernameless, ending in a session and an OAuth code; the attacks on it
//! (a replayed or foreign ceremony, another key, another user's credential, a burst of bad
//! assertions, a blocked user); the relying party from the public URL; the passkey login data
//! (rename) and the last-method rule of a passkey-only user.

mod common;

use common::softkey::{SoftKey, unb64};
use common::*;
use reqwest::blocking::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CSRF: &str = "t0k3n";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";

struct Ctx {
    s: Server,
    admin: String,
    /// The public URL: the WebAuthn origin.
    origin: String,
}

fn setup() -> Ctx {
    let s = Server::start();
    let admin = s.admin("admin");
    let origin = s.public_url();
    Ctx { s, admin, origin }
}

/// A flow call from a page of this browser (CSRF cookie and header).
fn call(s: &Server, path: &str, body: &Value) -> Response {
    s.http
        .post(s.url(path))
        .header("cookie", format!("kw_csrf={CSRF}"))
        .header("x-csrf-token", CSRF)
        .json(body)
        .send()
        .unwrap()
}

fn json_of(r: Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let v: Value = r.json().unwrap();
    assert_eq!(got, status, "{v}");
    v
}

fn session_cookie(r: &Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kw_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

impl Ctx {
    /// Registers `key` for `user` as the user (v2 API); returns the passkey id.
    fn register(&self, user: &str, token: &str, key: &SoftKey, name: &str) -> String {
        let v = json_of(
            self.s.post(
                &format!("/v2/users/{user}/passkeys"),
                Some(token),
                &json!({}),
            ),
            200,
        );
        let id = v["passkeyId"].as_str().unwrap().to_string();
        let cred = key.register(&v["publicKeyCredentialCreationOptions"], &self.origin);
        json_of(
            self.s.post(
                &format!("/v2/users/{user}/passkeys/{id}"),
                Some(token),
                &json!({"publicKeyCredential": cred, "passkeyName": name}),
            ),
            200,
        );
        id
    }

    /// Begins a passkey login; returns (ceremonyId, options).
    fn start(&self, body: &Value) -> (String, Value) {
        let v = json_of(
            call(&self.s, "/auth/api/flow/passkey/login/start", body),
            200,
        );
        (
            v["ceremonyId"].as_str().unwrap().to_string(),
            v["options"].clone(),
        )
    }

    fn finish(&self, ceremony: &str, credential: &Value, flow: Option<&str>) -> Response {
        let mut body = json!({"ceremonyId": ceremony, "credential": credential});
        if let Some(f) = flow {
            body["flow"] = json!(f);
        }
        call(&self.s, "/auth/api/flow/passkey/login/finish", &body)
    }

    /// A whole login with `key` (username-first when `username` is given).
    fn login(&self, key: &SoftKey, username: Option<&str>) -> Response {
        let body = match username {
            Some(u) => json!({"username": u}),
            None => json!({}),
        };
        let (id, options) = self.start(&body);
        self.finish(&id, &key.assert(&options, &self.origin), None)
    }

    /// A user with a password and one passkey; returns (id, token, passkey id).
    /// A public SPA client and an authorization request of it (PKCE with `VERIFIER`, state
    /// `state`) that waits on the login page: (client id, flow id).
    fn oauth_flow(&self, state: &str) -> (String, String) {
        let client = self.s.new_client(
            &self.admin,
            &json!({"name": "spa", "redirectUrls": [REDIRECT], "requiresSecret": false,
                    "validScopes": ["login"]}),
        );
        let challenge = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER))
        };
        let r = self
            .s
            .http
            .get(self.s.url(&format!(
                "/auth/oauth/authorize?response_type=code&client_id={client}&redirect_uri={}&scope=login&state={state}&code_challenge={challenge}&code_challenge_method=S256",
                url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
            )))
            .send()
            .unwrap();
        assert_eq!(r.status(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let flow = loc
            .strip_prefix("/auth/flow/login?flow=")
            .unwrap()
            .to_string();
        (client, flow)
    }

    /// Redeems the code of the redirect `back` (whose state must be `state`) for `client`:
    /// the token answer.
    fn redeem(&self, client: &str, back: &str, state: &str) -> Value {
        let url = url::Url::parse(back).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["state"], state);
        json_of(
            self.s
                .http
                .post(self.s.url("/auth/oauth/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &q["code"]),
                    ("redirect_uri", REDIRECT),
                    ("client_id", client),
                    ("code_verifier", VERIFIER),
                ])
                .send()
                .unwrap(),
            200,
        )
    }

    fn user_with_key(&self, name: &str, key: &SoftKey) -> (String, String, String) {
        let (id, token) = self.s.user(&self.admin, name);
        let pk = self.register(&id, &token, key, "laptop");
        (id, token, pk)
    }

    fn login_data(&self, user: &str, token: &str) -> Vec<Value> {
        json_of(
            self.s.get(
                &format!("/auth/api/login/user/{user}/login-data"),
                Some(token),
            ),
            200,
        )
        .as_array()
        .unwrap()
        .clone()
    }

    fn stored_counter(&self, passkey: &str) -> u64 {
        let db = rusqlite::Connection::open(self.s.db_path()).unwrap();
        let stored: String = db
            .query_row(
                "SELECT credential FROM passkeys WHERE identity_id = ?1",
                [passkey],
                |r| r.get(0),
            )
            .unwrap();
        let v: Value = serde_json::from_str(&stored).unwrap();
        v["cred"]["counter"].as_u64().unwrap()
    }
}

/// The flow error shape: (status, code, message).
fn flow_error(r: Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap();
    assert_eq!(v["statusCode"], status, "{v}");
    (
        status,
        v["code"].as_str().unwrap().to_string(),
        v["message"].as_str().unwrap().to_string(),
    )
}

fn refused(r: Response) {
    let (status, code, message) = flow_error(r);
    assert_eq!((status, code.as_str()), (401, "wrong_credentials"));
    assert!(message.contains("passkey"), "{message}");
}

#[test]
fn username_first_login_ends_in_a_session_and_updates_the_passkey() {
    let c = setup();
    let key = SoftKey::new();
    let (alice, token, pk) = c.user_with_key("alice", &key);
    assert_eq!(c.stored_counter(&pk), 0);

    let (ceremony, options) = c.start(&json!({"username": "alice"}));
    let pk_opts = &options["publicKey"];
    assert_eq!(pk_opts["rpId"], "localhost");
    assert_eq!(pk_opts["userVerification"], "required");
    let allowed: Vec<&str> = pk_opts["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(allowed, [key.id().as_str()]);
    assert!(options.get("mediation").is_none(), "{options}");

    let r = c.finish(&ceremony, &key.assert(&options, &c.origin), None);
    let cookie = session_cookie(&r);
    assert_eq!(json_of(r, 200)["redirect"], "/account");
    // The cookie is a session of alice's.
    let ctx: Value =
        c.s.http
            .get(c.s.url("/auth/api/flow/context"))
            .header("cookie", &cookie)
            .send()
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(ctx["user"]["username"], "alice", "{ctx}");

    // The counter and the last use are stored.
    assert_eq!(c.stored_counter(&pk), 1);
    let data = c.login_data(&alice, &token);
    let p = data.iter().find(|d| d["id"] == pk.as_str()).unwrap();
    assert_eq!(p["description"], "laptop");
    assert_eq!(p["passkey"]["name"], "laptop");
    assert!(p["passkey"]["createdAt"].as_str().unwrap().ends_with('Z'));
    let used = p["passkey"]["lastUsedAt"].as_str().expect("lastUsedAt");
    assert!(chrono::DateTime::parse_from_rfc3339(used).is_ok());
    assert_eq!(p["strategyInstance"]["name"], "passkey");
    // A password's login data has no passkey part.
    assert!(data.iter().any(|d| d.get("passkey").is_none()));

    assert_eq!(
        json_of(c.login(&key, Some("alice")), 200)["redirect"],
        "/account"
    );
    assert_eq!(c.stored_counter(&pk), 2);
}

#[test]
fn usernameless_login_in_an_oauth_flow_gives_a_code() {
    let c = setup();
    let key = SoftKey::new();
    let (alice, _, _) = c.user_with_key("alice", &key);
    let (client, flow) = c.oauth_flow("st8");

    // No username, and a username that does not exist: the same discoverable challenge.
    for body in [
        json!({"flow": flow}),
        json!({"flow": flow, "username": "nobody"}),
    ] {
        let (_, options) = c.start(&body);
        let allowed = &options["publicKey"]["allowCredentials"];
        assert!(
            allowed.is_null() || allowed.as_array().is_some_and(Vec::is_empty),
            "{options}"
        );
    }
    let (ceremony, options) = c.start(&json!({"flow": flow}));
    let r = c.finish(&ceremony, &key.assert(&options, &c.origin), Some(&flow));
    session_cookie(&r);
    let back = json_of(r, 200)["redirect"].as_str().unwrap().to_string();
    assert!(back.starts_with(REDIRECT), "{back}");
    let t = c.redeem(&client, &back, "st8");
    let claims = jwt_claims(t["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], alice.as_str());
    assert_eq!(claims["iss"], c.origin.as_str());
}

#[test]
fn a_ceremony_answers_once() {
    let c = setup();
    let key = SoftKey::new();
    c.user_with_key("alice", &key);
    // Replayed after a success: the same ceremony and assertion.
    let (ceremony, options) = c.start(&json!({"username": "alice"}));
    let assertion = key.assert(&options, &c.origin);
    assert_eq!(c.finish(&ceremony, &assertion, None).status(), 200);
    refused(c.finish(&ceremony, &assertion, None));
    // A fresh assertion over the spent challenge.
    refused(c.finish(&ceremony, &key.assert(&options, &c.origin), None));

    // A failed finish spends the ceremony too: no second guess on the same challenge.
    let (ceremony, options) = c.start(&json!({}));
    refused(c.finish(&ceremony, &key.impostor().assert(&options, &c.origin), None));
    refused(c.finish(&ceremony, &key.assert(&options, &c.origin), None));
}

#[test]
fn a_foreign_or_unknown_ceremony_is_refused() {
    let c = setup();
    let key = SoftKey::new();
    let (alice, token, _) = c.user_with_key("alice", &key);
    // A registration ceremony is no login ceremony.
    let v = json_of(
        c.s.post(
            &format!("/v2/users/{alice}/passkeys"),
            Some(&token),
            &json!({}),
        ),
        200,
    );
    let registration = v["passkeyId"].as_str().unwrap();
    let challenge = v["publicKeyCredentialCreationOptions"]["publicKey"]["challenge"]
        .as_str()
        .unwrap();
    refused(c.finish(
        registration,
        &key.assert_with("localhost", challenge, &c.origin),
        None,
    ));
    // An id that names nothing.
    let (_, options) = c.start(&json!({}));
    refused(c.finish(
        "7f0c6a52-4f5e-4d9b-9a51-0d1e2f3a4b5c",
        &key.assert(&options, &c.origin),
        None,
    ));
    // Another challenge than the ceremony's.
    let (ceremony, _) = c.start(&json!({}));
    let (_, other) = c.start(&json!({}));
    refused(c.finish(&ceremony, &key.assert(&other, &c.origin), None));
    // Garbage in place of a credential.
    let (ceremony, _) = c.start(&json!({}));
    refused(c.finish(&ceremony, &json!({"id": 7}), None));
}

#[test]
fn an_assertion_signed_by_another_key_is_refused() {
    let c = setup();
    let key = SoftKey::new();
    let (_, _, pk) = c.user_with_key("alice", &key);
    let thief = key.impostor();
    refused(c.login(&thief, Some("alice")));
    refused(c.login(&thief, None));
    // Another origin (a phishing site) with the right key.
    let (ceremony, options) = c.start(&json!({}));
    refused(c.finish(
        &ceremony,
        &key.assert(&options, "http://localhost.evil.example"),
        None,
    ));
    assert_eq!(c.stored_counter(&pk), 0, "nothing was stored");
}

#[test]
fn a_credential_of_another_user_does_not_log_in_as_them() {
    let c = setup();
    let alice_key = SoftKey::new();
    let bob_key = SoftKey::new();
    c.user_with_key("alice", &alice_key);
    c.user_with_key("bob", &bob_key);
    // Alice's credential answering a username-first ceremony for bob.
    let (ceremony, options) = c.start(&json!({"username": "bob"}));
    refused(c.finish(&ceremony, &alice_key.assert(&options, &c.origin), None));
    // Alice's credential carrying bob's user handle in a usernameless ceremony.
    *alice_key.user_handle.lock().unwrap() = bob_key.user_handle.lock().unwrap().clone();
    refused(c.login(&alice_key, None));
    // Bob's key with no user handle at all.
    bob_key.user_handle.lock().unwrap().clear();
    refused(c.login(&bob_key, None));
}

#[test]
fn a_burst_of_bad_assertions_is_throttled_before_any_check() {
    let c = setup();
    let key = SoftKey::new();
    c.user_with_key("alice", &key);
    let thief = key.impostor();
    for _ in 0..5 {
        refused(c.login(&thief, None));
    }
    let (ceremony, options) = c.start(&json!({}));
    let r = c.finish(&ceremony, &thief.assert(&options, &c.origin), None);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(flow_error(r).0, 429);
    // The right key is refused as well now: the credential is throttled before its check.
    let r = c.login(&key, None);
    assert_eq!(flow_error(r).0, 429);
}

#[test]
fn a_blocked_user_cannot_log_in_with_a_passkey() {
    let c = setup();
    let key = SoftKey::new();
    let (alice, _, _) = c.user_with_key("alice", &key);
    let r = c.s.put(
        &format!("/auth/api/login/user/{alice}"),
        Some(&c.admin),
        &json!({"isBlocked": true}),
    );
    assert_eq!(r.status(), 200);
    let (status, code, _) = flow_error(c.login(&key, Some("alice")));
    assert_eq!((status, code.as_str()), (403, "blocked"));
    let (status, code, _) = flow_error(c.login(&key, None));
    assert_eq!((status, code.as_str()), (403, "blocked"));
}

#[test]
fn the_default_public_url_is_localhost() {
    let c = setup();
    assert_eq!(c.origin, c.s.base.replace("127.0.0.1", "localhost"));
    let d: Value =
        c.s.get("/.well-known/openid-configuration", None)
            .json()
            .unwrap();
    assert_eq!(d["issuer"], c.origin.as_str());
    let (_, options) = c.start(&json!({}));
    assert_eq!(options["publicKey"]["rpId"], "localhost");
    // Registration asks for a discoverable credential with user verification.
    let (alice, token) = c.s.user(&c.admin, "alice");
    let v = json_of(
        c.s.post(
            &format!("/v2/users/{alice}/passkeys"),
            Some(&token),
            &json!({}),
        ),
        200,
    );
    let pk = &v["publicKeyCredentialCreationOptions"]["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    let sel = &pk["authenticatorSelection"];
    assert_eq!(sel["residentKey"], "required", "{pk}");
    assert_eq!(sel["requireResidentKey"], true, "{pk}");
    assert_eq!(sel["userVerification"], "required", "{pk}");
    // The user handle is the same at every ceremony.
    let again = json_of(
        c.s.post(
            &format!("/v2/users/{alice}/passkeys"),
            Some(&token),
            &json!({}),
        ),
        200,
    );
    assert_eq!(
        unb64(pk["user"]["id"].as_str().unwrap()),
        unb64(
            again["publicKeyCredentialCreationOptions"]["publicKey"]["user"]["id"]
                .as_str()
                .unwrap()
        )
    );
}

#[test]
fn an_ip_address_public_url_turns_passkeys_off_and_says_so() {
    let s = Server::start_with(&["--public-url", "http://127.0.0.1:9"]);
    let lines = s.stdout_with("Passkeys are off");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Passkeys are off") && l.contains("--public-url")),
        "{lines:?}"
    );
    let (status, code, message) =
        flow_error(call(&s, "/auth/api/flow/passkey/login/start", &json!({})));
    assert_eq!((status, code.as_str()), (409, "precondition"));
    assert!(message.contains("--public-url"), "{message}");
    let (status, _, message) = flow_error(call(
        &s,
        "/auth/api/flow/passkey/login/finish",
        &json!({"ceremonyId": "x", "credential": {}}),
    ));
    assert_eq!(status, 409);
    assert!(message.contains("host name"), "{message}");
}

#[test]
fn a_passkey_only_user_keeps_the_last_one() {
    let c = setup();
    // A user without a password.
    let r = c.s.post(
        "/auth/api/login/user",
        Some(&c.admin),
        &json!({"username": "carol", "displayName": "Carol"}),
    );
    let carol = json_of(r, 201)["id"].as_str().unwrap().to_string();
    let token = c.s.token("carol", "login");
    let key = SoftKey::new();
    let pk = c.register(&carol, &token, &key, "phone");
    assert_eq!(json_of(c.login(&key, None), 200)["redirect"], "/account");

    // Through the login data, and through the identities API: refused.
    let m = expect_error(
        c.s.delete(&format!("/auth/api/login/login-data/{pk}"), Some(&token)),
        409,
    );
    assert!(m.contains("last"), "{m}");
    let ids = c.s.token("carol", "update:current_user_identities");
    let r = c.s.delete(
        &format!("/api/v2/users/{carol}/identities/passkey/{}", key.id()),
        Some(&ids),
    );
    assert_eq!(r.status(), 400);

    // With a second passkey the first can go, and it no longer logs in; no user is made of it.
    let second = SoftKey::new();
    c.register(&carol, &token, &second, "laptop");
    let users_before = json_of(c.s.get("/auth/api/login/user", Some(&c.admin)), 200);
    let r = c.s.delete(
        &format!("/api/v2/users/{carol}/identities/passkey/{}", key.id()),
        Some(&ids),
    );
    let left = json_of(r, 200);
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(
        json_of(c.s.get("/auth/api/login/user", Some(&c.admin)), 200),
        users_before
    );
    refused(c.login(&key, None));
    assert_eq!(json_of(c.login(&second, None), 200)["redirect"], "/account");
    // And the last one stays.
    let data = c.login_data(&carol, &token);
    let m = expect_error(
        c.s.delete(
            &format!(
                "/auth/api/login/login-data/{}",
                data[0]["id"].as_str().unwrap()
            ),
            Some(&token),
        ),
        409,
    );
    assert!(m.contains("last"), "{m}");
}

#[test]
fn a_passkey_is_renamed_through_its_login_data() {
    let c = setup();
    let key = SoftKey::new();
    let (alice, token, pk) = c.user_with_key("alice", &key);
    let path = format!("/auth/api/login/login-data/{pk}/name");
    let v = json_of(
        c.s.put(&path, Some(&token), &json!({"name": "work key"})),
        200,
    );
    assert_eq!(v["id"], pk.as_str());
    assert_eq!(v["description"], "work key");
    assert_eq!(v["passkey"]["name"], "work key");
    let listed = c.login_data(&alice, &token);
    assert!(listed.iter().any(|d| d["passkey"]["name"] == "work key"));
    let v2 = json_of(
        c.s.get(&format!("/v2/users/{alice}/passkeys"), Some(&token)),
        200,
    );
    assert_eq!(v2["result"][0]["name"], "work key");

    for bad in [
        json!({"name": ""}),
        json!({"name": " "}),
        json!({"name": "x".repeat(65)}),
        json!({"name": "a\u{7}b"}),
        json!({}),
        json!({"name": "ok", "more": 1}),
    ] {
        expect_error(c.s.put(&path, Some(&token), &bad), 400);
    }
    // 64 characters (not bytes) are fine.
    json_of(
        c.s.put(&path, Some(&token), &json!({"name": "ä".repeat(64)})),
        200,
    );
    // Another user: not found; an admin may.
    let (_, bob) = c.s.user(&c.admin, "bob");
    expect_error(c.s.put(&path, Some(&bob), &json!({"name": "mine"})), 404);
    json_of(
        c.s.put(&path, Some(&c.admin), &json!({"name": "by admin"})),
        200,
    );
    // A password's login data has no name to change.
    let password = c
        .login_data(&alice, &token)
        .into_iter()
        .find(|d| d.get("passkey").is_none())
        .unwrap();
    expect_error(
        c.s.put(
            &format!(
                "/auth/api/login/login-data/{}/name",
                password["id"].as_str().unwrap()
            ),
            Some(&token),
            &json!({"name": "x"}),
        ),
        404,
    );
    assert_eq!(c.s.put(&path, None, &json!({"name": "x"})).status(), 401);
}

#[test]
fn passkey_logins_started_and_never_finished_are_capped_per_address() {
    // Each start writes a ceremony row before anyone is signed in: a stranger who only starts
    // gets 429 after 300 pending ones instead of filling the database.
    let c = setup();
    for i in 0..300 {
        let r = call(&c.s, "/auth/api/flow/passkey/login/start", &json!({}));
        assert_eq!(r.status(), 200, "start {i}");
    }
    let r = call(&c.s, "/auth/api/flow/passkey/login/start", &json!({}));
    assert!(r.headers().contains_key("retry-after"));
    let (status, code, message) = flow_error(r);
    assert_eq!((status, code.as_str()), (429, "throttled"), "{message}");
    assert!(message.contains("passkey"), "{message}");
    // A finish (here a refused one) settles one pending start: the next start goes through.
    refused(call(
        &c.s,
        "/auth/api/flow/passkey/login/finish",
        &json!({
            "ceremonyId": "x",
            "credential": SoftKey::new().assert_with("localhost", "AAAA", &c.origin),
        }),
    ));
    assert_eq!(
        call(&c.s, "/auth/api/flow/passkey/login/start", &json!({})).status(),
        200
    );
}

// ---- Sign-up with a passkey (the register page) ----

/// A flow call from a page of the browser whose binding cookie is `browser` (none: a browser
/// without one).
fn call_in(s: &Server, browser: Option<&str>, path: &str, body: &Value) -> Response {
    let mut cookie = format!("kw_csrf={CSRF}");
    if let Some(b) = browser {
        cookie.push_str(&format!("; kw_browser={b}"));
    }
    s.http
        .post(s.url(path))
        .header("cookie", cookie)
        .header("x-csrf-token", CSRF)
        .json(body)
        .send()
        .unwrap()
}

const BROWSER: &str = "browser-one-0123456789abcdef";

impl Ctx {
    /// Begins a sign-up in `BROWSER`; returns (ceremonyId, options).
    fn signup_start(&self, body: &Value) -> (String, Value) {
        let v = json_of(
            call_in(
                &self.s,
                Some(BROWSER),
                "/auth/api/flow/passkey/signup/start",
                body,
            ),
            200,
        );
        (
            v["ceremonyId"].as_str().unwrap().to_string(),
            v["options"].clone(),
        )
    }

    fn signup_finish(&self, browser: Option<&str>, ceremony: &str, credential: &Value) -> Response {
        call_in(
            &self.s,
            browser,
            "/auth/api/flow/passkey/signup/finish",
            &json!({"ceremonyId": ceremony, "credential": credential, "passkeyName": "my key"}),
        )
    }

    fn count(&self, sql: &str) -> i64 {
        let db = rusqlite::Connection::open(self.s.db_path()).unwrap();
        db.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn users_named(&self, name: &str) -> i64 {
        self.count(&format!(
            "SELECT count(*) FROM users WHERE username = '{name}'"
        ))
    }

    fn set_passkey_flags(&self, flags: Value) {
        let id = self.s.instance_id("passkey");
        let r = self.s.put(
            &format!("/auth/api/login/strategy-instance/{id}"),
            Some(&self.admin),
            &flags,
        );
        assert_eq!(r.status(), 200, "{:?}", r.text());
    }
}

#[test]
fn the_passkey_strategy_can_self_register_and_its_instances_do_by_default() {
    let c = setup();
    let st = json_of(c.s.get("/auth/api/login/strategy/passkey", None), 200);
    assert_eq!(st["canLoginRegister"], true, "{st}");
    assert_eq!(st["canSync"], false, "{st}");
    assert_eq!(st["needsRedirectFlow"], false, "{st}");
    assert_eq!(st["allowsImplicitSignup"], false, "{st}");
    // The built-in instance, made at start-up like `local`.
    let list = json_of(c.s.get("/auth/api/login/strategy-instance", None), 200);
    let builtin = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "passkey")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(builtin["type"], "passkey");
    assert_eq!(builtin["isLoginActive"], true);
    assert_eq!(builtin["isSelfRegisterActive"], true);
    // A new instance may ask for sign-up, and gets it by default.
    for body in [
        json!({"name": "keys-a", "type": "passkey", "isSelfRegisterActive": true}),
        json!({"name": "keys-b", "type": "passkey"}),
    ] {
        let v = json_of(
            c.s.post("/auth/api/login/strategy-instance", Some(&c.admin), &body),
            201,
        );
        assert_eq!(v["isSelfRegisterActive"], true, "{v}");
        assert_eq!(v["isLoginActive"], true, "{v}");
    }
    // Still no implicit sign-up.
    expect_error(
        c.s.post(
            "/auth/api/login/strategy-instance",
            Some(&c.admin),
            &json!({"type": "passkey", "doesImplicitRegister": true}),
        ),
        400,
    );
    // The register page learns that passkeys are on.
    let ctx = json_of(c.s.get("/auth/api/flow/context", None), 200);
    assert_eq!(ctx["passkeys"], true, "{ctx}");
}

#[test]
fn a_passkey_sign_up_in_an_oauth_flow_makes_the_account_and_signs_in_later() {
    let c = setup();
    let (client, flow) = c.oauth_flow("st9");

    // A browser without a binding cookie gets one with the ceremony.
    let r = call_in(
        &c.s,
        None,
        "/auth/api/flow/passkey/signup/start",
        &json!({"flow": flow, "username": "newbie", "displayName": "New Bee",
                "email": "newbie@example.com"}),
    );
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("kw_browser=") && c.contains("HttpOnly")),
        "{set:?}"
    );
    json_of(r, 200);
    // Nothing of the account exists before the passkey comes back.
    assert_eq!(c.users_named("newbie"), 0);

    let (ceremony, options) = c.signup_start(
        &json!({"flow": flow, "username": " newbie ", "displayName": "New Bee",
                "email": "newbie@example.com"}),
    );
    let pk = &options["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost", "{options}");
    assert_eq!(pk["user"]["name"], "newbie");
    assert_eq!(pk["user"]["displayName"], "New Bee");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");

    let key = SoftKey::new();
    let r = call_in(
        &c.s,
        Some(BROWSER),
        "/auth/api/flow/passkey/signup/finish",
        &json!({"flow": flow, "ceremonyId": ceremony,
                "credential": key.register(&options, &c.origin), "passkeyName": "laptop"}),
    );
    let cookie = session_cookie(&r);
    let back = json_of(r, 200)["redirect"].as_str().unwrap().to_string();
    assert!(back.starts_with(REDIRECT), "{back}");
    let t = c.redeem(&client, &back, "st9");
    let claims = jwt_claims(t["access_token"].as_str().unwrap());
    let user = claims["sub"].as_str().unwrap().to_string();

    // The browser's session is the new user's.
    let ctx: Value =
        c.s.http
            .get(c.s.url("/auth/api/flow/context"))
            .header("cookie", &cookie)
            .send()
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(ctx["user"]["username"], "newbie", "{ctx}");
    assert_eq!(ctx["user"]["displayName"], "New Bee");
    // The account: its profile, one login (the passkey, under the `passkey` instance).
    let token = c.s.token("newbie", "login");
    let me = json_of(c.s.get("/auth/api/login/user/self", Some(&token)), 200);
    assert_eq!(me["id"], user.as_str());
    assert_eq!(me["email"], "newbie@example.com");
    assert_eq!(me["isAdmin"], false);
    let data = c.login_data(&user, &token);
    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!(data[0]["strategyInstance"]["name"], "passkey");
    assert_eq!(data[0]["passkey"]["name"], "laptop");
    // Audited like the other registrations: the account made by its own first login.
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM audit_events WHERE action = 'user.create' AND target = '{user}'"
        )),
        1
    );
    assert_eq!(
        c.count("SELECT count(*) FROM audit_events WHERE action = 'passkey.add'"),
        1
    );
    // And the passkey signs in later: usernameless (by the handle it was made for) and
    // username-first.
    assert_eq!(c.login(&key, None).status(), 200);
    assert_eq!(c.login(&key, Some("newbie")).status(), 200);
    // The ceremony answered once.
    let (status, code, _) =
        flow_error(c.signup_finish(Some(BROWSER), &ceremony, &key.register(&options, &c.origin)));
    assert_eq!((status, code.as_str()), (400, "ceremony_unknown"));
}

#[test]
fn a_passkey_sign_up_is_refused_where_the_instance_does_not_allow_it() {
    let c = setup();
    let key = SoftKey::new();
    c.set_passkey_flags(json!({"isSelfRegisterActive": false}));
    let (status, code, _) = flow_error(call_in(
        &c.s,
        Some(BROWSER),
        "/auth/api/flow/passkey/signup/start",
        &json!({"username": "zoe"}),
    ));
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert_eq!(c.count("SELECT count(*) FROM webauthn_ceremonies"), 0);
    // Closed between start and finish: the finish checks again and creates nothing.
    c.set_passkey_flags(json!({"isSelfRegisterActive": true}));
    let (ceremony, options) = c.signup_start(&json!({"username": "zoe"}));
    c.set_passkey_flags(json!({"isSelfRegisterActive": false}));
    let (status, code, _) =
        flow_error(c.signup_finish(Some(BROWSER), &ceremony, &key.register(&options, &c.origin)));
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert_eq!(c.users_named("zoe"), 0);
    assert_eq!(c.count("SELECT count(*) FROM passkeys"), 0);
    // Login off on the instance: no sign-up either.
    c.set_passkey_flags(json!({"isSelfRegisterActive": true, "isLoginActive": false}));
    let (status, _, _) = flow_error(call_in(
        &c.s,
        Some(BROWSER),
        "/auth/api/flow/passkey/signup/start",
        &json!({"username": "zoe"}),
    ));
    assert_eq!(status, 403);
    // Passkeys off: the start says so.
    let s = Server::start_with(&["--public-url", "http://127.0.0.1:9"]);
    let (status, code, _) = flow_error(call_in(
        &s,
        Some(BROWSER),
        "/auth/api/flow/passkey/signup/start",
        &json!({"username": "zoe"}),
    ));
    assert_eq!((status, code.as_str()), (409, "precondition"));
    let ctx = json_of(s.get("/auth/api/flow/context", None), 200);
    assert_eq!(ctx["passkeys"], false, "{ctx}");
}

#[test]
fn a_passkey_sign_up_with_a_taken_username_stores_nothing() {
    let c = setup();
    let key = SoftKey::new();
    // Taken before the start: 409 on the field, like the password sign-up, no ceremony.
    for name in ["admin", "ADMIN"] {
        let r = call_in(
            &c.s,
            Some(BROWSER),
            "/auth/api/flow/passkey/signup/start",
            &json!({"username": name}),
        );
        let v = json_of(r, 409);
        assert_eq!(v["code"], "conflict", "{v}");
        assert_eq!(v["field"], "username", "{v}");
    }
    assert_eq!(c.count("SELECT count(*) FROM webauthn_ceremonies"), 0);
    // The profile's rules come first too.
    let v = json_of(
        call_in(
            &c.s,
            Some(BROWSER),
            "/auth/api/flow/passkey/signup/start",
            &json!({"username": "no spaces"}),
        ),
        400,
    );
    assert_eq!(v["field"], "username", "{v}");
    let v = json_of(
        call_in(
            &c.s,
            Some(BROWSER),
            "/auth/api/flow/passkey/signup/start",
            &json!({"username": "fine", "email": "not-an-email"}),
        ),
        400,
    );
    assert_eq!(v["field"], "email", "{v}");
    assert_eq!(c.count("SELECT count(*) FROM webauthn_ceremonies"), 0);
    // Taken between start and finish: checked again in the finishing transaction.
    let (ceremony, options) = c.signup_start(&json!({"username": "zed"}));
    c.s.user(&c.admin, "zed");
    let users = c.count("SELECT count(*) FROM users");
    let r = c.signup_finish(Some(BROWSER), &ceremony, &key.register(&options, &c.origin));
    let v = json_of(r, 409);
    assert_eq!(v["field"], "username", "{v}");
    assert_eq!(c.count("SELECT count(*) FROM users"), users);
    assert_eq!(c.count("SELECT count(*) FROM passkeys"), 0);
    assert_eq!(c.count("SELECT count(*) FROM webauthn_ceremonies"), 0);
}

#[test]
fn a_passkey_sign_up_ceremony_is_this_browsers_once_and_for_5_minutes() {
    let c = setup();
    let key = SoftKey::new();
    let users = c.count("SELECT count(*) FROM users");

    // Another browser (or one without a binding cookie) cannot finish it, and does not spend
    // it: the browser that began it still can.
    let (ceremony, options) = c.signup_start(&json!({"username": "ann"}));
    let credential = key.register(&options, &c.origin);
    for other in [Some("browser-two-0123456789abcdef"), None] {
        let (status, code, message) = flow_error(c.signup_finish(other, &ceremony, &credential));
        assert_eq!(
            (status, code.as_str()),
            (403, "ceremony_other_browser"),
            "{message}"
        );
    }
    assert_eq!(c.count("SELECT count(*) FROM users"), users);
    assert_eq!(
        c.signup_finish(Some(BROWSER), &ceremony, &credential)
            .status(),
        200
    );
    // Replayed: the ceremony is gone.
    let (status, code, _) = flow_error(c.signup_finish(Some(BROWSER), &ceremony, &credential));
    assert_eq!((status, code.as_str()), (400, "ceremony_unknown"));
    assert_eq!(c.users_named("ann"), 1);

    // The same credential again, in a new ceremony: already registered, nothing made.
    let (ceremony, options) = c.signup_start(&json!({"username": "ann2"}));
    let (status, code, _) =
        flow_error(c.signup_finish(Some(BROWSER), &ceremony, &key.register(&options, &c.origin)));
    assert_eq!((status, code.as_str()), (409, "identity_taken"));
    assert_eq!(c.users_named("ann2"), 0);

    // Expired: refused, and spent.
    let (ceremony, options) = c.signup_start(&json!({"username": "bea"}));
    let db = rusqlite::Connection::open(c.s.db_path()).unwrap();
    db.execute(
        "UPDATE webauthn_ceremonies SET expires = 0 WHERE id = ?1",
        [&ceremony],
    )
    .unwrap();
    let fresh = SoftKey::new();
    let credential = fresh.register(&options, &c.origin);
    let (status, code, _) = flow_error(c.signup_finish(Some(BROWSER), &ceremony, &credential));
    assert_eq!((status, code.as_str()), (400, "ceremony_unknown"));
    assert_eq!(c.users_named("bea"), 0);
    assert_eq!(c.count("SELECT count(*) FROM webauthn_ceremonies"), 0);

    // A credential made over another challenge, or signed by another key, does not verify;
    // the ceremony is spent.
    let (ceremony, _) = c.signup_start(&json!({"username": "bea"}));
    let (_, other) = c.signup_start(&json!({"username": "bea"}));
    let (status, code, _) =
        flow_error(c.signup_finish(Some(BROWSER), &ceremony, &fresh.register(&other, &c.origin)));
    assert_eq!((status, code.as_str()), (400, "invalid"));
    assert_eq!(c.users_named("bea"), 0);

    // A login ceremony, or an id that names nothing, is no sign-up.
    let (login, _) = c.start(&json!({}));
    for id in [login.as_str(), "7f0c6a52-4f5e-4d9b-9a51-0d1e2f3a4b5c"] {
        let (status, code, _) = flow_error(c.signup_finish(Some(BROWSER), id, &credential));
        assert_eq!((status, code.as_str()), (400, "ceremony_unknown"));
    }
    // And a sign-up ceremony is no login ceremony.
    let (ceremony, options) = c.signup_start(&json!({"username": "cid"}));
    let challenge = options["publicKey"]["challenge"].as_str().unwrap();
    refused(c.finish(
        &ceremony,
        &key.assert_with("localhost", challenge, &c.origin),
        None,
    ));
    assert_eq!(c.users_named("cid"), 0);
}

#[test]
fn passkey_sign_ups_share_the_addresss_budget_of_new_logins() {
    let c = setup();
    for i in 0..30 {
        let r = call_in(
            &c.s,
            Some(BROWSER),
            "/auth/api/flow/passkey/signup/start",
            &json!({"username": format!("u{i}")}),
        );
        assert_eq!(r.status(), 200, "start {i}");
    }
    let r = call_in(
        &c.s,
        Some(BROWSER),
        "/auth/api/flow/passkey/signup/start",
        &json!({"username": "one-more"}),
    );
    assert!(r.headers().contains_key("retry-after"));
    let (status, code, _) = flow_error(r);
    assert_eq!((status, code.as_str()), (429, "throttled"));
    // The same budget as the password sign-up.
    let r = call_in(
        &c.s,
        Some(BROWSER),
        "/auth/api/flow/register",
        &json!({"username": "pw-user", "password": "a long enough password 1"}),
    );
    assert_eq!(flow_error(r).0, 429);
    // A refused start (a taken name) is answered before the budget is asked.
    let r = call_in(
        &c.s,
        Some(BROWSER),
        "/auth/api/flow/passkey/signup/start",
        &json!({"username": "admin"}),
    );
    assert_eq!(flow_error(r).0, 409);
}

#[test]
fn an_older_database_gets_its_passkeys_instance_renamed_passkey() {
    let s = Server::start();
    let admin = s.admin("admin");
    let id = s.instance_id("passkey");
    let dir = s.stop_keep_dir();
    {
        // As version 7 left it: the built-in instance was named `passkeys`.
        let c = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
        c.execute(
            "UPDATE strategy_instances SET name = 'passkeys' WHERE id = ?1",
            [&id],
        )
        .unwrap();
        c.pragma_update(None, "user_version", 7).unwrap();
    }
    let s = Server::start_in(dir, &[]);
    assert_eq!(s.instance_id("passkey"), id);
    let list = json_of(
        s.get("/auth/api/login/strategy-instance", Some(&admin)),
        200,
    );
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local", "passkey"]);
    let dir = s.stop_keep_dir();
    {
        // An admin's own instance named `passkey` keeps its name; `passkeys` stays too.
        let c = rusqlite::Connection::open(dir.path().join("keyward.db")).unwrap();
        c.execute(
            "UPDATE strategy_instances SET name = 'passkeys' WHERE id = ?1",
            [&id],
        )
        .unwrap();
        c.execute(
            "UPDATE strategy_instances SET name = 'passkey' WHERE name = 'local'",
            [],
        )
        .unwrap();
        c.pragma_update(None, "user_version", 7).unwrap();
    }
    let s = Server::start_in(dir, &[]);
    assert_eq!(s.instance_id("passkeys"), id);
    s.instance_id("passkey");
}
