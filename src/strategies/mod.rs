//! The strategy kinds, one file each: what each can do, the shape of its instance config and,
//! for the upstream kinds (`github`, `gitlab`, `oidc`), the calls to the provider
//! (`provider::Provider`). An instance config is a typed struct per kind; its JSON Schema is
//! derived from the same struct that validates it, so the published schema and the validation
//! cannot disagree.

pub mod github;
pub mod gitlab;
pub mod oidc;
pub mod passkey;
pub mod provider;
pub mod userpass;

use crate::error::{Error, Result};
use provider::Provider;
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

    pub fn strategy(self) -> &'static dyn Strategy {
        match self {
            Kind::Userpass => &userpass::Userpass,
            Kind::Passkey => &passkey::Passkey,
            Kind::Github => &github::Github,
            Kind::Gitlab => &gitlab::Gitlab,
            Kind::Oidc => &oidc::Oidc,
        }
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

/// What a strategy kind can do, as `GET /strategy/{type}` publishes it.
pub struct Caps {
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
}

/// A strategy kind.
pub trait Strategy: Send + Sync {
    fn kind(&self) -> Kind;
    fn caps(&self) -> &'static Caps;
    /// The JSON Schema of this kind's instance config, derived from the struct that checks it.
    fn config_schema(&self) -> Value;
    /// Checks a config object of this kind (without calls to the provider).
    fn check_fields(&self, config: &Value) -> Result<()>;
    /// The provider behind an instance with this (checked) config: upstream kinds only.
    fn provider(&self, _config: &Value) -> Result<Option<Box<dyn Provider>>> {
        Ok(None)
    }

    fn type_name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Validates a config; it must be a JSON object of this kind's shape.
    fn check_config(&self, config: &Value) -> Result<()> {
        if !config.is_object() {
            return Err(Error::field("instanceConfig", "must be an object"));
        }
        self.check_fields(config)
    }

    /// The config as an admin may see it: secrets replaced by `CENSORED`.
    fn censor(&self, config: &Value) -> Value {
        let mut c = config.clone();
        if let Some(obj) = c.as_object_mut() {
            for f in self.caps().secret_fields {
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
    fn restore_secrets(&self, new: &mut Value, old: &Value) {
        if let Some(obj) = new.as_object_mut() {
            for f in self.caps().secret_fields {
                if obj.get(*f).and_then(Value::as_str) == Some(CENSORED)
                    && let Some(prev) = old.get(*f)
                {
                    obj.insert((*f).to_string(), prev.clone());
                }
            }
        }
    }
}

/// Every strategy kind, in the order the API lists them.
pub fn all() -> impl Iterator<Item = &'static dyn Strategy> {
    Kind::ALL.into_iter().map(Kind::strategy)
}

pub fn find(type_name: &str) -> Option<&'static dyn Strategy> {
    Kind::parse(type_name).map(Kind::strategy)
}

/// The capabilities every upstream kind shares.
pub(crate) const UPSTREAM_CAPS: Caps = Caps {
    can_login: true,
    can_login_register: true,
    can_sync: true,
    needs_redirect_flow: true,
    allows_implicit_signup: true,
    accepts_variables: &[],
    secret_fields: &["clientSecret"],
};

pub(crate) fn schema<T: JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}

/// Reads a config into its struct. A problem names the config field at fault
/// (`instanceConfig.issuer`) where serde knows it, so that a form can show it under that field.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(config: &Value) -> Result<T> {
    serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing or unknown field only in its message, between backticks.
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| inner.strip_prefix(p))
            .and_then(|rest| rest.split('`').next());
        let inner = inner.replace('`', "");
        match (named, path.as_str()) {
            (Some(f), _) if inner.starts_with("missing") => {
                Error::field(&format!("instanceConfig.{f}"), "must be given")
            }
            (Some(f), _) => Error::field(&format!("instanceConfig.{f}"), format!(": {inner}")),
            (None, ".") => Error::field("instanceConfig", format!("is not valid: {inner}")),
            (None, p) => {
                // `scopes[0]`: the message says where, `field` names the form's field.
                let mut e = Error::field(&format!("instanceConfig.{p}"), format!(": {inner}"));
                let top = p.split(['.', '[']).next().unwrap_or(p);
                e.field = Some(format!("instanceConfig.{top}"));
                e
            }
        }
    })
}

/// Whether `u` may be called: https, or http to a loopback host (127.0.0.1, ::1, localhost),
/// which never leaves the machine.
pub fn url_allowed(u: &url::Url) -> bool {
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => return false,
    };
    u.scheme() == "https" || (u.scheme() == "http" && loopback)
}

pub(crate) fn check_url(field: &str, value: Option<&str>) -> Result<()> {
    if let Some(v) = value {
        let parsed = url::Url::parse(v).ok().filter(|u| {
            u.host().is_some() && u.query().is_none() && u.fragment().is_none() && !v.contains('\n')
        });
        let ok = parsed.as_ref().is_some_and(url_allowed);
        if !ok {
            return Err(Error::field(
                &format!("instanceConfig.{field}"),
                "must be an https URL (http only for 127.0.0.1, ::1 or localhost), without query or fragment",
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_nonempty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::field(
            &format!("instanceConfig.{field}"),
            "must not be empty",
        ));
    }
    crate::core::check_no_control(&format!("instanceConfig.{field}"), value)
}

pub(crate) fn check_scopes(scopes: Option<&Vec<String>>) -> Result<()> {
    for s in scopes.into_iter().flatten() {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::field(
                "instanceConfig.scopes",
                "must be scope names without spaces",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published schema marks exactly the fields that are censored and sealed as
    /// `writeOnly`, so that a form generated from it treats them as secrets.
    #[test]
    fn write_only_fields_are_the_secret_fields() {
        for s in all() {
            let schema = s.config_schema();
            let mut write_only: Vec<&str> = schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, p)| p["writeOnly"] == json!(true))
                .map(|(k, _)| k.as_str())
                .collect();
            write_only.sort_unstable();
            let mut secrets = s.caps().secret_fields.to_vec();
            secrets.sort_unstable();
            assert_eq!(write_only, secrets, "{}", s.type_name());
        }
    }
}
