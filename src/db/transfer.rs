//! The SQL of `keyward users export` and `keyward users import`: one pass over every user for
//! the export, and cached prepared statements for the import's checks and inserts, so that a
//! million lines cost a million executions of the same few statements.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::params;

/// A user as the export writes it.
pub struct ExportUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub is_blocked: bool,
    pub created_at: i64,
}

/// One of a user's identities: its instance's name (its id when it has none), the instance's
/// type, the subject and the password hash.
pub struct ExportIdentity {
    pub instance: String,
    pub kind: String,
    pub subject: String,
    pub password_hash: Option<String>,
}

/// Calls `f` with every user (in the order they were made) and their valid identities, all
/// from the one snapshot `c` sees.
pub fn for_each_user(
    c: &Read,
    mut f: impl FnMut(ExportUser, Vec<ExportIdentity>) -> Result<()>,
) -> Result<()> {
    let mut users = c.prepare(
        "SELECT id, username, display_name, email, is_admin, is_blocked, created_at
         FROM users ORDER BY rowid",
    )?;
    let mut idents = c.prepare(
        "SELECT coalesce(s.name, s.id), s.type, i.subject, i.password_hash
         FROM identities i JOIN strategy_instances s ON s.id = i.instance_id
         WHERE i.user_id = ?1 AND i.state = 'VALID'
         ORDER BY coalesce(i.linked_at, i.created_at), i.created_at, i.id",
    )?;
    let mut rows = users.query([])?;
    while let Some(r) = rows.next()? {
        let user = ExportUser {
            id: r.get(0)?,
            username: r.get(1)?,
            display_name: r.get(2)?,
            email: r.get(3)?,
            is_admin: r.get(4)?,
            is_blocked: r.get(5)?,
            created_at: r.get(6)?,
        };
        let list = idents
            .query_map(params![user.id], |r| {
                Ok(ExportIdentity {
                    instance: r.get(0)?,
                    kind: r.get(1)?,
                    subject: r.get(2)?,
                    password_hash: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        f(user, list)?;
    }
    Ok(())
}

/// Every strategy instance: (id, name, type).
pub fn instances(c: &Read) -> Result<Vec<(String, Option<String>, String)>> {
    let mut st = c.prepare("SELECT id, name, type FROM strategy_instances")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn user_id_exists(c: &Read, id: &str) -> Result<bool> {
    let mut st = c.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")?;
    Ok(st.query_row(params![id], |r| r.get(0))?)
}

/// Usernames compare without case (the column's collation), as at registration.
pub fn username_exists(c: &Read, username: &str) -> Result<bool> {
    let mut st = c.prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)")?;
    Ok(st.query_row(params![username], |r| r.get(0))?)
}

pub fn identity_exists(c: &Read, instance_id: &str, subject: &str) -> Result<bool> {
    let mut st = c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM identities WHERE instance_id = ?1 AND subject = ?2)",
    )?;
    Ok(st.query_row(params![instance_id, subject], |r| r.get(0))?)
}

/// The import touches every index of two growing tables: with the pool's small page cache
/// each insert would read and write pages through the kernel. The CLI's connection may use
/// more memory for the minutes an import takes.
pub fn import_cache(c: &Write) -> Result<()> {
    c.pragma_update(None, "cache_size", -65_536)?;
    Ok(())
}

/// A user row as the import makes it.
pub struct NewUser<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub is_admin: bool,
    pub is_blocked: bool,
    pub created_at: i64,
}

pub fn insert_user(c: &Write, u: &NewUser) -> Result<()> {
    let mut st = c.prepare_cached(
        "INSERT INTO users (id, username, display_name, email, is_admin, is_blocked, sequence,
                            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8)",
    )?;
    st.execute(params![
        u.id,
        u.username,
        u.display_name,
        u.email,
        u.is_admin,
        u.is_blocked,
        u.created_at,
        c.now
    ])
    .map_err(|e| super::unique_or(e, "the id or username was taken meanwhile"))?;
    Ok(())
}

/// A valid identity of `user_id`; `created_at` orders a user's identities as the line listed them.
pub struct NewIdentity<'a> {
    pub user_id: &'a str,
    pub instance_id: &'a str,
    pub subject: &'a str,
    pub password_hash: Option<&'a str>,
    pub profile: &'a str,
    pub created_at: i64,
}

pub fn insert_identity(c: &Write, i: &NewIdentity) -> Result<()> {
    let mut st = c.prepare_cached(
        "INSERT INTO identities (id, user_id, instance_id, subject, state, password_hash,
                                 profile, created_at)
         VALUES (?1, ?2, ?3, ?4, 'VALID', ?5, ?6, ?7)",
    )?;
    st.execute(params![
        uuid::Uuid::new_v4().to_string(),
        i.user_id,
        i.instance_id,
        i.subject,
        i.password_hash,
        i.profile,
        i.created_at
    ])
    .map_err(|e| super::unique_or(e, "the identity was taken meanwhile"))?;
    Ok(())
}

/// A line's inserts go in under a savepoint: a line that fails half-way is taken back alone
/// and the rest of its batch stays.
pub fn savepoint(c: &Write) -> Result<()> {
    c.prepare_cached("SAVEPOINT import_line")?.execute([])?;
    Ok(())
}

pub fn release(c: &Write) -> Result<()> {
    c.prepare_cached("RELEASE import_line")?.execute([])?;
    Ok(())
}

pub fn roll_back_line(c: &Write) -> Result<()> {
    c.prepare_cached("ROLLBACK TO import_line")?.execute([])?;
    c.prepare_cached("RELEASE import_line")?.execute([])?;
    Ok(())
}
