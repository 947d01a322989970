//! JWTs keyward issues. Each kind has its own `typ` and is validated by its own rules: the
//! algorithm is pinned to the key named by `kid`, and iss, aud, exp, nbf are all required.

use crate::auth::keys::Keyring;
use crate::auth::secret::b64;
use crate::error::{Error, Result};
use jsonwebtoken::crypto::JwtSigner;
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// The token kinds and their `typ` header values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Access,
    Id,
    Register,
}

impl Kind {
    pub fn typ(self) -> &'static str {
        match self {
            Kind::Access => "at+jwt",
            Kind::Id => "JWT",
            Kind::Register => "register+jwt",
        }
    }
}

/// Claims of access and register tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub sid: String,
}

impl Claims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

pub fn now_secs() -> i64 {
    crate::db::now_ms() / 1000
}

thread_local! {
    /// jsonwebtoken's signers parse their private key when made, which costs more than the
    /// signature itself; they are not `Send`, so each thread keeps its own, by kid.
    static SIGNERS: RefCell<HashMap<String, Box<dyn JwtSigner>>> = RefCell::new(HashMap::new());
}

/// Signs `claims` (any JSON object) as a token of `kind` with the current signing key.
pub fn sign<T: Serialize>(keys: &Keyring, kind: Kind, claims: &T) -> Result<String> {
    let key = keys.signing()?;
    let mut header = Header::new(key.alg);
    header.typ = Some(kind.typ().into());
    header.kid = Some(key.kid.clone());
    let fail = |e: &dyn std::fmt::Display| Error::internal(format!("signing failed: {e}"));
    let part = |v: Vec<u8>| b64(&v);
    let message = format!(
        "{}.{}",
        part(serde_json::to_vec(&header).map_err(|e| fail(&e))?),
        part(serde_json::to_vec(claims).map_err(|e| fail(&e))?)
    );
    let signature = SIGNERS.with(|cell| {
        let mut signers = cell.borrow_mut();
        if !signers.contains_key(&key.kid) {
            // Keys rotate rarely; a thread that saw many simply starts over.
            if signers.len() >= 8 {
                signers.clear();
            }
            let signer = (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.signer_factory)(
                &key.alg,
                &key.encoding,
            )
            .map_err(|e| fail(&e))?;
            signers.insert(key.kid.clone(), signer);
        }
        signers[&key.kid]
            .try_sign(message.as_bytes())
            .map_err(|e| fail(&e))
    })?;
    Ok(format!("{message}.{}", b64(&signature)))
}

/// The claim checks of `verify` for a token whose signature was checked before.
fn claims_ok(c: &Value, issuer: &str, audience: Option<&str>, leeway: i64) -> bool {
    let now = now_secs();
    let exp_ok = c["exp"].as_i64().is_some_and(|exp| exp + leeway >= now);
    let nbf_ok = c["nbf"].as_i64().is_some_and(|nbf| nbf - leeway <= now);
    let iss_ok = c["iss"].as_str() == Some(issuer);
    let aud_ok = match (&c["aud"], audience) {
        (Value::String(_) | Value::Array(_), None) => true,
        (Value::String(a), Some(want)) => a == want,
        (Value::Array(list), Some(want)) => list.iter().any(|a| a.as_str() == Some(want)),
        _ => false,
    };
    exp_ok && nbf_ok && iss_ok && aud_ok && c["sub"].is_string()
}

/// Validates a token of `kind` issued by `issuer` for `audience` and returns its claims.
/// `audience` None accepts any audience (introspection, revocation), but one must be there.
/// Every failure is the same 401 to the caller; the reason goes to the debug log only.
pub async fn verify<T: for<'de> Deserialize<'de>>(
    keys: &Keyring,
    kind: Kind,
    token: &str,
    issuer: &str,
    audience: Option<&str>,
) -> Result<T> {
    match check(keys, kind, token, issuer, audience) {
        // A key rotated in by another process (the CLI): look in the database once more, on
        // the blocking pool, and check again.
        Err(None) => {
            let ring = keys.clone();
            tokio::task::spawn_blocking(move || ring.reload_for_unknown_kid())
                .await
                .map_err(|e| Error::internal(format!("key reload failed: {e}")))??;
            check(keys, kind, token, issuer, audience)
                .map_err(|e| e.unwrap_or_else(|| invalid("unknown kid")))
        }
        r => r.map_err(|e| e.expect("only an unknown kid has no error")),
    }
}

fn invalid(why: &str) -> Error {
    tracing::debug!(reason = why, "token refused");
    Error::token_invalid("invalid or expired token")
}

/// `verify` with the keys in memory; `Err(None)` when the token names a kid they lack.
fn check<T: for<'de> Deserialize<'de>>(
    keys: &Keyring,
    kind: Kind,
    token: &str,
    issuer: &str,
    audience: Option<&str>,
) -> std::result::Result<T, Option<Error>> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
    if header.typ.as_deref() != Some(kind.typ()) {
        return Err(Some(invalid("wrong typ")));
    }
    let kid = header.kid.as_deref().ok_or_else(|| invalid("no kid"))?;
    let key = keys.find(kid).ok_or(None)?;
    if header.alg != key.alg {
        return Err(Some(invalid("alg does not match the key")));
    }
    const LEEWAY: u64 = 30;
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let claims = match keys.verified(&digest) {
        Some(c) if claims_ok(&c, issuer, audience, LEEWAY as i64) => c,
        Some(_) => return Err(Some(invalid("claims no longer valid"))),
        None => {
            let mut v = Validation::new(key.alg);
            v.leeway = LEEWAY;
            v.validate_nbf = true;
            v.set_issuer(&[issuer]);
            match audience {
                Some(a) => v.set_audience(&[a]),
                None => v.validate_aud = false,
            }
            v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
            let data = jsonwebtoken::decode::<Value>(token, &key.decoding, &v)
                .map_err(|e| invalid(&e.to_string()))?;
            let c = Arc::new(data.claims);
            keys.remember_verified(digest, c.clone());
            c
        }
    };
    T::deserialize(&*claims).map_err(|_| Some(invalid("claims of the wrong shape")))
}
