//! The authorization server's rules: authorization codes, refresh-token rotation with reuse
//! detection, client credentials, ID tokens, revocation and introspection.
//!
//! Codes and refresh tokens are opaque 256-bit values stored as SHA-256 digests. They live in
//! separate tables, so one can never be used as the other.

use super::clients::Client;
use super::instances::Instance;
use super::login::Outcome;
use super::sessions::{self, Origin};
use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::auth::secret::{b64, digest, random_token};
use crate::db::{self, identities::Identity, users::User};
use crate::db::{Read, Write};
use crate::error::{Error, Reason, Result};
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CODE_TTL_MS: i64 = 10 * 60 * 1000;

fn invalid_grant(m: &str) -> Error {
    Error::new(Reason::GrantInvalid, m)
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

fn invalid_target(m: &str) -> Error {
    Error::new(Reason::TargetInvalid, m)
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
            if !client.allows_resource(&app.public_url, r) {
                return Err(invalid_target(
                    "the client may not ask for tokens for this resource",
                ));
            }
            Ok(Some(r.to_string()))
        }
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
    if requested.is_some_and(|r| r != audience) {
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

/// Makes and stores the grant's refresh token, in the caller's transaction. Signing happens
/// afterwards (`respond`), so the write lock is held only for the rows.
pub fn store_refresh(app: &App, tx: &Write, g: &mut Grant) -> Result<()> {
    let now = db::now_ms();
    let token = random_token(32);
    let expires = now + app.settings.session_inactivity as i64 * 1000;
    tx.execute(
        "INSERT INTO refresh_tokens
             (digest, active_login_id, client_id, scope, resource, created_at, expires)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            digest(&token),
            g.session_id,
            g.client_id,
            g.scope.join(" "),
            g.audience,
            now,
            expires
        ],
    )?;
    g.refresh = Some(token);
    Ok(())
}

/// Signs the grant's tokens and renders the token response.
pub fn respond(app: &App, g: &Grant) -> Result<Value> {
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
    let mut out = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scope,
    });
    if let Some(r) = &g.refresh {
        out["refresh_token"] = json!(r);
    }
    if g.scope.iter().any(|s| s == "openid") {
        out["id_token"] = json!(id_token(app, g)?);
    }
    Ok(out)
}

fn id_token(app: &App, g: &Grant) -> Result<String> {
    let now = jwt::now_secs();
    let mut claims = json!({
        "iss": app.public_url,
        "sub": g.user.id,
        "aud": g.client_id,
        "exp": now + app.settings.access_token_ttl as i64,
        "iat": now,
        "nbf": now,
        "auth_time": g.session_created / 1000,
        "sid": g.session_id,
    });
    if let Some(n) = &g.nonce {
        claims["nonce"] = json!(n);
    }
    profile_claims(&g.user, &g.scope, &mut claims);
    jwt::sign(&app.keys, Kind::Id, &claims)
}

/// The OIDC profile and email claims the scopes allow.
pub fn profile_claims(user: &User, scope: &[String], out: &mut Value) {
    if scope.iter().any(|s| s == "profile") {
        out["name"] = json!(user.display_name);
        out["preferred_username"] = json!(user.username);
        out["updated_at"] = json!(user.updated_at / 1000);
    }
    if scope.iter().any(|s| s == "email")
        && let Some(e) = &user.email
    {
        out["email"] = json!(e);
        out["email_verified"] = json!(false);
    }
}

/// An authorization request that has been checked and is waiting for a login.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub resource: Option<String>,
    /// Unix ms after which the request is void.
    pub expires: i64,
}

/// Makes a code for a logged-in session and returns the redirect URL that carries it.
pub fn issue_code(tx: &Write, session_id: &str, req: &AuthRequest) -> Result<String> {
    let code = random_token(32);
    let now = db::now_ms();
    let payload = json!({"scope": req.scope, "resource": req.resource}).to_string();
    tx.execute(
        "INSERT INTO authorization_codes (digest, client_id, active_login_id, redirect_uri, scope,
         nonce, code_challenge, created_at, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            digest(&code),
            req.client_id,
            session_id,
            req.redirect_uri,
            payload,
            req.nonce,
            req.code_challenge,
            now,
            now + CODE_TTL_MS
        ],
    )?;
    let mut url = url::Url::parse(&req.redirect_uri)
        .map_err(|_| Error::internal("stored redirect URI is not a URL"))?;
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = &req.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Ok(url.to_string())
}

