//! The Zitadel passwordless API: v1 `_link` / `_send_link` (oneself, and any user as an admin),
//! v2 `registration_link`, passkey registration with the software authenticator (with a link
//! code and no login, or as the user or an admin, who must also finish it), list and
//! `_search`, removal with the last-method rule, link codes (entropy, 3 wrong tries then void,
//! expiry, used up only when a registration completes, retries after an abandoned or failed
//! attempt, void when unsent), blocked users, URL templates, bodies read as Zitadel's gateway
//! reads them, `details.sequence`, and every error in the gRPC-style shape with its code, HTTP
//! status and `KW-PL-nnn` id.

mod common;

use common::Server;
use common::smtp::SmtpServer;
use common::softkey::{SoftKey, b64, unb64};
use reqwest::blocking::Response;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const UNKNOWN: &str = "7f0c6a52-4f5e-4d9b-9a51-0d1e2f3a4b5c";

/// Asserts Zitadel's error shape, the HTTP status, the gRPC code and the error id; returns
/// the body.
fn pl_error(r: Response, status: u16, code: i64, id: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "unexpected status");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = r.json().expect("JSON error body");
    assert_eq!(v["code"], code, "{v}");
    let message = v["message"].as_str().expect("message");
    assert!(message.ends_with(&format!(" ({id})")), "{v}");
    let details = v["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{v}");
    assert_eq!(
        details[0]["@type"], "type.googleapis.com/zitadel.v1.ErrorDetail",
        "{v}"
    );
    assert_eq!(details[0]["id"], id, "{v}");
    let plain = details[0]["message"].as_str().expect("detail message");
    assert!(!plain.is_empty() && message.starts_with(plain), "{v}");
    v
}

fn ok(r: Response) -> Value {
    let status = r.status().as_u16();
    let v: Value = r.json().expect("JSON body");
    assert_eq!(status, 200, "{v}");
    v
}

