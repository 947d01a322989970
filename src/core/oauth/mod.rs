//! The authorization server's rules, one file per grant and one for the authorization request:
//! `authorize` (the request, single sign-on, codes), `authorization_code`, `refresh`,
//! `client_credentials`, `password`, `revoke`, `introspect`. This file holds what they share:
//! scopes and resources, the grant and its token response, the ID token and the claims of the
//! userinfo endpoint.
//!
//! Codes and refresh tokens are opaque 256-bit values stored as SHA-256 digests (`db::codes`,
//! `db::refresh_tokens`). They live in separate tables, so one can never be used as the other.

pub mod authorization_code;
pub mod authorize;
pub mod client_credentials;
pub mod introspect;
pub mod password;
pub mod refresh;
pub mod revoke;

pub use authorize::{AuthRequest, destination_in, issue_code, open_flow, open_request};

use super::clients::Client;
use super::principal::Principal;
use super::sessions::{self, Origin};
use crate::App;
use crate::auth::jwt::{self, Kind};
use crate::auth::secret::{digest, random_token};
use crate::db::{self, Read, Write, users::User};
use crate::error::{Error, Reason, Result};
use serde::Serialize;

fn invalid_grant(m: &str) -> Error {
    Error::new(Reason::GrantInvalid, m)
}

fn invalid_target(m: &str) -> Error {
    Error::new(Reason::TargetInvalid, m)
}

/// A token request, by grant, with what each grant takes (the surface has checked that the
/// fields a grant needs are there).
pub enum GrantRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        /// A narrower scope than the one granted.
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
    },
    Password {
        username: String,
        password: String,
        scope: Option<String>,
        /// The userpass instance, by id or name; None: the default one.
        instance: Option<String>,
    },
}

/// The token endpoint: runs the grant for the authenticated `client`. `resource` is the RFC
/// 8707 audience asked for; `origin` is where a password login comes from.
pub async fn token(
    app: &App,
    client: &Client,
    grant: GrantRequest,
    resource: Option<&str>,
    origin: &Origin,
) -> Result<Tokens> {
    let kind = grant.metric();
    let r = run_grant(app, client, grant, resource, origin).await;
    if r.is_ok() {
        app.metrics.token_issued(kind);
    }
    r
}

impl GrantRequest {
    fn metric(&self) -> crate::metrics::Grant {
        use crate::metrics::Grant;
        match self {
            GrantRequest::AuthorizationCode { .. } => Grant::AuthorizationCode,
            GrantRequest::RefreshToken { .. } => Grant::RefreshToken,
            GrantRequest::ClientCredentials { .. } => Grant::ClientCredentials,
            GrantRequest::Password { .. } => Grant::Password,
        }
    }
}

async fn run_grant(
    app: &App,
    client: &Client,
    grant: GrantRequest,
    resource: Option<&str>,
    origin: &Origin,
) -> Result<Tokens> {
    match grant {
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let resource = check_resource(app, client, resource)?;
            authorization_code::exchange(app, client, code, redirect_uri, code_verifier, resource)
                .await
        }
        GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            let resource = check_resource(app, client, resource)?;
            refresh::rotate(app, client, refresh_token, scope.as_deref(), resource).await
        }
        GrantRequest::ClientCredentials { scope } => {
            let resource = check_resource(app, client, resource)?;
            client_credentials::grant(app, client, scope.as_deref(), resource).await
        }
        GrantRequest::Password {
            username,
            password,
            scope,
            instance,
        } => {
            password::grant(
                app,
                client,
                password::Login {
                    username,
                    password,
                    scope,
                    instance,
                    resource: resource.map(str::to_string),
                },
                origin,
            )
            .await
        }
    }
}

