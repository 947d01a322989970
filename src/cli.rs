//! The subcommands other than `serve`. They open the same database as the server and work while
//! it runs: SQLite in WAL mode lets both write, and the server picks up new keys by itself.

use crate::config::{AdminCommand, Common, KeysCommand, Settings, UsersCommand, master_key_path};
use crate::core::{Actor, backup as ops, rfc3339, sessions, transfer, users};
use crate::error::{Error, Result};
use serde_json::json;
use std::io::BufRead;
use std::path::Path;

/// One line on standard output. A closed pipe (`keyward keys list | head -1`) is an error
/// like any other (one line on stderr, exit 1), never a panic.
fn say(line: std::fmt::Arguments) -> Result<()> {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{line}")
        .map_err(|e| Error::internal(format!("cannot write to standard output: {e}")))
}

pub async fn admin(common: &Common, cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Create {
            username,
            password_stdin: _,
            display_name,
            settings,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| Error::internal(format!("cannot read the password: {e}")))?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let app = open(common, *settings).await?;
            let user = users::create(
                &app,
                &Actor::cli(),
                users::NewUser {
                    display_name: display_name.unwrap_or_else(|| username.clone()),
                    username,
                    email: None,
                    is_admin: true,
                    password: Some(password),
                },
            )
            .await?;
            say(format_args!(
                "created admin {} ({})",
                user.username, user.id
            ))?;
            Ok(())
        }
        AdminCommand::Token {
            username,
            scope,
            ttl,
        } => {
            let app = open(common, Settings::default()).await?;
            let token = sessions::issue_cli_token(&app, &username, &scope, ttl).await?;
            say(format_args!("{token}"))?;
            Ok(())
        }
    }
}

pub async fn keys(common: &Common, cmd: KeysCommand) -> Result<()> {
    let app = open(common, Settings::default()).await?;
    match cmd {
        KeysCommand::Rotate { alg } => {
            let key = crate::core::keys::rotate(&app, &Actor::cli(), alg).await?;
            say(format_args!("new {} signing key {}", key.alg, key.kid))?;
        }
        KeysCommand::List => {
            for k in app.keys.describe().await? {
                let state = match k.retired_at {
                    None => "signing".to_string(),
                    Some(r) => format!("retired {}", rfc3339(r)),
                };
                say(format_args!(
                    "{}  {:5}  created {}  {state}",
                    k.kid,
                    k.alg,
                    rfc3339(k.created_at)
                ))?;
            }
        }
    }
    Ok(())
}

/// `keyward backup --out FILE`: the result on stdout, the master key warning on stderr.
pub fn backup(common: &Common, out: &Path) -> Result<()> {
    let w = ops::backup(&common.db, out)?;
    say(format_args!(
        "backup of {} written to {} ({} bytes, schema version {}, integrity check ok)",
        common.db.display(),
        out.display(),
        w.bytes,
        w.version
    ))?;
    eprintln!(
        "keyward: the master key {} is NOT in the backup. Keep a copy of it separately and \
         safely: without it the backup's signing keys and provider secrets cannot be opened.",
        master_key_path(&common.db).display()
    );
    Ok(())
}

/// `keyward restore --from FILE`.
pub fn restore(common: &Common, from: &Path) -> Result<()> {
    let r = ops::restore(&common.db, from)?;
    say(format_args!(
        "restored {} from {} (schema version {}, integrity check ok)",
        common.db.display(),
        from.display(),
        r.version
    ))?;
    match r.key {
        ops::KeyCheck::Opens => {}
        ops::KeyCheck::NothingSealed => {}
        ops::KeyCheck::Missing(path) => eprintln!(
            "keyward: there is no master key at {}: copy the master key kept with this backup \
             there before starting the server, or it cannot open the restored signing keys.",
            path.display()
        ),
    }
    Ok(())
}

pub async fn users(common: &Common, cmd: UsersCommand) -> Result<()> {
    // A mistyped file name is found before the database is opened (and perhaps created).
    match &cmd {
        UsersCommand::Export { out: Some(p) } if std::fs::symlink_metadata(p).is_ok() => {
            return Err(Error::conflict(format!(
                "{} already exists; export never overwrites a file",
                p.display()
            )));
        }
        UsersCommand::Import { from, .. } if from.as_os_str() != "-" && !from.is_file() => {
            return Err(Error::internal(format!(
                "there is no file at {}",
                from.display()
            )));
        }
        _ => {}
    }
    let app = open(common, Settings::default()).await?;
    match cmd {
        UsersCommand::Export { out } => {
            let n = tokio::task::spawn_blocking(move || export_to(&app, out.as_deref()))
                .await
                .map_err(|e| Error::internal(e.to_string()))??;
            eprintln!("exported {n} users");
        }
        UsersCommand::Import { from, batch } => {
            let total = tokio::task::spawn_blocking(move || import_from(&app, &from, batch))
                .await
                .map_err(|e| Error::internal(e.to_string()))??;
            say(format_args!(
                "imported {}, skipped {}",
                total.imported, total.skipped
            ))?;
        }
    }
    Ok(())
}

fn export_to(app: &crate::App, out: Option<&Path>) -> Result<u64> {
    let mut progress = |n: u64| eprintln!("exported {n} users so far");
    let Some(path) = out else {
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
        return transfer::export(app, &mut w, &mut progress);
    };
    // The lines hold password hashes: a new file that only its owner can read.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(path).map_err(|e| {
        Error::internal(format!(
            "cannot create {}: {e} (export never overwrites a file)",
            path.display()
        ))
    })?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
    let written = transfer::export(app, &mut w, &mut progress).and_then(|n| {
        let file = w
            .into_inner()
            .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
        file.sync_all()
            .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
        Ok(n)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    let n = written?;
    app.db.write_blocking(|tx| {
        Actor::cli().audit(
            tx,
            "users.export",
            None,
            json!({"users": n, "file": path.display().to_string()}),
        )
    })?;
    Ok(n)
}

fn import_from(app: &crate::App, from: &Path, batch: u32) -> Result<transfer::Imported> {
    let mut input: Box<dyn BufRead> = if from.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(from)
            .map_err(|e| Error::internal(format!("cannot read {}: {e}", from.display())))?;
        Box::new(std::io::BufReader::with_capacity(1 << 16, f))
    };
    transfer::import(
        app,
        &mut input,
        batch as usize,
        &mut |line, why| eprintln!("line {line}: {why}; skipped"),
        &mut |lines, t| {
            eprintln!(
                "{lines} lines read: imported {}, skipped {}",
                t.imported, t.skipped
            )
        },
    )
}

async fn open(common: &Common, settings: Settings) -> Result<crate::App> {
    let common = common.clone();
    tokio::task::spawn_blocking(move || crate::open(&common, settings, None))
        .await
        .map_err(|e| Error::internal(e.to_string()))?
}