/// Asserts the `details` object of an answer; returns its sequence.
fn details(v: &Value) -> i64 {
    let d = &v["details"];
    let seq = d["sequence"].as_str().unwrap_or_else(|| panic!("{v}"));
    for field in ["creationDate", "changeDate"] {
        let t = d[field].as_str().unwrap_or_else(|| panic!("{field}: {v}"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z'),
            "{v}"
        );
    }
    assert!(
        d["resourceOwner"].as_str().is_some_and(|o| !o.is_empty()),
        "{v}"
    );
    seq.parse().unwrap()
}

struct Ctx {
    s: Server,
    admin: String,
    /// The public URL, which is the WebAuthn origin.
    origin: String,
}

fn setup() -> Ctx {
    setup_with(&[])
}

fn setup_with(extra: &[&str]) -> Ctx {
    let s = Server::start_with(extra);
    let admin = s.admin("admin");
    // Listening on a loopback address without --public-url: http://localhost:{port}.
    let origin = s.base.replace("127.0.0.1", "localhost");
    Ctx { s, admin, origin }
}

/// A server that mails through `smtp` as login@example.test.
fn setup_mailing(smtp: &SmtpServer) -> Ctx {
    setup_with(&[
        "--smtp-url",
        &smtp.url(),
        "--smtp-from",
        "login@example.test",
    ])
}

fn passkeys(user: &str) -> String {
    format!("/v2/users/{user}/passkeys")
}

/// A code from `registration_link` with `returnCode`.
struct Code {
    id: String,
    code: String,
}

impl Code {
    fn json(&self) -> Value {
        json!({"id": self.id, "code": self.code})
    }
    fn wrong(&self) -> Value {
        // The same length and alphabet, another value.
        let mut bytes = unb64(&self.code);
        bytes[0] ^= 1;
        json!({"id": self.id, "code": b64(&bytes)})
    }
}

impl Ctx {
    /// A user with a password; returns (id, login token).
    fn user(&self, name: &str) -> (String, String) {
        self.s.user(&self.admin, name)
    }

    /// A user with a password and the e-mail address `{name}@example.test`; returns (id,
    /// login token).
    fn mailed_user(&self, name: &str) -> (String, String) {
        let (id, token) = self.user(name);
        let r = self.s.put(
            &format!("/auth/api/login/user/{id}"),
            Some(&self.admin),
            &json!({"email": format!("{name}@example.test")}),
        );
        assert_eq!(r.status(), 200);
        (id, token)
    }

    /// A user without any way to log in yet (passkeys come later); returns (id, login token).
    fn bare_user(&self, name: &str) -> (String, String) {
        let r = self.s.post(
            "/auth/api/login/user",
            Some(&self.admin),
            &json!({"username": name, "displayName": name}),
        );
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        (id, self.s.token(name, "login"))
    }

    fn code_for(&self, user: &str, token: &str) -> Code {
        let v = ok(self.s.post(
            &format!("{}/registration_link", passkeys(user)),
            Some(token),
            &json!({"returnCode": {}}),
        ));
        details(&v);
        Code {
            id: v["code"]["id"].as_str().unwrap().to_string(),
            code: v["code"]["code"].as_str().unwrap().to_string(),
        }
    }

    fn start(&self, user: &str, token: Option<&str>, body: &Value) -> Response {
        self.s.post(&passkeys(user), token, body)
    }

    /// Starts a registration; returns (passkeyId, options).
    fn started(&self, user: &str, token: Option<&str>, body: &Value) -> (String, Value) {
        let v = ok(self.start(user, token, body));
        details(&v);
        (
            v["passkeyId"].as_str().unwrap().to_string(),
            v["publicKeyCredentialCreationOptions"].clone(),
        )
    }

    /// Finishes without a login: for ceremonies started with a code.
    fn finish(&self, user: &str, passkey: &str, credential: &Value, name: &str) -> Response {
        self.finish_as(user, passkey, credential, name, None)
    }

    fn finish_as(
        &self,
        user: &str,
        passkey: &str,
        credential: &Value,
        name: &str,
        token: Option<&str>,
    ) -> Response {
        self.s.post(
            &format!("{}/{passkey}", passkeys(user)),
            token,
            &json!({"publicKeyCredential": credential, "passkeyName": name}),
        )
    }

    /// A whole registration with `key`, started with `start`; returns the passkey id and the
    /// sequence of the finish.
    fn register(
        &self,
        user: &str,
        token: Option<&str>,
        start: &Value,
        key: &SoftKey,
        name: &str,
    ) -> (String, i64) {
        let (id, options) = self.started(user, token, start);
        let cred = key.register(&options, &self.origin);
        let v = ok(self.finish_as(user, &id, &cred, name, token));
        (id, details(&v))
    }

    fn list(&self, user: &str, token: &str) -> Value {
        ok(self.s.get(&passkeys(user), Some(token)))
    }

    fn ids(&self, user: &str, token: &str) -> BTreeSet<String> {
        self.list(user, token)["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    }
}

#[test]
fn my_link_is_a_passkey_page_link_with_a_strong_code() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let v =
        ok(c.s.post("/users/me/passwordless/_link", Some(&token), &json!({})));
    details(&v);
    assert_eq!(v["expiration"], "3600s", "{v}");
    let link = url::Url::parse(v["link"].as_str().unwrap()).unwrap();
    assert_eq!(
        format!("{}", link).split('?').next().unwrap(),
        format!("{}/auth/flow/passkey", c.origin)
    );
    let q: std::collections::HashMap<String, String> = link.query_pairs().into_owned().collect();
    assert_eq!(q["userID"], alice);
    assert!(!q["orgID"].is_empty() && !q["codeID"].is_empty());
    // At least 95 bits: base64url carries 6 bits a character.
    assert!(unb64(&q["code"]).len() * 8 >= 95, "{}", q["code"]);

    // The link's code registers a passkey, with no login at all.
    let code = json!({"id": q["codeID"], "code": q["code"]});
    let key = SoftKey::new();
    c.register(&alice, None, &json!({"code": code}), &key, "phone");
    assert_eq!(c.ids(&alice, &token).len(), 1);

    // A new link does not void an older one; every link has its own code.
    let a =
        ok(c.s.post("/users/me/passwordless/_link", Some(&token), &json!({})));
    let b =
        ok(c.s.post("/users/me/passwordless/_link", Some(&token), &json!({})));
    assert_ne!(a["link"], b["link"]);
    let c1 = c.code_for(&alice, &token);
    let c2 = c.code_for(&alice, &token);
    assert_ne!(c1.code, c2.code);
    assert_ne!(c1.id, c2.id);
    c.register(
        &alice,
        None,
        &json!({"code": c1.json()}),
        &SoftKey::new(),
        "one",
    );
    c.register(
        &alice,
        None,
        &json!({"code": c2.json()}),
        &SoftKey::new(),
        "two",
    );
    assert_eq!(c.ids(&alice, &token).len(), 3);
}

#[test]
fn link_errors_in_the_zitadel_shape() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let (_, bob_token) = c.user("bob");
    let me = "/users/me/passwordless/_link";
    let mgmt = |u: &str| format!("/management/v1/users/{u}/passwordless/_link");

    pl_error(c.s.post(me, None, &json!({})), 401, 16, "KW-PL-010");
    pl_error(
        c.s.post(me, Some("not-a-token"), &json!({})),
        401,
        16,
        "KW-PL-011",
    );
    let openid = c.s.token("alice", "openid");
    pl_error(c.s.post(me, Some(&openid), &json!({})), 403, 7, "KW-PL-021");
    pl_error(c.s.post(me, Some(&token), &json!([])), 400, 3, "KW-PL-001");
    let r =
        c.s.http
            .post(c.s.url(me))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .unwrap();
    pl_error(r, 415, 3, "KW-PL-005");
    // Too large for any surface: refused before the route is found, in this surface's shape.
    let big = json!({"x": "a".repeat(1 << 20)});
    pl_error(c.s.post(me, Some(&token), &big), 413, 3, "KW-PL-004");

    // The management link: admins only; unknown users are not found for them alone.
    let v = ok(c.s.post(&mgmt(&alice), Some(&c.admin), &json!({})));
    details(&v);
    assert!(
        v["link"]
            .as_str()
            .unwrap()
            .contains(&format!("userID={alice}"))
    );
    pl_error(
        c.s.post(&mgmt(&alice), Some(&bob_token), &json!({})),
        403,
        7,
        "KW-PL-020",
    );
    pl_error(
        c.s.post(&mgmt(UNKNOWN), Some(&bob_token), &json!({})),
        403,
        7,
        "KW-PL-020",
    );
    pl_error(
        c.s.post(&mgmt(UNKNOWN), Some(&c.admin), &json!({})),
        404,
        5,
        "KW-PL-030",
    );
    pl_error(
        c.s.post(&mgmt(&alice), None, &json!({})),
        401,
        16,
        "KW-PL-010",
    );

    // registration_link: self or admin.
    let rl = |u: &str| format!("{}/registration_link", passkeys(u));
    let rc = json!({"returnCode": {}});
    ok(c.s.post(&rl(&alice), Some(&token), &rc));
    ok(c.s.post(&rl(&alice), Some(&c.admin), &rc));
    pl_error(
        c.s.post(&rl(&alice), Some(&bob_token), &rc),
        403,
        7,
        "KW-PL-020",
    );
    // A non-admin learns nothing about other ids: the same answer as for a real user.
    pl_error(
        c.s.post(&rl(UNKNOWN), Some(&bob_token), &rc),
        403,
        7,
        "KW-PL-020",
    );
    pl_error(
        c.s.post(&rl(UNKNOWN), Some(&c.admin), &rc),
        404,
        5,
        "KW-PL-030",
    );
    pl_error(c.s.post(&rl(&alice), None, &rc), 401, 16, "KW-PL-010");
    pl_error(
        c.s.post(&rl(&alice), Some(&openid), &rc),
        403,
        7,
        "KW-PL-021",
    );
    pl_error(
        c.s.post(
            &rl(&alice),
            Some(&token),
            &json!({"returnCode": {}, "sendLink": {}}),
        ),
        400,
        3,
        "KW-PL-001",
    );

    // No such route, and a method a route does not have.
    pl_error(
        c.s.get("/v2/users/x/nothing", Some(&token)),
        404,
        5,
        "KW-PL-032",
    );
    pl_error(c.s.get(me, Some(&token)), 405, 12, "KW-PL-090");
}

#[test]
fn sending_a_link_needs_a_mail_server_and_an_address() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let rl = format!("{}/registration_link", passkeys(&alice));
    // No mail server configured: failed precondition.
    for r in [
        c.s.post(
            "/users/me/passwordless/_send_link",
            Some(&token),
            &json!({}),
        ),
        c.s.post(
            &format!("/management/v1/users/{alice}/passwordless/_send_link"),
            Some(&c.admin),
            &json!({}),
        ),
        c.s.post(&rl, Some(&token), &json!({"sendLink": {}})),
        // An empty body names no medium: the default link by mail, as Zitadel does.
        c.s.post(&rl, Some(&token), &json!({})),
    ] {
        pl_error(r, 400, 9, "KW-PL-051");
    }
    pl_error(
        c.s.post(
            &format!("/management/v1/users/{alice}/passwordless/_send_link"),
            Some(&token),
            &json!({}),
        ),
        403,
        7,
        "KW-PL-020",
    );
}

