//! The counts of the admin dashboard. Each is a `count(*)` over an index (never the table), so
//! the whole set stays fast at a million users; the caller reads them in one transaction.

use super::Read;
use crate::error::Result;

pub struct UserCounts {
    pub total: i64,
    pub admins: i64,
    pub blocked: i64,
}

pub fn users(c: &Read) -> Result<UserCounts> {
    let count =
        |sql: &str| -> Result<i64> { Ok(c.prepare_cached(sql)?.query_row([], |r| r.get(0))?) };
    Ok(UserCounts {
        total: count("SELECT count(*) FROM users")?,
        // The partial indexes `users_admins` and `users_blocked` hold exactly these rows.
        admins: count("SELECT count(*) FROM users WHERE is_admin = 1")?,
        blocked: count("SELECT count(*) FROM users WHERE is_blocked = 1")?,
    })
}

pub struct InstanceCount {
    pub id: String,
    pub name: Option<String>,
    pub kind: String,
    pub identities: i64,
}

/// Every strategy instance with the number of its identities (counted on the
/// `(instance_id, subject)` index), oldest instance first.
pub fn identities_per_instance(c: &Read) -> Result<Vec<InstanceCount>> {
    let mut st = c.prepare_cached(
        "SELECT s.id, s.name, s.type,
                (SELECT count(*) FROM identities i WHERE i.instance_id = s.id)
         FROM strategy_instances s ORDER BY s.created_at, s.id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(InstanceCount {
            id: r.get(0)?,
            name: r.get(1)?,
            kind: r.get(2)?,
            identities: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The size of the database in bytes: its file and its write-ahead log, as they are on disk
/// now (0 for a file that is not there, e.g. no WAL right after a checkpoint on close).
pub fn size_on_disk(c: &Read) -> Result<i64> {
    let path: String = c.query_row(
        "SELECT file FROM pragma_database_list WHERE name = 'main'",
        [],
        |r| r.get(0),
    )?;
    let len = |p: &str| std::fs::metadata(p).map(|m| m.len() as i64).unwrap_or(0);
    Ok(len(&path) + len(&format!("{path}-wal")))
}
