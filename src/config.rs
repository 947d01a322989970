//! The command line and its environment variables. Every option has a working default, so
//! `keyward` with no arguments serves on 127.0.0.1:8080 with ./keyward.db.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "keyward",
    version = env!("KEYWARD_VERSION"),
    about = "A login service in one binary: one user, many ways to log in."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// `keyward` without a subcommand serves: it takes `serve`'s options and variables (with a
    /// subcommand, that subcommand's own options count).
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// What clap's per-flag ranges cannot see: flags that are each in range but do not go
    /// together. The message names the flags (exit 2, like a range error).
    pub fn check(&self) -> Result<(), String> {
        match &self.command {
            None => self.serve.settings.check(),
            Some(Command::Serve(a)) => a.settings.check(),
            Some(Command::Admin(AdminCommand::Create { settings, .. })) => settings.check(),
            Some(_) => Ok(()),
        }
    }
}

/// Options every subcommand reads, so that the CLI and the server agree on the database and issuer.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The SQLite database file; the master key file is kept beside it.
    #[arg(
        long,
        env = "KEYWARD_DB",
        default_value = "./keyward.db",
        global = true
    )]
    pub db: PathBuf,
    /// The URL clients reach keyward at; it is the issuer of every token.
    /// Default: http://localhost:{port} when the server listens on a loopback address,
    /// else http://{listen}; subcommands use the URL the server last ran with. Passkeys need
    /// a host name here: with an IP address as the host they are off.
    #[arg(long, env = "KEYWARD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Log format.
    #[arg(long, env = "KEYWARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve(Box<ServeArgs>),
    /// Manage users from the server's shell.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write a consistent copy of the database, while the server runs if it does. The master
    /// key (`<db>.key`) is not in it: keep that separately.
    Backup {
        /// The file to write; it must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the database with a backup. Only while no keyward server or command uses it.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
    /// Move users between installations as JSON lines.
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Write every user as one JSON line, with their identities and password hashes.
    Export {
        /// Write to this new file (mode 0600) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Add users from JSON lines (as `export` writes them); invalid or clashing lines are
    /// reported by line number and skipped.
    Import {
        /// The file to read, or `-` for standard input.
        #[arg(long)]
        from: PathBuf,
        /// Lines committed in one transaction; 1 to 100000.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch: u32,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "KEYWARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub settings: Settings,
}

/// Tunables of the running service.
#[derive(Args, Debug, Clone)]
pub struct Settings {
    /// Lifetime of access tokens and ID tokens, in seconds; 10 to 86400.
    #[arg(long, env = "KEYWARD_ACCESS_TOKEN_TTL", default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub access_token_ttl: u64,
    /// How long an identity may wait for registration (and its register token lives), in
    /// seconds; 10 to 86400.
    #[arg(long, env = "KEYWARD_REGISTER_WINDOW", default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub register_window: u64,
    /// An ID token handed to the identities API as `link_with` proves a login at most this many
    /// seconds old (its `auth_time`); older ones are refused. 1 to 3600.
    #[arg(long, env = "KEYWARD_LINK_MAX_AUTH_AGE", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub link_max_auth_age: u64,
    /// A session ends after this many seconds without use (refresh tokens slide with it);
    /// 60 to 315360000 (ten years).
    #[arg(long, env = "KEYWARD_SESSION_INACTIVITY", default_value_t = 30 * 86_400, value_parser = clap::value_parser!(u64).range(60..=MAX_SESSION_SECS))]
    pub session_inactivity: u64,
    /// A session ends this many seconds after its login, however much it is used; 60 to
    /// 315360000 (ten years).
    #[arg(long, env = "KEYWARD_SESSION_LIFETIME", default_value_t = 365 * 86_400, value_parser = clap::value_parser!(u64).range(60..=MAX_SESSION_SECS))]
    pub session_lifetime: u64,
    /// argon2id memory cost in KiB (OWASP: 19456); 8 to 1048576 (1 GiB).
    #[arg(long, env = "KEYWARD_ARGON2_MEMORY", default_value_t = 19_456, value_parser = clap::value_parser!(u32).range(8..=1_048_576))]
    pub argon2_memory: u32,
    /// argon2id iterations; 1 to 64.
    #[arg(long, env = "KEYWARD_ARGON2_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub argon2_iterations: u32,
    /// argon2id parallelism; 1 to 16 (and at most an eighth of `--argon2-memory`).
    #[arg(long, env = "KEYWARD_ARGON2_PARALLELISM", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; 0 means one per CPU core; at most 256.
    #[arg(long, env = "KEYWARD_HASH_CONCURRENCY", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=256))]
    pub hash_concurrency: u16,
    /// Password checks that may wait for a hashing slot, per slot (0 to 1024); past that a
    /// request is answered 503 with Retry-After at once instead of waiting.
    #[arg(long, env = "KEYWARD_HASH_QUEUE", default_value_t = 64, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub hash_queue: u16,
    /// Reverse proxies whose `X-Forwarded-For` is believed: comma-separated CIDRs or
    /// addresses (default none: the client is always the TCP peer).
    #[arg(long, env = "KEYWARD_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<IpNet>,
    /// How long a passkey link (its one-time code) stays good, in seconds; 1 to 604800 (a
    /// week). (Short ones are for tests of expiry.)
    #[arg(long, env = "KEYWARD_PASSKEY_LINK_TTL", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub passkey_link_ttl: u64,
    /// Database connections in the pool; 1 to 64.
    #[arg(long, env = "KEYWARD_DB_POOL", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub db_pool: u32,
    /// The mail server for passkey links: `smtp://host[:port]` (587 by default; STARTTLS when
    /// the server offers it, `?tls=required` to insist) or `smtps://host[:port]` (465, TLS from
    /// the start). Without it, keyward sends no mail.
    #[arg(long, env = "KEYWARD_SMTP_URL", value_parser = parse_smtp_url)]
    pub smtp_url: Option<url::Url>,
    /// The sender of keyward's mail, e.g. `Example Login <login@example.com>`; by default
    /// `keyward@` the host of the public URL.
    #[arg(long, env = "KEYWARD_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// The user name for the mail server, if it asks for one.
    #[arg(long, env = "KEYWARD_SMTP_USERNAME", requires = "smtp_password")]
    pub smtp_username: Option<String>,
    /// The password for the mail server (prefer the environment variable to the flag).
    #[arg(
        long,
        env = "KEYWARD_SMTP_PASSWORD",
        hide_env_values = true,
        requires = "smtp_username"
    )]
    pub smtp_password: Option<String>,
    /// When set, `GET /metrics` answers only `Authorization: Bearer <this token>` (16 to 256
    /// characters; prefer the environment variable to the flag). Without it the metrics are
    /// open to whoever reaches the listener.
    #[arg(long, env = "KEYWARD_METRICS_TOKEN", hide_env_values = true, value_parser = parse_metrics_token)]
    pub metrics_token: Option<String>,
}

