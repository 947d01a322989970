//! JWTs keyward issues. Each kind has its own `typ` and is validated by its own rules: the
//! algorithm is pinned to the key named by `kid`, and iss, aud, exp, nbf are all required.

use crate::auth::keys::Keyring;
use crate::error::{Error, Result};
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Signs `claims` (any JSON object) as a token of `kind` with the current signing key.
pub fn sign<T: Serialize>(keys: &Keyring, kind: Kind, claims: &T) -> Result<String> {
    let key = keys.signing()?;
    let mut header = Header::new(key.alg);
    header.typ = Some(kind.typ().into());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding)
        .map_err(|e| Error::internal(format!("signing failed: {e}")))
}

/// Validates a token of `kind` issued by `issuer` for `audience` and returns its claims.
/// `audience` None accepts any audience (introspection, revocation), but one must be there.
/// Every failure is the same 401 to the caller; the reason goes to the debug log only.
pub fn verify<T: for<'de> Deserialize<'de>>(
    keys: &Keyring,
    kind: Kind,
    token: &str,
    issuer: &str,
    audience: Option<&str>,
) -> Result<T> {
    let invalid = |why: &str| {
        tracing::debug!(reason = why, "token refused");
        Error::unauthorized("invalid or expired token")
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
    if header.typ.as_deref() != Some(kind.typ()) {
        return Err(invalid("wrong typ"));
    }
    let kid = header.kid.as_deref().ok_or_else(|| invalid("no kid"))?;
    let key = match keys.find(kid) {
        Some(k) => k,
        // A key rotated in by another process: look once more in the database.
        None => {
            keys.reload_for_unknown_kid()?;
            keys.find(kid).ok_or_else(|| invalid("unknown kid"))?
        }
    };
    if header.alg != key.alg {
        return Err(invalid("alg does not match the key"));
    }
    let mut v = Validation::new(key.alg);
    v.leeway = 30;
    v.validate_nbf = true;
    v.set_issuer(&[issuer]);
    match audience {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(token, &key.decoding, &v)
        .map_err(|e| invalid(&e.to_string()))?;
    serde_json::from_value(data.claims).map_err(|_| invalid("claims of the wrong shape"))
}
