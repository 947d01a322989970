//! Access tokens revoked before their expiry (RFC 7009). A row goes once its token has expired.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::params;

pub fn is_revoked(r: &Read, jti: &str) -> Result<bool> {
    let mut st = r.prepare_cached("SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?1)")?;
    Ok(st.query_row(params![jti], |row| row.get(0))?)
}

/// Refuses the token `jti` until `expires` (Unix ms), after which it is refused anyway.
pub fn insert(w: &Write, jti: &str, expires: i64) -> Result<()> {
    w.execute(
        "INSERT OR IGNORE INTO revoked_tokens (jti, expires) VALUES (?1, ?2)",
        params![jti, expires],
    )?;
    Ok(())
}

/// Drops the rows of tokens that have expired.
pub fn purge_expired(w: &Write) -> Result<usize> {
    Ok(w.execute(
        "DELETE FROM revoked_tokens WHERE expires < ?1",
        params![w.now],
    )?)
}
