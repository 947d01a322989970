//! Users: the accounts that identities belong to.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, Row, params};

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub is_blocked: bool,
    pub revoke_tokens_before: Option<i64>,
    pub sequence: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str = "id, username, display_name, email, is_admin, is_blocked, revoke_tokens_before, \
                    sequence, created_at, updated_at";

fn from_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        email: r.get(3)?,
        is_admin: r.get(4)?,
        is_blocked: r.get(5)?,
        revoke_tokens_before: r.get(6)?,
        sequence: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

pub fn get(c: &Read, id: &str) -> Result<Option<User>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM users WHERE id = ?1"))?;
    Ok(st.query_row(params![id], from_row).optional()?)
}

pub fn by_username(c: &Read, username: &str) -> Result<Option<User>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM users WHERE username = ?1"))?;
    Ok(st.query_row(params![username], from_row).optional()?)
}

/// Whether any user has this e-mail address (case-insensitive).
pub fn email_exists(c: &Read, email: &str) -> Result<bool> {
    let mut st = c.prepare_cached("SELECT 1 FROM users WHERE email = ?1 COLLATE NOCASE LIMIT 1")?;
    Ok(st
        .query_row(params![email], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn insert(c: &Write, u: &User) -> Result<()> {
    c.execute(
        &format!("INSERT INTO users ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            u.id,
            u.username,
            u.display_name,
            u.email,
            u.is_admin,
            u.is_blocked,
            u.revoke_tokens_before,
            u.sequence,
            u.created_at,
            u.updated_at
        ],
    )
    .map_err(|e| super::unique_or(e, "username is already taken"))?;
    Ok(())
}

/// Writes the profile and flags of `u`, and counts the change in its sequence.
pub fn update(c: &Write, u: &User) -> Result<()> {
    c.execute(
        "UPDATE users SET username = ?2, display_name = ?3, email = ?4, is_admin = ?5,
         is_blocked = ?6, revoke_tokens_before = ?7, sequence = sequence + 1, updated_at = ?8
         WHERE id = ?1",
        params![
            u.id,
            u.username,
            u.display_name,
            u.email,
            u.is_admin,
            u.is_blocked,
            u.revoke_tokens_before,
            c.now
        ],
    )
    .map_err(|e| super::unique_or(e, "username is already taken"))?;
    Ok(())
}

/// Counts a change to the user that its row does not show (an identity linked, a passkey added).
pub fn bump_sequence(c: &Write, id: &str) -> Result<()> {
    c.execute(
        "UPDATE users SET sequence = sequence + 1, updated_at = ?2 WHERE id = ?1",
        params![id, c.now],
    )?;
    Ok(())
}

pub fn delete(c: &Write, id: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM users WHERE id = ?1", params![id])? > 0)
}

/// Admins who are not blocked and still have a valid way to log in. Changes that would take
/// this from above zero to zero are refused: the installation would be locked out.
pub fn count_usable_admins(c: &Read) -> Result<i64> {
    Ok(c.query_row(
        "SELECT count(*) FROM users u WHERE u.is_admin = 1 AND u.is_blocked = 0
         AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.state = 'VALID')",
        [],
        |r| r.get(0),
    )?)
}

pub fn any_admin(c: &Read) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE is_admin = 1)",
        [],
        |r| r.get(0),
    )?)
}

/// How many users, in username order after the cursor, a display-name search reads before it
/// falls back to sorting every display-name match (see `page`).
const DISPLAY_NAME_WINDOW: u32 = 2000;

/// One page of users ordered by username, after the username `after`. `search` matches a prefix
/// of the username or display name, or the whole e-mail address, ignoring case. Each kind of
/// match is cut to one page (in username order, after the cursor) before they are merged:
/// - username: a range of the username index that starts at the later of the prefix and the
///   cursor (SQLite uses one lower bound of a range, so the other would be a filter over every
///   match before the cursor);
/// - e-mail: one lookup;
/// - display name: that index is in display-name order, so a page of its matches in username
///   order means sorting all of them (a one-letter prefix matches a large share of a million
///   users). The next `DISPLAY_NAME_WINDOW` users in username order are read first: a prefix
///   common enough to matter fills the page from them; only a rarer one (fewer than a page in
///   the window) is sorted, and a rare one has few matches to sort.
///
/// bench/scale and BENCHMARKS.md measure it at a million users.
pub fn page(c: &Read, search: Option<&str>, after: Option<&str>, limit: u32) -> Result<Vec<User>> {
    let after = after.unwrap_or("");
    let Some(s) = search.filter(|s| !s.is_empty()) else {
        let mut st = c.prepare_cached(&format!(
            "SELECT {COLS} FROM users WHERE username > ?1 ORDER BY username LIMIT ?2"
        ))?;
        return Ok(st
            .query_map(params![after, limit], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?);
    };
    let upper = format!("{s}\u{10FFFF}");
    let by_display_name = display_name_page(c, s, &upper, after, limit)?;
    // The username column compares without case (ASCII), as NOCASE does.
    let from = if after.to_ascii_lowercase() >= s.to_ascii_lowercase() {
        "username > ?3"
    } else {
        "username >= ?1"
    };
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM users WHERE id IN (
            SELECT id FROM (SELECT id FROM users
                WHERE {from} AND username < ?2 AND username > ?3
                ORDER BY username LIMIT ?4)
            UNION SELECT value FROM json_each(?5)
            UNION SELECT id FROM users WHERE email = ?1 COLLATE NOCASE AND username > ?3)
         ORDER BY username LIMIT ?4"
    ))?;
    let ids = serde_json::to_string(&by_display_name).unwrap_or_else(|_| "[]".into());
    Ok(st
        .query_map(params![s, upper, after, limit, ids], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The ids of the first `limit` users after `after` (username order) whose display name starts
/// with `s` (ignoring case; `upper` is `s` followed by the highest character).
fn display_name_page(
    c: &Read,
    s: &str,
    upper: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<String>> {
    let mut st = c.prepare_cached(
        "SELECT id, display_name >= ?1 COLLATE NOCASE AND display_name < ?2 COLLATE NOCASE
         FROM users WHERE username > ?3 ORDER BY username LIMIT ?4",
    )?;
    let mut seen = 0u32;
    let mut ids = Vec::new();
    let mut rows = st.query(params![s, upper, after, DISPLAY_NAME_WINDOW])?;
    while let Some(r) = rows.next()? {
        seen += 1;
        if r.get::<_, bool>(1)? {
            ids.push(r.get::<_, String>(0)?);
            if ids.len() as u32 == limit {
                return Ok(ids);
            }
        }
    }
    // The window held every user after the cursor: the page is exact.
    if seen < DISPLAY_NAME_WINDOW {
        return Ok(ids);
    }
    let mut st = c.prepare_cached(
        "SELECT id FROM users
         WHERE display_name >= ?1 COLLATE NOCASE AND display_name < ?2 COLLATE NOCASE
             AND username > ?3
         ORDER BY username LIMIT ?4",
    )?;
    Ok(st
        .query_map(params![s, upper, after, limit], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}
