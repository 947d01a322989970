//! keyward: a login service in one binary. `open` builds the application state the same way for
//! the server and every subcommand; `serve` runs the HTTP server until a shutdown signal.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod core;
pub mod db;
pub mod error;
pub mod mail;
pub mod metrics;
pub mod strategies;

use auth::keys::Keyring;
use auth::password::Hasher;
use auth::secret::MasterKey;
use config::{Common, ServeArgs, Settings};
use db::Db;
use error::{Error, Result};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub struct AppState {
    pub db: Db,
    pub keys: Keyring,
    pub master: MasterKey,
    pub hasher: Hasher,
    pub throttle: auth::throttle::Throttle,
    pub caches: Caches,
    pub settings: Settings,
    /// The issuer of every token and the base of every link, without a trailing slash.
    pub public_url: String,
    /// When the public URL is the default `http://localhost:{port}` of a loopback listener:
    /// the listening address's own origin (`http://127.0.0.1:{port}`), which is this same
    /// server, so that its pages work when opened there too (without passkeys).
    pub local_origin: Option<String>,
    /// The WebAuthn relying party, made from the public URL; None when passkeys are off (a
    /// public URL whose host is an IP address).
    pub webauthn: Option<webauthn_rs::Webauthn>,
    /// The mail server of `--smtp-url`, if one is configured.
    pub mailer: Option<mail::Mailer>,
    /// Calls to upstream providers (one client, with timeouts) and their caches.
    pub upstream: strategies::provider::Outbound,
    pub metrics: metrics::Metrics,
}

pub type App = Arc<AppState>;

/// A client id and the fingerprint of the secret it presented.
pub type ClientKey = (String, Option<String>);
/// A client row and the digest of the secret with that fingerprint.
pub type ClientAuth = (db::clients::ClientRow, Option<Vec<u8>>);

/// Snapshots of hot database reads (see `db::snapshot`).
#[derive(Default)]
pub struct Caches {
    /// By access-token id: its user and session, found live.
    pub live: db::snapshot::Snapshots<String, (db::users::User, db::sessions::Session)>,
    /// By client id and secret fingerprint: the client row and that secret's digest.
    pub clients: db::snapshot::Snapshots<ClientKey, ClientAuth>,
    /// By client id and user id: the user and the session client-credentials tokens share.
    pub client_sessions: db::snapshot::Snapshots<(String, String), (db::users::User, String)>,
    /// One provider-token refresh at a time per identity (see `core::sync`).
    pub sync_refresh: core::sync::RefreshLocks,
}

const PUBLIC_URL_KEY: &str = "public_url";

/// Opens the database (creating and upgrading it), the master key and the signing keys.
/// `bound` is the server's listening address; subcommands pass None and use the URL the server
/// last ran with, so that tokens they sign carry the server's issuer.
pub fn open(common: &Common, settings: Settings, bound: Option<SocketAddr>) -> Result<App> {
    let db = Db::open(&common.db, settings.db_pool)?;
    let master = MasterKey::load_or_create(&config::master_key_path(&common.db))?;
    let stored = db.read_blocking(|r| db::settings::get(r, PUBLIC_URL_KEY))?;
    // Browsers refuse an IP address as a WebAuthn relying-party id: a loopback listener without
    // a public URL is reached as localhost, so that passkeys work out of the box.
    let mut local_origin = None;
    let public_url = match (&common.public_url, bound, stored) {
        (Some(u), _, _) => u.clone(),
        (None, Some(addr), _) if addr.ip().is_loopback() => {
            local_origin = Some(format!("http://{addr}"));
            format!("http://localhost:{}", addr.port())
        }
        (None, Some(addr), _) => format!("http://{addr}"),
        (None, None, Some(u)) => u,
        (None, None, None) => "http://localhost:8080".into(),
    };
    let public_url = check_public_url(&public_url)?;
    let webauthn = relying_party(&public_url);
    if bound.is_some() {
        db.write_blocking(|tx| db::settings::set(tx, PUBLIC_URL_KEY, &public_url))?;
    }
    let keys = Keyring::open(db.clone(), master.clone())?;
    let hasher = Hasher::new(&settings)?;
    let mailer = mail::Mailer::from_settings(&settings, &public_url)?;
    let upstream = strategies::provider::Outbound::new(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(10),
    )?;
    let app = Arc::new(AppState {
        db,
        keys,
        master,
        hasher,
        throttle: Default::default(),
        caches: Caches::default(),
        settings,
        public_url,
        local_origin,
        webauthn,
        mailer,
        upstream,
        metrics: metrics::Metrics::new(api::route_templates()),
    });
    core::bootstrap::ensure_defaults(&app)?;
    Ok(app)
}

fn check_public_url(u: &str) -> Result<String> {
    let parsed = url::Url::parse(u)
        .ok()
        .filter(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
        .ok_or_else(|| Error::bad_request(format!("--public-url {u:?} is not an http(s) URL")))?;
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// The WebAuthn relying party of `public_url`: its host is the id, its origin the origin. None
/// when the host is an IP address (or the URL has no host), which browsers refuse.
fn relying_party(public_url: &str) -> Option<webauthn_rs::Webauthn> {
    let url = url::Url::parse(public_url).ok()?;
    let host = url.domain()?.to_string();
    let origin = url::Url::parse(&url.origin().ascii_serialization()).ok()?;
    webauthn_rs::WebauthnBuilder::new(&host, &origin)
        .ok()?
        .rp_name("keyward")
        .build()
        .ok()
}

/// Why passkeys are off, when they are.
pub fn passkeys_off_message(public_url: &str) -> String {
    format!(
        "Passkeys are off: the public URL {public_url} has an IP address as its host, and \
         browsers refuse an IP address as a passkey's relying party. Start keyward with \
         --public-url set to a URL with a host name (for example http://localhost:8080)."
    )
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub app: App,
    pub setup_link: Option<String>,
}

/// Binds, opens the state and serves until `shutdown` resolves; `on_ready` sees the server once
/// it listens (main prints the address and the setup link there).
pub async fn serve(
    common: &Common,
    args: &ServeArgs,
    on_ready: impl FnOnce(&Running),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    auth::secret::check_key_file(&config::master_key_path(&common.db))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::internal(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::internal(e.to_string()))?;
    let (common, settings) = (common.clone(), args.settings.clone());
    let app = tokio::task::spawn_blocking(move || open(&common, settings, Some(addr)))
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
    let setup_link = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || core::bootstrap::setup_link(&app))
            .await
            .map_err(|e| Error::internal(e.to_string()))??
    };
    spawn_housekeeping(app.clone());
    on_ready(&Running {
        addr,
        app: app.clone(),
        setup_link,
    });
    warp::serve(api::routes(app))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
    tracing::info!("stopped");
    Ok(())
}

/// Periodic work: checkpoint the WAL, give back idle hashing memory, pick up keys rotated by
/// the CLI, and drop rows that can no longer matter.
fn spawn_housekeeping(app: App) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            n += 1;
            app.hasher.release_idle(std::time::Duration::from_secs(10));
            let db = app.db.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.checkpoint()).await {
                tracing::warn!(error = %e, "checkpoint failed");
            }
            let keys = app.keys.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || keys.reload()).await {
                tracing::warn!(error = %e, "key reload failed");
            }
            if n.is_multiple_of(30) {
                let r = app.db.write(core::housekeeping).await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "housekeeping failed");
                }
            }
        }
    });
}
