//! WebAuthn ceremonies in progress: webauthn-rs's serialised state, taken out once.

use super::Write;
use crate::error::Result;
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct Ceremony {
    pub id: String,
    /// `register`, `login` or `signup` (a passkey that makes a new account).
    pub kind: String,
    pub user_id: Option<String>,
    pub link_code_id: Option<String>,
    pub state: String,
    pub created_at: i64,
    pub expires: i64,
    /// The SHA-256 of the binding cookie of the browser that began it (sign-ups).
    pub browser: Option<Vec<u8>>,
}

pub fn insert(c: &Write, x: &Ceremony) -> Result<()> {
    c.execute(
        "INSERT INTO webauthn_ceremonies (id, kind, user_id, link_code_id, state, created_at,
         expires, browser) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            x.id,
            x.kind,
            x.user_id,
            x.link_code_id,
            x.state,
            x.created_at,
            x.expires,
            x.browser
        ],
    )?;
    Ok(())
}

/// Takes a ceremony out: it is deleted whatever comes of it, so its state is used once.
pub fn take(c: &Write, id: &str) -> Result<Option<Ceremony>> {
    let found = c
        .prepare_cached(
            "SELECT id, kind, user_id, link_code_id, state, created_at, expires, browser
             FROM webauthn_ceremonies WHERE id = ?1",
        )?
        .query_row(params![id], |r| {
            Ok(Ceremony {
                id: r.get(0)?,
                kind: r.get(1)?,
                user_id: r.get(2)?,
                link_code_id: r.get(3)?,
                state: r.get(4)?,
                created_at: r.get(5)?,
                expires: r.get(6)?,
                browser: r.get(7)?,
            })
        })
        .optional()?;
    if found.is_some() {
        c.execute("DELETE FROM webauthn_ceremonies WHERE id = ?1", params![id])?;
    }
    Ok(found)
}

pub fn purge_expired(c: &Write) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM webauthn_ceremonies WHERE expires < ?1",
        params![c.now],
    )?)
}
