//! Small key/value facts about the installation (organization id, setup link, public URL).

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, params};

pub fn get(c: &Read, key: &str) -> Result<Option<String>> {
    Ok(c.query_row(
        "SELECT value FROM settings WHERE key = ?1",
        params![key],
        |r| r.get(0),
    )
    .optional()?)
}

pub fn set(c: &Write, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn delete(c: &Write, key: &str) -> Result<()> {
    c.execute("DELETE FROM settings WHERE key = ?1", params![key])?;
    Ok(())
}
