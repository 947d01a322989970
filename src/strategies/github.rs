//! `github`: GitHub or GitHub Enterprise through an OAuth app. Subject: the account's numeric
//! `id`; e-mail: the primary verified one from `/user/emails`.

use super::provider::{
    Account, BoxFut, ClientAuth, Failure, Outbound, Provider, Start, Tokens, code_grant, get_json,
    numeric_id, refresh_grant, text, with_query,
};
use super::{Caps, Kind, Strategy, UPSTREAM_CAPS, check_nonempty, check_scopes, check_url};
use crate::error::Result;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub struct Github;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// GitHub or GitHub Enterprise through an OAuth app.
struct GithubConfig {
    /// The OAuth app's client ID.
    #[schemars(title = "Client ID")]
    client_id: String,
    /// The OAuth app's client secret.
    #[schemars(title = "Client secret", extend("writeOnly" = true))]
    client_secret: String,
    /// The web URL; default https://github.com (set it for GitHub Enterprise).
    #[schemars(title = "Base URL")]
    base_url: Option<String>,
    /// The REST API URL; default https://api.github.com, or {baseUrl}/api/v3 when baseUrl is
    /// set.
    #[schemars(title = "API URL")]
    api_url: Option<String>,
    /// Scopes to request; default ["read:user", "user:email"].
    #[schemars(title = "Scopes")]
    scopes: Option<Vec<String>>,
}

const GITHUB: &str = "https://github.com";
const API: &str = "https://api.github.com";
const ACCEPT: &str = "application/vnd.github+json";

impl Strategy for Github {
    fn kind(&self) -> Kind {
        Kind::Github
    }
    fn caps(&self) -> &'static Caps {
        &UPSTREAM_CAPS
    }
    fn config_schema(&self) -> Value {
        super::schema::<GithubConfig>()
    }
    fn check_fields(&self, c: &Value) -> Result<()> {
        let c: GithubConfig = super::parse(c)?;
        check_nonempty("clientId", &c.client_id)?;
        check_nonempty("clientSecret", &c.client_secret)?;
        check_url("baseUrl", c.base_url.as_deref())?;
        check_url("apiUrl", c.api_url.as_deref())?;
        check_scopes(c.scopes.as_ref())
    }
    fn provider(&self, c: &Value) -> Result<Option<Box<dyn Provider>>> {
        let c: GithubConfig = super::parse(c)?;
        let base = c
            .base_url
            .as_deref()
            .unwrap_or(GITHUB)
            .trim_end_matches('/')
            .to_string();
        let api = match (c.api_url, c.base_url.is_some()) {
            (Some(a), _) => a.trim_end_matches('/').to_string(),
            (None, true) if base != GITHUB => format!("{base}/api/v3"),
            (None, _) => API.to_string(),
        };
        Ok(Some(Box::new(GithubProvider {
            client_id: c.client_id,
            client_secret: c.client_secret,
            base,
            api,
            scopes: c
                .scopes
                .unwrap_or_else(|| vec!["read:user".into(), "user:email".into()]),
        })))
    }
}

struct GithubProvider {
    client_id: String,
    client_secret: String,
    base: String,
    api: String,
    scopes: Vec<String>,
}

impl GithubProvider {
    fn auth(&self) -> ClientAuth<'_> {
        ClientAuth::Post {
            id: &self.client_id,
            secret: &self.client_secret,
        }
    }

    async fn account(&self, out: &Outbound, token: &str) -> std::result::Result<Account, Failure> {
        let user = get_json(out, &format!("{}/user", self.api), Some(token), ACCEPT).await?;
        let subject = numeric_id(&user["id"])
            .ok_or_else(|| Failure::Provider("GitHub's /user has no numeric id".into()))?;
        // Without the user:email scope this call fails: the login goes on without an e-mail.
        let emails = get_json(
            out,
            &format!("{}/user/emails", self.api),
            Some(token),
            ACCEPT,
        )
        .await
        .ok();
        let verified = emails
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter().find(|e| {
                    e["primary"].as_bool() == Some(true) && e["verified"].as_bool() == Some(true)
                })
            })
            .and_then(|e| text(&e["email"]));
        let (email, email_verified) = match verified {
            Some(e) => (Some(e), true),
            None => (text(&user["email"]), false),
        };
        Ok(Account {
            subject,
            username: text(&user["login"]),
            name: text(&user["name"]),
            email,
            email_verified,
        })
    }
}

impl Provider for GithubProvider {
    fn authorize_url<'a>(
        &'a self,
        _: &'a Outbound,
        s: Start<'a>,
    ) -> BoxFut<'a, std::result::Result<String, Failure>> {
        Box::pin(async move {
            with_query(
                &format!("{}/login/oauth/authorize", self.base),
                &[
                    ("client_id", &self.client_id),
                    ("redirect_uri", s.redirect_uri),
                    ("scope", &self.scopes.join(" ")),
                    ("state", s.state),
                    ("code_challenge", s.challenge),
                    ("code_challenge_method", "S256"),
                    ("allow_signup", "true"),
                ],
            )
        })
    }

    fn exchange<'a>(
        &'a self,
        out: &'a Outbound,
        code: &'a str,
        verifier: &'a str,
        redirect_uri: &'a str,
        _: Option<&'a str>,
    ) -> BoxFut<'a, std::result::Result<(Tokens, Account), Failure>> {
        Box::pin(async move {
            let (tokens, _) = code_grant(
                out,
                &format!("{}/login/oauth/access_token", self.base),
                code,
                verifier,
                redirect_uri,
                self.auth(),
                &self.scopes,
            )
            .await?;
            let account = self.account(out, &tokens.access_token).await?;
            Ok((tokens, account))
        })
    }

    fn refresh<'a>(
        &'a self,
        out: &'a Outbound,
        refresh_token: &'a str,
        _: &'a str,
    ) -> BoxFut<'a, std::result::Result<Tokens, Failure>> {
        Box::pin(async move {
            refresh_grant(
                out,
                &format!("{}/login/oauth/access_token", self.base),
                refresh_token,
                self.auth(),
                &self.scopes,
            )
            .await
        })
    }
}
