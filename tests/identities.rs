//! The Auth0-style identities API (`/api/v2`): reading a user with its identities, linking by
//! a token (a register token, or another user's fresh ID token of the caller's app, which
//! merges that user) and by provider and user id (`update:users`: an admin or client
//! credentials), every error with its `errorCode`, and unlinking an identity into a standalone
//! user.

mod common;

use common::{Server, jwt_claims};
use reqwest::blocking::Response;
use serde_json::{Value, json};

const REG_PASSWORD: &str = "registered password";
const OWN: &str = "login read:current_user update:current_user_identities";
const ALL: &str = "login update:users read:users";

struct Ctx {
    s: Server,
    admin: String,
    local: String,
    client: (String, String),
    /// An app whose tokens may link: its access tokens carry the identities API's scopes,
    /// and its ID tokens are what `link_with` accepts from it.
    app: (String, String),
}

fn setup() -> Ctx {
    let s = Server::start();
    let admin = s.admin("admin");
    let local = s.instance_id("local");
    let mut c = Ctx {
        s,
        admin,
        local,
        client: (String::new(), String::new()),
        app: (String::new(), String::new()),
    };
    c.client = c.client_with(json!({"name": "legacy", "requiresSecret": true,
                                     "validScopes": ["login"], "allowPasswordGrant": true}));
    c.app = c.client_with(json!({"name": "app", "requiresSecret": true,
                                  "validScopes": ["openid", "login", "read:current_user",
                                                  "update:current_user_identities"],
                                  "allowPasswordGrant": true}));
    c
}

const UNKNOWN: &str = "7f0c6a52-4f5e-4d9b-9a51-0d1e2f3a4b5c";

/// Asserts the Auth0 error shape and status; returns the body.
fn auth0_error(r: Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status, "unexpected status");
    let v: Value = r.json().expect("JSON error body");
    assert_eq!(v["statusCode"], status, "{v}");
    assert!(v["error"].is_string(), "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert!(
        v["errorCode"].as_str().is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    v
}

fn users(id: &str) -> String {
    format!("/api/v2/users/{id}")
}

fn identities(id: &str) -> String {
    format!("/api/v2/users/{id}/identities")
}

impl Ctx {
    /// Creates a client (and a secret); returns (id, secret).
    fn client_with(&self, body: Value) -> (String, String) {
        self.s.client_with_secret(&self.admin, &body)
    }

