//! Refresh tokens, stored as the SHA-256 digest of the token. A used token stays until it
//! expires, so that a second use is recognised as a replay.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, params};

/// A refresh token as stored.
pub struct RefreshToken {
    pub session_id: String,
    pub client_id: Option<String>,
    /// Space-separated scopes.
    pub scope: String,
    /// The audience its access tokens get (an RFC 8707 resource); None: keyward's own URL.
    pub resource: Option<String>,
    pub expires: i64,
    pub used_at: Option<i64>,
}

/// Stores a new refresh token (its digest) made at the transaction's time.
pub fn insert(w: &Write, digest: &[u8], t: &RefreshToken) -> Result<()> {
    w.execute(
        "INSERT INTO refresh_tokens
             (digest, active_login_id, client_id, scope, resource, created_at, expires)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            digest,
            t.session_id,
            t.client_id,
            t.scope,
            t.resource,
            w.now,
            t.expires
        ],
    )?;
    Ok(())
}

pub fn get(r: &Read, digest: &[u8]) -> Result<Option<RefreshToken>> {
    let mut st = r.prepare_cached(
        "SELECT active_login_id, client_id, scope, resource, expires, used_at
         FROM refresh_tokens WHERE digest = ?1",
    )?;
    Ok(st
        .query_row(params![digest], |r| {
            Ok(RefreshToken {
                session_id: r.get(0)?,
                client_id: r.get(1)?,
                scope: r.get(2)?,
                resource: r.get(3)?,
                expires: r.get(4)?,
                used_at: r.get(5)?,
            })
        })
        .optional()?)
}

/// Marks a refresh token used, at the transaction's time.
pub fn mark_used(w: &Write, digest: &[u8]) -> Result<()> {
    w.execute(
        "UPDATE refresh_tokens SET used_at = ?2 WHERE digest = ?1",
        params![digest, w.now],
    )?;
    Ok(())
}

/// Drops the refresh tokens that have expired, used or not.
pub fn purge_expired(w: &Write) -> Result<usize> {
    Ok(w.execute(
        "DELETE FROM refresh_tokens WHERE expires < ?1",
        params![w.now],
    )?)
}
