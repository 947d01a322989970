//! Who has the database open. Every keyward process that opens a database (the server, every
//! subcommand, a backup) holds a shared lock on `<db>.lock` for as long as it runs; `restore`
//! takes it exclusively, so it can tell that nobody uses the database and nobody starts to
//! while it puts another one in place. The lock is the kernel's (`flock`): a process that dies,
//! however it dies, lets go of it. The lock file never holds data and is never replaced, so
//! every process locks the same file whatever happens to the database beside it.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `keyward.db` → `keyward.db.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// A held lock; dropping it lets go.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

fn open_lock_file(db: &Path) -> Result<File> {
    let path = lock_path(db);
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(&path)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))
}

/// How long an opening process waits for a restore to finish before it gives up.
const RESTORE_WAIT: Duration = Duration::from_secs(30);

impl DbLock {
    /// The lock of a process that uses the database. Waits while a restore runs (it holds the
    /// lock exclusively for the seconds it takes to put the restored file in place).
    pub fn shared(db: &Path) -> Result<DbLock> {
        let file = open_lock_file(db)?;
        let start = Instant::now();
        loop {
            match file.try_lock_shared() {
                Ok(()) => return Ok(DbLock { _file: file }),
                Err(TryLockError::WouldBlock) if start.elapsed() < RESTORE_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::internal(format!(
                        "{} is being restored; try again when the restore has finished",
                        db.display()
                    )));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::internal(format!(
                        "cannot lock {}: {e}",
                        lock_path(db).display()
                    )));
                }
            }
        }
    }

    /// The lock of a restore: only when no other keyward process has the database open.
    pub fn exclusive(db: &Path) -> Result<DbLock> {
        let file = open_lock_file(db)?;
        match file.try_lock() {
            Ok(()) => Ok(DbLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(Error::conflict(format!(
                "{} is in use by a running keyward server or command; stop it first (restore \
                 replaces the whole database)",
                db.display()
            ))),
            Err(TryLockError::Error(e)) => Err(Error::internal(format!(
                "cannot lock {}: {e}",
                lock_path(db).display()
            ))),
        }
    }
}

/// Whether some process has the database open through SQLite in WAL mode: every such
/// connection holds a read lock on the "DMS" byte of the `-shm` file for as long as it is open.
/// This finds what the `.lock` file cannot: a keyward older than it, the `sqlite3` shell, a
/// replication tool. Call it before this process opens the database itself (closing any
/// descriptor of a file drops this process's own locks on it).
pub fn sqlite_in_use(db: &Path) -> Result<bool> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let mut name = db.as_os_str().to_owned();
        name.push("-shm");
        let shm = match OpenOptions::new().read(true).write(true).open(&name) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(Error::internal(format!(
                    "cannot open {}: {e}",
                    PathBuf::from(name).display()
                )));
            }
        };
        // SQLite's unix VFS: the shared-memory locks start at byte 120, eight of them; the
        // DMS byte follows at 128.
        const DMS: libc::off_t = 128;
        // SAFETY: `flock` is plain data, zeroed then filled in; F_GETLK only reads the open
        // descriptor's lock table and writes into `q`.
        let held = unsafe {
            let mut q: libc::flock = std::mem::zeroed();
            q.l_type = libc::F_WRLCK as libc::c_short;
            q.l_whence = libc::SEEK_SET as libc::c_short;
            q.l_start = DMS;
            q.l_len = 1;
            if libc::fcntl(shm.as_raw_fd(), libc::F_GETLK, &mut q) != 0 {
                return Err(Error::internal(format!(
                    "cannot test the locks of {}: {}",
                    PathBuf::from(name).display(),
                    std::io::Error::last_os_error()
                )));
            }
            q.l_type != libc::F_UNLCK as libc::c_short
        };
        Ok(held)
    }
    #[cfg(not(unix))]
    {
        let _ = db;
        Ok(false)
    }
}
