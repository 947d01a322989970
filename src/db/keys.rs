//! Signing keys. The private half is sealed with the master key before it is stored.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::params;

pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// Keys still worth loading: the signing one and those retired after `since`.
pub fn list_live(c: &Read, since: i64) -> Result<Vec<KeyRow>> {
    let mut st = c.prepare_cached(
        "SELECT kid, alg, private_key, public_jwk, created_at, retired_at FROM signing_keys
         WHERE retired_at IS NULL OR retired_at > ?1 ORDER BY created_at DESC, kid",
    )?;
    let rows = st.query_map(params![since], |r| {
        Ok(KeyRow {
            kid: r.get(0)?,
            alg: r.get(1)?,
            private_key: r.get(2)?,
            public_jwk: r.get(3)?,
            created_at: r.get(4)?,
            retired_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The kids and public JWKs of the same keys as `list_live`, newest first; no private key is
/// read.
pub fn public_jwks(c: &Read, since: i64) -> Result<Vec<(String, String)>> {
    let mut st = c.prepare_cached(
        "SELECT kid, public_jwk FROM signing_keys
         WHERE retired_at IS NULL OR retired_at > ?1 ORDER BY created_at DESC, kid",
    )?;
    let rows = st.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Adds `key` as the signing key and retires every other one, in the caller's transaction.
pub fn insert_and_retire_others(c: &Write, key: &KeyRow) -> Result<()> {
    c.execute(
        "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL",
        params![key.created_at],
    )?;
    c.execute(
        "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at, retired_at)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
        params![
            key.kid,
            key.alg,
            key.private_key,
            key.public_jwk,
            key.created_at
        ],
    )?;
    Ok(())
}

pub fn count_active(c: &Read) -> Result<i64> {
    Ok(c.query_row(
        "SELECT count(*) FROM signing_keys WHERE retired_at IS NULL",
        [],
        |r| r.get(0),
    )?)
}

/// A key without its private half, for listing.
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// Every stored key, newest first; no private key is read. `limit` bounds the answer of an
/// installation that has rotated very often.
pub fn list_info(c: &Read, limit: u32) -> Result<Vec<KeyInfo>> {
    let mut st = c.prepare_cached(
        "SELECT kid, alg, created_at, retired_at FROM signing_keys
         ORDER BY created_at DESC, kid LIMIT ?1",
    )?;
    let rows = st.query_map(params![limit], |r| {
        Ok(KeyInfo {
            kid: r.get(0)?,
            alg: r.get(1)?,
            created_at: r.get(2)?,
            retired_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
