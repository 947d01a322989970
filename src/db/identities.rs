//! Identities ("login data"): one way for a user to log in, under one strategy instance.
//! `UNIQUE (instance_id, subject)` makes an identity belong to at most one user on every path.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, Row, params};
use serde_json::Value;

/// Where an identity stands, stored as its Gropius name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// A way its user logs in.
    Valid,
    /// Found by a login, waiting to be registered or linked within the registration window.
    WaitingForRegister,
    Blocked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Valid => "VALID",
            State::WaitingForRegister => "WAITING_FOR_REGISTER",
            State::Blocked => "BLOCKED",
        }
    }
}

impl rusqlite::types::ToSql for State {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for State {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match v.as_str()? {
            "VALID" => Ok(State::Valid),
            "WAITING_FOR_REGISTER" => Ok(State::WaitingForRegister),
            "BLOCKED" => Ok(State::Blocked),
            _ => Err(rusqlite::types::FromSqlError::InvalidType),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub user_id: Option<String>,
    pub instance_id: String,
    pub subject: String,
    pub state: State,
    pub expires: Option<i64>,
    pub password_hash: Option<String>,
    /// What the provider told us about the person: username, displayName, email.
    pub profile: Value,
    pub created_at: i64,
}

const COLS: &str =
    "id, user_id, instance_id, subject, state, expires, password_hash, profile, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Identity> {
    let profile: String = r.get(7)?;
    Ok(Identity {
        id: r.get(0)?,
        user_id: r.get(1)?,
        instance_id: r.get(2)?,
        subject: r.get(3)?,
        state: r.get(4)?,
        expires: r.get(5)?,
        password_hash: r.get(6)?,
        profile: serde_json::from_str(&profile).unwrap_or(Value::Null),
        created_at: r.get(8)?,
    })
}

pub fn get(c: &Read, id: &str) -> Result<Option<Identity>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM identities WHERE id = ?1"))?;
    Ok(st.query_row(params![id], from_row).optional()?)
}

pub fn by_subject(c: &Read, instance_id: &str, subject: &str) -> Result<Option<Identity>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM identities WHERE instance_id = ?1 AND subject = ?2"
    ))?;
    Ok(st
        .query_row(params![instance_id, subject], from_row)
        .optional()?)
}

pub fn list_for_user(c: &Read, user_id: &str) -> Result<Vec<Identity>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM identities WHERE user_id = ?1
         ORDER BY coalesce(linked_at, created_at), created_at, id"
    ))?;
    let rows = st.query_map(params![user_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn insert(c: &Write, i: &Identity) -> Result<()> {
    c.execute(
        &format!("INSERT INTO identities ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            i.id,
            i.user_id,
            i.instance_id,
            i.subject,
            i.state,
            i.expires,
            i.password_hash,
            i.profile.to_string(),
            i.created_at
        ],
    )
    .map_err(|e| super::unique_or(e, "this identity already exists on the strategy instance"))?;
    Ok(())
}

pub fn set_password_hash(c: &Write, id: &str, hash: &str) -> Result<()> {
    c.execute(
        "UPDATE identities SET password_hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    Ok(())
}

/// What the provider told us about the person, as of its latest login.
pub fn set_profile(c: &Write, id: &str, profile: &Value) -> Result<()> {
    c.execute(
        "UPDATE identities SET profile = ?2 WHERE id = ?1",
        params![id, profile.to_string()],
    )?;
    Ok(())
}

pub fn count_for_instance(c: &Read, instance_id: &str) -> Result<i64> {
    Ok(c.query_row(
        "SELECT count(*) FROM identities WHERE instance_id = ?1",
        params![instance_id],
        |r| r.get(0),
    )?)
}

pub fn delete_for_instance(c: &Write, instance_id: &str) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM identities WHERE instance_id = ?1",
        params![instance_id],
    )?)
}

/// Attaches a waiting identity to `user_id`, if it is still waiting and unexpired. Returns
/// whether it did: of several racing requests, exactly one sees true.
pub fn claim_waiting(c: &Write, id: &str, user_id: &str, now: i64) -> Result<bool> {
    Ok(c.execute(
        "UPDATE identities SET user_id = ?2, state = 'VALID', expires = NULL, linked_at = ?3
         WHERE id = ?1 AND state = 'WAITING_FOR_REGISTER' AND user_id IS NULL AND expires > ?3",
        params![id, user_id, now],
    )? == 1)
}

pub fn move_all(c: &Write, from_user: &str, to_user: &str) -> Result<usize> {
    Ok(c.execute(
        "UPDATE identities SET user_id = ?2, linked_at = ?3 WHERE user_id = ?1",
        params![from_user, to_user, super::now_ms()],
    )?)
}

pub fn set_user(c: &Write, id: &str, user_id: &str) -> Result<()> {
    c.execute(
        "UPDATE identities SET user_id = ?2, linked_at = ?3 WHERE id = ?1",
        params![id, user_id, super::now_ms()],
    )?;
    Ok(())
}

pub fn delete(c: &Write, id: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM identities WHERE id = ?1", params![id])? > 0)
}

/// Valid ways for `user_id` to log in (passkeys are identities too, so they count).
pub fn count_valid(c: &Read, user_id: &str) -> Result<i64> {
    Ok(c.query_row(
        "SELECT count(*) FROM identities WHERE user_id = ?1 AND state = 'VALID'",
        params![user_id],
        |r| r.get(0),
    )?)
}

/// Drops identities that waited for registration past their window (their sessions go along).
pub fn purge_expired_waiting(c: &Write, now: i64) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM identities WHERE state = 'WAITING_FOR_REGISTER' AND expires <= ?1",
        params![now],
    )?)
}
