//! Active logins (sessions). A session ends by setting `ended_at`; tokens that name it are
//! refused from then on.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, Row, params};

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user_id: Option<String>,
    pub identity_id: Option<String>,
    pub client_id: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires: i64,
    pub absolute_expires: i64,
    pub ended_at: Option<i64>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

impl Session {
    pub fn is_live(&self, now: i64) -> bool {
        self.ended_at.is_none() && now < self.expires && now < self.absolute_expires
    }
}

const COLS: &str = "id, user_id, identity_id, client_id, created_at, last_used_at, expires, \
                    absolute_expires, ended_at, address, user_agent";

fn from_row(r: &Row) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        user_id: r.get(1)?,
        identity_id: r.get(2)?,
        client_id: r.get(3)?,
        created_at: r.get(4)?,
        last_used_at: r.get(5)?,
        expires: r.get(6)?,
        absolute_expires: r.get(7)?,
        ended_at: r.get(8)?,
        address: r.get(9)?,
        user_agent: r.get(10)?,
    })
}

pub fn get(c: &Read, id: &str) -> Result<Option<Session>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM active_logins WHERE id = ?1"))?;
    Ok(st.query_row(params![id], from_row).optional()?)
}

pub fn insert(c: &Write, s: &Session) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO active_logins ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            s.id,
            s.user_id,
            s.identity_id,
            s.client_id,
            s.created_at,
            s.last_used_at,
            s.expires,
            s.absolute_expires,
            s.ended_at,
            s.address,
            s.user_agent
        ],
    )?;
    Ok(())
}

/// Sessions that have neither ended nor expired, of every user (for the metrics).
pub fn count_live(c: &Read, now: i64) -> Result<i64> {
    Ok(c.prepare_cached(
        "SELECT count(*) FROM active_logins WHERE ended_at IS NULL
         AND expires > ?1 AND absolute_expires > ?1",
    )?
    .query_row([now], |r| r.get(0))?)
}

/// Live sessions of a user, newest first.
pub fn list_for_user(c: &Read, user_id: &str, now: i64) -> Result<Vec<Session>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM active_logins WHERE user_id = ?1 AND ended_at IS NULL
         AND expires > ?2 AND absolute_expires > ?2 ORDER BY created_at DESC"
    ))?;
    let rows = st.query_map(params![user_id, now], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn end(c: &Write, id: &str, now: i64) -> Result<bool> {
    Ok(c.execute(
        "UPDATE active_logins SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
        params![id, now],
    )? > 0)
}

pub fn end_all_for_user(c: &Write, user_id: &str, now: i64) -> Result<usize> {
    Ok(c.execute(
        "UPDATE active_logins SET ended_at = ?2 WHERE user_id = ?1 AND ended_at IS NULL",
        params![user_id, now],
    )?)
}

/// Slides the inactivity expiry of a session that is being used.
pub fn touch(c: &Write, id: &str, now: i64, expires: i64) -> Result<()> {
    c.execute(
        "UPDATE active_logins SET last_used_at = ?2, expires = min(?3, absolute_expires) WHERE id = ?1",
        params![id, now, expires],
    )?;
    Ok(())
}

pub fn set_cookie_digest(c: &Write, id: &str, digest: &[u8]) -> Result<()> {
    c.execute(
        "UPDATE active_logins SET cookie_digest = ?2 WHERE id = ?1",
        params![id, digest],
    )?;
    Ok(())
}

pub fn cookie_digest(c: &Read, id: &str) -> Result<Option<Vec<u8>>> {
    Ok(c.query_row(
        "SELECT cookie_digest FROM active_logins WHERE id = ?1",
        params![id],
        |r| r.get(0),
    )
    .optional()?
    .flatten())
}

/// The live session that client-credentials tokens of `client_id` for `user_id` share.
pub fn client_session(
    c: &Read,
    client_id: &str,
    user_id: &str,
    now: i64,
) -> Result<Option<String>> {
    let mut st = c.prepare_cached(
        "SELECT id FROM active_logins WHERE client_id = ?1 AND user_id = ?2 AND identity_id IS NULL
         AND ended_at IS NULL AND expires > ?3 AND absolute_expires > ?3
         ORDER BY created_at DESC LIMIT 1",
    )?;
    Ok(st
        .query_row(params![client_id, user_id, now], |r| r.get(0))
        .optional()?)
}

/// Gives a session (a login to an identity that waited for registration) its user, and a fresh
/// inactivity expiry, as on every login.
pub fn assign_user(c: &Write, id: &str, user_id: &str, expires: i64) -> Result<()> {
    c.execute(
        "UPDATE active_logins SET user_id = ?2, expires = min(?3, absolute_expires), last_used_at = ?4
         WHERE id = ?1 AND ended_at IS NULL",
        params![id, user_id, expires, c.now],
    )?;
    Ok(())
}

/// Ends every session that logged in through `identity_id` (the identity changed owners).
pub fn end_for_identity(c: &Write, identity_id: &str, now: i64) -> Result<usize> {
    Ok(c.execute(
        "UPDATE active_logins SET ended_at = ?2 WHERE identity_id = ?1 AND ended_at IS NULL",
        params![identity_id, now],
    )?)
}

/// Drops the sessions that ended (or expired) before `before`, with their codes and refresh
/// tokens.
pub fn purge_ended(c: &Write, before: i64) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM active_logins WHERE coalesce(ended_at, min(expires, absolute_expires)) < ?1",
        params![before],
    )?)
}