    fn user_with(&self, username: &str, display: &str, email: Option<&str>) -> String {
        let mut body = json!({"username": username, "displayName": display,
                              "password": "password-of-user"});
        if let Some(e) = email {
            body["email"] = json!(e);
        }
        let r = self
            .s
            .post("/auth/api/login/user", Some(&self.admin), &body);
        assert_eq!(r.status(), 201, "{:?}", r.text());
        r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn reg_token(&self, username: &str) -> String {
        let r = self.s.post(
            &format!(
                "/auth/api/login/strategy-instance/{}/userpass/register",
                self.local
            ),
            None,
            &json!({"username": username, "password": REG_PASSWORD}),
        );
        assert_eq!(r.status(), 201, "{:?}", r.text());
        r.json::<Value>().unwrap()["register_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Logs in with the password grant; returns the id of the user it logged in.
    fn login_user_id(&self, user: &str, password: &str) -> String {
        let r = self
            .s
            .password_grant(&self.client, user, password, Some("login"));
        assert_eq!(r.status(), 200, "{:?}", r.text());
        let t: Value = r.json().unwrap();
        assert_eq!(t["scope"], "login", "{t}");
        let me = self
            .s
            .get("/auth/api/login/user/self", t["access_token"].as_str());
        assert_eq!(me.status(), 200);
        me.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A password login through `app` just now: (access token with the identities API's own
    /// scopes, ID token).
    fn app_tokens(&self, user: &str, password: &str) -> (String, String) {
        let r = self.s.password_grant(
            &self.app,
            user,
            password,
            Some("openid login read:current_user update:current_user_identities"),
        );
        assert_eq!(r.status(), 200, "{:?}", r.text());
        let t: Value = r.json().unwrap();
        (
            t["access_token"].as_str().unwrap().to_string(),
            t["id_token"].as_str().unwrap().to_string(),
        )
    }

    fn get_user(&self, id: &str) -> Value {
        let t = self.s.token("admin", "read:users");
        let r = self.s.get(&users(id), Some(&t));
        assert_eq!(r.status(), 200, "{:?}", r.text());
        r.json().unwrap()
    }

    fn login_user(&self, id: &str) -> Response {
        self.s
            .get(&format!("/auth/api/login/user/{id}"), Some(&self.admin))
    }
}

fn subjects(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_str().unwrap())
        .collect()
}

#[test]
fn get_user_with_identities_and_permissions() {
    let c = setup();
    let bob = c.user_with("bob", "Bob B", Some("bob@example.com"));
    let carol = c.user_with("carol", "Carol", None);

    // Self with read:current_user.
    let own = c.s.token("bob", "read:current_user");
    let r = c.s.get(&users(&bob), Some(&own));
    assert_eq!(r.status(), 200);
    let u: Value = r.json().unwrap();
    assert_eq!(u["user_id"], bob);
    assert_eq!(u["username"], "bob");
    assert_eq!(u["name"], "Bob B");
    assert_eq!(u["email"], "bob@example.com");
    assert!(u["created_at"].as_str().unwrap().ends_with('Z'));
    let ids = u["identities"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{u}");
    assert_eq!(ids[0]["provider"], "userpass");
    assert_eq!(ids[0]["connection"], "local");
    assert_eq!(ids[0]["user_id"], "bob");
    assert_eq!(ids[0]["isSocial"], false);

    // An admin with read:users reads anyone; unknown: 404.
    let all = c.s.token("admin", "read:users");
    let r = c.s.get(&users(&carol), Some(&all));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["username"], "carol");
    auth0_error(c.s.get(&users(UNKNOWN), Some(&all)), 404);

    // 401: no token, a bad token.
    auth0_error(c.s.get(&users(&bob), None), 401);
    auth0_error(c.s.get(&users(&bob), Some("garbage")), 401);
    // 403: another user without read:users; read:users held by a non-admin CLI token;
    // own user without read:current_user.
    auth0_error(c.s.get(&users(&carol), Some(&own)), 403);
    let fake_all = c.s.token("bob", "read:users read:current_user");
    auth0_error(c.s.get(&users(&carol), Some(&fake_all)), 403);
    assert_eq!(c.s.get(&users(&bob), Some(&fake_all)).status(), 200);
    let login_only = c.s.token("bob", "login");
    auth0_error(c.s.get(&users(&bob), Some(&login_only)), 403);
    // An admin without read:users is refused for others as well.
    let admin_own = c.s.token("admin", "read:current_user");
    auth0_error(c.s.get(&users(&bob), Some(&admin_own)), 403);
}

/// As Auth0 (and its node SDK's `users.get({id, fields, include_fields})`): `fields` picks
/// the fields, `include_fields=false` leaves them out instead; absent values are left out,
/// never `null`.
#[test]
fn get_user_fields_and_absent_values() {
    let c = setup();
    let bob = c.user_with("bob", "Bob B", None);
    let all = c.s.token("admin", "read:users");
    let get = |query: &str| {
        let r = c.s.get(&format!("{}{query}", users(&bob)), Some(&all));
        assert_eq!(r.status(), 200, "{:?}", r.text());
        r.json::<Value>().unwrap()
    };

    // No email: no "email" key at all, and nothing else is null either.
    let u = get("");
    assert!(u.get("email").is_none(), "{u}");
    assert!(u.as_object().unwrap().values().all(|v| !v.is_null()), "{u}");
    for key in ["user_id", "username", "name", "created_at", "identities"] {
        assert!(u.get(key).is_some(), "{key} in {u}");
    }

    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&get("?fields=user_id,name")), ["name", "user_id"]);
    assert_eq!(
        keys(&get("?fields=user_id,%20name&include_fields=true")),
        ["name", "user_id"]
    );
    let without = get("?fields=identities,created_at&include_fields=false");
    assert!(without.get("identities").is_none(), "{without}");
    assert!(without.get("created_at").is_none(), "{without}");
    assert_eq!(without["username"], "bob");
    // A field the user has no value for is simply not there; an empty list means all.
    assert_eq!(keys(&get("?fields=email,username")), ["username"]);
    assert_eq!(keys(&get("?fields=")), keys(&u));
    let v = auth0_error(
        c.s.get(&format!("{}?include_fields=maybe", users(&bob)), Some(&all)),
        400,
    );
    assert_eq!(v["errorCode"], "invalid_query_string", "{v}");

    // The identities array leaves out absent values too: a merged user without an email
    // brings a profile without one.
    let (own, _) = c.app_tokens("bob", "password-of-user");
    let _carol = c.user_with("carol", "Carol", None);
    let (_, carol_id) = c.app_tokens("carol", "password-of-user");
    let r = c.s.post(
        &identities(&bob),
        Some(&own),
        &json!({"link_with": carol_id}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let list: Value = r.json().unwrap();
    fn no_nulls(v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::Array(a) => a.iter().all(no_nulls),
            Value::Object(m) => m.values().all(no_nulls),
            _ => true,
        }
    }
    assert!(no_nulls(&list), "{list}");
    assert_eq!(list[1]["profileData"]["username"], "carol", "{list}");
    assert!(no_nulls(&get("")), "{}", get(""));
}

#[test]
fn link_with_a_register_token() {
    let c = setup();
    let bob = c.user_with("bob", "Bob", None);
    let own = c.s.token("bob", OWN);
    let t = c.reg_token("bob-alt");
    let r =
        c.s.post(&identities(&bob), Some(&own), &json!({"link_with": t}));
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let list: Value = r.json().unwrap();
    assert_eq!(subjects(&list), ["bob", "bob-alt"], "{list}");
    assert_eq!(list[0]["provider"], "userpass");
    assert_eq!(list[0]["connection"], "local");
    assert_eq!(list[1]["provider"], "userpass");
    assert_eq!(list[1]["connection"], "local");
    assert_eq!(list[1]["profileData"]["username"], "bob-alt");
    // The same array is what GET shows.
    assert_eq!(c.get_user(&bob)["identities"], list);
    // The linked password logs in as bob.
    assert_eq!(c.login_user_id("bob-alt", REG_PASSWORD), bob);
    // The token is used up.
    auth0_error(
        c.s.post(&identities(&bob), Some(&own), &json!({"link_with": t})),
        401,
    );
    // An admin (update:users) may link a register token to another user; unknown user: 404,
    // which does not use the token up.
    let carol = c.user_with("carol", "Carol", None);
    let admin = c.s.token("admin", ALL);
    let t = c.reg_token("carol-alt");
    auth0_error(
        c.s.post(&identities(UNKNOWN), Some(&admin), &json!({"link_with": t})),
        404,
    );
    let r =
        c.s.post(&identities(&carol), Some(&admin), &json!({"link_with": t}));
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(subjects(&r.json().unwrap()), ["carol", "carol-alt"]);
}

#[test]
fn link_with_another_users_token_merges_it() {
    let c = setup();
    let admin_id = jwt_claims(&c.admin)["sub"].as_str().unwrap().to_string();
    let bob = c.user_with("bob", "Bob", None);
    let carol = c.user_with("carol", "Carol C", Some("carol@example.com"));
    // Carol has a second identity too: every one of them moves.
    let carol_login = c.s.token("carol", "login");
    let t = c.reg_token("carol-alt");
    let r = c.s.post(
        "/auth/api/login/registration/self-link",
        Some(&carol_login),
        &json!({"register_token": t}),
    );
    assert_eq!(r.status(), 200);

    // Bob and carol both sign in to the app just now: carol's ID token proves she controls
    // her account, through the app whose token bob calls with.
    let (own, _) = c.app_tokens("bob", "password-of-user");
    let (_, carol_id) = c.app_tokens("carol", "password-of-user");
    let r = c.s.post(
        &identities(&bob),
        Some(&own),
        &json!({"link_with": carol_id}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let list: Value = r.json().unwrap();
    assert_eq!(list[0]["user_id"], "bob", "{list}");
    let mut got = subjects(&list);
    got.sort();
    assert_eq!(got, ["bob", "carol", "carol-alt"]);

    // Carol is gone; her passwords log in as bob.
    assert_eq!(c.login_user(&carol).status(), 404);
    assert_eq!(c.login_user_id("carol", "password-of-user"), bob);
    assert_eq!(c.login_user_id("carol-alt", REG_PASSWORD), bob);
    assert_eq!(c.login_user_id("bob", "password-of-user"), bob);
    // Bob's empty email is filled from carol's; his display name stays.
    let u: Value = c.login_user(&bob).json().unwrap();
    assert_eq!(u["email"], "carol@example.com", "{u}");
    assert_eq!(u["displayName"], "Bob");
    assert_eq!(u["username"], "bob");
    // Carol's tokens are dead.
    assert_eq!(
        c.s.get("/auth/api/login/user/self", Some(&carol_login))
            .status(),
        401
    );
    // The audit log says so.
    let events: Value =
        c.s.get("/auth/api/login/audit", Some(&c.admin))
            .json()
            .unwrap();
    let merge = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user.merge")
        .unwrap_or_else(|| panic!("no user.merge event: {events}"));
    assert_eq!(merge["target"], bob);
    assert_eq!(merge["details"]["secondary"], carol);
    assert_ne!(merge["actor"], admin_id);

    // A primary with an email keeps it.
    let dave = c.user_with("dave", "Dave", Some("dave@example.com"));
    let _erin = c.user_with("erin", "Erin E", Some("erin@example.com"));
    let (dave_own, _) = c.app_tokens("dave", "password-of-user");
    let (_, erin_id) = c.app_tokens("erin", "password-of-user");
    let r = c.s.post(
        &identities(&dave),
        Some(&dave_own),
        &json!({"link_with": erin_id}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let u: Value = c.login_user(&dave).json().unwrap();
    assert_eq!(u["email"], "dave@example.com");
    assert_eq!(u["displayName"], "Dave");
    // A token of a user who is gone cannot be linked any more.
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&own),
            &json!({"link_with": erin_id}),
        ),
        401,
    );
    auth0_error(
        c.s.get(&users(&carol), Some(&c.s.token("admin", "read:users"))),
        404,
    );

    // An access token of another user does not prove that it is its holder's (it may be a
    // copy an app or a resource server holds), nor does an ID token issued to another app.
    let frank = c.user_with("frank", "Frank", None);
    let frank_login = c.s.token("frank", "login");
    auth0_error(
        c.s.post(
            &identities(&dave),
            Some(&dave_own),
            &json!({"link_with": frank_login}),
        ),
        401,
    );
    let oidc = c.client_with(json!({"name": "oidc", "requiresSecret": true,
                                    "validScopes": ["login", "openid"], "allowPasswordGrant": true}));
    let r =
        c.s.password_grant(&oidc, "frank", "password-of-user", Some("openid login"));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let other_app_id = r.json::<Value>().unwrap()["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    auth0_error(
        c.s.post(
            &identities(&dave),
            Some(&dave_own),
            &json!({"link_with": other_app_id}),
        ),
        401,
    );
    assert_eq!(c.login_user(&frank).status(), 200);
    let (_, frank_id) = c.app_tokens("frank", "password-of-user");
    let r = c.s.post(
        &identities(&dave),
        Some(&dave_own),
        &json!({"link_with": frank_id}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(subjects(&r.json().unwrap()), ["dave", "erin", "frank"]);
    assert_eq!(c.login_user(&frank).status(), 404);

    // Merging the only admin into a non-admin would leave no admin: 409, nothing changes.
    let (_, admin_id_token) = c.app_tokens("admin", "correct horse battery");
    let v = auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&own),
            &json!({"link_with": admin_id_token}),
        ),
        409,
    );
    assert!(!v["message"].as_str().unwrap().is_empty());
    assert_eq!(c.login_user(&admin_id).status(), 200);
    assert_eq!(c.login_user_id("admin", "correct horse battery"), admin_id);
}

/// Auth0 keeps the primary account's identity first; merging an older account must not put
/// the secondary's identity in front of it.
#[test]
fn merging_an_older_account_keeps_the_primary_identity_first() {
    let c = setup();
    let older = c.user_with("older", "Older", None);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let newer = c.user_with("newer", "Newer", None);
    let (own, _) = c.app_tokens("newer", "password-of-user");
    let (_, older_id) = c.app_tokens("older", "password-of-user");
    let r = c.s.post(
        &identities(&newer),
        Some(&own),
        &json!({"link_with": older_id}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let list: Value = r.json().unwrap();
    assert_eq!(c.login_user(&older).status(), 404);
    assert_eq!(subjects(&list), ["newer", "older"], "{list}");
    assert_eq!(list[0]["profileData"]["username"], "newer", "{list}");
    assert_eq!(list[1]["profileData"]["username"], "older", "{list}");
}

#[test]
fn link_by_provider_and_user_id() {
    let c = setup();
    let bob = c.user_with("bob", "Bob", None);
    let carol = c.user_with("carol", "Carol", Some("carol@example.com"));
    let admin = c.s.token("admin", ALL);

    // Not allowed without update:users held by an admin or client credentials.
    let own = c.s.token("bob", OWN);
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&own),
            &json!({"provider": "userpass", "user_id": "carol"}),
        ),
        403,
    );
    let fake =
        c.s.token("bob", "login update:users update:current_user_identities");
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&fake),
            &json!({"provider": "userpass", "user_id": "carol"}),
        ),
        403,
    );

    // 400: the primary's own main identity (identities[0]) is "the same";
    // 404: unknown identity, provider or user.
    let v = auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "userpass", "user_id": "bob"}),
        ),
        400,
    );
    assert_eq!(
        v["message"], "Main identity and the new one are the same.",
        "{v}"
    );
    assert_eq!(v["errorCode"], "invalid_body", "{v}");
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "userpass", "user_id": "ghost"}),
        ),
        404,
    );
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "github", "user_id": "12345"}),
        ),
        404,
    );
    auth0_error(
        c.s.post(
            &identities(UNKNOWN),
            Some(&admin),
            &json!({"provider": "userpass", "user_id": "carol"}),
        ),
        404,
    );
    // 400: provider or user_id missing.
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "userpass"}),
        ),
        400,
    );
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"user_id": "carol"}),
        ),
        400,
    );

    // An admin links carol's password identity (in another case): carol is merged into bob.
    let r = c.s.post(
        &identities(&bob),
        Some(&admin),
        &json!({"provider": "userpass", "user_id": "Carol"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(subjects(&r.json().unwrap()), ["bob", "carol"]);
    assert_eq!(c.login_user(&carol).status(), 404);
    assert_eq!(c.login_user_id("carol", "password-of-user"), bob);
    assert_eq!(
        c.login_user(&bob).json::<Value>().unwrap()["email"],
        "carol@example.com"
    );
    // 409: another identity that bob already has.
    let v = auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "userpass", "user_id": "carol"}),
        ),
        409,
    );
    assert!(v["message"].as_str().unwrap().contains("already"), "{v}");
    assert_eq!(v["errorCode"], "identity_conflict", "{v}");

    // A client credentials token with update:users does the same (its user is no admin).
    let robot = c.user_with("robot", "Robot", None);
    let cc = c.client_with(json!({"name": "backend", "requiresSecret": true,
                                  "validScopes": ["update:users", "read:users"],
                                  "clientCredentialFlowUser": robot}));
    let r =
        c.s.http
            .post(c.s.url("/auth/oauth/token"))
            .basic_auth(&cc.0, Some(&cc.1))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "update:users read:users"),
            ])
            .send()
            .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let cc_token = r.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let dave = c.user_with("dave", "Dave", None);
    let r = c.s.post(
        &identities(&bob),
        Some(&cc_token),
        &json!({"provider": "userpass", "user_id": "dave"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(subjects(&r.json().unwrap()), ["bob", "carol", "dave"]);
    assert_eq!(c.login_user(&dave).status(), 404);
    assert_eq!(c.s.get(&users(&bob), Some(&cc_token)).status(), 200);

    // With a second userpass instance the provider is ambiguous: connection_id is required.
    let r = c.s.post(
        "/auth/api/login/strategy-instance",
        Some(&c.admin),
        &json!({"name": "second", "type": "userpass"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let second = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let erin = c.user_with("erin", "Erin", None);
    let v = auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "userpass", "user_id": "erin"}),
        ),
        400,
    );
    assert!(
        v["message"].as_str().unwrap().contains("connection_id"),
        "{v}"
    );
    // The wrong connection does not have erin; an unknown one is 404 too.
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "userpass", "user_id": "erin", "connection_id": second}),
        ),
        404,
    );
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "userpass", "user_id": "erin", "connection_id": UNKNOWN}),
        ),
        404,
    );
    let r = c.s.post(
        &identities(&bob),
        Some(&admin),
        &json!({"provider": "userpass", "user_id": "erin", "connection_id": c.local}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(c.login_user(&erin).status(), 404);
    assert_eq!(c.login_user_id("erin", "password-of-user"), bob);

    // A password identity that still waits for registration belongs to nobody: only its
    // register token claims it (404 here), and it keeps waiting.
    let t = c.reg_token("waiting");
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&admin),
            &json!({"provider": "userpass", "user_id": "waiting", "connection_id": c.local}),
        ),
        404,
    );
    assert!(!subjects(&c.get_user(&bob)["identities"]).contains(&"waiting"));
    let r =
        c.s.post(&identities(&bob), Some(&admin), &json!({"link_with": t}));
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(c.login_user_id("waiting", REG_PASSWORD), bob);
}

