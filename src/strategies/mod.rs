//! The strategy kinds: what each can do and the shape of its instance config. An instance config
//! is a typed struct per kind; its JSON Schema is derived from the same struct that validates it,
//! so the published schema and the validation cannot disagree.

use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// What the API shows in place of a secret.
pub const CENSORED: &str = "**********";

/// The strategy kinds, stored as their type names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Userpass,
    Passkey,
    Github,
    Gitlab,
    Oidc,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Userpass,
        Kind::Passkey,
        Kind::Github,
        Kind::Gitlab,
        Kind::Oidc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Userpass => "userpass",
            Kind::Passkey => "passkey",
            Kind::Github => "github",
            Kind::Gitlab => "gitlab",
            Kind::Oidc => "oidc",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn strategy(self) -> &'static Strategy {
        STRATEGIES
            .iter()
            .find(|s| s.kind == self)
            .expect("every kind has a strategy")
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl rusqlite::types::ToSql for Kind {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for Kind {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        Kind::parse(v.as_str()?).ok_or(rusqlite::types::FromSqlError::InvalidType)
    }
}

pub struct Strategy {
    pub kind: Kind,
    pub type_name: &'static str,
    /// Whether its identities log in (an instance's `isLoginActive` may be true).
    pub can_login: bool,
    /// Whether a login may find an identity that then waits for registration or linking.
    pub can_login_register: bool,
    pub can_sync: bool,
    pub needs_redirect_flow: bool,
    pub allows_implicit_signup: bool,
    /// Variables a login form asks for: (name, displayName, type).
    pub accepts_variables: &'static [(&'static str, &'static str, &'static str)],
    /// Config fields that hold secrets: censored on read, sealed at rest.
    pub secret_fields: &'static [&'static str],
    schema: fn() -> Value,
    check: fn(&Value) -> Result<()>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// A username and password kept by keyward.
struct UserpassConfig {}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// WebAuthn passkeys. The relying party comes from the public URL (its host is the id), so an
/// instance has nothing to configure.
struct PasskeyConfig {}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// GitHub or GitHub Enterprise through an OAuth app.
struct GithubConfig {
    client_id: String,
    client_secret: String,
    /// The web URL; default https://github.com (set it for GitHub Enterprise).
    base_url: Option<String>,
    /// The REST API URL; default https://api.github.com.
    api_url: Option<String>,
    /// Scopes to request; default ["read:user", "user:email"].
    #[allow(dead_code)]
    scopes: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// GitLab (gitlab.com or self-managed) through an OAuth application.
struct GitlabConfig {
    client_id: String,
    client_secret: String,
    /// Default https://gitlab.com.
    base_url: Option<String>,
    #[allow(dead_code)]
    scopes: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// Any OpenID Connect provider, found through its discovery document.
struct OidcConfig {
    /// The provider's issuer URL.
    issuer: String,
    client_id: String,
    /// Absent for a public client (PKCE only).
    #[allow(dead_code)]
    client_secret: Option<String>,
    /// Scopes to request; default ["openid", "profile", "email"].
    #[allow(dead_code)]
    scopes: Option<Vec<String>>,
}

fn schema<T: JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}

fn parse<T: for<'de> Deserialize<'de>>(config: &Value) -> Result<T> {
    serde_json::from_value(config.clone())
        .map_err(|e| Error::field("instanceConfig", format!("is not valid: {e}")))
}

fn check_url(field: &str, value: Option<&str>) -> Result<()> {
    if let Some(v) = value {
        let ok = url::Url::parse(v)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .unwrap_or(false);
        if !ok {
            return Err(Error::field(
                &format!("instanceConfig.{field}"),
                "must be an http(s) URL",
            ));
        }
    }
    Ok(())
}

fn check_nonempty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::field(
            &format!("instanceConfig.{field}"),
            "must not be empty",
        ));
    }
    Ok(())
}