#[test]
fn a_mail_server_that_cannot_be_reached_is_code_14() {
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let c = setup_with(&["--smtp-url", &smtp, "--smtp-from", "keyward@localhost"]);
    let r = c.s.post(
        "/auth/api/login/user",
        Some(&c.admin),
        &json!({"username": "mailed", "displayName": "Mailed", "email": "mailed@example.com",
                "password": "password-of-user"}),
    );
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = c.s.token("mailed", "login");
    pl_error(
        c.s.post(
            "/users/me/passwordless/_send_link",
            Some(&token),
            &json!({}),
        ),
        503,
        14,
        "KW-PL-080",
    );
    pl_error(
        c.s.post(
            &format!("{}/registration_link", passkeys(&id)),
            Some(&token),
            &json!({"sendLink": {"urlTemplate": "not a url {{.Code}}"}}),
        ),
        400,
        3,
        "KW-PL-001",
    );
    pl_error(
        c.s.post(
            &format!("{}/registration_link", passkeys(&id)),
            Some(&token),
            &json!({"sendLink": {"urlTemplate": "https://app.example/p?u={{.UserID}}&c={{.Code}}&i={{.CodeID}}"}}),
        ),
        503,
        14,
        "KW-PL-080",
    );
    // A user without an e-mail address: failed precondition, whatever the mail server.
    let (_, no_mail) = c.user("nomail");
    pl_error(
        c.s.post(
            "/users/me/passwordless/_send_link",
            Some(&no_mail),
            &json!({}),
        ),
        400,
        9,
        "KW-PL-051",
    );
}

#[test]
fn registration_as_the_user_or_an_admin_and_the_list() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let (bob, bob_token) = c.user("bob");
    let before = details(&c.list(&alice, &token));

    // As the user, with a login token; the options ask for a discoverable credential with
    // user verification.
    let (id, options) = c.started(&alice, Some(&token), &json!({}));
    let pk = &options["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost", "{options}");
    let sel = &pk["authenticatorSelection"];
    assert!(
        matches!(sel["residentKey"].as_str(), Some("required" | "preferred")),
        "{options}"
    );
    assert_eq!(sel["userVerification"], "required", "{options}");
    let key = SoftKey::new();
    let v = ok(c.finish_as(
        &alice,
        &id,
        &key.register(&options, &c.origin),
        "laptop",
        Some(&token),
    ));
    let after = details(&v);
    assert!(after > before, "{before} -> {after}");

    // As an admin, for another user; PLATFORM asks for this device.
    let (id2, options) = c.started(
        &bob,
        Some(&c.admin),
        &json!({"authenticator": "PASSKEY_AUTHENTICATOR_PLATFORM", "domain": "localhost"}),
    );
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["authenticatorAttachment"], "platform",
        "{options}"
    );
    ok(c.finish_as(
        &bob,
        &id2,
        &SoftKey::new().register(&options, &c.origin),
        "bob's key",
        Some(&c.admin),
    ));
    let (_, options) = c.started(
        &bob,
        Some(&bob_token),
        &json!({"authenticator": "PASSKEY_AUTHENTICATOR_CROSS_PLATFORM"}),
    );
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["authenticatorAttachment"], "cross-platform",
        "{options}"
    );

    // The list, by GET and by _search: the same.
    let list = c.list(&alice, &token);
    assert_eq!(
        list["result"],
        json!([{"id": id, "state": "AUTH_FACTOR_STATE_READY", "name": "laptop"}])
    );
    let search = ok(c.s.post(
        &format!("{}/_search", passkeys(&alice)),
        Some(&token),
        &json!({}),
    ));
    assert_eq!(search, list);
    assert_eq!(c.list(&alice, &c.admin), list);
    assert_eq!(c.ids(&bob, &bob_token), BTreeSet::from([id2.clone()]));

    // The passkey is an identity of its user in the login API.
    let data = ok(c.s.get(
        &format!("/auth/api/login/user/{alice}/login-data"),
        Some(&token),
    ));
    assert!(
        data.as_array().unwrap().iter().any(|d| d["id"] == id),
        "{data}"
    );

    // Who may start without a code, and what they are told.
    pl_error(c.start(&alice, None, &json!({})), 401, 16, "KW-PL-010");
    pl_error(
        c.start(&alice, Some("garbage"), &json!({})),
        401,
        16,
        "KW-PL-011",
    );
    pl_error(
        c.start(&alice, Some(&bob_token), &json!({})),
        403,
        7,
        "KW-PL-020",
    );
    pl_error(
        c.start(UNKNOWN, Some(&bob_token), &json!({})),
        403,
        7,
        "KW-PL-020",
    );
    pl_error(
        c.start(UNKNOWN, Some(&c.admin), &json!({})),
        404,
        5,
        "KW-PL-030",
    );
    let openid = c.s.token("alice", "openid");
    pl_error(
        c.start(&alice, Some(&openid), &json!({})),
        403,
        7,
        "KW-PL-021",
    );
    pl_error(
        c.start(&alice, Some(&token), &json!({"domain": "evil.example"})),
        400,
        3,
        "KW-PL-001",
    );
    pl_error(
        c.start(
            &alice,
            Some(&token),
            &json!({"authenticator": "PASSKEY_AUTHENTICATOR_USB"}),
        ),
        400,
        3,
        "KW-PL-001",
    );
    for authenticator in [json!(3), json!(-1), json!("1"), json!(true)] {
        pl_error(
            c.start(
                &alice,
                Some(&token),
                &json!({"authenticator": authenticator}),
            ),
            400,
            3,
            "KW-PL-001",
        );
    }

    // List and search: self or admin.
    for r in [
        c.s.get(&passkeys(&alice), Some(&bob_token)),
        c.s.post(
            &format!("{}/_search", passkeys(&alice)),
            Some(&bob_token),
            &json!({}),
        ),
        c.s.get(&passkeys(UNKNOWN), Some(&bob_token)),
    ] {
        pl_error(r, 403, 7, "KW-PL-020");
    }
    pl_error(c.s.get(&passkeys(&alice), None), 401, 16, "KW-PL-010");
    pl_error(
        c.s.get(&passkeys(UNKNOWN), Some(&c.admin)),
        404,
        5,
        "KW-PL-030",
    );
}

