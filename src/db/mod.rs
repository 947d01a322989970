//! The store: an r2d2 pool of SQLite connections, the schema migrations, and one module per
//! table family, each owning its SQL. Async callers go through `Db::read` / `Db::write`, which
//! run on tokio's blocking pool so that SQLite never blocks an async worker.

pub mod audit;
pub mod backup;
pub mod ceremonies;
pub mod clients;
pub mod codes;
pub mod identities;
pub mod instances;
pub mod keys;
pub mod link_codes;
pub mod lock;
pub mod passkeys;
pub mod provider_tokens;
pub mod refresh_tokens;
pub mod revoked_tokens;
pub mod sessions;
pub mod settings;
pub mod snapshot;
pub mod stats;
pub mod transfer;
pub mod upstream_flows;
pub mod users;

use crate::error::{Error, Result};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// The whole schema; see the header of schema.sql for how versions work.
pub const SCHEMA: &str = include_str!("../../schema.sql");

#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// Writers of this process take turns here. SQLite allows one writer at a time; without
    /// this queue the others would sleep in SQLite's busy handler, which backs off in steps of
    /// milliseconds. Other processes (the CLI) still meet the busy timeout.
    writer: Arc<Mutex<()>>,
    /// Counts the writes this process has committed, so that caches of what the database said
    /// can tell whether anything may have changed since (see `auth::principal`).
    generation: Arc<AtomicU64>,
    /// Held while this process may use the database: `restore` waits for nobody to hold it.
    _lock: Arc<lock::DbLock>,
}

fn configure(c: &mut Connection) -> rusqlite::Result<()> {
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    // Switching to WAL takes a lock; a database already in WAL needs no switch, so a second
    // process (the CLI beside the server) does not contend for it.
    let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        c.pragma_update(None, "journal_mode", "WAL")?;
    }
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    // 1 MiB of page cache a connection: the working set is small, and memory counts.
    c.pragma_update(None, "cache_size", -1024)?;
    // No checkpoint inside a commit (it would hold the write lock meanwhile): the server
    // checkpoints from its housekeeping task instead (`Db::checkpoint`), and SQLite does when
    // the last connection closes.
    c.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(())
}

/// The database holds password hashes and the digests of live tokens: only its owner may read
/// it. A new database file is made 0600 before SQLite opens it (SQLite gives its `-wal` and
/// `-shm` files the database's mode), and files an older keyward left open to others are made
/// private.
fn make_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::internal(format!(
                    "cannot create {}: {e}",
                    path.display()
                )));
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = std::path::PathBuf::from(name);
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                let private = std::fs::Permissions::from_mode(mode & 0o700);
                match std::fs::set_permissions(&file, private) {
                    Ok(()) => tracing::warn!(
                        file = %file.display(),
                        "the file was open to other users (mode {mode:03o}); it is now private"
                    ),
                    Err(e) => tracing::warn!(
                        file = %file.display(),
                        error = %e,
                        "the file is open to other users (mode {mode:03o}) and cannot be made private"
                    ),
                }
            }
        }
    }
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database and upgrades its schema to the newest version.
    pub fn open(path: &Path, pool_size: u32) -> Result<Db> {
        let lock = lock::DbLock::shared(path)?;
        make_private(path)?;
        // The switch to WAL happens once here, before the pool opens its connections in
        // parallel: connections of a new database that all switch at once deadlock on the lock
        // upgrade, and SQLite answers that at once with "database is locked" (logged by r2d2).
        configure(&mut Connection::open(path)?)?;
        let manager = SqliteConnectionManager::file(path).with_init(configure);
        // SQLite connections to a local file do not go stale, so no test query per checkout.
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
        let db = Db {
            pool,
            writer: Arc::default(),
            generation: Arc::default(),
            _lock: Arc::new(lock),
        };
        let mut conn = db.pool.get()?;
        migrate(&mut conn, latest_version())?;
        drop(conn);
        Ok(db)
    }

    /// Copies the write-ahead log into the database without waiting for readers or writers.
    /// Blocking: call it from the blocking pool.
    pub fn checkpoint(&self) -> Result<()> {
        let conn = self.pool.get()?;
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Whether the database answers a query.
    /// Connections the pool holds, and those of them lent out now.
    pub fn pool_use(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.connections - s.idle_connections)
    }

    pub async fn ping(&self) -> Result<()> {
        self.read(|r| Ok(r.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    /// The number of writes this process has committed so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Runs read-only work on the blocking pool, in one read transaction: every statement of
    /// `f` sees the same snapshot of the database.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Read) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        // Log lines of the work (a database error, say) carry the request's id.
        let id = crate::error::current_request();
        tokio::task::spawn_blocking(move || crate::error::on_thread(id, || db.read_blocking(f)))
            .await
            .map_err(|e| Error::internal(format!("database task failed: {e}")))?
    }

    /// `read` for callers that are already off the async workers (start-up, the CLI, tasks
    /// on the blocking pool).
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Read) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let r = Read { tx, now: now_ms() };
        let out = f(&r)?;
        // Nothing was written: ending it either way only releases the snapshot.
        r.tx.commit()?;
        Ok(out)
    }

    /// Runs a change in one `BEGIN IMMEDIATE` transaction on the blocking pool: it commits
    /// when `f` returns Ok and rolls back otherwise, so a request changes all or nothing.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Write) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        let id = crate::error::current_request();
        tokio::task::spawn_blocking(move || crate::error::on_thread(id, || db.write_blocking(f)))
            .await
            .map_err(|e| Error::internal(format!("database task failed: {e}")))?
    }

    /// `write` for callers that are already off the async workers.
    pub fn write_blocking<T>(&self, f: impl FnOnce(&Write) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get()?;
        let _turn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let w = Write(Read { tx, now: now_ms() });
        let out = f(&w)?;
        w.0.tx.commit()?;
        // After the commit: a reader that saw the old generation re-reads what changed.
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(out)
    }
}

