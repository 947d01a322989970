//! `oidc`: any OpenID Connect provider, found through its discovery document. Subject: `sub` of
//! the ID token, which is validated against the provider's JWKS (signature with the algorithm
//! the key allows, `iss`, `aud`, `exp`, `nonce`) before anything else of it is believed.

use super::provider::{
    Account, BoxFut, ClientAuth, Failure, Outbound, Provider, Start, Tokens, code_grant, get_json,
    refresh_grant, text, with_query,
};
use super::{Caps, Kind, Strategy, UPSTREAM_CAPS, check_nonempty, check_scopes, check_url};
use crate::auth::secret::digest_eq;
use crate::error::Result;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Oidc;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// Any OpenID Connect provider, found through its discovery document.
struct OidcConfig {
    /// The provider's issuer URL.
    #[schemars(title = "Issuer")]
    issuer: String,
    /// The client ID keyward has at the provider.
    #[schemars(title = "Client ID")]
    client_id: String,
    /// Absent for a public client (PKCE only).
    #[schemars(title = "Client secret", extend("writeOnly" = true))]
    client_secret: Option<String>,
    /// Scopes to request; default ["openid", "profile", "email"] (openid is always asked).
    #[schemars(title = "Scopes")]
    scopes: Option<Vec<String>>,
}

/// The issuer of an `oidc` config, if it has one.
pub fn issuer_of(config: &Value) -> Option<&str> {
    config.get("issuer").and_then(Value::as_str)
}

impl Strategy for Oidc {
    fn kind(&self) -> Kind {
        Kind::Oidc
    }
    fn caps(&self) -> &'static Caps {
        &UPSTREAM_CAPS
    }
    fn config_schema(&self) -> Value {
        super::schema::<OidcConfig>()
    }
    fn check_fields(&self, c: &Value) -> Result<()> {
        let c: OidcConfig = super::parse(c)?;
        check_url("issuer", Some(&c.issuer))?;
        check_nonempty("clientId", &c.client_id)?;
        if let Some(s) = &c.client_secret {
            check_nonempty("clientSecret", s)?;
        }
        check_scopes(c.scopes.as_ref())
    }
    fn provider(&self, c: &Value) -> Result<Option<Box<dyn Provider>>> {
        let c: OidcConfig = super::parse(c)?;
        let mut scopes = c
            .scopes
            .unwrap_or_else(|| vec!["openid".into(), "profile".into(), "email".into()]);
        if !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        Ok(Some(Box::new(OidcProvider {
            issuer: c.issuer,
            client_id: c.client_id,
            client_secret: c.client_secret,
            scopes,
        })))
    }
}

/// The parts of a discovery document keyward uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// How long a discovery document is reused, and how often at most an unknown `kid` fetches
/// the key set again.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
const JWKS_TTL: Duration = Duration::from_secs(3600);
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(5);

/// In-memory caches of discovery documents (by issuer) and key sets (by `jwks_uri`).
#[derive(Default)]
pub struct Cache {
    discovery: Mutex<HashMap<String, (Arc<Discovery>, Instant)>>,
    jwks: Mutex<HashMap<String, (Arc<JwkSet>, Instant)>>,
}

fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The issuer's discovery document: from the cache unless `fresh`, else fetched and checked
/// (it must name `issuer` as its issuer, and its endpoints must be https or loopback).
pub async fn discover(
    out: &Outbound,
    issuer: &str,
    fresh: bool,
) -> std::result::Result<Arc<Discovery>, Failure> {
    if !fresh
        && let Ok(cache) = out.oidc.discovery.lock()
        && let Some((d, at)) = cache.get(issuer)
        && at.elapsed() < DISCOVERY_TTL
    {
        return Ok(d.clone());
    }
    let url = discovery_url(issuer);
    let v = get_json(out, &url, None, "application/json").await?;
    let d: Discovery = serde_json::from_value(v).map_err(|_| {
        Failure::Provider(format!("{url} is not an OpenID Connect discovery document"))
    })?;
    if d.issuer != issuer {
        return Err(Failure::Provider(format!(
            "the discovery document names the issuer {:?}, not {issuer:?}",
            d.issuer
        )));
    }
    let endpoints = [
        Some(&d.authorization_endpoint),
        Some(&d.token_endpoint),
        Some(&d.jwks_uri),
        d.userinfo_endpoint.as_ref(),
    ];
    for e in endpoints.into_iter().flatten() {
        let ok = url::Url::parse(e).is_ok_and(|u| super::url_allowed(&u));
        if !ok {
            return Err(Failure::Provider(format!(
                "the discovery document's endpoint {e:?} is not https"
            )));
        }
    }
    let d = Arc::new(d);
    if let Ok(mut cache) = out.oidc.discovery.lock() {
        cache.insert(issuer.to_string(), (d.clone(), Instant::now()));
    }
    Ok(d)
}

