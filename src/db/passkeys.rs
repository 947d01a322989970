//! Passkeys (the public half of a WebAuthn credential, one row per passkey identity) and the
//! users' WebAuthn user handles.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, Row, params};

/// A passkey as stored, with what its identity says about it.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    /// Its identity's id: the `passkeyId` of the passwordless API.
    pub identity_id: String,
    pub credential_id: Vec<u8>,
    pub name: String,
    /// webauthn-rs's `Passkey` as JSON.
    pub credential: String,
    pub last_used_at: Option<i64>,
    /// From the identity: its user, and when it was registered.
    pub user_id: Option<String>,
    pub created_at: i64,
}

const COLS: &str = "p.identity_id, p.credential_id, p.name, p.credential, p.last_used_at, \
                    i.user_id, i.created_at";

fn from_row(r: &Row) -> rusqlite::Result<PasskeyRow> {
    Ok(PasskeyRow {
        identity_id: r.get(0)?,
        credential_id: r.get(1)?,
        name: r.get(2)?,
        credential: r.get(3)?,
        last_used_at: r.get(4)?,
        user_id: r.get(5)?,
        created_at: r.get(6)?,
    })
}

/// Stores the passkey of identity `identity_id` (inserted just before, in the same transaction).
/// A credential id already registered (to anyone) is a conflict.
pub fn insert(
    c: &Write,
    identity_id: &str,
    credential_id: &[u8],
    name: &str,
    credential: &str,
) -> Result<()> {
    c.execute(
        "INSERT INTO passkeys (identity_id, credential_id, name, credential) VALUES (?1, ?2, ?3, ?4)",
        params![identity_id, credential_id, name, credential],
    )
    .map_err(|e| super::unique_or(e, "this passkey is already registered"))?;
    Ok(())
}

pub fn get(c: &Read, identity_id: &str) -> Result<Option<PasskeyRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM passkeys p JOIN identities i ON i.id = p.identity_id
         WHERE p.identity_id = ?1"
    ))?;
    Ok(st.query_row(params![identity_id], from_row).optional()?)
}

pub fn by_credential_id(c: &Read, credential_id: &[u8]) -> Result<Option<PasskeyRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM passkeys p JOIN identities i ON i.id = p.identity_id
         WHERE p.credential_id = ?1"
    ))?;
    Ok(st.query_row(params![credential_id], from_row).optional()?)
}

/// A user's passkeys, oldest first.
pub fn list_for_user(c: &Read, user_id: &str) -> Result<Vec<PasskeyRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM passkeys p JOIN identities i ON i.id = p.identity_id
         WHERE i.user_id = ?1 ORDER BY i.created_at, p.identity_id"
    ))?;
    let rows = st.query_map(params![user_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn set_name(c: &Write, identity_id: &str, name: &str) -> Result<()> {
    c.execute(
        "UPDATE passkeys SET name = ?2 WHERE identity_id = ?1",
        params![identity_id, name],
    )?;
    Ok(())
}

/// After a login: the credential as webauthn-rs updated it (counter, backup flags), and when.
pub fn record_use(c: &Write, identity_id: &str, credential: &str) -> Result<()> {
    c.execute(
        "UPDATE passkeys SET credential = ?2, last_used_at = ?3 WHERE identity_id = ?1",
        params![identity_id, credential, c.now],
    )?;
    Ok(())
}

/// A user's WebAuthn user handle, if a ceremony made one.
pub fn handle(c: &Read, user_id: &str) -> Result<Option<String>> {
    let mut st = c.prepare_cached("SELECT webauthn_handle FROM users WHERE id = ?1")?;
    Ok(st
        .query_row(params![user_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

pub fn set_handle(c: &Write, user_id: &str, handle: &str) -> Result<()> {
    c.execute(
        "UPDATE users SET webauthn_handle = ?2 WHERE id = ?1 AND webauthn_handle IS NULL",
        params![user_id, handle],
    )?;
    Ok(())
}

/// The user whose WebAuthn user handle is `handle`.
pub fn user_by_handle(c: &Read, handle: &str) -> Result<Option<String>> {
    let mut st = c.prepare_cached("SELECT id FROM users WHERE webauthn_handle = ?1")?;
    Ok(st.query_row(params![handle], |r| r.get(0)).optional()?)
}