/// Scopes as a sorted, de-duplicated list.
pub fn parse_scope(scope: &str) -> Vec<String> {
    let mut v: Vec<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The scopes a client asked for, all of which it must be allowed; nothing asked means all of
/// its scopes.
pub fn granted_scope(client: &Client, requested: Option<&str>) -> Result<Vec<String>> {
    let req = requested.map(parse_scope).unwrap_or_default();
    if req.is_empty() {
        return Ok(client.valid_scopes.clone());
    }
    if let Some(bad) = req.iter().find(|s| !client.valid_scopes.contains(s)) {
        return Err(Error::new(
            Reason::ScopeInvalid,
            format!("the client may not ask for the scope {bad}"),
        ));
    }
    Ok(req)
}

/// An RFC 8707 `resource`, the audience of the access token: an absolute URL without fragment
/// that `client` may ask for (`Client::allows_resource`). None when none was asked for.
pub fn check_resource(
    app: &App,
    client: &Client,
    resource: Option<&str>,
) -> Result<Option<String>> {
    match resource {
        None | Some("") => Ok(None),
        Some(r) => {
            let ok = url::Url::parse(r).is_ok_and(|u| u.fragment().is_none() && u.has_host());
            if !ok {
                return Err(invalid_target("resource must be an absolute URL"));
            }
            let r = own_url(app, r);
            if !client.allows_resource(&app.public_url, r) {
                return Err(invalid_target(
                    "the client may not ask for tokens for this resource",
                ));
            }
            Ok(Some(r.to_string()))
        }
    }
}

/// keyward's own URL written with a trailing slash is keyward's own URL (the audience its
/// endpoints require); every other resource is compared exactly.
fn own_url<'a>(app: &'a App, resource: &'a str) -> &'a str {
    if resource.strip_suffix('/') == Some(app.public_url.as_str()) {
        &app.public_url
    } else {
        resource
    }
}

/// The audience a grant made for `granted` (None: keyward's own URL) gives its tokens, checked
/// again when the grant is used: the client may have lost the resource since, and a `requested`
/// resource must be the one the grant was made for.
fn grant_audience(
    app: &App,
    client: &Client,
    granted: Option<String>,
    requested: Option<&str>,
) -> Result<Option<String>> {
    let audience = granted.as_deref().unwrap_or(&app.public_url);
    if requested.is_some_and(|r| !r.is_empty() && own_url(app, r) != audience) {
        return Err(invalid_target("the grant was not made for this resource"));
    }
    if !client.allows_resource(&app.public_url, audience) {
        return Err(invalid_target(
            "the client may no longer ask for tokens for this resource",
        ));
    }
    Ok(granted)
}

/// What a grant hands out tokens for.
pub struct Grant {
    pub user: User,
    pub session_id: String,
    pub session_created: i64,
    pub client_id: String,
    pub scope: Vec<String>,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    /// The new refresh token, once `store_refresh` made it.
    pub refresh: Option<String>,
}

/// What the token endpoint hands out (its `token_type` is always Bearer).
pub struct Tokens {
    pub access_token: String,
    pub expires_in: u64,
    /// Space-separated.
    pub scope: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

/// Makes and stores the grant's refresh token, in the caller's transaction. Signing happens
/// afterwards (`sign`), so the write lock is held only for the rows.
pub fn store_refresh(app: &App, tx: &Write, g: &mut Grant) -> Result<()> {
    let scope = g.scope.join(" ");
    store_refresh_scoped(app, tx, g, scope)
}

/// `store_refresh` for a refresh token whose scope is not the access token's: a rotation that
/// narrowed the access token keeps the scope originally granted (RFC 6749 6).
pub fn store_refresh_scoped(app: &App, tx: &Write, g: &mut Grant, scope: String) -> Result<()> {
    let token = random_token(32);
    db::refresh_tokens::insert(
        tx,
        &digest(&token),
        &db::refresh_tokens::RefreshToken {
            session_id: g.session_id.clone(),
            client_id: Some(g.client_id.clone()),
            scope,
            resource: g.audience.clone(),
            expires: tx.now + app.settings.session_inactivity as i64 * 1000,
            used_at: None,
        },
    )?;
    g.refresh = Some(token);
    Ok(())
}

/// Signs the grant's tokens: the access token, and an ID token when `openid` was granted.
pub fn sign(app: &App, g: &Grant) -> Result<Tokens> {
    let scope = g.scope.join(" ");
    let ttl = app.settings.access_token_ttl;
    let (access, _) = sessions::access_token(
        app,
        &g.user.id,
        &g.session_id,
        &scope,
        Some(&g.client_id),
        ttl,
        g.audience.as_deref(),
    )?;
    let id_token = if g.scope.iter().any(|s| s == "openid") {
        Some(id_token(app, g)?)
    } else {
        None
    };
    Ok(Tokens {
        access_token: access,
        expires_in: ttl,
        scope,
        refresh_token: g.refresh.clone(),
        id_token,
    })
}

/// The claims of an ID token.
#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    nbf: i64,
    auth_time: i64,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(flatten)]
    profile: Profile,
}

fn id_token(app: &App, g: &Grant) -> Result<String> {
    let now = jwt::now_secs();
    let claims = IdClaims {
        iss: &app.public_url,
        sub: &g.user.id,
        aud: &g.client_id,
        exp: now + app.settings.access_token_ttl as i64,
        iat: now,
        nbf: now,
        auth_time: g.session_created / 1000,
        sid: &g.session_id,
        nonce: g.nonce.as_deref(),
        profile: Profile::of(&g.user, &g.scope),
    };
    jwt::sign(&app.keys, Kind::Id, &claims)
}

/// The OIDC profile and email claims the scopes allow (`profile`, `email`); the others are
/// absent.
#[derive(Debug, Default, Serialize)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Always false when there: keyward does not verify addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl Profile {
    pub fn of(user: &User, scope: &[String]) -> Profile {
        let mut p = Profile::default();
        if scope.iter().any(|s| s == "profile") {
            p.name = Some(user.display_name.clone());
            p.preferred_username = Some(user.username.clone());
            p.updated_at = Some(user.updated_at / 1000);
        }
        if scope.iter().any(|s| s == "email")
            && let Some(e) = &user.email
        {
            p.email = Some(e.clone());
            p.email_verified = Some(false);
        }
        p
    }
}

/// The userinfo endpoint: the subject and the profile claims of an access token's scopes. The
/// token must carry `openid`.
pub fn userinfo(p: &Principal) -> Result<(String, Profile)> {
    if !p.claims.has_scope("openid") {
        return Err(Error::new(
            Reason::ScopeMissing,
            "the token lacks the scope openid",
        ));
    }
    let scope = parse_scope(&p.claims.scope);
    Ok((p.user.id.clone(), Profile::of(&p.user, &scope)))
}

/// Ends a session whose code or refresh token was replayed: every token of it dies.
fn end_for_replay(tx: &Write, session_id: &str, what: &str) -> Result<()> {
    db::sessions::end(tx, session_id, tx.now)?;
    tracing::warn!(session = session_id, "{what} reused: session ended");
    Ok(())
}

/// The live session and its user, for a grant.
fn live_user(tx: &Read, session_id: &str) -> Result<(db::sessions::Session, User)> {
    let s = db::sessions::get(tx, session_id)?
        .filter(|s| s.is_live(tx.now))
        .ok_or_else(|| invalid_grant("the login behind this grant has ended"))?;
    let uid = s
        .user_id
        .clone()
        .ok_or_else(|| invalid_grant("the login behind this grant has no user"))?;
    let user = db::users::get(tx, &uid)?
        .filter(|u| !u.is_blocked)
        .ok_or_else(|| invalid_grant("the user of this grant is blocked or gone"))?;
    Ok((s, user))
}