/// As Zitadel's REST gateway (protojson with DiscardUnknown): unknown fields are ignored (a
/// generated client sends the path's `userId` in the body too) and an enum may be given by
/// number. A body that is not JSON is still refused (415).
#[test]
fn bodies_as_zitadels_gateway_reads_them() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let extra = json!({"userId": alice, "nope": {"deep": [1]}});
    ok(c.s.post("/users/me/passwordless/_link", Some(&token), &extra));
    ok(c.s.post(
        &format!("/management/v1/users/{alice}/passwordless/_link"),
        Some(&c.admin),
        &extra,
    ));
    let v = ok(c.s.post(
        &format!("{}/registration_link", passkeys(&alice)),
        Some(&token),
        &json!({"userId": alice, "returnCode": {"x": 1}}),
    ));
    let code = Code {
        id: v["code"]["id"].as_str().unwrap().to_string(),
        code: v["code"]["code"].as_str().unwrap().to_string(),
    };
    let search = ok(c.s.post(
        &format!("{}/_search", passkeys(&alice)),
        Some(&token),
        &json!({"userId": alice, "query": {"offset": "0", "limit": 10}}),
    ));
    assert_eq!(search["result"], json!([]));

    // authenticator by number: 0 unspecified, 1 platform, 2 cross-platform.
    for (n, attachment) in [
        (0, None),
        (1, Some("platform")),
        (2, Some("cross-platform")),
    ] {
        let (_, options) = c.started(
            &alice,
            Some(&token),
            &json!({"userId": alice, "authenticator": n}),
        );
        let sel = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(
            sel["authenticatorAttachment"].as_str(),
            attachment,
            "{options}"
        );
    }
    let (id, options) = c.started(
        &alice,
        None,
        &json!({"userId": alice, "code": {"id": code.id, "code": code.code, "extra": 1},
                "authenticator": "PASSKEY_AUTHENTICATOR_PLATFORM"}),
    );
    let cred = SoftKey::new().register(&options, &c.origin);
    ok(c.s.post(
        &format!("{}/{id}", passkeys(&alice)),
        None,
        &json!({"userId": alice, "passkeyId": id, "publicKeyCredential": cred,
                "passkeyName": "phone"}),
    ));
    assert_eq!(c.ids(&alice, &token).len(), 1);

    // Not JSON: 415, as before.
    let r =
        c.s.http
            .post(c.s.url(&passkeys(&alice)))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .unwrap();
    pl_error(r, 415, 3, "KW-PL-005");
}

/// `sendLink.urlTemplate` is a Go template with Zitadel's four placeholders; anything else in
/// braces, or an unclosed `{{`, is refused naming the field, before any mail is sent.
#[test]
fn url_templates_are_checked() {
    let smtp = SmtpServer::start();
    let c = setup_mailing(&smtp);
    let (alice, token) = c.mailed_user("alice");
    let rl = format!("{}/registration_link", passkeys(&alice));
    for template in [
        "https://x.example/{{.Bogus}}",
        "https://x.example/{{.Code",
        "https://x.example/{{.Code}}{{",
        "https://x.example/{{Code}}",
        "https://x.example/{{.Code | html}}",
        "https://x.example/{{}}",
        "javascript:alert(1)//{{.Code}}",
        "/relative?c={{.Code}}",
    ] {
        let v = pl_error(
            c.s.post(
                &rl,
                Some(&token),
                &json!({"sendLink": {"urlTemplate": template}}),
            ),
            400,
            3,
            "KW-PL-001",
        );
        assert!(
            v["message"].as_str().unwrap().contains("urlTemplate"),
            "{template}: {v}"
        );
    }
    // Spaces inside the braces, Go's trim markers, and a lone `}}` are fine.
    let template = "http://app.example.test/p?u={{ .UserID }}&i={{- .CodeID -}}&c={{.Code }}&x=}}";
    ok(c.s.post(
        &rl,
        Some(&token),
        &json!({"sendLink": {"urlTemplate": template}}),
    ));
    let mails = smtp.wait_for(1);
    assert_eq!(mails.len(), 1, "only the good template sent a mail");
    let (link, q) = mailed_link(&mails[0]);
    assert!(!link.contains("{{"), "{link}");
    assert_eq!(q["u"], alice);
    assert_eq!(q["x"], "}}");
    let code = json!({"id": q["i"], "code": q["c"]});
    c.register(
        &alice,
        None,
        &json!({"code": code}),
        &SoftKey::new(),
        "templated",
    );
}