#[test]
fn link_errors_have_auth0_shapes() {
    let c = setup();
    let bob = c.user_with("bob", "Bob", None);
    let carol = c.user_with("carol", "Carol", None);
    let own = c.s.token("bob", OWN);
    let carol_login = c.s.token("carol", "login");
    let t = c.reg_token("bob-alt");
    let path = identities(&bob);

    // 400: link_with with provider, user_id or connection_id; unknown fields; bad bodies.
    for extra in [
        json!({"provider": "userpass"}),
        json!({"user_id": "carol"}),
        json!({"connection_id": c.local}),
    ] {
        let mut body = extra.clone();
        body["link_with"] = json!(t);
        let v = auth0_error(c.s.post(&path, Some(&own), &body), 400);
        assert_eq!(v["errorCode"], "invalid_body", "{v}");
    }
    let v = auth0_error(
        c.s.post(&path, Some(&own), &json!({"link_with": t, "foo": 1})),
        400,
    );
    assert!(v["message"].as_str().unwrap().contains("foo"), "{v}");
    let r =
        c.s.http
            .post(c.s.url(&path))
            .bearer_auth(&own)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .unwrap();
    auth0_error(r, 400);
    auth0_error(c.s.post(&path, Some(&own), &json!([1, 2])), 400);
    auth0_error(c.s.post(&path, Some(&own), &json!({"link_with": ""})), 400);
    auth0_error(c.s.post(&path, Some(&own), &json!({"link_with": 5})), 400);
    // Neither link_with nor provider + user_id: 400 naming what is needed, before any scope.
    let v = auth0_error(c.s.post(&path, Some(&own), &json!({})), 400);
    assert_eq!(v["errorCode"], "invalid_body", "{v}");
    assert!(v["message"].as_str().unwrap().contains("link_with"), "{v}");
    // 400: primary and secondary the same (bob's own fresh ID token of the caller's app).
    let (app_own, own_id) = c.app_tokens("bob", "password-of-user");
    let v = auth0_error(
        c.s.post(&path, Some(&app_own), &json!({"link_with": own_id})),
        400,
    );
    assert_eq!(
        v["message"], "Main identity and the new one are the same.",
        "{v}"
    );
    // 401: bob's own access token is no proof of anything here.
    let v = auth0_error(c.s.post(&path, Some(&own), &json!({"link_with": own})), 401);
    assert_eq!(v["errorCode"], "invalid_token", "{v}");
    // 401: no token, a bad token, a link_with keyward did not issue.
    let v = auth0_error(c.s.post(&path, None, &json!({"link_with": t})), 401);
    assert_eq!(v["error"], "Unauthorized");
    auth0_error(
        c.s.post(&path, Some("garbage"), &json!({"link_with": t})),
        401,
    );
    auth0_error(
        c.s.post(&path, Some(&own), &json!({"link_with": "not.a.token"})),
        401,
    );
    // 403: the scope is missing; not the caller's user and no update:users.
    let login_only = c.s.token("bob", "login read:current_user");
    auth0_error(
        c.s.post(&path, Some(&login_only), &json!({"link_with": t})),
        403,
    );
    let v = auth0_error(
        c.s.post(&identities(&carol), Some(&own), &json!({"link_with": t})),
        403,
    );
    assert_eq!(v["errorCode"], "insufficient_scope", "{v}");
    auth0_error(
        c.s.post(
            &identities(&carol),
            Some(&own),
            &json!({"link_with": carol_login}),
        ),
        403,
    );
    // None of these changed anything: bob has one identity, carol still exists, and the
    // register token still works.
    assert_eq!(c.login_user(&carol).status(), 200);
    let r = c.s.post(&path, Some(&own), &json!({"link_with": t}));
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(subjects(&r.json().unwrap()), ["bob", "bob-alt"]);
    // Other methods on the path.
    let r = c.s.get(&path, Some(&own));
    assert_eq!(r.status(), 405);
    auth0_error(c.s.get("/api/v2/nothing", Some(&own)), 404);
}

