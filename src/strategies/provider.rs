//! What the upstream kinds share: the outbound HTTP client (one per process, with connect and
//! whole-call timeouts, no redirects followed, bodies capped), the `Provider` trait that each
//! upstream kind implements, and the OAuth 2 token answers they all parse.

use crate::auth::secret::{b64, random_token};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A provider's answer is never larger than this; a larger one is garbage.
const MAX_ANSWER: usize = 1 << 20;

/// Outbound calls to providers, and the in-memory caches of what providers publish (OIDC
/// discovery documents and key sets). Caches only: every node fetches what it lacks.
pub struct Outbound {
    pub client: reqwest::Client,
    pub(crate) oidc: super::oidc::Cache,
}

impl Outbound {
    pub fn new(connect: Duration, total: Duration) -> Result<Outbound> {
        // reqwest is built without a default crypto provider (see Cargo.toml); ring it is.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(total)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            // The release binary is statically linked: glibc's getaddrinfo would load the host's
            // NSS modules into it, so names are resolved by hickory (/etc/hosts, resolv.conf).
            .hickory_dns(true)
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Outbound {
            client,
            oidc: Default::default(),
        })
    }
}

/// Why a call to a provider failed, as the problem page names it.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The provider answered with an error, or with something that is not a valid answer.
    Provider(String),
    /// The provider could not be reached, or did not answer in time.
    Unreachable(String),
    /// The OIDC ID token failed validation (signature, iss, aud, exp, nonce).
    IdToken(String),
}

impl Failure {
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::Provider(_) => "provider_error",
            Failure::Unreachable(_) => "provider_unreachable",
            Failure::IdToken(_) => "id_token_invalid",
        }
    }
    pub fn detail(&self) -> &str {
        match self {
            Failure::Provider(m) | Failure::Unreachable(m) | Failure::IdToken(m) => m,
        }
    }
}

/// What the authorization request carries besides the instance's own settings.
pub struct Start<'a> {
    pub state: &'a str,
    /// The PKCE S256 challenge.
    pub challenge: &'a str,
    /// OIDC only.
    pub nonce: Option<&'a str>,
    /// The instance's callback URL.
    pub redirect_uri: &'a str,
}

/// The provider's tokens for an identity (stored sealed when the instance syncs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Unix ms; None when the provider gave no expiry.
    #[serde(skip)]
    pub expires_at: Option<i64>,
    #[serde(skip)]
    pub scopes: Vec<String>,
}

/// The provider's account, as the callback learned it.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// The provider's stable id: GitHub and GitLab numeric `id`, OIDC `sub`.
    pub subject: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
}

impl Account {
    /// The profile kept with the identity.
    pub fn profile(&self) -> Value {
        serde_json::json!({
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "email_verified": self.email_verified,
        })
    }
}

/// The calls an upstream kind makes to its provider.
pub trait Provider: Send + Sync {
    /// Whether its authorization requests carry a `nonce` (OIDC).
    fn uses_nonce(&self) -> bool {
        false
    }
    /// The provider's authorization URL for this request.
    fn authorize_url<'a>(
        &'a self,
        out: &'a Outbound,
        s: Start<'a>,
    ) -> BoxFut<'a, std::result::Result<String, Failure>>;
    /// Exchanges the code (with the PKCE verifier) and learns the account.
    fn exchange<'a>(
        &'a self,
        out: &'a Outbound,
        code: &'a str,
        verifier: &'a str,
        redirect_uri: &'a str,
        nonce: Option<&'a str>,
    ) -> BoxFut<'a, std::result::Result<(Tokens, Account), Failure>>;
    /// Refreshes the access token (refresh token grant).
    fn refresh<'a>(
        &'a self,
        out: &'a Outbound,
        refresh_token: &'a str,
        redirect_uri: &'a str,
    ) -> BoxFut<'a, std::result::Result<Tokens, Failure>>;
}

