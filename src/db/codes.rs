//! Authorization codes (RFC 6749 4.1), stored as the SHA-256 digest of the code. A used code
//! stays until it expires, so that a second use is recognised as a replay.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

/// A code as stored, with what the authorization request granted.
pub struct Code {
    pub client_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    /// The RFC 8707 resource the request asked for, if any.
    pub resource: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub expires: i64,
    pub used_at: Option<i64>,
}

/// Stores a new code (its digest) made at the transaction's time.
pub fn insert(w: &Write, digest: &[u8], c: &Code) -> Result<()> {
    // The `scope` column holds the granted scopes and the resource together.
    let payload = json!({"scope": c.scope, "resource": c.resource}).to_string();
    w.execute(
        "INSERT INTO authorization_codes (digest, client_id, active_login_id, redirect_uri, scope,
         nonce, code_challenge, created_at, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            digest,
            c.client_id,
            c.session_id,
            c.redirect_uri,
            payload,
            c.nonce,
            c.code_challenge,
            w.now,
            c.expires
        ],
    )?;
    Ok(())
}

pub fn get(r: &Read, digest: &[u8]) -> Result<Option<Code>> {
    let mut st = r.prepare_cached(
        "SELECT client_id, active_login_id, redirect_uri, scope, nonce, code_challenge, expires,
         used_at FROM authorization_codes WHERE digest = ?1",
    )?;
    Ok(st
        .query_row(params![digest], |r| {
            let payload: String = r.get(3)?;
            let payload: Value = serde_json::from_str(&payload).unwrap_or_default();
            Ok(Code {
                client_id: r.get(0)?,
                session_id: r.get(1)?,
                redirect_uri: r.get(2)?,
                scope: serde_json::from_value(payload["scope"].clone()).unwrap_or_default(),
                resource: payload["resource"].as_str().map(str::to_string),
                nonce: r.get(4)?,
                code_challenge: r.get(5)?,
                expires: r.get(6)?,
                used_at: r.get(7)?,
            })
        })
        .optional()?)
}

/// Marks a code used, at the transaction's time.
pub fn mark_used(w: &Write, digest: &[u8]) -> Result<()> {
    w.execute(
        "UPDATE authorization_codes SET used_at = ?2 WHERE digest = ?1",
        params![digest, w.now],
    )?;
    Ok(())
}

/// Drops the codes that have expired, used or not.
pub fn purge_expired(w: &Write) -> Result<usize> {
    Ok(w.execute(
        "DELETE FROM authorization_codes WHERE expires < ?1",
        params![w.now],
    )?)
}