#[test]
fn unlink_makes_a_standalone_user() {
    let c = setup();
    let bob = c.user_with("bob", "Bob", None);
    let carol = c.user_with("carol", "Carol", None);
    let own = c.s.token("bob", OWN);
    let t = c.reg_token("bob-alt");
    let r =
        c.s.post(&identities(&bob), Some(&own), &json!({"link_with": t}));
    assert_eq!(r.status(), 201);
    assert_eq!(c.login_user_id("bob-alt", REG_PASSWORD), bob);

    let path =
        |user: &str, subject: &str| format!("/api/v2/users/{user}/identities/userpass/{subject}");
    // 401, 403 (another user's, or no scope), 404 (unknown identity, another user's identity).
    auth0_error(c.s.delete(&path(&bob, "bob-alt"), None), 401);
    let carol_own = c.s.token("carol", OWN);
    auth0_error(c.s.delete(&path(&bob, "bob-alt"), Some(&carol_own)), 403);
    let login_only = c.s.token("bob", "login");
    auth0_error(c.s.delete(&path(&bob, "bob-alt"), Some(&login_only)), 403);
    let v = auth0_error(c.s.delete(&path(&bob, "ghost"), Some(&own)), 404);
    assert_eq!(v["errorCode"], "inexistent_identity", "{v}");
    auth0_error(c.s.delete(&path(&bob, "carol"), Some(&own)), 404);
    auth0_error(
        c.s.delete(
            &format!("/api/v2/users/{bob}/identities/github/bob-alt"),
            Some(&own),
        ),
        404,
    );

    let r = c.s.delete(&path(&bob, "bob-alt"), Some(&own));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let list: Value = r.json().unwrap();
    assert_eq!(subjects(&list), ["bob"], "{list}");
    // The removed identity is a user of its own now.
    let alone = c.login_user_id("bob-alt", REG_PASSWORD);
    assert_ne!(alone, bob);
    assert_ne!(alone, carol);
    let u = c.get_user(&alone);
    assert_eq!(subjects(&u["identities"]), ["bob-alt"], "{u}");
    assert_eq!(c.login_user_id("bob", "password-of-user"), bob);
    // Already gone from bob: 404.
    auth0_error(c.s.delete(&path(&bob, "bob-alt"), Some(&own)), 404);
    // 400: the last identity.
    let v = auth0_error(c.s.delete(&path(&bob, "bob"), Some(&own)), 400);
    assert_eq!(v["errorCode"], "invalid_body", "{v}");
    assert_eq!(c.login_user_id("bob", "password-of-user"), bob);

    // An admin with update:users unlinks from another user (the identity named in any case).
    let admin = c.s.token("admin", ALL);
    let t = c.reg_token("carol-alt");
    let carol_login = c.s.token("carol", "login");
    let r = c.s.post(
        "/auth/api/login/registration/self-link",
        Some(&carol_login),
        &json!({"register_token": t}),
    );
    assert_eq!(r.status(), 200);
    let r = c.s.delete(&path(&carol, "Carol-Alt"), Some(&admin));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    assert_eq!(subjects(&r.json().unwrap()), ["carol"]);
    let alone2 = c.login_user_id("carol-alt", REG_PASSWORD);
    assert_ne!(alone2, carol);
    auth0_error(c.s.delete(&path(UNKNOWN, "carol"), Some(&admin)), 404);
}

