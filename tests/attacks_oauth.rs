//! Audience separation (RFC 8707 resources and RFC 7662 introspection), tried as an attacker
//! would: a client that asks for tokens for a resource server it was never allowed, and a
//! client that introspects another client's tokens to learn who is logged in where.

mod common;

use common::{Server, expect_error, jwt_claims, oauth_error};
use reqwest::blocking::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";
const CLIENTS: &str = "/auth/api/login/client";
/// A resource server the clients in these tests may be allowed to ask for.
const API: &str = "https://api.example.com/";
/// One no client is allowed.
const EVIL: &str = "https://evil.example.net/";

struct Ctx {
    s: Server,
    admin: String,
}

fn setup() -> Ctx {
    let s = Server::start();
    let admin = s.admin("admin");
    Ctx { s, admin }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn challenge() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Ctx {
    fn token(&self, client: &(String, String), form: &[(&str, &str)]) -> Response {
        self.s
            .http
            .post(self.s.url("/auth/oauth/token"))
            .basic_auth(&client.0, Some(&client.1))
            .form(form)
            .send()
            .unwrap()
    }

    fn introspect(&self, client: &(String, String), token: &str) -> Value {
        let r = self
            .s
            .http
            .post(self.s.url("/auth/oauth/introspect"))
            .basic_auth(&client.0, Some(&client.1))
            .form(&[("token", token)])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().unwrap()
    }

    /// A confidential client that may use client credentials (as `robot`) and the password grant.
    fn backend(&self, name: &str, robot: &str, resources: Option<&[&str]>) -> (String, String) {
        let mut body = json!({"name": name, "requiresSecret": true, "validScopes": ["login"],
                              "clientCredentialFlowUser": robot, "allowPasswordGrant": true});
        if let Some(r) = resources {
            body["resources"] = json!(r);
        }
        self.s.client_with_secret(&self.admin, &body)
    }

    fn set_resources(&self, client: &str, resources: &[&str]) {
        let r = self.s.put(
            &format!("{CLIENTS}/{client}"),
            Some(&self.admin),
            &json!({"resources": resources}),
        );
        assert_eq!(r.status(), 200, "{:?}", r.text());
    }

    /// Starts an authorization request of the public client `client`; the answer of
    /// `/auth/oauth/authorize` (a redirect).
    fn authorize(&self, client: &str, resource: Option<&str>, cookie: &str) -> Response {
        let mut q = format!(
            "response_type=code&client_id={client}&redirect_uri={}&scope=login&state=st8&code_challenge={}&code_challenge_method=S256",
            urlencode(REDIRECT),
            challenge()
        );
        if let Some(r) = resource {
            q.push_str(&format!("&resource={}", urlencode(r)));
        }
        self.s
            .http
            .get(self.s.url(&format!("/auth/oauth/authorize?{q}")))
            .header("cookie", cookie)
            .send()
            .unwrap()
    }

    /// The whole code flow through the hosted login's JSON calls; returns the code.
    fn code(&self, client: &str, resource: Option<&str>) -> String {
        let r = self.authorize(client, resource, "");
        assert_eq!(r.status(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let flow = loc
            .strip_prefix("/auth/flow/login?flow=")
            .unwrap_or_else(|| panic!("to the login page: {loc}"))
            .to_string();
        let csrf = "csrf-token-of-this-test";
        let r = self
            .s
            .http
            .post(self.s.url("/auth/api/flow/login"))
            .header("cookie", format!("kw_csrf={csrf}"))
            .header("x-csrf-token", csrf)
            .json(&json!({"flow": flow, "username": "admin", "password": "correct horse battery"}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{:?}", r.text());
        let back = r.json::<Value>().unwrap()["redirect"]
            .as_str()
            .unwrap()
            .to_string();
        query_param(&back, "code").expect("a code")
    }

    fn redeem(&self, client: &str, code: &str, resource: Option<&str>) -> Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client),
            ("code_verifier", VERIFIER),
        ];
        form.extend(resource.map(|r| ("resource", r)));
        self.s
            .http
            .post(self.s.url("/auth/oauth/token"))
            .form(&form)
            .send()
            .unwrap()
    }

    fn public_client(&self, resources: &[&str]) -> String {
        self.s.new_client(
            &self.admin,
            &json!({"name": "spa", "redirectUrls": [REDIRECT], "requiresSecret": false,
                    "validScopes": ["login"], "resources": resources}),
        )
    }
}

fn access(r: Response) -> String {
    assert_eq!(r.status(), 200, "{:?}", r.text());
    r.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Client B must not learn anything about client A's tokens: introspection answers
/// `{"active": false}` for them, exactly as for garbage. A's own tokens, and tokens made for
/// one of B's resources, are active.
#[test]
fn introspection_by_a_foreign_client_is_inactive() {
    let c = setup();
    let (robot, _) = c.s.user(&c.admin, "robot");
    let a = c.backend("client a", &robot, None);
    let b = c.backend("client b", &robot, None);

    // An access token of A (client credentials) and a refresh token of A (password grant).
    let a_access = access(c.token(&a, &[("grant_type", "client_credentials")]));
    let r = c.token(
        &a,
        &[
            ("grant_type", "password"),
            ("username", "robot"),
            ("password", "password-of-user"),
        ],
    );
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let a_grant: Value = r.json().unwrap();
    let a_refresh = a_grant["refresh_token"].as_str().unwrap().to_string();
    let a_access2 = a_grant["access_token"].as_str().unwrap().to_string();

    // B asks: nothing, not even the shape of an answer about a live token.
    for t in [&a_access, &a_refresh, &a_access2] {
        assert_eq!(c.introspect(&b, t), json!({"active": false}), "token {t}");
    }
    // A asks about its own: active, with its details.
    let i = c.introspect(&a, &a_access);
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["client_id"], a.0);
    assert_eq!(i["username"], "robot");
    assert_eq!(c.introspect(&a, &a_refresh)["active"], true);
    assert_eq!(c.introspect(&a, &a_access2)["active"], true);

    // A token A got for one of B's resources is active for B (B is that resource server).
    c.set_resources(&a.0, &[API]);
    c.set_resources(&b.0, &[API]);
    let for_b = access(c.token(
        &a,
        &[("grant_type", "client_credentials"), ("resource", API)],
    ));
    assert_eq!(jwt_claims(&for_b)["aud"], API);
    let i = c.introspect(&b, &for_b);
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["aud"], API);
    assert_eq!(i["client_id"], a.0);
    // Still nothing about A's tokens for other audiences, nor A's refresh token.
    assert_eq!(c.introspect(&b, &a_access), json!({"active": false}));
    assert_eq!(c.introspect(&b, &a_refresh), json!({"active": false}));
    // A third client, not a resource server of API, learns nothing about it either.
    let third = c.backend("client c", &robot, None);
    assert_eq!(c.introspect(&third, &for_b), json!({"active": false}));
}

/// A `resource` the client is not allowed gets `invalid_target` on every grant, and no token.
#[test]
fn resource_outside_the_client_list_is_invalid_target() {
    let c = setup();
    let (robot, _) = c.s.user(&c.admin, "robot");
    let a = c.backend("client a", &robot, None);

    // client_credentials
    oauth_error(
        c.token(
            &a,
            &[("grant_type", "client_credentials"), ("resource", EVIL)],
        ),
        400,
        "invalid_target",
    );
    // password: refused before the password is even looked at
    oauth_error(
        c.token(
            &a,
            &[
                ("grant_type", "password"),
                ("username", "robot"),
                ("password", "password-of-user"),
                ("resource", EVIL),
            ],
        ),
        400,
        "invalid_target",
    );
    // authorize: back to the client with error=invalid_target, no login page
    let spa = c.public_client(&[]);
    let r = c.authorize(&spa, Some(EVIL), "");
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_target")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st8"));

    // refresh: a grant made for API while A was allowed it, then the admin takes API away.
    c.set_resources(&a.0, &[API]);
    let r = c.token(
        &a,
        &[
            ("grant_type", "password"),
            ("username", "robot"),
            ("password", "password-of-user"),
            ("resource", API),
        ],
    );
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let t: Value = r.json().unwrap();
    assert_eq!(jwt_claims(t["access_token"].as_str().unwrap())["aud"], API);
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    // A refresh asking for a resource outside the list.
    oauth_error(
        c.token(
            &a,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("resource", EVIL),
            ],
        ),
        400,
        "invalid_target",
    );
    c.set_resources(&a.0, &[]);
    for resource in [None, Some(API)] {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        form.extend(resource.map(|r| ("resource", r)));
        oauth_error(c.token(&a, &form), 400, "invalid_target");
    }
    // Refused without using the refresh token up: allowed again, it works.
    c.set_resources(&a.0, &[API]);
    let r = c.token(
        &a,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_eq!(r.status(), 200, "{:?}", r.text());

    // authorization_code: a code made for API, redeemed after API was taken away; and a code
    // redeemed naming another resource than it was made for.
    let spa = c.public_client(&[API]);
    let code = c.code(&spa, Some(API));
    c.set_resources(&spa, &[]);
    oauth_error(c.redeem(&spa, &code, None), 400, "invalid_target");
    c.set_resources(&spa, &[API, "https://other.example.com/"]);
    let code = c.code(&spa, Some(API));
    oauth_error(
        c.redeem(&spa, &code, Some("https://other.example.com/")),
        400,
        "invalid_target",
    );
    let code = c.code(&spa, Some(API));
    oauth_error(c.redeem(&spa, &code, Some(EVIL)), 400, "invalid_target");
}