/// A PKCE verifier (256 bits) and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = random_token(32);
    let challenge = b64(&Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `base` with the query parameters added.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> std::result::Result<String, Failure> {
    let mut u =
        url::Url::parse(base).map_err(|_| Failure::Provider(format!("{base} is not a URL")))?;
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Ok(u.into())
}

fn send_failure(url: &str, e: reqwest::Error) -> Failure {
    let what = if e.is_timeout() {
        "did not answer in time"
    } else if e.is_connect() {
        "cannot be reached"
    } else {
        "failed"
    };
    Failure::Unreachable(format!("{url} {what}"))
}

/// Reads a JSON answer: any status but 2xx is the provider's error (its `error` when it says
/// one); an answer over `MAX_ANSWER` or not JSON is garbage.
async fn read_json(url: &str, mut resp: reqwest::Response) -> std::result::Result<Value, Failure> {
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| send_failure(url, e))? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Failure::Provider(format!("{url} answered too much")));
        }
        body.extend_from_slice(&chunk);
    }
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let error = json
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str)
        .map(|e| e.chars().take(100).collect::<String>());
    if !status.is_success() {
        return Err(Failure::Provider(format!(
            "{url} answered {status}{}",
            error.map(|e| format!(" ({e})")).unwrap_or_default()
        )));
    }
    if let Some(e) = error {
        // GitHub answers token errors with 200 and an `error`.
        return Err(Failure::Provider(format!("{url} answered the error {e}")));
    }
    json.ok_or_else(|| Failure::Provider(format!("{url} did not answer JSON")))
}

/// GET a JSON document, with a Bearer token if given.
pub async fn get_json(
    out: &Outbound,
    url: &str,
    bearer: Option<&str>,
    accept: &str,
) -> std::result::Result<Value, Failure> {
    let mut req = out.client.get(url).header(reqwest::header::ACCEPT, accept);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| send_failure(url, e))?;
    read_json(url, resp).await
}

/// How a client authenticates at a token endpoint.
pub enum ClientAuth<'a> {
    /// `client_id` and `client_secret` in the form.
    Post { id: &'a str, secret: &'a str },
    /// HTTP Basic (RFC 6749 2.3.1: both form-encoded first).
    Basic { id: &'a str, secret: &'a str },
    /// A public client: `client_id` only.
    Public { id: &'a str },
}

/// The authorization-code grant with the PKCE verifier: the tokens and the whole answer (an
/// OIDC provider's carries the ID token).
pub async fn code_grant(
    out: &Outbound,
    url: &str,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    auth: ClientAuth<'_>,
    asked: &[String],
) -> std::result::Result<(Tokens, Value), Failure> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    token_call(out, url, &form, auth, None, asked).await
}

/// The refresh-token grant; a provider that answers no new refresh token keeps the old one.
pub async fn refresh_grant(
    out: &Outbound,
    url: &str,
    refresh_token: &str,
    auth: ClientAuth<'_>,
    asked: &[String],
) -> std::result::Result<Tokens, Failure> {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_call(out, url, &form, auth, Some(refresh_token), asked)
        .await
        .map(|(t, _)| t)
}

/// POST a form to a token endpoint and parse the token answer (RFC 6749 5.1). `keep_refresh`
/// stays the refresh token when the answer brings no new one; `scope_sep` is how the provider
/// lists granted scopes (GitHub: commas); `asked` are the scopes when it lists none.
pub async fn token_call(
    out: &Outbound,
    url: &str,
    form: &[(&str, &str)],
    auth: ClientAuth<'_>,
    keep_refresh: Option<&str>,
    asked: &[String],
) -> std::result::Result<(Tokens, Value), Failure> {
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    let mut req = out
        .client
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json");
    match auth {
        ClientAuth::Post { id, secret } => {
            fields.push(("client_id", id));
            fields.push(("client_secret", secret));
        }
        ClientAuth::Basic { id, secret } => {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.basic_auth(enc(id), Some(enc(secret)));
        }
        ClientAuth::Public { id } => fields.push(("client_id", id)),
    }
    let resp = req
        .form(&fields)
        .send()
        .await
        .map_err(|e| send_failure(url, e))?;
    let v = read_json(url, resp).await?;
    let access_token = v["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::Provider(format!("{url} gave no access token")))?
        .to_string();
    let expires_at = v["expires_in"]
        .as_i64()
        .or_else(|| v["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .filter(|s| *s > 0)
        .map(|s| crate::db::now_ms() + s.min(10 * 365 * 86_400) * 1000);
    let scopes = match v["scope"].as_str() {
        Some(s) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        None => asked.to_vec(),
    };
    let refresh_token = v["refresh_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or_else(|| keep_refresh.map(str::to_string));
    Ok((
        Tokens {
            access_token,
            refresh_token,
            expires_at,
            scopes,
        },
        v,
    ))
}

/// A provider's numeric account id as the identity's subject (a number, or digits in a
/// string); never the username, which can change hands.
pub fn numeric_id(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) if n.is_u64() => n.as_u64().map(|n| n.to_string()),
        Value::String(s)
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

/// A short text field of a provider's profile (names, usernames, e-mails).
pub fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 320 && !s.chars().any(char::is_control))
        .map(str::to_string)
}
