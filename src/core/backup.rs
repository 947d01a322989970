//! `keyward backup` and `keyward restore`. A backup is a consistent copy taken while the server
//! runs (`VACUUM INTO`: one read transaction), checked, private (0600), and never written over
//! an existing file. A restore happens only while no keyward process has the database open,
//! from a file that passes the same check; the copy is made and checked beside the database and
//! then renamed over it, so on any failure the database stays exactly as it was. The master key
//! is not in a backup: it is what makes a stolen backup useless.

use crate::auth::secret::MasterKey;
use crate::config::master_key_path;
use crate::db::{self, backup as sql, lock::DbLock};
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// What a backup wrote.
pub struct Written {
    pub bytes: u64,
    pub version: u32,
}

/// What a restore put back.
pub struct Restored {
    pub version: u32,
    pub key: KeyCheck,
}

/// Whether the master key beside the database opens the restored signing keys.
pub enum KeyCheck {
    /// It does.
    Opens,
    /// The backup holds no signing key (the server makes one at its next start).
    NothingSealed,
    /// There is no key file: the server cannot open the restored keys until it is put there.
    Missing(PathBuf),
}

/// A file of ours that goes away unless it is kept: a failed step leaves nothing behind.
struct Temp {
    path: PathBuf,
    keep: bool,
}

impl Temp {
    /// A new empty private file in `dir`, named after `base`.
    fn beside(base: &Path, purpose: &str) -> Result<Temp> {
        let dir = parent_dir(base);
        let name = base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "keyward".into());
        let path = dir.join(format!(
            ".{name}.{purpose}-{}",
            crate::auth::secret::random_token(6)
        ));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(&path)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", path.display())))?;
        Ok(Temp { path, keep: false })
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
            // SQLite's journal of a copy that failed half-way.
            let _ = std::fs::remove_file(suffixed(&self.path, "-journal"));
        }
    }
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn suffixed(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Flushes a file's data, then the directory entry that names it, to the disk.
fn sync_file_and_dir(file: &Path) -> Result<()> {
    let fail = |p: &Path, e: std::io::Error| {
        Error::internal(format!("cannot flush {} to disk: {e}", p.display()))
    };
    File::open(file)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail(file, e))?;
    sync_dir(file)
}

fn sync_dir(file: &Path) -> Result<()> {
    let dir = parent_dir(file);
    File::open(&dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::internal(format!("cannot flush {} to disk: {e}", dir.display())))
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// Copies the database at `db` to `out`, which must not exist, while servers and commands may
/// go on using the database.
pub fn backup(db: &Path, out: &Path) -> Result<Written> {
    if exists(out) {
        return Err(Error::conflict(format!(
            "{} already exists; a backup never overwrites a file: name a new one",
            out.display()
        )));
    }
    if !db.is_file() {
        return Err(Error::internal(format!(
            "there is no database at {}",
            db.display()
        )));
    }
    let _lock = DbLock::shared(db)?;
    let src = sql::open_existing(db, false)?;
    let shape = sql::shape(&src)
        .map_err(|e| Error::internal(format!("cannot read {}: {e}", db.display())))?;
    if !shape.is_keyward {
        return Err(Error::internal(format!(
            "{} is not a keyward database",
            db.display()
        )));
    }
    let tmp = Temp::beside(out, "backup")?;
    sql::vacuum_into(&src, &tmp.path)?;
    drop(src);
    let copy = sql::open_existing(&tmp.path, false)?;
    sql::single_file(&copy, &tmp.path)?;
    sql::integrity_check(&copy).map_err(|found| {
        Error::internal(format!(
            "the copy failed its integrity check ({found}); nothing was written"
        ))
    })?;
    let version = sql::shape(&copy)
        .map_err(|e| Error::internal(format!("cannot read the copy: {e}")))?
        .version;
    drop(copy);
    sync_file_and_dir(&tmp.path)?;
    place_new(&tmp.path, out)?;
    sync_dir(out)?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(Written { bytes, version })
}

/// Gives `tmp` the name `out` unless something has taken that name meanwhile: a hard link
/// fails rather than replace a file, and the temporary name then goes.
fn place_new(tmp: &Path, out: &Path) -> Result<()> {
    match std::fs::hard_link(tmp, out) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::conflict(format!(
            "{} already exists; a backup never overwrites a file: name a new one",
            out.display()
        ))),
        // A file system without hard links: the same check, then a rename.
        Err(_) if !exists(out) => std::fs::rename(tmp, out)
            .map_err(|e| Error::internal(format!("cannot write {}: {e}", out.display()))),
        Err(e) => Err(Error::internal(format!(
            "cannot write {}: {e}",
            out.display()
        ))),
    }
}