/// What the client may ask for works and becomes the token's `aud`; keyward's own URL is always
/// allowed.
#[test]
fn listed_resources_become_the_audience() {
    let c = setup();
    let (robot, _) = c.s.user(&c.admin, "robot");
    let a = c.backend("client a", &robot, Some(&[API]));
    let t = access(c.token(
        &a,
        &[("grant_type", "client_credentials"), ("resource", API)],
    ));
    assert_eq!(jwt_claims(&t)["aud"], API);
    // keyward's own (public) URL, named or by default: a token for keyward's API.
    let own = c.s.public_url();
    for form in [
        vec![("grant_type", "client_credentials"), ("resource", &own)],
        vec![("grant_type", "client_credentials")],
    ] {
        let t = access(c.token(&a, &form));
        assert_eq!(jwt_claims(&t)["aud"], own.as_str());
        assert_eq!(c.s.get("/auth/api/login/user/self", Some(&t)).status(), 200);
    }
    // The password grant.
    let r = c.token(
        &a,
        &[
            ("grant_type", "password"),
            ("username", "robot"),
            ("password", "password-of-user"),
            ("resource", API),
        ],
    );
    assert_eq!(jwt_claims(&access(r))["aud"], API);
    // The code flow, with the resource named at authorize and again at the token endpoint.
    let spa = c.public_client(&[API]);
    let code = c.code(&spa, Some(API));
    assert_eq!(
        jwt_claims(&access(c.redeem(&spa, &code, Some(API))))["aud"],
        API
    );
    let code = c.code(&spa, Some(API));
    assert_eq!(jwt_claims(&access(c.redeem(&spa, &code, None)))["aud"], API);
}