#[test]
fn finishing_takes_a_valid_credential_and_a_name() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let (id, options) = c.started(&alice, Some(&token), &json!({}));
    let key = SoftKey::new();
    let cred = key.register(&options, &c.origin);
    let path = format!("{}/{id}", passkeys(&alice));
    for body in [
        json!({"publicKeyCredential": cred}),
        json!({"publicKeyCredential": cred, "passkeyName": "  "}),
        json!({"publicKeyCredential": cred, "passkeyName": "x".repeat(65)}),
        json!({"publicKeyCredential": cred, "passkeyName": "a\u{1b}[31m"}),
        json!({"publicKeyCredential": "text", "passkeyName": "a"}),
        json!({"passkeyName": "a"}),
    ] {
        pl_error(c.s.post(&path, None, &body), 400, 3, "KW-PL-001");
    }
    // None of these reached the ceremony: it still completes.
    ok(c.finish_as(&alice, &id, &cred, "laptop", Some(&token)));
    // A finished ceremony is gone.
    pl_error(
        c.finish_as(&alice, &id, &cred, "again", Some(&token)),
        404,
        5,
        "KW-PL-031",
    );
    pl_error(
        c.finish(&alice, UNKNOWN, &cred, "never"),
        404,
        5,
        "KW-PL-031",
    );
    // A credential id belongs to one user only.
    let (bob, bob_token) = c.user("bob");
    let (id, options) = c.started(&bob, Some(&bob_token), &json!({}));
    let stolen = key.register(&options, &c.origin);
    pl_error(
        c.finish_as(&bob, &id, &stolen, "stolen", Some(&bob_token)),
        409,
        6,
        "KW-PL-060",
    );
    assert!(c.ids(&bob, &bob_token).is_empty());
    // The refused ceremony is spent.
    pl_error(
        c.finish_as(&bob, &id, &stolen, "again", Some(&bob_token)),
        404,
        5,
        "KW-PL-031",
    );

    // The same user registering a credential they already have: the same answer, and the
    // ceremony is spent the same way. The options tell the browser which credentials the user
    // has, so that it does not offer to make one of them again.
    let (id, options) = c.started(&alice, Some(&token), &json!({}));
    let excluded: Vec<&str> = options["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap_or_else(|| panic!("{options}"))
        .iter()
        .map(|d| {
            assert_eq!(d["type"], "public-key", "{options}");
            d["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(excluded, [cred["id"].as_str().unwrap()], "{options}");
    let again = key.register(&options, &c.origin);
    pl_error(
        c.finish_as(&alice, &id, &again, "twice", Some(&token)),
        409,
        6,
        "KW-PL-060",
    );
    pl_error(
        c.finish_as(&alice, &id, &again, "twice", Some(&token)),
        404,
        5,
        "KW-PL-031",
    );
    assert_eq!(c.ids(&alice, &token).len(), 1);
}

/// A ceremony started by a login (the user's own or an admin's) is finished by a caller who
/// may act for that user: knowing its passkeyId is not enough to add a passkey to someone.
#[test]
fn finishing_a_registration_started_by_a_login_needs_a_login_for_that_user() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let (_, bob_token) = c.user("bob");
    let openid = c.s.token("alice", "openid");
    let (id, options) = c.started(&alice, Some(&token), &json!({}));
    let attacker = SoftKey::new();
    let cred = attacker.register(&options, &c.origin);
    pl_error(c.finish(&alice, &id, &cred, "mine"), 401, 16, "KW-PL-010");
    pl_error(
        c.finish_as(&alice, &id, &cred, "mine", Some("junk")),
        401,
        16,
        "KW-PL-011",
    );
    pl_error(
        c.finish_as(&alice, &id, &cred, "mine", Some(&bob_token)),
        403,
        7,
        "KW-PL-020",
    );
    pl_error(
        c.finish_as(&alice, &id, &cred, "mine", Some(&openid)),
        403,
        7,
        "KW-PL-021",
    );
    assert!(c.ids(&alice, &token).is_empty());
    // None of these spent alice's ceremony; any caller who may act for her finishes it (here
    // an admin, for a ceremony alice started).
    ok(c.finish_as(&alice, &id, &cred, "laptop", Some(&c.admin)));
    assert_eq!(c.ids(&alice, &token).len(), 1);

    // Started by an admin: alice herself may finish it, bob may not.
    let (id, options) = c.started(&alice, Some(&c.admin), &json!({}));
    let cred = SoftKey::new().register(&options, &c.origin);
    pl_error(
        c.finish_as(&alice, &id, &cred, "x", Some(&bob_token)),
        403,
        7,
        "KW-PL-020",
    );
    pl_error(c.finish(&alice, &id, &cred, "x"), 401, 16, "KW-PL-010");
    ok(c.finish_as(&alice, &id, &cred, "phone", Some(&token)));
    assert_eq!(c.ids(&alice, &token).len(), 2);

    // Started with a code: no login needed, and a token given along changes nothing.
    let code = c.code_for(&alice, &token);
    let (id, options) = c.started(&alice, None, &json!({"code": code.json()}));
    let cred = SoftKey::new().register(&options, &c.origin);
    ok(c.finish_as(&alice, &id, &cred, "tablet", Some(&bob_token)));
    assert_eq!(c.ids(&alice, &token).len(), 3);
}

/// A blocked user gets no passkey: not with a link code an admin made, not from a ceremony
/// started before the block. Their own token is refused everywhere (code 16).
#[test]
fn a_blocked_user_cannot_register_a_passkey() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let code = c.code_for(&alice, &c.admin);
    let (early, early_options) = c.started(&alice, None, &json!({"code": code.json()}));
    let (by_admin, by_admin_options) = c.started(&alice, Some(&c.admin), &json!({}));
    let block = |blocked: bool| {
        let r = c.s.put(
            &format!("/auth/api/login/user/{alice}"),
            Some(&c.admin),
            &json!({"isBlocked": blocked}),
        );
        assert_eq!(r.status(), 200);
    };
    block(true);
    let v = pl_error(
        c.start(&alice, None, &json!({"code": code.json()})),
        400,
        9,
        "KW-PL-052",
    );
    assert!(v["message"].as_str().unwrap().contains("blocked"), "{v}");
    pl_error(
        c.start(&alice, Some(&c.admin), &json!({})),
        400,
        9,
        "KW-PL-052",
    );
    pl_error(
        c.finish(
            &alice,
            &early,
            &SoftKey::new().register(&early_options, &c.origin),
            "early",
        ),
        400,
        9,
        "KW-PL-052",
    );
    pl_error(
        c.finish_as(
            &alice,
            &by_admin,
            &SoftKey::new().register(&by_admin_options, &c.origin),
            "by admin",
            Some(&c.admin),
        ),
        400,
        9,
        "KW-PL-052",
    );
    // Keyward refuses a blocked user's tokens everywhere.
    pl_error(
        c.s.post("/users/me/passwordless/_link", Some(&token), &json!({})),
        401,
        16,
        "KW-PL-011",
    );
    assert!(c.ids(&alice, &c.admin).is_empty());
    // Unblocked, the link code still works: it was not used up.
    block(false);
    c.register(
        &alice,
        None,
        &json!({"code": code.json()}),
        &SoftKey::new(),
        "after",
    );
}

#[test]
fn a_link_code_registers_without_login_and_is_used_up_only_on_completion() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let code = c.code_for(&alice, &token);
    assert!(unb64(&code.code).len() * 8 >= 95);
    let with = json!({"code": code.json()});

    // An abandoned start, then another: the code still works.
    c.started(&alice, None, &with);
    // A failed finish (an attestation over another challenge), then a retry.
    let (id, options) = c.started(&alice, None, &with);
    let mut forged = options.clone();
    forged["publicKey"]["challenge"] = json!(b64(b"some other challenge"));
    let key = SoftKey::new();
    pl_error(
        c.finish(&alice, &id, &key.register(&forged, &c.origin), "bad"),
        400,
        3,
        "KW-PL-001",
    );
    // A ceremony is single use, a failed one too.
    pl_error(
        c.finish(&alice, &id, &key.register(&options, &c.origin), "late"),
        404,
        5,
        "KW-PL-031",
    );
    let before = details(&c.list(&alice, &token));
    let (pid, seq) = c.register(&alice, None, &with, &key, "phone");
    assert!(seq > before);
    assert_eq!(c.ids(&alice, &token), BTreeSet::from([pid]));

    // Used up now: refused, as a start and for a ceremony started before completion.
    let code2 = c.code_for(&alice, &token);
    let with2 = json!({"code": code2.json()});
    let (early, early_options) = c.started(&alice, None, &with2);
    c.register(&alice, None, &with2, &SoftKey::new(), "tablet");
    pl_error(c.start(&alice, None, &with), 400, 9, "KW-PL-042");
    pl_error(c.start(&alice, None, &with2), 400, 9, "KW-PL-042");
    pl_error(
        c.finish(
            &alice,
            &early,
            &SoftKey::new().register(&early_options, &c.origin),
            "third",
        ),
        400,
        9,
        "KW-PL-042",
    );
    assert_eq!(c.ids(&alice, &token).len(), 2);
}