/// The provider's key set; fetched again when `kid` is not in the cached one, at most every
/// `JWKS_MIN_REFETCH`.
async fn keys(
    out: &Outbound,
    jwks_uri: &str,
    kid: Option<&str>,
) -> std::result::Result<Arc<JwkSet>, Failure> {
    let cached = out
        .oidc
        .jwks
        .lock()
        .ok()
        .and_then(|c| c.get(jwks_uri).cloned());
    if let Some((set, at)) = &cached {
        let known = kid.is_none_or(|k| set.find(k).is_some());
        if (known && at.elapsed() < JWKS_TTL) || at.elapsed() < JWKS_MIN_REFETCH {
            return Ok(set.clone());
        }
    }
    let v = get_json(out, jwks_uri, None, "application/json").await?;
    let set: JwkSet = serde_json::from_value(v)
        .map_err(|_| Failure::Provider(format!("{jwks_uri} is not a JWK set")))?;
    let set = Arc::new(set);
    if let Ok(mut c) = out.oidc.jwks.lock() {
        c.insert(jwks_uri.to_string(), (set.clone(), Instant::now()));
    }
    Ok(set)
}

/// The claims of a provider's ID token that keyward reads.
#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    preferred_username: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    email: Option<Value>,
    #[serde(default)]
    email_verified: Option<Value>,
}

fn bad(m: impl Into<String>) -> Failure {
    Failure::IdToken(m.into())
}