fn parse_metrics_token(s: &str) -> Result<String, String> {
    let n = s.chars().count();
    if !(16..=256).contains(&n) || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the token must be 16 to 256 characters without spaces".into());
    }
    Ok(s.to_string())
}

fn parse_smtp_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "smtp" | "smtps") || u.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{s:?}: use smtp://host[:port] or smtps://host[:port]"
        ));
    }
    match u
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned())
    {
        None => {}
        Some(v) if v == "required" && u.scheme() == "smtp" => {}
        Some(v) => {
            return Err(format!(
                "{s:?}: tls={v} is not known (smtp:// takes ?tls=required)"
            ));
        }
    }
    Ok(u)
}

/// The longest session setting: ten years, so that milliseconds from now never overflow.
const MAX_SESSION_SECS: u64 = 10 * 365 * 86_400;

/// One trusted proxy: a CIDR, or a single address.
fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR (like 10.0.0.0/8) or an address"))
}

impl Settings {
    /// See `Cli::check`.
    pub fn check(&self) -> Result<(), String> {
        // argon2 needs at least 8 KiB of memory per lane.
        if u64::from(self.argon2_memory) < 8 * u64::from(self.argon2_parallelism) {
            return Err(format!(
                "--argon2-memory {} is too small for --argon2-parallelism {}: argon2 needs at \
                 least 8 KiB per lane, {} here",
                self.argon2_memory,
                self.argon2_parallelism,
                8 * self.argon2_parallelism
            ));
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        // Parse an empty command line so the defaults live in one place: the attributes above.
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            s: Settings,
        }
        Only::parse_from(["keyward"]).s
    }
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an admin user with a password on the default `local` instance.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        display_name: Option<String>,
        /// Boxed: the settings are large beside the other commands' arguments.
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Print a signed access token for a user.
    Token {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "login")]
        scope: String,
        /// Lifetime in seconds (at most one day).
        #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        ttl: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add a signing key that signs from now on; older public keys stay published until
    /// every token they signed has expired.
    Rotate {
        /// The new key's algorithm; by default that of the key that signs now.
        #[arg(long, value_enum)]
        alg: Option<KeyAlg>,
    },
    /// List the signing keys.
    List,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "RS256")]
    Rs256,
}

impl KeyAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::Es256 => "ES256",
            KeyAlg::EdDsa => "EdDSA",
            KeyAlg::Rs256 => "RS256",
        }
    }
    pub fn parse(s: &str) -> Option<KeyAlg> {
        match s {
            "ES256" => Some(KeyAlg::Es256),
            "EdDSA" => Some(KeyAlg::EdDsa),
            "RS256" => Some(KeyAlg::Rs256),
            _ => None,
        }
    }
}

/// The master key file that sits beside the database: `keyward.db` → `keyward.db.key`.
pub fn master_key_path(db: &std::path::Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".key");
    PathBuf::from(s)
}
