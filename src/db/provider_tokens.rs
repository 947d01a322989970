//! Provider tokens of identities whose instance syncs, sealed with the master key.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct ProviderToken {
    pub identity_id: String,
    /// The access and refresh token, sealed (see `core::upstream`).
    pub sealed: Vec<u8>,
    /// Unix ms; None when the provider gave no expiry.
    pub expires_at: Option<i64>,
    /// Granted scopes, space-separated.
    pub scopes: String,
    pub needs_login: bool,
}

/// Stores an identity's tokens, replacing what it had (a new login clears `needs_login`).
pub fn upsert(c: &Write, t: &ProviderToken) -> Result<()> {
    c.execute(
        "INSERT INTO provider_tokens (identity_id, sealed, expires_at, scopes, needs_login,
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (identity_id) DO UPDATE SET sealed = excluded.sealed,
         expires_at = excluded.expires_at, scopes = excluded.scopes,
         needs_login = excluded.needs_login, updated_at = excluded.updated_at",
        params![
            t.identity_id,
            t.sealed,
            t.expires_at,
            t.scopes,
            t.needs_login,
            c.now
        ],
    )?;
    Ok(())
}

pub fn get(c: &Read, identity_id: &str) -> Result<Option<ProviderToken>> {
    Ok(c.prepare_cached(
        "SELECT identity_id, sealed, expires_at, scopes, needs_login FROM provider_tokens
         WHERE identity_id = ?1",
    )?
    .query_row(params![identity_id], |r| {
        Ok(ProviderToken {
            identity_id: r.get(0)?,
            sealed: r.get(1)?,
            expires_at: r.get(2)?,
            scopes: r.get(3)?,
            needs_login: r.get(4)?,
        })
    })
    .optional()?)
}

pub fn mark_needs_login(c: &Write, identity_id: &str) -> Result<()> {
    c.execute(
        "UPDATE provider_tokens SET needs_login = 1, updated_at = ?2 WHERE identity_id = ?1",
        params![identity_id, c.now],
    )?;
    Ok(())
}
