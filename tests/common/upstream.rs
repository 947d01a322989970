//! Stand-ins for upstream providers, served by the tests on 127.0.0.1: GitHub and GitLab
//! (authorize endpoint that sends the browser straight back, token endpoint that checks the
//! client, the redirect URI and the PKCE verifier, user endpoints) and an OpenID Connect
//! provider (discovery, JWKS, ES256 ID tokens that a test can tamper with). Plain
//! `std::net::TcpListener` with a thread per connection; one request per connection.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "standin-client";
pub const CLIENT_SECRET: &str = "standin-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Github,
    Gitlab,
    Oidc,
}

/// How the OIDC stand-in spoils its next ID token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Claims changed after signing (another `sub`).
    Payload,
    /// Signed by a key that is not in the JWKS, under the JWKS key's `kid`.
    OtherKey,
    Nonce,
    Audience,
    Expired,
}

struct Grant {
    challenge: String,
    redirect_uri: String,
    account: Value,
    nonce: Option<String>,
}

/// What a test sets and reads of a stand-in.
#[derive(Default)]
pub struct Shared {
    /// The account the next authorization logs in: `{id, login, name, email}` (OIDC: `sub`).
    pub account: Value,
    /// GitHub's `/user/emails`.
    pub emails: Value,
    pub deny: bool,
    pub token_error: bool,
    pub refuse_refresh: bool,
    /// `expires_in` of access tokens.
    pub expires_in: i64,
    pub tamper: Option<Tamper>,
    /// Refresh grants answered.
    pub refreshes: usize,
    /// Token requests refused for a wrong PKCE verifier.
    pub pkce_refusals: usize,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Value>,
    refresh_tokens: HashMap<String, Value>,
}

pub struct StandIn {
    pub base: String,
    pub flavor: Flavor,
    pub shared: Arc<Mutex<Shared>>,
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

struct Req {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: String,
}

impl Req {
    fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
    fn bearer(&self) -> Option<&str> {
        self.headers
            .get("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
    }
}

struct Resp {
    status: u16,
    body: String,
    location: Option<String>,
}

fn json_resp(status: u16, v: Value) -> Resp {
    Resp {
        status,
        body: v.to_string(),
        location: None,
    }
}

fn read_req(stream: &mut TcpStream) -> Option<Req> {
    let mut r = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    Some(Req {
        method,
        path: path.to_string(),
        query: form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn write_resp(stream: &mut TcpStream, r: Resp) {
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.body.len()
    );
    if let Some(l) = r.location {
        head.push_str(&format!("Location: {l}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(r.body.as_bytes());
}

/// An address on which nothing listens: a provider that is down.
pub fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

/// A provider that takes connections and never answers: slow past every timeout. Its sockets
/// stay open as long as the returned listener thread runs (the whole test process).
pub fn silent_provider() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in l.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

/// The OIDC stand-in's signing key (in its JWKS) and a key it is not.
struct Keys {
    good: Vec<u8>,
    bad: Vec<u8>,
    jwk: Value,
}

fn es256_key() -> (Vec<u8>, Value) {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::EncodePrivateKey;
    let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let der = sk.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let p = sk.public_key().to_encoded_point(false);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": B64.encode(p.x().unwrap()),
                     "y": B64.encode(p.y().unwrap()), "kid": "k1", "alg": "ES256", "use": "sig"});
    (der, jwk)
}

impl StandIn {
    pub fn start(flavor: Flavor) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared {
            expires_in: 3600,
            account: json!({"id": 4242, "login": "octo", "name": "Octo Cat",
                            "email": "octo@example.test", "sub": "oidc-sub-1",
                            "preferred_username": "octo"}),
            emails: json!([{"email": "octo@example.test", "primary": true, "verified": true}]),
            ..Default::default()
        }));
        let (good, jwk) = es256_key();
        let keys = Arc::new(Keys {
            good,
            bad: es256_key().0,
            jwk,
        });
        let (sh, b) = (shared.clone(), base.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (sh, b, keys) = (sh.clone(), b.clone(), keys.clone());
                std::thread::spawn(move || {
                    if let Some(req) = read_req(&mut stream) {
                        let resp = handle(flavor, &b, &sh, &keys, &req);
                        write_resp(&mut stream, resp);
                    }
                });
            }
        });
        StandIn {
            base,
            flavor,
            shared,
        }
    }

    pub fn set(&self, f: impl FnOnce(&mut Shared)) {
        f(&mut self.shared.lock().unwrap());
    }

    pub fn get<T>(&self, f: impl FnOnce(&Shared) -> T) -> T {
        f(&self.shared.lock().unwrap())
    }