fn check_userpass(c: &Value) -> Result<()> {
    parse::<UserpassConfig>(c).map(|_| ())
}
fn check_passkey(c: &Value) -> Result<()> {
    parse::<PasskeyConfig>(c).map(|_| ())
}
fn check_github(c: &Value) -> Result<()> {
    let c: GithubConfig = parse(c)?;
    check_nonempty("clientId", &c.client_id)?;
    check_nonempty("clientSecret", &c.client_secret)?;
    check_url("baseUrl", c.base_url.as_deref())?;
    check_url("apiUrl", c.api_url.as_deref())
}
fn check_gitlab(c: &Value) -> Result<()> {
    let c: GitlabConfig = parse(c)?;
    check_nonempty("clientId", &c.client_id)?;
    check_nonempty("clientSecret", &c.client_secret)?;
    check_url("baseUrl", c.base_url.as_deref())
}
fn check_oidc(c: &Value) -> Result<()> {
    let c: OidcConfig = parse(c)?;
    check_url("issuer", Some(&c.issuer))?;
    check_nonempty("clientId", &c.client_id)
}

pub static STRATEGIES: &[Strategy] = &[
    Strategy {
        kind: Kind::Userpass,
        type_name: "userpass",
        can_login: true,
        can_login_register: true,
        can_sync: false,
        needs_redirect_flow: false,
        allows_implicit_signup: false,
        accepts_variables: &[
            ("username", "Username", "string"),
            ("password", "Password", "password"),
        ],
        secret_fields: &[],
        schema: schema::<UserpassConfig>,
        check: check_userpass,
    },
    Strategy {
        kind: Kind::Passkey,
        type_name: "passkey",
        can_login: true,
        // A passkey is registered to a user who exists (by the user or through a link), never
        // found by a login that waits for registration.
        can_login_register: false,
        can_sync: false,
        needs_redirect_flow: false,
        allows_implicit_signup: false,
        accepts_variables: &[],
        secret_fields: &[],
        schema: schema::<PasskeyConfig>,
        check: check_passkey,
    },
    Strategy {
        kind: Kind::Github,
        type_name: "github",
        can_login: true,
        can_login_register: true,
        can_sync: true,
        needs_redirect_flow: true,
        allows_implicit_signup: true,
        accepts_variables: &[],
        secret_fields: &["clientSecret"],
        schema: schema::<GithubConfig>,
        check: check_github,
    },
    Strategy {
        kind: Kind::Gitlab,
        type_name: "gitlab",
        can_login: true,
        can_login_register: true,
        can_sync: true,
        needs_redirect_flow: true,
        allows_implicit_signup: true,
        accepts_variables: &[],
        secret_fields: &["clientSecret"],
        schema: schema::<GitlabConfig>,
        check: check_gitlab,
    },
    Strategy {
        kind: Kind::Oidc,
        type_name: "oidc",
        can_login: true,
        can_login_register: true,
        can_sync: true,
        needs_redirect_flow: true,
        allows_implicit_signup: true,
        accepts_variables: &[],
        secret_fields: &["clientSecret"],
        schema: schema::<OidcConfig>,
        check: check_oidc,
    },
];

pub fn find(type_name: &str) -> Option<&'static Strategy> {
    STRATEGIES.iter().find(|s| s.type_name == type_name)
}

impl Strategy {
    /// Validates a config; it must be a JSON object of this kind's shape.
    pub fn check_config(&self, config: &Value) -> Result<()> {
        if !config.is_object() {
            return Err(Error::field("instanceConfig", "must be an object"));
        }
        (self.check)(config)
    }

    /// The config as an admin may see it: secrets replaced by `CENSORED`.
    pub fn censor(&self, config: &Value) -> Value {
        let mut c = config.clone();
        if let Some(obj) = c.as_object_mut() {
            for f in self.secret_fields {
                if let Some(v) = obj.get_mut(*f)
                    && !v.is_null()
                {
                    *v = json!(CENSORED);
                }
            }
        }
        c
    }

    /// A config sent back on update with secrets still censored keeps the stored secrets.
    pub fn restore_secrets(&self, new: &mut Value, old: &Value) {
        if let Some(obj) = new.as_object_mut() {
            for f in self.secret_fields {
                if obj.get(*f).and_then(Value::as_str) == Some(CENSORED)
                    && let Some(prev) = old.get(*f)
                {
                    obj.insert((*f).to_string(), prev.clone());
                }
            }
        }
    }

    /// The JSON Schema of this kind's instance config, derived from the struct that checks it.
    pub fn config_schema(&self) -> Value {
        (self.schema)()
    }
}