/// `resources` on the client API: default `[]`, shown, changed, checked like redirect URLs, and
/// a client read with GET can be sent back with PUT.
#[test]
fn resources_on_the_client_api() {
    let c = setup();
    let created: Value =
        c.s.post(CLIENTS, Some(&c.admin), &json!({"name": "plain"}))
            .json()
            .unwrap();
    assert_eq!(created["resources"], json!([]));
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("{CLIENTS}/{id}");
    let r = c.s.put(&path, Some(&c.admin), &json!({"resources": [API]}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["resources"], json!([API]));
    let got: Value = c.s.get(&path, Some(&c.admin)).json().unwrap();
    assert_eq!(got["resources"], json!([API]));
    let r = c.s.put(&path, Some(&c.admin), &got);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    assert_eq!(r.json::<Value>().unwrap(), got);
    let list: Vec<Value> = c.s.get(CLIENTS, Some(&c.admin)).json().unwrap();
    assert!(list.iter().all(|c| c["resources"].is_array()));

    let too_many: Vec<String> = (0..101)
        .map(|i| format!("https://api{i}.example.com/"))
        .collect();
    let long = format!("https://api.example.com/{}", "a".repeat(2100));
    for bad in [
        json!(["/relative"]),
        json!(["api.example.com"]),
        json!(["https://api.example.com/#frag"]),
        json!(["ftp://api.example.com/"]),
        json!(["https://api.example.com/\u{0}"]),
        json!([" https://api.example.com/"]),
        json!([long]),
        json!(too_many),
        json!("https://api.example.com/"),
        json!([5]),
    ] {
        let m = expect_error(
            c.s.put(&path, Some(&c.admin), &json!({"resources": bad})),
            400,
        );
        assert!(m.contains("resources"), "{m}");
        let m = expect_error(
            c.s.post(
                CLIENTS,
                Some(&c.admin),
                &json!({"name": "x", "resources": bad}),
            ),
            400,
        );
        assert!(m.contains("resources"), "{m}");
    }
    // Nothing changed by the refusals.
    let after: Value = c.s.get(&path, Some(&c.admin)).json().unwrap();
    assert_eq!(after["resources"], json!([API]));
    let list: Vec<Value> = c.s.get(CLIENTS, Some(&c.admin)).json().unwrap();
    assert_eq!(list.len(), 3);
}