/// Replaces the database at `db` with the backup `from`. Refused while any keyward process has
/// the database open, and from a file that is damaged, not keyward's, or from a newer keyward.
pub fn restore(db: &Path, from: &Path) -> Result<Restored> {
    if !from.is_file() {
        return Err(Error::internal(format!(
            "there is no backup file at {}",
            from.display()
        )));
    }
    let _lock = DbLock::exclusive(db)?;
    if crate::db::lock::sqlite_in_use(db)? {
        return Err(Error::conflict(format!(
            "{} is open in another program; stop it first (restore replaces the whole database)",
            db.display()
        )));
    }
    let unusable = |why: String| {
        Error::bad_request(format!(
            "{} is not a usable keyward backup: {why}; the database was not changed",
            from.display()
        ))
    };
    let src = sql::open_existing(from, true).map_err(|e| unusable(e.message))?;
    sql::integrity_check(&src).map_err(|found| {
        unusable(if found.contains("not a database") {
            "it is not a database".into()
        } else {
            format!("it is damaged ({found})")
        })
    })?;
    let shape = sql::shape(&src).map_err(&unusable)?;
    if !shape.is_keyward {
        return Err(unusable("it is not a keyward database".into()));
    }
    let latest = db::latest_version();
    if shape.version > latest {
        return Err(unusable(format!(
            "it has schema version {}, newer than this keyward knows ({latest}); restore it with \
             the keyward that made it",
            shape.version
        )));
    }
    let key = check_master_key(db, &src)?;

    let tmp = Temp::beside(db, "restore")?;
    sql::vacuum_into(&src, &tmp.path)?;
    drop(src);
    let copy = sql::open_existing(&tmp.path, false)?;
    sql::integrity_check(&copy).map_err(|found| {
        Error::internal(format!(
            "the restored copy failed its integrity check ({found}); the database was not changed"
        ))
    })?;
    drop(copy);
    sync_file_and_dir(&tmp.path)?;

    // The current database's write-ahead log would be replayed onto the restored file: fold it
    // into the old file first (nothing committed is lost if the rename below fails), then
    // remove it, then put the restored file in place.
    if exists(db) {
        let current = sql::open_existing(db, false).map_err(|e| cannot_replace(db, e))?;
        sql::checkpoint_truncate(&current, db).map_err(|e| cannot_replace(db, e))?;
        drop(current);
        for suffix in ["-wal", "-shm"] {
            let p = suffixed(db, suffix);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::internal(format!(
                        "cannot remove {}: {e}; the database was not changed",
                        p.display()
                    )));
                }
            }
        }
    }
    std::fs::rename(&tmp.path, db).map_err(|e| {
        Error::internal(format!(
            "cannot put the restored file in place at {}: {e}; the database was not changed",
            db.display()
        ))
    })?;
    let mut tmp = tmp;
    tmp.keep = true;
    sync_dir(db)?;
    Ok(Restored {
        version: shape.version,
        key,
    })
}

fn cannot_replace(db: &Path, e: Error) -> Error {
    Error::internal(format!(
        "{e}. The current database cannot be read, so it is not replaced: move {} and its -wal \
         and -shm files away, then restore again",
        db.display()
    ))
}

/// The restored signing keys are sealed with the master key of the installation that made the
/// backup. With another key beside the database the server could not start: refused. With no
/// key file at all the restore goes on, and the caller says to put the key there.
fn check_master_key(db: &Path, src: &rusqlite::Connection) -> Result<KeyCheck> {
    let sealed = sql::sealed_signing_keys(src)
        .map_err(|e| Error::internal(format!("cannot read the backup's signing keys: {e}")))?;
    if sealed.is_empty() {
        return Ok(KeyCheck::NothingSealed);
    }
    let path = master_key_path(db);
    if !path.exists() {
        return Ok(KeyCheck::Missing(path));
    }
    let master = MasterKey::load_or_create(&path)?;
    for (kid, blob) in &sealed {
        if master.open(&format!("signing-key:{kid}"), blob).is_err() {
            return Err(Error::bad_request(format!(
                "the signing keys in this backup do not open with the master key {} (another \
                 installation made the backup): put the master key kept with the backup there, \
                 keeping the current one elsewhere, and restore again; the database was not changed",
                path.display()
            )));
        }
    }
    Ok(KeyCheck::Opens)
}
