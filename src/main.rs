use clap::Parser;
use keyward::config::{Cli, Command, LogFormat, ServeArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    limit_malloc_arenas();
    private_files();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap's usage errors exit 2; --help and --version are not errors.
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Err(e) = cli.check() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    init_logging(cli.common.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keyward: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let common = cli.common;
    let result = runtime.block_on(async move {
        match cli.command {
            None => serve(&common, &cli.serve).await,
            Some(Command::Serve(args)) => serve(&common, &args).await,
            Some(Command::Admin(cmd)) => keyward::cli::admin(&common, cmd).await,
            Some(Command::Keys(cmd)) => keyward::cli::keys(&common, cmd).await,
            Some(Command::Backup { out }) => keyward::cli::backup(&common, &out),
            Some(Command::Restore { from }) => keyward::cli::restore(&common, &from),
            Some(Command::Users(cmd)) => keyward::cli::users(&common, cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyward: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(common: &keyward::config::Common, args: &ServeArgs) -> keyward::error::Result<()> {
    keyward::serve(
        common,
        args,
        |r| {
            println!(
                "keyward listening on http://{} (public URL {})",
                r.addr, r.app.public_url
            );
            println!("database: {}", common.db.display());
            println!("open {}/account to manage your account", r.app.public_url);
            if r.app.webauthn.is_none() {
                println!("{}", keyward::passkeys_off_message(&r.app.public_url));
            }
            if let Some(link) = &r.setup_link {
                println!();
                println!(
                    "No admin exists yet. Open this link within one hour to create the first admin:"
                );
                println!("  {link}");
                println!("or, on this machine:");
                println!(
                    "  keyward admin create --db {} --username admin --password-stdin",
                    common.db.display()
                );
            }
        },
        shutdown_signal(),
    )
    .await
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYWARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => b.init(),
        LogFormat::Json => b.json().init(),
    }
}

/// glibc gives every thread that allocates its own heap arena (up to eight per core), and
/// the blocking pool has many threads: memory freed in one arena is not reused by another, so
/// the resident size creeps up under load. Two arenas keep it flat. A fixed mmap threshold
/// keeps large blocks (argon2's work memory) in their own mappings, which go back to the
/// system when freed instead of staying in a heap.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator tunables; it is called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Every file keyward creates (the database, its -wal and -shm files, the master key, backups)
/// holds secrets: only the owner may read it, whatever umask the process was started with.
fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file creation mask; nothing is open yet.
    unsafe {
        libc::umask(0o077);
    }
}
