//! `gitlab`: gitlab.com or a self-managed GitLab through an OAuth application. Subject: the
//! account's numeric `id`.

use super::provider::{
    Account, BoxFut, ClientAuth, Failure, Outbound, Provider, Start, Tokens, code_grant, get_json,
    numeric_id, text, token_call, with_query,
};
use super::{Caps, Kind, Strategy, UPSTREAM_CAPS, check_nonempty, check_scopes, check_url};
use crate::error::Result;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub struct Gitlab;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
/// GitLab (gitlab.com or self-managed) through an OAuth application.
struct GitlabConfig {
    /// The OAuth application's ID.
    #[schemars(title = "Client ID")]
    client_id: String,
    /// The OAuth application's secret.
    #[schemars(title = "Client secret", extend("writeOnly" = true))]
    client_secret: String,
    /// Default https://gitlab.com.
    #[schemars(title = "Base URL")]
    base_url: Option<String>,
    /// Scopes to request; default ["read_user"].
    #[schemars(title = "Scopes")]
    scopes: Option<Vec<String>>,
}

impl Strategy for Gitlab {
    fn kind(&self) -> Kind {
        Kind::Gitlab
    }
    fn caps(&self) -> &'static Caps {
        &UPSTREAM_CAPS
    }
    fn config_schema(&self) -> Value {
        super::schema::<GitlabConfig>()
    }
    fn check_fields(&self, c: &Value) -> Result<()> {
        let c: GitlabConfig = super::parse(c)?;
        check_nonempty("clientId", &c.client_id)?;
        check_nonempty("clientSecret", &c.client_secret)?;
        check_url("baseUrl", c.base_url.as_deref())?;
        check_scopes(c.scopes.as_ref())
    }
    fn provider(&self, c: &Value) -> Result<Option<Box<dyn Provider>>> {
        let c: GitlabConfig = super::parse(c)?;
        Ok(Some(Box::new(GitlabProvider {
            client_id: c.client_id,
            client_secret: c.client_secret,
            base: c
                .base_url
                .as_deref()
                .unwrap_or("https://gitlab.com")
                .trim_end_matches('/')
                .to_string(),
            scopes: c.scopes.unwrap_or_else(|| vec!["read_user".into()]),
        })))
    }
}

struct GitlabProvider {
    client_id: String,
    client_secret: String,
    base: String,
    scopes: Vec<String>,
}

impl GitlabProvider {
    fn auth(&self) -> ClientAuth<'_> {
        ClientAuth::Post {
            id: &self.client_id,
            secret: &self.client_secret,
        }
    }
}

impl Provider for GitlabProvider {
    fn authorize_url<'a>(
        &'a self,
        _: &'a Outbound,
        s: Start<'a>,
    ) -> BoxFut<'a, std::result::Result<String, Failure>> {
        Box::pin(async move {
            with_query(
                &format!("{}/oauth/authorize", self.base),
                &[
                    ("response_type", "code"),
                    ("client_id", &self.client_id),
                    ("redirect_uri", s.redirect_uri),
                    ("scope", &self.scopes.join(" ")),
                    ("state", s.state),
                    ("code_challenge", s.challenge),
                    ("code_challenge_method", "S256"),
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
                &format!("{}/oauth/token", self.base),
                code,
                verifier,
                redirect_uri,
                self.auth(),
                &self.scopes,
            )
            .await?;
            let user = get_json(
                out,
                &format!("{}/api/v4/user", self.base),
                Some(&tokens.access_token),
                "application/json",
            )
            .await?;
            let subject = numeric_id(&user["id"])
                .ok_or_else(|| Failure::Provider("GitLab's /user has no numeric id".into()))?;
            let email = text(&user["email"]);
            let account = Account {
                subject,
                username: text(&user["username"]),
                name: text(&user["name"]),
                // GitLab shows the primary address, which it has confirmed when confirmed_at is set.
                email_verified: email.is_some() && text(&user["confirmed_at"]).is_some(),
                email,
            };
            Ok((tokens, account))
        })
    }

    fn refresh<'a>(
        &'a self,
        out: &'a Outbound,
        refresh_token: &'a str,
        redirect_uri: &'a str,
    ) -> BoxFut<'a, std::result::Result<Tokens, Failure>> {
        Box::pin(async move {
            token_call(
                out,
                &format!("{}/oauth/token", self.base),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                    ("redirect_uri", redirect_uri),
                ],
                self.auth(),
                Some(refresh_token),
                &self.scopes,
            )
            .await
            .map(|(t, _)| t)
        })
    }
}