#[test]
fn three_wrong_codes_void_the_link() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let code = c.code_for(&alice, &token);
    // Three wrong tries, each answered as a wrong code; the third says the code is now void.
    for i in 0..3 {
        let v = pl_error(
            c.start(&alice, None, &json!({"code": code.wrong()})),
            400,
            3,
            "KW-PL-040",
        );
        let m = v["message"].as_str().unwrap();
        assert_eq!(m.contains("no longer"), i == 2, "{v}");
    }
    // Void now: even the right code fails.
    let v = pl_error(
        c.start(&alice, None, &json!({"code": code.json()})),
        400,
        9,
        "KW-PL-043",
    );
    assert!(v["message"].as_str().unwrap().contains("wrong"), "{v}");
    // Other codes of the user are not affected.
    let other = c.code_for(&alice, &token);
    c.register(
        &alice,
        None,
        &json!({"code": other.json()}),
        &SoftKey::new(),
        "ok",
    );
    // A code of an unknown id is wrong, the same as a wrong code.
    pl_error(
        c.start(
            &alice,
            None,
            &json!({"code": {"id": UNKNOWN, "code": code.code}}),
        ),
        400,
        3,
        "KW-PL-040",
    );
}

#[test]
fn a_code_is_for_its_own_user_only() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let (bob, bob_token) = c.user("bob");
    let code = c.code_for(&alice, &token);
    // Bob cannot use Alice's code for himself.
    pl_error(
        c.start(&bob, None, &json!({"code": code.json()})),
        400,
        3,
        "KW-PL-040",
    );
    assert!(c.ids(&bob, &bob_token).is_empty());

    // A ceremony belongs to the user it was started for: finishing it on another user's path
    // adds nothing to either.
    let (id, options) = c.started(&alice, None, &json!({"code": code.json()}));
    let cred = SoftKey::new().register(&options, &c.origin);
    pl_error(c.finish(&bob, &id, &cred, "mine now"), 404, 5, "KW-PL-031");
    assert!(c.ids(&bob, &bob_token).is_empty());
    assert!(c.ids(&alice, &token).is_empty());
    // That attempt did not spend Alice's ceremony.
    ok(c.finish(&alice, &id, &cred, "mine"));
    assert_eq!(c.ids(&alice, &token).len(), 1);
}