/// S256 PKCE: BASE64URL(SHA-256(verifier)) must equal the challenge.
fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed
        && crate::auth::secret::digest_eq(
            b64(&Sha256::digest(verifier.as_bytes())).as_bytes(),
            challenge.as_bytes(),
        )
}

/// Ends a session whose code or refresh token was replayed: every token of it dies.
fn end_for_replay(tx: &Write, session_id: &str, what: &str) -> Result<()> {
    db::sessions::end(tx, session_id, db::now_ms())?;
    tracing::warn!(session = session_id, "{what} reused: session ended");
    Ok(())
}

/// A stored refresh token.
struct RefreshRow {
    session_id: String,
    client_id: Option<String>,
    scope: String,
    resource: Option<String>,
    expires: i64,
    used_at: Option<i64>,
}

fn refresh_row(c: &Read, token: &str) -> Result<Option<RefreshRow>> {
    Ok(c.query_row(
        "SELECT active_login_id, client_id, scope, resource, expires, used_at
         FROM refresh_tokens WHERE digest = ?1",
        params![digest(token)],
        |r| {
            Ok(RefreshRow {
                session_id: r.get(0)?,
                client_id: r.get(1)?,
                scope: r.get(2)?,
                resource: r.get(3)?,
                expires: r.get(4)?,
                used_at: r.get(5)?,
            })
        },
    )
    .optional()?)
}

/// The live session and its user, for a grant.
fn live_user(tx: &Read, session_id: &str) -> Result<(db::sessions::Session, User)> {
    let now = db::now_ms();
    let s = db::sessions::get(tx, session_id)?
        .filter(|s| s.is_live(now))
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

/// authorization_code. `resource`, when the token request names one, must be the one of the
/// authorization request (already checked against the client by `check_resource`).
pub async fn exchange_code(
    app: &App,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    resource: Option<String>,
) -> Result<Value> {
    let (app2, client_id, client) = (app.clone(), client.id.clone(), client.clone());
    let (code, redirect_uri, verifier) = (
        code.to_string(),
        redirect_uri.map(str::to_string),
        verifier.map(str::to_string),
    );
    // The inner Result lets a replay end the session (committed) and still answer an error.
    let grant = app
        .db
        .write(move |tx| {
            type Row = (
                String,
                String,
                String,
                String,
                Option<String>,
                Option<String>,
                i64,
                Option<i64>,
            );
            let row: Option<Row> = tx
                .query_row(
                    "SELECT client_id, active_login_id, redirect_uri, scope, nonce, code_challenge,
                     expires, used_at FROM authorization_codes WHERE digest = ?1",
                    params![digest(&code)],
                    |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                        ))
                    },
                )
                .optional()?;
            let Some((cid, sid, ruri, payload, nonce, challenge, expires, used)) = row else {
                return Ok(Err(invalid_grant("the code is not valid")));
            };
            if cid != client_id {
                return Ok(Err(invalid_grant("the code was issued to another client")));
            }
            if used.is_some() {
                end_for_replay(tx, &sid, "authorization code")?;
                return Ok(Err(invalid_grant(
                    "the code was already used; its tokens are revoked",
                )));
            }
            if expires <= db::now_ms() {
                return Ok(Err(invalid_grant("the code has expired")));
            }
            if redirect_uri.as_deref() != Some(ruri.as_str()) {
                return Ok(Err(invalid_grant(
                    "redirect_uri does not match the authorization request",
                )));
            }
            if let Some(ch) = &challenge {
                match &verifier {
                    Some(v) if pkce_ok(v, ch) => {}
                    Some(_) => {
                        return Ok(Err(invalid_grant(
                            "code_verifier does not match the code_challenge",
                        )));
                    }
                    None => return Ok(Err(invalid_grant("code_verifier is required"))),
                }
            }
            let payload: Value = serde_json::from_str(&payload).unwrap_or_default();
            // Refused before the code is used up: the client may try again as it should.
            let audience = match grant_audience(
                &app2,
                &client,
                payload["resource"].as_str().map(str::to_string),
                resource.as_deref(),
            ) {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            tx.execute(
                "UPDATE authorization_codes SET used_at = ?2 WHERE digest = ?1",
                params![digest(&code), db::now_ms()],
            )?;
            let (session, user) = match live_user(tx, &sid) {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            let scope: Vec<String> =
                serde_json::from_value(payload["scope"].clone()).unwrap_or_default();
            let mut g = Grant {
                user,
                session_id: sid,
                session_created: session.created_at,
                client_id,
                scope,
                audience,
                nonce,
                refresh: None,
            };
            store_refresh(&app2, tx, &mut g)?;
            Ok(Ok(g))
        })
        .await??;
    respond(app, &grant)
}

