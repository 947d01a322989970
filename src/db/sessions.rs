//! Active logins (sessions). A session ends by setting `ended_at`; tokens that name it are
//! refused from then on.

use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, Row, params};

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

pub fn get(c: &Connection, id: &str) -> Result<Option<Session>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM active_logins WHERE id = ?1"))?;
    Ok(st.query_row(params![id], from_row).optional()?)
}

pub fn insert(c: &Connection, s: &Session) -> Result<()> {
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

/// Live sessions of a user, newest first.
pub fn list_for_user(c: &Connection, user_id: &str, now: i64) -> Result<Vec<Session>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM active_logins WHERE user_id = ?1 AND ended_at IS NULL
         AND expires > ?2 AND absolute_expires > ?2 ORDER BY created_at DESC"
    ))?;
    let rows = st.query_map(params![user_id, now], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn end(c: &Connection, id: &str, now: i64) -> Result<bool> {
    Ok(c.execute(
        "UPDATE active_logins SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
        params![id, now],
    )? > 0)
}

pub fn end_all_for_user(c: &Connection, user_id: &str, now: i64) -> Result<usize> {
    Ok(c.execute(
        "UPDATE active_logins SET ended_at = ?2 WHERE user_id = ?1 AND ended_at IS NULL",
        params![user_id, now],
    )?)
}