    /// The instance config that points keyward at this stand-in.
    pub fn config(&self) -> Value {
        match self.flavor {
            Flavor::Github => json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                                     "baseUrl": self.base, "apiUrl": format!("{}/api", self.base)}),
            Flavor::Gitlab => json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                                     "baseUrl": self.base}),
            Flavor::Oidc => json!({"issuer": self.base, "clientId": CLIENT_ID,
                                   "clientSecret": CLIENT_SECRET}),
        }
    }
}

fn handle(flavor: Flavor, base: &str, sh: &Mutex<Shared>, keys: &Keys, req: &Req) -> Resp {
    let p = req.path.as_str();
    match (flavor, req.method.as_str(), p) {
        (Flavor::Github, "GET", "/login/oauth/authorize")
        | (Flavor::Gitlab, "GET", "/oauth/authorize")
        | (Flavor::Oidc, "GET", "/authorize") => authorize(flavor, sh, req),
        (Flavor::Github, "POST", "/login/oauth/access_token")
        | (Flavor::Gitlab, "POST", "/oauth/token")
        | (Flavor::Oidc, "POST", "/token") => token(flavor, base, sh, keys, req),
        (Flavor::Github, "GET", "/api/user")
        | (Flavor::Gitlab, "GET", "/api/v4/user")
        | (Flavor::Oidc, "GET", "/userinfo") => {
            let s = sh.lock().unwrap();
            match req.bearer().and_then(|t| s.tokens.get(t)) {
                Some(a) if flavor == Flavor::Oidc => json_resp(
                    200,
                    json!({"sub": a["sub"], "email": a["email"], "email_verified": true,
                           "preferred_username": a["preferred_username"], "name": a["name"]}),
                ),
                Some(a) if flavor == Flavor::Gitlab => json_resp(
                    200,
                    json!({"id": a["id"], "username": a["login"], "name": a["name"],
                           "email": a["email"], "confirmed_at": "2024-01-01T00:00:00Z"}),
                ),
                Some(a) => json_resp(200, a.clone()),
                None => json_resp(401, json!({"message": "Bad credentials"})),
            }
        }
        (Flavor::Github, "GET", "/api/user/emails") => {
            let s = sh.lock().unwrap();
            match req.bearer().and_then(|t| s.tokens.get(t)) {
                Some(_) => json_resp(200, s.emails.clone()),
                None => json_resp(401, json!({"message": "Bad credentials"})),
            }
        }
        (Flavor::Oidc, "GET", "/.well-known/openid-configuration") => json_resp(
            200,
            json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"),
                   "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/jwks"),
                   "userinfo_endpoint": format!("{base}/userinfo"),
                   "token_endpoint_auth_methods_supported": ["client_secret_basic"]}),
        ),
        (Flavor::Oidc, "GET", "/jwks") => json_resp(200, json!({"keys": [keys.jwk]})),
        _ => json_resp(404, json!({"error": "not_found"})),
    }
}

fn authorize(flavor: Flavor, sh: &Mutex<Shared>, req: &Req) -> Resp {
    let q = &req.query;
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    let ok = q.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && q.get("code_challenge_method").map(String::as_str) == Some("S256")
        && q.get("code_challenge").is_some_and(|c| c.len() == 43)
        && !state.is_empty()
        && (flavor != Flavor::Oidc || q.contains_key("nonce"));
    if !ok {
        return json_resp(400, json!({"error": "invalid_request"}));
    }
    let mut s = sh.lock().unwrap();
    let mut back = url::Url::parse(&redirect).unwrap();
    if s.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &state);
    } else {
        let code = random();
        let grant = Grant {
            challenge: q["code_challenge"].clone(),
            redirect_uri: redirect.clone(),
            account: s.account.clone(),
            nonce: q.get("nonce").cloned(),
        };
        s.codes.insert(code.clone(), grant);
        back.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &state);
    }
    Resp {
        status: 302,
        body: String::new(),
        location: Some(back.into()),
    }
}

fn client_ok(flavor: Flavor, req: &Req, form: &HashMap<String, String>) -> bool {
    if flavor == Flavor::Oidc {
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        );
        return req.headers.get("authorization") == Some(&want);
    }
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