/// refresh_token: rotates the refresh token. The new access token keeps the audience the grant
/// was made for; a `resource` other than that one, or one the client may no longer ask for, is
/// refused (RFC 8707, `invalid_target`).
pub async fn refresh(
    app: &App,
    client: &Client,
    token: &str,
    scope: Option<&str>,
    resource: Option<String>,
) -> Result<Value> {
    let (app2, client_id, client) = (app.clone(), client.id.clone(), client.clone());
    let token = token.to_string();
    let narrowed = scope.map(parse_scope);
    let grant = app
        .db
        .write(move |tx| {
            let Some(RefreshRow {
                session_id: sid,
                client_id: cid,
                scope: granted,
                resource: granted_resource,
                expires,
                used_at: used,
            }) = refresh_row(tx, &token)?
            else {
                return Ok(Err(invalid_grant("the refresh token is not valid")));
            };
            if cid.as_deref() != Some(client_id.as_str()) {
                return Ok(Err(invalid_grant(
                    "the refresh token was issued to another client",
                )));
            }
            if used.is_some() {
                end_for_replay(tx, &sid, "refresh token")?;
                return Ok(Err(invalid_grant(
                    "the refresh token was already used; its login is ended",
                )));
            }
            let now = db::now_ms();
            if expires <= now {
                return Ok(Err(invalid_grant("the refresh token has expired")));
            }
            let granted_resource =
                match grant_audience(&app2, &client, granted_resource, resource.as_deref()) {
                    Ok(a) => a,
                    Err(e) => return Ok(Err(e)),
                };
            let (session, user) = match live_user(tx, &sid) {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            let granted = parse_scope(&granted);
            let scope = match &narrowed {
                Some(n) if !n.is_empty() => {
                    if let Some(bad) = n.iter().find(|s| !granted.contains(s)) {
                        return Ok(Err(Error::new(
                            Reason::ScopeInvalid,
                            format!("the scope {bad} was not granted"),
                        )));
                    }
                    n.clone()
                }
                _ => granted,
            };
            tx.execute(
                "UPDATE refresh_tokens SET used_at = ?2 WHERE digest = ?1",
                params![digest(&token), now],
            )?;
            db::sessions::touch(
                tx,
                &sid,
                now,
                now + app2.settings.session_inactivity as i64 * 1000,
            )?;
            let mut g = Grant {
                user,
                session_id: sid,
                session_created: session.created_at,
                client_id,
                scope,
                audience: granted_resource,
                nonce: None,
                refresh: None,
            };
            store_refresh(&app2, tx, &mut g)?;
            Ok(Ok(g))
        })
        .await??;
    respond(app, &grant)
}

/// client_credentials: tokens for the client's `clientCredentialFlowUser`, sharing one session
/// per client and user so that a flood of grants writes nothing but its first session.
pub async fn client_credentials(
    app: &App,
    client: &Client,
    scope: Option<&str>,
    resource: Option<String>,
) -> Result<Value> {
    if !client.requires_secret {
        return Err(Error::new(
            Reason::ClientNotAllowed,
            "a public client cannot use client_credentials",
        ));
    }
    let uid = client.client_credential_flow_user.clone().ok_or_else(|| {
        Error::new(
            Reason::ClientNotAllowed,
            "the client has no clientCredentialFlowUser",
        )
    })?;
    let scope = granted_scope(client, scope)?;
    let (app2, client_id) = (app.clone(), client.id.clone());
    let now = db::now_ms();
    let key = (client_id.clone(), uid.clone());
    let found = match app.caches.client_sessions.get(&app.db, &key) {
        Some((user, sid)) => (Some(user), Some(sid)),
        None => {
            let generation = app.db.generation();
            let (cid, uid) = key.clone();
            let found = app
                .db
                .read(move |c| {
                    let user = db::users::get(c, &uid)?;
                    let sid = db::sessions::client_session(c, &cid, &uid, now)?;
                    Ok((user, sid))
                })
                .await?;
            if let (Some(u), Some(s)) = &found {
                app.caches
                    .client_sessions
                    .put(generation, key, (u.clone(), s.clone()));
            }
            found
        }
    };
    let user = found
        .0
        .filter(|u| !u.is_blocked)
        .ok_or_else(|| invalid_grant("the clientCredentialFlowUser is blocked or gone"))?;
    let sid = match found.1 {
        Some(sid) => sid,
        None => {
            let (cid, uid) = (client_id.clone(), user.id.clone());
            let app3 = app.clone();
            let s = app
                .db
                .write(move |tx| {
                    let origin = Origin {
                        client_id: Some(cid),
                        ..Default::default()
                    };
                    sessions::start(&app3, tx, Some(&uid), None, &origin)
                })
                .await?;
            s.id
        }
    };
    let (token, _) = sessions::access_token(
        &app2,
        &user.id,
        &sid,
        &scope.join(" "),
        Some(&client_id),
        app.settings.access_token_ttl,
        resource.as_deref(),
    )?;
    Ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": app.settings.access_token_ttl,
        "scope": scope.join(" "),
    }))
}