/// Requests that race to unlink the same identity: one detaches it into a new user, the rest
/// find it no longer the user's (404), and no second, empty user is left behind.
#[test]
fn racing_unlinks_detach_the_identity_once() {
    let c = setup();
    let bob = c.user_with("bob", "Bob", None);
    let own = c.s.token("bob", OWN);
    // Three identities, so that bob keeps two after the unlink and only the race can refuse.
    for name in ["bob-alt", "bob-third"] {
        let t = c.reg_token(name);
        let r =
            c.s.post(&identities(&bob), Some(&own), &json!({"link_with": t}));
        assert_eq!(r.status(), 201);
    }
    let users_now = || -> i64 {
        let db = rusqlite::Connection::open(c.s.db_path()).unwrap();
        db.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .unwrap()
    };
    let before = users_now();
    const N: usize = 8;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(N));
    let url =
        c.s.url(&format!("/api/v2/users/{bob}/identities/userpass/bob-alt"));
    let statuses: Vec<u16> = (0..N)
        .map(|_| {
            let (barrier, url, own) = (barrier.clone(), url.clone(), own.clone());
            std::thread::spawn(move || {
                let rb = reqwest::blocking::Client::new()
                    .delete(url)
                    .bearer_auth(own);
                barrier.wait();
                rb.send().unwrap().status().as_u16()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        N - 1,
        "{statuses:?}"
    );
    assert_eq!(users_now(), before + 1);
    let alone = c.login_user_id("bob-alt", REG_PASSWORD);
    assert_eq!(subjects(&c.get_user(&alone)["identities"]), ["bob-alt"]);
}

/// After an identity is unlinked into a user of its own, a login made earlier with that
/// identity must no longer act for the user it left (as with `DELETE /login-data`, where the
/// identity's sessions end with it): neither its access token nor its refresh token.
#[test]
fn logins_of_an_unlinked_identity_no_longer_act_for_the_old_user() {
    let c = setup();
    let bob = c.user_with("bob", "Bob", None);
    let own = c.s.token("bob", OWN);
    let t = c.reg_token("bob-alt");
    let r =
        c.s.post(&identities(&bob), Some(&own), &json!({"link_with": t}));
    assert_eq!(r.status(), 201);
    // Someone logs in with bob-alt (and so acts as bob).
    let r =
        c.s.password_grant(&c.client, "bob-alt", REG_PASSWORD, Some("login"));
    assert_eq!(r.status(), 200);
    let tok: Value = r.json().unwrap();
    let access = tok["access_token"].as_str().unwrap().to_string();
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    let me: Value =
        c.s.get("/auth/api/login/user/self", Some(&access))
            .json()
            .unwrap();
    assert_eq!(me["id"], bob);

    // Bob unlinks bob-alt.
    let r = c.s.delete(
        &format!("/api/v2/users/{bob}/identities/userpass/bob-alt"),
        Some(&own),
    );
    assert_eq!(r.status(), 200);

    // The earlier login's access token: refused, or at least not bob any more; and its
    // refresh token must not mint new tokens for bob.
    let mut wrong = Vec::new();
    let r = c.s.get("/auth/api/login/user/self", Some(&access));
    if r.status() == 200 && r.json::<Value>().unwrap()["id"] == bob {
        wrong.push("an access token of the unlinked identity still acts as bob");
    }
    let r =
        c.s.http
            .post(c.s.url("/auth/oauth/token"))
            .basic_auth(&c.client.0, Some(&c.client.1))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .unwrap();
    if r.status() == 200 {
        let t: Value = r.json().unwrap();
        let me: Value =
            c.s.get(
                "/auth/api/login/user/self",
                Some(t["access_token"].as_str().unwrap()),
            )
            .json()
            .unwrap();
        if me["id"] == bob {
            wrong.push("the refresh token of the unlinked identity still mints tokens for bob");
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

/// keyward refuses tokens of blocked users (and of ended sessions) on its own endpoints; a
/// token handed in as `link_with` proves control of that user and must be refused the same
/// way, whether it is an access token or an ID token.
#[test]
fn link_with_refuses_tokens_of_blocked_users() {
    let c = setup();
    let bob = c.user_with("bob", "Bob", None);
    let mallory = c.user_with("mallory", "Mallory", None);
    // Both of the app the caller's token belongs to, from a login just now: only the block
    // stands in the way.
    let (own, _) = c.app_tokens("bob", "password-of-user");
    let (access, id_token) = c.app_tokens("mallory", "password-of-user");
    // An admin blocks mallory.
    let r = c.s.put(
        &format!("/auth/api/login/user/{mallory}"),
        Some(&c.admin),
        &json!({"isBlocked": true}),
    );
    assert_eq!(r.status(), 200);
    auth0_error(
        c.s.post(&identities(&bob), Some(&own), &json!({"link_with": access})),
        401,
    );
    auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&own),
            &json!({"link_with": id_token}),
        ),
        401,
    );
    // Mallory is still there, blocked, with her password.
    assert_eq!(c.login_user(&mallory).status(), 200);
    assert_eq!(subjects(&c.get_user(&bob)["identities"]), ["bob"]);
}

#[test]
fn every_identity_carries_profile_data() {
    let c = setup();
    let bob = c.user_with("bob", "Bob B", Some("bob@example.com"));
    let own = c.s.token("bob", OWN);
    // One identity: the main one has what the password login knows.
    let list = c.get_user(&bob)["identities"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["profileData"]["username"], "bob", "{list}");
    assert_eq!(list[0]["profileData"]["displayName"], "Bob B", "{list}");
    assert_eq!(list[0]["profileData"]["email"], "bob@example.com", "{list}");
    let every = |list: &Value| {
        list.as_array().unwrap().iter().all(|i| {
            let keys = [
                "connection",
                "provider",
                "user_id",
                "isSocial",
                "profileData",
            ];
            keys.iter().all(|k| i.get(*k).is_some()) && i["profileData"].is_object()
        })
    };
    // The POST answer, the GET and the DELETE answer: profileData on each identity.
    let t = c.reg_token("bob-alt");
    let r =
        c.s.post(&identities(&bob), Some(&own), &json!({"link_with": t}));
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let list: Value = r.json().unwrap();
    assert_eq!(subjects(&list), ["bob", "bob-alt"], "{list}");
    assert!(every(&list), "{list}");
    assert_eq!(list[0]["profileData"]["username"], "bob", "{list}");
    assert!(every(&c.get_user(&bob)["identities"]));
    let r = c.s.delete(
        &format!("{}/identities/userpass/bob-alt", users(&bob)),
        Some(&own),
    );
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let list: Value = r.json().unwrap();
    assert_eq!(subjects(&list), ["bob"], "{list}");
    assert!(every(&list), "{list}");
}

#[test]
fn link_bodies_with_every_key_count_empty_values_as_absent() {
    let c = setup();
    let bob = c.user_with("bob", "Bob", None);
    let _carol = c.user_with("carol", "Carol", None);
    let own = c.s.token("bob", OWN);
    // As seed 003's client sends it: the token mode with the other keys empty.
    let t = c.reg_token("bob-alt");
    let r = c.s.post(
        &identities(&bob),
        Some(&own),
        &json!({"provider": "", "connection_id": "", "user_id": "", "link_with": t}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(subjects(&r.json().unwrap()), ["bob", "bob-alt"]);
    // And the provider mode with an empty link_with and connection_id (the only userpass
    // instance is meant).
    let admin = c.s.token("admin", ALL);
    let r = c.s.post(
        &identities(&bob),
        Some(&admin),
        &json!({"provider": "userpass", "user_id": "carol", "connection_id": "", "link_with": ""}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(subjects(&r.json().unwrap()), ["bob", "bob-alt", "carol"]);
    // A non-empty link_with beside a non-empty provider is still refused.
    let t = c.reg_token("bob-third");
    let v = auth0_error(
        c.s.post(
            &identities(&bob),
            Some(&own),
            &json!({"provider": "userpass", "user_id": "", "link_with": t}),
        ),
        400,
    );
    assert_eq!(v["errorCode"], "invalid_body", "{v}");
    // All empty, or no body at all: 400 saying what is needed, for any caller.
    let nobody = c.s.token("bob", "login");
    for token in [&own, &admin, &nobody] {
        for body in [
            json!({}),
            json!({"provider": "", "connection_id": "", "user_id": "", "link_with": ""}),
        ] {
            let v = auth0_error(c.s.post(&identities(&bob), Some(token), &body), 400);
            assert_eq!(v["errorCode"], "invalid_body", "{v}");
            let m = v["message"].as_str().unwrap();
            assert!(m.contains("link_with") && m.contains("user_id"), "{v}");
        }
    }
}

#[test]
fn the_document_lists_the_errors_of_the_identities_api() {
    let c = setup();
    let doc: Value = c.s.get("/api/openapi.json", None).json().unwrap();
    let responses = |path: &str, method: &str| {
        let mut r: Vec<String> = doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"))
            .keys()
            .cloned()
            .collect();
        r.sort();
        r
    };
    assert_eq!(
        responses("/api/v2/users/{id}", "get"),
        ["200", "400", "401", "403", "404", "413"]
    );
    assert_eq!(
        responses("/api/v2/users/{id}/identities", "post"),
        ["201", "400", "401", "403", "404", "409", "413", "415"]
    );
    // 400: the user's last identity.
    assert_eq!(
        responses(
            "/api/v2/users/{id}/identities/{provider}/{user_id}",
            "delete"
        ),
        ["200", "400", "401", "403", "404", "413"]
    );
}