fn token(flavor: Flavor, base: &str, sh: &Mutex<Shared>, keys: &Keys, req: &Req) -> Resp {
    let form = req.form();
    // GitHub answers form-encoded unless asked for JSON.
    if flavor == Flavor::Github
        && req.headers.get("accept").map(String::as_str) != Some("application/json")
    {
        return json_resp(406, json!({"error": "not_acceptable"}));
    }
    let error = |e: &str| {
        // GitHub says its token errors with 200.
        let status = if flavor == Flavor::Github { 200 } else { 400 };
        json_resp(status, json!({"error": e}))
    };
    if !client_ok(flavor, req, &form) {
        return error("invalid_client");
    }
    let mut s = sh.lock().unwrap();
    if s.token_error {
        return error("server_error");
    }
    let (account, nonce) = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(g) = form.get("code").and_then(|c| s.codes.remove(c)) else {
                return error("invalid_grant");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if B64.encode(Sha256::digest(verifier.as_bytes())) != g.challenge {
                s.pkce_refusals += 1;
                return error("invalid_grant");
            }
            if form.get("redirect_uri") != Some(&g.redirect_uri) {
                return error("invalid_grant");
            }
            (g.account, g.nonce)
        }
        Some("refresh_token") => {
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            if s.refuse_refresh {
                return error("invalid_grant");
            }
            let Some(a) = s.refresh_tokens.remove(&rt) else {
                return error("invalid_grant");
            };
            s.refreshes += 1;
            (a, None)
        }
        _ => return error("unsupported_grant_type"),
    };
    let (access, refresh) = (format!("at-{}", random()), format!("rt-{}", random()));
    s.tokens.insert(access.clone(), account.clone());
    s.refresh_tokens.insert(refresh.clone(), account.clone());
    let scope = match flavor {
        Flavor::Github => "read:user,user:email",
        Flavor::Gitlab => "read_user",
        Flavor::Oidc => "openid profile email",
    };
    let mut answer = json!({"access_token": access, "token_type": "bearer", "scope": scope,
                            "expires_in": s.expires_in, "refresh_token": refresh});
    if flavor == Flavor::Oidc
        && form.get("grant_type").map(String::as_str) == Some("authorization_code")
    {
        answer["id_token"] = json!(id_token(
            base,
            keys,
            &account,
            nonce.as_deref(),
            s.tamper.take()
        ));
    }
    json_resp(200, answer)
}

fn id_token(
    base: &str,
    keys: &Keys,
    a: &Value,
    nonce: Option<&str>,
    tamper: Option<Tamper>,
) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"iss": base, "sub": a["sub"], "aud": CLIENT_ID, "iat": now,
                            "exp": now + 300, "nonce": nonce, "email": a["email"],
                            "email_verified": true, "preferred_username": a["preferred_username"],
                            "name": a["name"]});
    match tamper {
        Some(Tamper::Nonce) => claims["nonce"] = json!("not-the-nonce"),
        Some(Tamper::Audience) => claims["aud"] = json!("another-client"),
        Some(Tamper::Expired) => {
            claims["iat"] = json!(now - 3600);
            claims["exp"] = json!(now - 600);
        }
        _ => {}
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let der = if tamper == Some(Tamper::OtherKey) {
        &keys.bad
    } else {
        &keys.good
    };
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der),
    )
    .unwrap();
    if tamper == Some(Tamper::Payload) {
        let parts: Vec<&str> = token.split('.').collect();
        claims["sub"] = json!("someone-else");
        let payload = B64.encode(claims.to_string());
        return format!("{}.{payload}.{}", parts[0], parts[2]);
    }
    token
}

/// A browser that does not follow redirects and keeps its cookies (by name, for any host).
pub struct Browser {
    http: Client,
    pub cookies: HashMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        super::tls();
        Browser {
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    /// GET `url`: its status and `Location`.
    pub fn get(&mut self, url: &str) -> (u16, String) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut rb = self.http.get(url);
        if !cookie.is_empty() {
            rb = rb.header("cookie", cookie);
        }
        let r = rb.send().expect("request");
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let loc = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), loc)
    }
}

/// A browser signed in with a password ("password-of-user", as `Server::user` makes it) through
/// the hosted login page: its session cookie.
pub fn signed_in(s: &super::Server, username: &str) -> Browser {
    let r = s
        .http
        .post(s.url("/auth/api/flow/login"))
        .header("cookie", "kw_csrf=t")
        .header("x-csrf-token", "t")
        .json(&json!({"username": username, "password": "password-of-user"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("kw_session="))
        .unwrap();
    let mut b = Browser::new();
    let (k, v) = c.split(';').next().unwrap().split_once('=').unwrap();
    b.cookies.insert(k.into(), v.into());
    b
}

/// The value of query parameter `k` of a URL or path.
pub fn param(url: &str, k: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    let q = q.split('#').next().unwrap_or_default();
    form_urlencoded::parse(q.as_bytes())
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.into_owned())
}