/// A read transaction: one snapshot of the database, and the time, taken once when it began,
/// that every rule inside it goes by. The `db` functions that only read take this.
pub struct Read<'c> {
    tx: Transaction<'c>,
    /// Unix milliseconds at the start of the transaction.
    pub now: i64,
}

impl std::ops::Deref for Read<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

/// A write transaction (`BEGIN IMMEDIATE`): everything done through it commits together or not
/// at all. The `db` functions that change rows take this; it reads like a `Read` too.
pub struct Write<'c>(Read<'c>);

impl<'c> std::ops::Deref for Write<'c> {
    type Target = Read<'c>;
    fn deref(&self) -> &Read<'c> {
        &self.0
    }
}

/// The schema split into `(version, sql)` blocks.
pub fn schema_blocks() -> Vec<(u32, String)> {
    let mut blocks: Vec<(u32, String)> = Vec::new();
    for line in SCHEMA.lines() {
        if let Some(v) = line.strip_prefix("-- version ") {
            let v = v.trim().parse().expect("schema.sql: bad version line");
            blocks.push((v, String::new()));
        } else if let Some((_, sql)) = blocks.last_mut() {
            sql.push_str(line);
            sql.push('\n');
        }
    }
    blocks
}

pub fn latest_version() -> u32 {
    schema_blocks().last().map(|b| b.0).unwrap_or(0)
}

/// Brings a database up to `target`, one transaction per version. Public so that tests can
/// build a database exactly as an older binary left it.
pub fn migrate(conn: &mut Connection, target: u32) -> Result<()> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > latest_version() {
        return Err(Error::internal(format!(
            "the database has schema version {current}, newer than this binary knows ({}); use a newer keyward",
            latest_version()
        )));
    }
    for (version, sql) in schema_blocks() {
        if version <= current || version > target {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(&sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "database schema upgraded");
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// True when `e` is a UNIQUE or PRIMARY KEY violation, which the surfaces answer with 409.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Maps a UNIQUE violation to a 409 with `message`, anything else as usual.
pub fn unique_or(e: rusqlite::Error, message: &str) -> Error {
    if is_unique_violation(&e) {
        Error::conflict(message)
    } else {
        e.into()
    }
}