/// What a grant request asks for, checked: its scopes and the audience (RFC 8707 resource).
pub struct Asked {
    pub scope: Vec<String>,
    pub resource: Option<String>,
}

/// The password grant: the password is checked first; the session and its refresh token are
/// then written in one transaction. A login to a waiting identity answers, as Gropius did, with
/// a register token instead, and no refresh token.
pub async fn password_grant(
    app: &App,
    client: &Client,
    inst: &Instance,
    username: &str,
    password: &str,
    origin: &Origin,
    asked: Asked,
) -> Result<Value> {
    enum Done {
        Tokens(Grant),
        Waiting(Identity, db::sessions::Session),
    }
    let (app2, client_id) = (app.clone(), client.id.clone());
    let done = super::login::password_login_then(
        app,
        inst,
        username,
        password,
        origin,
        move |tx, outcome| match outcome {
            Outcome::LoggedIn { user, session } => {
                let mut g = Grant {
                    user,
                    session_id: session.id,
                    session_created: session.created_at,
                    client_id,
                    scope: asked.scope,
                    audience: asked.resource,
                    nonce: None,
                    refresh: None,
                };
                store_refresh(&app2, tx, &mut g)?;
                Ok(Done::Tokens(g))
            }
            Outcome::Waiting { identity, session } => Ok(Done::Waiting(identity, session)),
        },
    )
    .await?;
    match done {
        Done::Tokens(g) => respond(app, &g),
        Done::Waiting(identity, session) => {
            let (token, ttl) = super::pending::register_token(app, &identity, &session)?;
            Ok(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": "login-register",
            }))
        }
    }
}

