//! The Bearer principal: who a request's access token speaks for, after every check.

use super::Actor;
use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::db::{self, Read, users::User};
use crate::error::{Error, Reason, Result};

#[derive(Debug, Clone)]
pub struct Principal {
    pub claims: Claims,
    pub user: User,
    pub session: crate::db::sessions::Session,
}

impl Principal {
    pub fn actor(&self, address: Option<String>) -> Actor {
        Actor::user(&self.user, address)
    }

    pub fn require_scope(&self, scope: &str) -> Result<()> {
        if self.claims.has_scope(scope) {
            Ok(())
        } else {
            Err(Error::new(
                Reason::ScopeMissing,
                format!("the token lacks the scope {scope}"),
            ))
        }
    }

    /// A client-credentials token: its session belongs to the client, not to a login.
    pub fn is_client_credentials(&self) -> bool {
        self.session.identity_id.is_none()
            && self.session.client_id.is_some()
            && self.session.client_id == self.claims.client_id
    }

    /// For scopes that reach other users' data: the scope, held by an admin or by a
    /// client-credentials token (whose client an admin configured).
    pub fn require_privileged_scope(&self, scope: &str) -> Result<()> {
        self.require_scope(scope)?;
        if self.user.is_admin || self.is_client_credentials() {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "{scope} is for admins and client credentials"
            )))
        }
    }

    /// May act on user `id`: one's own user with `own_scope`, any user with the privileged
    /// `all_scope` (see `require_privileged_scope`).
    pub fn may_act_on(&self, id: &str, own_scope: &str, all_scope: &str) -> Result<()> {
        if self.require_privileged_scope(all_scope).is_ok() {
            return Ok(());
        }
        if self.user.id != id {
            return Err(Error::new(
                Reason::ScopeMissing,
                format!("only your own user, unless the token has {all_scope}"),
            ));
        }
        self.require_scope(own_scope)
    }

    pub fn require_admin(&self) -> Result<()> {
        if self.user.is_admin {
            Ok(())
        } else {
            Err(Error::forbidden("only admins may do this"))
        }
    }
}

/// Validates an access token for keyward's own endpoints: the signature and claims, then that
/// its user exists and is not blocked, that it was not issued before the user's
/// `revokeTokensBefore`, that its session is live, and that it was not revoked.
pub async fn authenticate(app: &App, token: &str) -> Result<Principal> {
    let claims: Claims = jwt::verify(
        &app.keys,
        Kind::Access,
        token,
        &app.public_url,
        Some(&app.public_url),
    )
    .await?;
    check_live(app, claims).await
}

/// The database half of `authenticate`, also used by introspection. What the database said of
/// a token is reused until this process writes anything (see `db::snapshot`).
pub async fn check_live(app: &App, claims: Claims) -> Result<Principal> {
    let hit = app
        .caches
        .live
        .get(&app.db, &claims.jti)
        .filter(|(u, s)| u.id == claims.sub && s.id == claims.sid && s.is_live(db::now_ms()));
    let (user, session) = match hit {
        Some(x) => x,
        None => {
            let generation = app.db.generation();
            let found =
                live_subject(app, &claims.sub, &claims.sid, claims.iat, Some(&claims.jti)).await?;
            app.caches
                .live
                .put(generation, claims.jti.clone(), found.clone());
            found
        }
    };
    Ok(Principal {
        claims,
        user,
        session,
    })
}

/// Whether a token keyward issued still speaks for its user: the user exists and is not
/// blocked, the token is not older than the user's `revokeTokensBefore`, its session (`sid`) is
/// live and the user's, and (for tokens with a `jti`) it was not revoked.
pub async fn live_subject(
    app: &App,
    sub: &str,
    sid: &str,
    iat: i64,
    jti: Option<&str>,
) -> Result<(User, crate::db::sessions::Session)> {
    let (sub, sid, jti) = (sub.to_string(), sid.to_string(), jti.map(str::to_string));
    app.db
        .read(move |conn| live_subject_in(conn, &sub, &sid, iat, jti.as_deref()))
        .await
}

/// `live_subject` inside a transaction, for a caller that acts on the answer in the same one.
pub fn live_subject_in(
    conn: &Read,
    sub: &str,
    sid: &str,
    iat: i64,
    jti: Option<&str>,
) -> Result<(User, crate::db::sessions::Session)> {
    let refused = || Error::token_invalid("invalid or expired token");
    let user = db::users::get(conn, sub)?;
    let session = db::sessions::get(conn, sid)?;
    let revoked = match jti {
        Some(j) => db::revoked_tokens::is_revoked(conn, j)?,
        None => false,
    };
    let user = user.ok_or_else(refused)?;
    if user.is_blocked || revoked {
        return Err(refused());
    }
    // revokeTokensBefore is in milliseconds, iat in seconds: a token from the same second is
    // still refused through its ended session.
    if let Some(before) = user.revoke_tokens_before
        && iat < before / 1000
    {
        return Err(refused());
    }
    let session = session
        .filter(|s| s.is_live(conn.now) && s.user_id.as_deref() == Some(user.id.as_str()))
        .ok_or_else(refused)?;
    Ok((user, session))
}