#[test]
fn passkeys_are_off_with_an_ip_address_public_url() {
    // Without a mail server, and (below) with one but a user without an e-mail address: the
    // answer is about the host name, not about mail.
    let c = setup_with(&["--public-url", "http://127.0.0.1:9"]);
    passkeys_off_everywhere(&c);
    let smtp = SmtpServer::start();
    let c = setup_with(&[
        "--public-url",
        "http://127.0.0.1:9",
        "--smtp-url",
        &smtp.url(),
        "--smtp-from",
        "login@example.test",
    ]);
    passkeys_off_everywhere(&c);
}

fn passkeys_off_everywhere(c: &Ctx) {
    let (alice, token) = c.user("alice");
    let rl = format!("{}/registration_link", passkeys(&alice));
    for r in [
        c.s.post("/users/me/passwordless/_link", Some(&token), &json!({})),
        c.s.post(
            "/users/me/passwordless/_send_link",
            Some(&token),
            &json!({}),
        ),
        c.s.post(
            &format!("/management/v1/users/{alice}/passwordless/_link"),
            Some(&c.admin),
            &json!({}),
        ),
        c.s.post(
            &format!("/management/v1/users/{alice}/passwordless/_send_link"),
            Some(&c.admin),
            &json!({}),
        ),
        c.s.post(&rl, Some(&token), &json!({"returnCode": {}})),
        c.s.post(&rl, Some(&token), &json!({})),
        c.s.post(&rl, Some(&token), &json!({"sendLink": {}})),
        c.s.post(
            &rl,
            Some(&token),
            &json!({"sendLink": {"urlTemplate": "https://x.example/{{.Code}}"}}),
        ),
        c.start(&alice, Some(&token), &json!({})),
        c.start(&alice, None, &json!({"code": {"id": UNKNOWN, "code": "x"}})),
        c.finish(&alice, UNKNOWN, &json!({"id": "x"}), "x"),
        c.s.get(&passkeys(&alice), Some(&token)),
        c.s.post(
            &format!("{}/_search", passkeys(&alice)),
            Some(&token),
            &json!({}),
        ),
        c.s.delete(&format!("{}/{UNKNOWN}", passkeys(&alice)), Some(&token)),
    ] {
        let v = pl_error(r, 400, 9, "KW-PL-051");
        assert!(
            v["message"].as_str().unwrap().contains("--public-url"),
            "{v}"
        );
    }
}

#[test]
fn an_expired_code_is_refused() {
    let c = setup_with(&["--passkey-link-ttl", "1"]);
    let (alice, token) = c.user("alice");
    let v =
        ok(c.s.post("/users/me/passwordless/_link", Some(&token), &json!({})));
    assert_eq!(v["expiration"], "1s");
    let code = c.code_for(&alice, &token);
    // A boundary, not a timing assertion: the code is older than its ttl.
    std::thread::sleep(std::time::Duration::from_secs(2));
    pl_error(
        c.start(&alice, None, &json!({"code": code.json()})),
        400,
        9,
        "KW-PL-041",
    );
}

#[test]
fn removing_passkeys_and_the_last_method_rule() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let (bob, bob_token) = c.user("bob");
    let key = SoftKey::new();
    let (pk, s1) = c.register(&alice, Some(&token), &json!({}), &key, "laptop");
    let (bob_pk, _) = c.register(&bob, Some(&bob_token), &json!({}), &SoftKey::new(), "bob's");

    // Another user's passkey, under one's own id or theirs.
    pl_error(
        c.s.delete(&format!("{}/{bob_pk}", passkeys(&alice)), Some(&token)),
        404,
        5,
        "KW-PL-031",
    );
    pl_error(
        c.s.delete(&format!("{}/{bob_pk}", passkeys(&bob)), Some(&token)),
        403,
        7,
        "KW-PL-020",
    );
    pl_error(
        c.s.delete(&format!("{}/{bob_pk}", passkeys(&alice)), Some(&c.admin)),
        404,
        5,
        "KW-PL-031",
    );
    pl_error(
        c.s.delete(&format!("{}/{UNKNOWN}", passkeys(&alice)), Some(&token)),
        404,
        5,
        "KW-PL-031",
    );
    pl_error(
        c.s.delete(&format!("{}/{pk}", passkeys(&alice)), None),
        401,
        16,
        "KW-PL-010",
    );
    assert_eq!(c.ids(&bob, &bob_token).len(), 1);

    // Alice has a password too: the passkey may go.
    let v =
        ok(c.s.delete(&format!("{}/{pk}", passkeys(&alice)), Some(&token)));
    let s2 = details(&v);
    assert!(s2 > s1, "{s1} -> {s2}");
    assert!(c.ids(&alice, &token).is_empty());
    pl_error(
        c.s.delete(&format!("{}/{pk}", passkeys(&alice)), Some(&token)),
        404,
        5,
        "KW-PL-031",
    );

    // A passkey-only user: the admin makes the link, the passkey is the only way in.
    let (carol, carol_token) = c.bare_user("carol");
    let code = c.code_for(&carol, &c.admin);
    let (only, _) = c.register(
        &carol,
        None,
        &json!({"code": code.json()}),
        &SoftKey::new(),
        "only",
    );
    pl_error(
        c.s.delete(&format!("{}/{only}", passkeys(&carol)), Some(&carol_token)),
        400,
        9,
        "KW-PL-050",
    );
    pl_error(
        c.s.delete(&format!("{}/{only}", passkeys(&carol)), Some(&c.admin)),
        400,
        9,
        "KW-PL-050",
    );
    // With a second passkey, either may go, but not both.
    let (second, _) = c.register(
        &carol,
        Some(&carol_token),
        &json!({}),
        &SoftKey::new(),
        "second",
    );
    ok(c.s.delete(&format!("{}/{only}", passkeys(&carol)), Some(&c.admin)));
    pl_error(
        c.s.delete(
            &format!("{}/{second}", passkeys(&carol)),
            Some(&carol_token),
        ),
        400,
        9,
        "KW-PL-050",
    );
    assert_eq!(c.ids(&carol, &carol_token), BTreeSet::from([second]));
}

