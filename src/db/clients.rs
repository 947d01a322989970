//! OAuth clients and their secrets. Secrets are stored only as SHA-256 digests, keyed by a
//! fingerprint derived from the same digest, so the token endpoint finds one with a key lookup.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row, params};

#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    /// As stored; the core replaces it for built-in clients, whose URLs follow the public URL.
    pub redirect_urls: Vec<String>,
    pub is_valid: bool,
    pub requires_secret: bool,
    pub valid_scopes: Vec<String>,
    pub client_credential_flow_user: Option<String>,
    pub allow_password_grant: bool,
    pub builtin: bool,
    pub created_at: i64,
    /// The RFC 8707 resources the client may ask tokens for, besides keyward's own URL.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SecretRow {
    pub fingerprint: String,
    pub client_id: String,
    pub digest: Vec<u8>,
    pub censored: String,
    pub created_at: i64,
}

const COLS: &str = "id, name, redirect_urls, is_valid, requires_secret, valid_scopes, \
                    client_credential_flow_user, allow_password_grant, builtin, created_at, resources";

/// The same columns qualified for the join in `for_auth`.
const C_COLS: &str = "c.id, c.name, c.redirect_urls, c.is_valid, c.requires_secret, c.valid_scopes, \
                      c.client_credential_flow_user, c.allow_password_grant, c.builtin, c.created_at, \
                      c.resources";

/// A JSON array of strings column; a damaged value is a storage error, not an empty list.
fn string_list(r: &Row, i: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = r.get(i)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
}

fn from_row(r: &Row) -> rusqlite::Result<ClientRow> {
    Ok(ClientRow {
        id: r.get(0)?,
        name: r.get(1)?,
        redirect_urls: string_list(r, 2)?,
        is_valid: r.get(3)?,
        requires_secret: r.get(4)?,
        valid_scopes: string_list(r, 5)?,
        client_credential_flow_user: r.get(6)?,
        allow_password_grant: r.get(7)?,
        builtin: r.get(8)?,
        created_at: r.get(9)?,
        resources: string_list(r, 10)?,
    })
}

fn to_json(list: &[String]) -> String {
    serde_json::Value::from(list).to_string()
}

pub fn get(c: &Read, id: &str) -> Result<Option<ClientRow>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM oauth_clients WHERE id = ?1"))?;
    Ok(st.query_row(params![id], from_row).optional()?)
}

/// Built-in clients first, then the others oldest first.
pub fn list(c: &Read) -> Result<Vec<ClientRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM oauth_clients ORDER BY builtin DESC, created_at, id"
    ))?;
    let rows = st.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn insert(c: &Write, r: &ClientRow) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO oauth_clients ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            r.id,
            r.name,
            to_json(&r.redirect_urls),
            r.is_valid,
            r.requires_secret,
            to_json(&r.valid_scopes),
            r.client_credential_flow_user,
            r.allow_password_grant,
            r.builtin,
            r.created_at,
            to_json(&r.resources)
        ],
    )
    .map_err(|e| super::unique_or(e, "a client with this id already exists"))?;
    Ok(())
}

/// Writes every changeable column; `id`, `builtin` and `created_at` never change.
pub fn update(c: &Write, r: &ClientRow) -> Result<()> {
    c.execute(
        "UPDATE oauth_clients SET name = ?2, redirect_urls = ?3, is_valid = ?4, requires_secret = ?5,
         valid_scopes = ?6, client_credential_flow_user = ?7, allow_password_grant = ?8,
         resources = ?9
         WHERE id = ?1",
        params![
            r.id,
            r.name,
            to_json(&r.redirect_urls),
            r.is_valid,
            r.requires_secret,
            to_json(&r.valid_scopes),
            r.client_credential_flow_user,
            r.allow_password_grant,
            to_json(&r.resources)
        ],
    )?;
    Ok(())
}

/// Deletes a client; its secrets go with it (ON DELETE CASCADE).
pub fn delete(c: &Write, id: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM oauth_clients WHERE id = ?1", params![id])? > 0)
}

/// The client and, when `fingerprint` is given, the digest of its secret with that fingerprint:
/// two primary-key lookups in one statement, whatever the number of secrets. This is the whole
/// database work of client authentication on the token endpoint.
pub fn for_auth(
    c: &Read,
    id: &str,
    fingerprint: Option<&str>,
) -> Result<Option<(ClientRow, Option<Vec<u8>>)>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {C_COLS}, s.digest FROM oauth_clients c
         LEFT JOIN client_secrets s ON s.fingerprint = ?2 AND s.client_id = c.id
         WHERE c.id = ?1"
    ))?;
    Ok(st
        .query_row(params![id, fingerprint], |r| Ok((from_row(r)?, r.get(11)?)))
        .optional()?)
}

const SECRET_COLS: &str = "fingerprint, client_id, digest, censored, created_at";

fn secret_from_row(r: &Row) -> rusqlite::Result<SecretRow> {
    Ok(SecretRow {
        fingerprint: r.get(0)?,
        client_id: r.get(1)?,
        digest: r.get(2)?,
        censored: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn insert_secret(c: &Write, s: &SecretRow) -> Result<()> {
    c.execute(
        &format!("INSERT INTO client_secrets ({SECRET_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![
            s.fingerprint,
            s.client_id,
            s.digest,
            s.censored,
            s.created_at
        ],
    )
    .map_err(|e| super::unique_or(e, "a secret with this fingerprint already exists"))?;
    Ok(())
}

/// A client's secrets, oldest first.
pub fn secrets(c: &Read, client_id: &str) -> Result<Vec<SecretRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {SECRET_COLS} FROM client_secrets WHERE client_id = ?1 ORDER BY created_at, rowid"
    ))?;
    let rows = st.query_map(params![client_id], secret_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Deletes the secret with `fingerprint` only if it belongs to `client_id`.
pub fn delete_secret(c: &Write, client_id: &str, fingerprint: &str) -> Result<bool> {
    Ok(c.execute(
        "DELETE FROM client_secrets WHERE client_id = ?1 AND fingerprint = ?2",
        params![client_id, fingerprint],
    )? > 0)
}
