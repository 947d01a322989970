//! The SQL of `keyward backup` and `keyward restore`, on plain connections outside the pool:
//! these work on files that are not (or not yet) the live database. Errors keep SQLite's own
//! words: they go to an operator's terminal, never to a client.

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

fn sql_error(what: &str, path: &Path) -> impl FnOnce(rusqlite::Error) -> Error {
    let msg = format!("{what} {}", path.display());
    move |e| Error::internal(format!("{msg}: {e}"))
}

/// Opens an existing database file; never creates one. `read_only` leaves the file as it is
/// (a backup being checked before a restore).
pub fn open_existing(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let c = Connection::open_with_flags(path, flags).map_err(sql_error("cannot open", path))?;
    c.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql_error("cannot open", path))?;
    Ok(c)
}

/// Writes a consistent copy of the database into `dest` (which must not exist or be empty):
/// one read transaction, so the server's writes go on meanwhile and none is half in the copy.
pub fn vacuum_into(c: &Connection, dest: &Path) -> Result<()> {
    let dest_str = dest
        .to_str()
        .ok_or_else(|| Error::internal(format!("{} is not a UTF-8 path", dest.display())))?;
    c.execute("VACUUM INTO ?1", [dest_str])
        .map_err(sql_error("cannot copy the database into", dest))?;
    Ok(())
}

/// A copy is one self-contained file: no write-ahead log beside it.
pub fn single_file(c: &Connection, path: &Path) -> Result<()> {
    let mode: String = c
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(sql_error("cannot finish", path))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(Error::internal(format!(
            "cannot finish {}: journal mode stays {mode}",
            path.display()
        )));
    }
    Ok(())
}

/// `PRAGMA integrity_check`: Ok when SQLite finds nothing wrong, else what it found.
pub fn integrity_check(c: &Connection) -> std::result::Result<(), String> {
    let mut st = c
        .prepare("PRAGMA integrity_check")
        .map_err(|e| e.to_string())?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| e.to_string())?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        let mut found = rows.into_iter().take(3).collect::<Vec<_>>().join("; ");
        if found.is_empty() {
            found = "no answer".into();
        }
        Err(found)
    }
}

/// What a file says about itself: its schema version, and whether it has keyward's tables.
pub struct Shape {
    pub version: u32,
    pub is_keyward: bool,
}

pub fn shape(c: &Connection) -> std::result::Result<Shape, String> {
    let version: u32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let tables: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN
             ('settings', 'users', 'identities', 'strategy_instances', 'signing_keys')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    Ok(Shape {
        version,
        is_keyward: version >= 1 && tables == 5,
    })
}

/// The sealed private keys of the signing keys (kid, sealed DER).
pub fn sealed_signing_keys(c: &Connection) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let mut st = c
        .prepare("SELECT kid, private_key FROM signing_keys ORDER BY created_at DESC")
        .map_err(|e| e.to_string())?;
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| e.to_string())
}

/// Folds the write-ahead log into the database file and empties it, so that the file alone
/// holds every committed write. Needs nobody else to use the database.
pub fn checkpoint_truncate(c: &Connection, path: &Path) -> Result<()> {
    let (busy, _, _): (i64, i64, i64) = c
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(sql_error("cannot checkpoint", path))?;
    if busy != 0 {
        return Err(Error::internal(format!(
            "cannot checkpoint {}: it is busy",
            path.display()
        )));
    }
    Ok(())
}
