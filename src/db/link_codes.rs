//! One-time codes of passkey links, stored as the SHA-256 digest of the code.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct LinkCode {
    pub id: String,
    pub user_id: String,
    pub digest: Vec<u8>,
    pub created_at: i64,
    pub expires: i64,
    pub failed_tries: i64,
    pub used_at: Option<i64>,
}

pub fn insert(c: &Write, l: &LinkCode) -> Result<()> {
    c.execute(
        "INSERT INTO passkey_link_codes (id, user_id, digest, created_at, expires, failed_tries,
         used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            l.id,
            l.user_id,
            l.digest,
            l.created_at,
            l.expires,
            l.failed_tries,
            l.used_at
        ],
    )?;
    Ok(())
}

pub fn get(c: &Read, id: &str) -> Result<Option<LinkCode>> {
    let mut st = c.prepare_cached(
        "SELECT id, user_id, digest, created_at, expires, failed_tries, used_at
         FROM passkey_link_codes WHERE id = ?1",
    )?;
    Ok(st
        .query_row(params![id], |r| {
            Ok(LinkCode {
                id: r.get(0)?,
                user_id: r.get(1)?,
                digest: r.get(2)?,
                created_at: r.get(3)?,
                expires: r.get(4)?,
                failed_tries: r.get(5)?,
                used_at: r.get(6)?,
            })
        })
        .optional()?)
}

/// Counts a wrong try.
pub fn count_failure(c: &Write, id: &str) -> Result<()> {
    c.execute(
        "UPDATE passkey_link_codes SET failed_tries = failed_tries + 1 WHERE id = ?1",
        params![id],
    )?;
    Ok(())
}

/// Voids a code whose mail could not be sent: its digest is erased (no code matches an empty
/// digest), which is also how the code is told apart from one voided by wrong tries.
pub fn void_unsent(c: &Write, id: &str) -> Result<()> {
    c.execute(
        "UPDATE passkey_link_codes SET digest = x'' WHERE id = ?1",
        params![id],
    )?;
    Ok(())
}

pub fn mark_used(c: &Write, id: &str) -> Result<()> {
    c.execute(
        "UPDATE passkey_link_codes SET used_at = ?2 WHERE id = ?1",
        params![id, c.now],
    )?;
    Ok(())
}

/// Drops the codes that expired before `before` (used, voided or not): until then a dead code
/// is still recognised, so that its link says why it no longer works.
pub fn purge_expired(c: &Write, before: i64) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM passkey_link_codes WHERE expires < ?1",
        params![before],
    )?)
}