/// RFC 7009: a refresh token ends its session; an access token is refused from then on.
/// Unknown tokens are not an error.
pub async fn revoke(app: &App, client: &Client, token: &str) -> Result<()> {
    let t = token.to_string();
    let cid = client.id.clone();
    let ended = app
        .db
        .write(move |tx| {
            let row: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT active_login_id, client_id FROM refresh_tokens WHERE digest = ?1",
                    params![digest(&t)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match row {
                Some((sid, Some(c))) if c == cid => {
                    db::sessions::end(tx, &sid, db::now_ms())?;
                    Ok(true)
                }
                Some(_) => Ok(true),
                None => Ok(false),
            }
        })
        .await?;
    if ended {
        return Ok(());
    }
    if let Ok(claims) =
        jwt::verify::<Claims>(&app.keys, Kind::Access, token, &app.public_url, None).await
        && claims.client_id.as_deref() == Some(client.id.as_str())
    {
        app.db
            .write(move |tx| db::revoked_tokens::insert(tx, &claims.jti, claims.exp * 1000))
            .await?;
    }
    Ok(())
}

/// RFC 7662: what a token is, or `{"active": false}` for anything not currently good. A client
/// learns about its own tokens and about access tokens for one of its resources (it is their
/// resource server); every other token is `{"active": false}` to it, whatever it is.
pub async fn introspect(app: &App, client: &Client, token: &str) -> Result<Value> {
    if let Ok(claims) =
        jwt::verify::<Claims>(&app.keys, Kind::Access, token, &app.public_url, None).await
    {
        let ours = claims.client_id.as_deref() == Some(client.id.as_str())
            || client.resources.contains(&claims.aud);
        if !ours {
            return Ok(json!({"active": false}));
        }
        return Ok(match super::principal::check_live(app, claims).await {
            Ok(p) => json!({
                "active": true,
                "token_type": "Bearer",
                "scope": p.claims.scope,
                "client_id": p.claims.client_id,
                "username": p.user.username,
                "sub": p.claims.sub,
                "aud": p.claims.aud,
                "iss": p.claims.iss,
                "exp": p.claims.exp,
                "iat": p.claims.iat,
                "nbf": p.claims.nbf,
                "jti": p.claims.jti,
                "sid": p.claims.sid,
            }),
            Err(_) => json!({"active": false}),
        });
    }
    let (t, own) = (token.to_string(), client.id.clone());
    let found = app
        .db
        .read(move |c| {
            let Some(RefreshRow {
                session_id: sid,
                client_id: cid,
                scope,
                expires,
                used_at: used,
                ..
            }) = refresh_row(c, &t)?
            else {
                return Ok(None);
            };
            let now = db::now_ms();
            // A refresh token is only ever for the client it was issued to.
            if used.is_some() || expires <= now || cid.as_deref() != Some(own.as_str()) {
                return Ok(None);
            }
            let session = db::sessions::get(c, &sid)?.filter(|s| s.is_live(now));
            let user = match session.as_ref().and_then(|s| s.user_id.clone()) {
                Some(u) => db::users::get(c, &u)?.filter(|u| !u.is_blocked),
                None => None,
            };
            Ok(user.map(|u| (u, cid, scope, expires, sid)))
        })
        .await?;
    Ok(match found {
        Some((user, cid, scope, expires, sid)) => json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": scope,
            "client_id": cid,
            "username": user.username,
            "sub": user.id,
            "exp": expires / 1000,
            "sid": sid,
        }),
        None => json!({"active": false}),
    })
}

/// Sealed authorization requests travel through the login pages in the URL, so no server
/// state is kept for a login that is never finished.
pub fn seal_request(app: &App, req: &AuthRequest) -> String {
    let plain = serde_json::to_vec(req).unwrap_or_default();
    b64(&app.master.seal("authorize-request", &plain))
}

pub fn open_request(app: &App, sealed: &str) -> Result<AuthRequest> {
    let bad = || {
        Error::bad_request(
            "this login link is invalid or has expired; start again from the application",
        )
    };
    let bytes = crate::auth::secret::b64_decode(sealed).ok_or_else(bad)?;
    let plain = app
        .master
        .open("authorize-request", &bytes)
        .map_err(|_| bad())?;
    let req: AuthRequest = serde_json::from_slice(&plain).map_err(|_| bad())?;
    if req.expires <= db::now_ms() {
        return Err(bad());
    }
    Ok(req)
}