#[test]
fn the_sequence_rises_with_every_change() {
    let c = setup();
    let (alice, token) = c.user("alice");
    let mut seqs = vec![details(&c.list(&alice, &token))];
    // Reading changes nothing.
    seqs.push(details(&c.list(&alice, &token)));
    assert_eq!(seqs[0], seqs[1]);
    let link =
        ok(c.s.post("/users/me/passwordless/_link", Some(&token), &json!({})));
    seqs.push(details(&link));
    let code = c.code_for(&alice, &token);
    seqs.push(details(&c.list(&alice, &token)));
    let (pk, seq) = c.register(
        &alice,
        None,
        &json!({"code": code.json()}),
        &SoftKey::new(),
        "k",
    );
    seqs.push(seq);
    seqs.push(details(&ok(c
        .s
        .delete(&format!("{}/{pk}", passkeys(&alice)), Some(&token)))));
    for w in [(1, 2), (2, 3), (3, 4), (4, 5)] {
        assert!(seqs[w.1] > seqs[w.0], "{seqs:?}");
    }
    // The admin sees the same details as the user.
    assert_eq!(
        c.list(&alice, &c.admin)["details"],
        c.list(&alice, &token)["details"]
    );
}

/// Undoes quoted-printable soft line breaks and `=3D`, enough to read a link out of a mail.
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The link in a mail (the first http URL with a query), and its query.
fn mailed_link(mail: &str) -> (String, std::collections::HashMap<String, String>) {
    let text = unfold(mail);
    let link = text
        .split("http://")
        .skip(1)
        .map(|rest| {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
                .unwrap_or(rest.len());
            format!("http://{}", &rest[..end])
        })
        .find(|l| l.contains('?'))
        .expect("a link in the mail");
    let q = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    (link, q)
}

#[test]
fn mailed_links_carry_a_code_that_registers() {
    let smtp = SmtpServer::start();
    let c = setup_mailing(&smtp);
    let (alice, token) = c.mailed_user("alice");
    let (bob, bob_token) = c.mailed_user("bob");

    // _send_link for oneself: only the details; the link is in the mail.
    let v = ok(c.s.post(
        "/users/me/passwordless/_send_link",
        Some(&token),
        &json!({}),
    ));
    details(&v);
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    let mails = smtp.wait_for(1);
    assert!(mails[0].contains("X-Envelope-To: alice@example.test"));
    let (link, q) = mailed_link(&mails[0]);
    assert!(
        link.starts_with(&format!("{}/auth/flow/passkey?", c.origin)),
        "{link}"
    );
    assert_eq!(q["userID"], alice);
    let code = json!({"id": q["codeID"], "code": q["code"]});
    c.register(
        &alice,
        None,
        &json!({"code": code}),
        &SoftKey::new(),
        "mailed",
    );

    // As an admin, for another user.
    ok(c.s.post(
        &format!("/management/v1/users/{bob}/passwordless/_send_link"),
        Some(&c.admin),
        &json!({}),
    ));
    let mails = smtp.wait_for(2);
    assert!(mails[1].contains("X-Envelope-To: bob@example.test"));
    let (_, q) = mailed_link(&mails[1]);
    assert_eq!(q["userID"], bob);

    // v2 sendLink with a template: Zitadel's placeholders filled in.
    let template =
        "http://app.example.test/passkey?u={{.UserID}}&o={{.OrgID}}&i={{.CodeID}}&c={{.Code}}";
    let v = ok(c.s.post(
        &format!("{}/registration_link", passkeys(&bob)),
        Some(&bob_token),
        &json!({"sendLink": {"urlTemplate": template}}),
    ));
    assert!(v.get("code").is_none(), "{v}");
    let mails = smtp.wait_for(3);
    let (link, q) = mailed_link(&mails[2]);
    assert!(
        link.starts_with("http://app.example.test/passkey?"),
        "{link}"
    );
    assert_eq!(q["u"], bob);
    assert!(!q["o"].is_empty() && !q["o"].contains("{{"), "{link}");
    let code = json!({"id": q["i"], "code": q["c"]});
    c.register(
        &bob,
        None,
        &json!({"code": code}),
        &SoftKey::new(),
        "templated",
    );

    // No medium named: the default link, by mail.
    ok(c.s.post(
        &format!("{}/registration_link", passkeys(&bob)),
        Some(&bob_token),
        &json!({}),
    ));
    let mails = smtp.wait_for(4);
    let (link, _) = mailed_link(&mails[3]);
    assert!(
        link.starts_with(&format!("{}/auth/flow/passkey?", c.origin)),
        "{link}"
    );
    assert_eq!(c.ids(&bob, &bob_token).len(), 1);
}

#[test]
fn a_refused_mail_leaves_a_void_code() {
    let smtp = SmtpServer::refusing();
    let c = setup_mailing(&smtp);
    let (alice, token) = c.mailed_user("alice");
    pl_error(
        c.s.post(
            "/users/me/passwordless/_send_link",
            Some(&token),
            &json!({}),
        ),
        503,
        14,
        "KW-PL-080",
    );
    // The server kept what it refused to deliver: that code is void.
    let mails = smtp.wait_for(1);
    let (_, q) = mailed_link(&mails[0]);
    let code = json!({"id": q["codeID"], "code": q["code"]});
    // Void because nobody received it, and the answer says so (not "too many wrong codes").
    let v = pl_error(
        c.start(&alice, None, &json!({"code": code})),
        400,
        9,
        "KW-PL-044",
    );
    let m = v["message"].as_str().unwrap();
    assert!(m.contains("mail") && !m.contains("wrong"), "{v}");
}