/// Validates an ID token: a key of the provider's JWKS (by `kid`) that allows the token's
/// algorithm (asymmetric only: an HMAC "key" would be the client secret, and `none` is never
/// taken), then `iss`, `aud`, `exp` and `nonce`.
async fn validate(
    out: &Outbound,
    d: &Discovery,
    client_id: &str,
    token: &str,
    nonce: &str,
) -> std::result::Result<IdClaims, Failure> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| bad("not a JWT"))?;
    let alg = header.alg;
    if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return Err(bad("symmetric algorithms are not accepted"));
    }
    let set = keys(out, &d.jwks_uri, header.kid.as_deref()).await?;
    let candidates: Vec<_> = set
        .keys
        .iter()
        .filter(|k| match (&header.kid, &k.common.key_id) {
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .filter(|k| !matches!(k.algorithm, AlgorithmParameters::OctetKey(_)))
        .filter(|k| {
            k.common
                .public_key_use
                .as_ref()
                .is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature)
        })
        .filter(|k| {
            k.common
                .key_algorithm
                .is_none_or(|ka| ka.to_string().parse::<Algorithm>().is_ok_and(|a| a == alg))
        })
        .collect();
    // Without a kid, the set must leave no doubt which key signed.
    let jwk = match candidates.as_slice() {
        [one] => *one,
        [] => return Err(bad("no key of the provider allows this token")),
        _ => return Err(bad("the token does not say which key signed it")),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| bad("the provider's key is not usable"))?;
    let mut v = Validation::new(alg);
    v.set_issuer(&[&d.issuer]);
    v.set_audience(&[client_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<IdClaims>(token, &key, &v)
        .map_err(|e| bad(format!("the ID token is not valid: {e}")))?;
    let claims = data.claims;
    let ok = claims
        .nonce
        .as_deref()
        .is_some_and(|n| digest_eq(n.as_bytes(), nonce.as_bytes()));
    if !ok {
        return Err(bad("the ID token's nonce is not this login's"));
    }
    if claims.sub.is_empty() || claims.sub.len() > 255 {
        return Err(bad("the ID token has no usable sub"));
    }
    Ok(claims)
}

fn verified(v: &Option<Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

struct OidcProvider {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    scopes: Vec<String>,
}

impl OidcProvider {
    /// Client authentication as the provider supports it: Basic by default (RFC 6749's and
    /// OIDC's default), the form where only that is offered, none for a public client.
    fn auth<'a>(&'a self, d: &Discovery) -> ClientAuth<'a> {
        let Some(secret) = &self.client_secret else {
            return ClientAuth::Public {
                id: &self.client_id,
            };
        };
        let methods = d.token_endpoint_auth_methods_supported.as_deref();
        let post_only = methods.is_some_and(|m| {
            m.iter().any(|x| x == "client_secret_post")
                && !m.iter().any(|x| x == "client_secret_basic")
        });
        if post_only {
            ClientAuth::Post {
                id: &self.client_id,
                secret,
            }
        } else {
            ClientAuth::Basic {
                id: &self.client_id,
                secret,
            }
        }
    }
}

impl Provider for OidcProvider {
    fn uses_nonce(&self) -> bool {
        true
    }

    fn authorize_url<'a>(
        &'a self,
        out: &'a Outbound,
        s: Start<'a>,
    ) -> BoxFut<'a, std::result::Result<String, Failure>> {
        Box::pin(async move {
            let d = discover(out, &self.issuer, false).await?;
            let mut pairs = vec![
                ("response_type", "code"),
                ("client_id", self.client_id.as_str()),
                ("redirect_uri", s.redirect_uri),
                ("state", s.state),
                ("code_challenge", s.challenge),
                ("code_challenge_method", "S256"),
            ];
            let scope = self.scopes.join(" ");
            pairs.push(("scope", &scope));
            if let Some(n) = s.nonce {
                pairs.push(("nonce", n));
            }
            with_query(&d.authorization_endpoint, &pairs)
        })
    }

    fn exchange<'a>(
        &'a self,
        out: &'a Outbound,
        code: &'a str,
        verifier: &'a str,
        redirect_uri: &'a str,
        nonce: Option<&'a str>,
    ) -> BoxFut<'a, std::result::Result<(Tokens, Account), Failure>> {
        Box::pin(async move {
            let d = discover(out, &self.issuer, false).await?;
            let (tokens, answer) = code_grant(
                out,
                &d.token_endpoint,
                code,
                verifier,
                redirect_uri,
                self.auth(&d),
                &self.scopes,
            )
            .await?;
            let id_token = answer["id_token"]
                .as_str()
                .ok_or_else(|| bad("the provider gave no ID token"))?;
            let claims = validate(out, &d, &self.client_id, id_token, nonce.unwrap_or("")).await?;
            let mut account = Account {
                subject: claims.sub.clone(),
                username: claims.preferred_username.as_ref().and_then(text),
                name: claims.name.as_ref().and_then(text),
                email: claims.email.as_ref().and_then(text),
                email_verified: verified(&claims.email_verified),
            };
            if let Some(ui) = &d.userinfo_endpoint {
                let info =
                    get_json(out, ui, Some(&tokens.access_token), "application/json").await?;
                // OIDC Core 5.3.2: userinfo about another subject must not be used.
                if info["sub"].as_str() != Some(claims.sub.as_str()) {
                    return Err(Failure::Provider(
                        "the userinfo endpoint answered for another subject".into(),
                    ));
                }
                account.username = text(&info["preferred_username"]).or(account.username);
                account.name = text(&info["name"]).or(account.name);
                if let Some(e) = text(&info["email"]) {
                    account.email = Some(e);
                    account.email_verified = verified(&Some(info["email_verified"].clone()));
                }
            }
            if account.email.is_none() {
                account.email_verified = false;
            }
            Ok((tokens, account))
        })
    }

    fn refresh<'a>(
        &'a self,
        out: &'a Outbound,
        refresh_token: &'a str,
        _: &'a str,
    ) -> BoxFut<'a, std::result::Result<Tokens, Failure>> {
        Box::pin(async move {
            let d = discover(out, &self.issuer, false).await?;
            refresh_grant(
                out,
                &d.token_endpoint,
                refresh_token,
                self.auth(&d),
                &self.scopes,
            )
            .await
        })
    }
}
