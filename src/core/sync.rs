//! The sync API: a provider access token of an identity, for a sync service that holds a
//! client-credentials token with the scope `sync`. An expired token (or one that expires
//! within a minute) is refreshed with the provider first; a refresh the provider refuses marks
//! the identity as needing a new login.

use super::instances::{self, Instance};
use super::principal::Principal;
use super::upstream::{callback_url, open_tokens, store_tokens_in};
use crate::App;
use crate::db::{self, identities, provider_tokens};
use crate::error::{Error, Reason, Result, Thing};
use crate::strategies::provider::Failure;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Refresh this long before the expiry.
const REFRESH_MARGIN_MS: i64 = 60_000;

/// A provider access token handed to a sync service.
pub struct SyncToken {
    pub token: String,
    /// Unix ms; None when the provider gave no expiry.
    pub expires_at: Option<i64>,
    pub instance: Instance,
}

/// One refresh at a time per identity in this process, so that two calls do not both spend
/// the same (rotating) refresh token. Across nodes, a refresh that lost the race is refused by
/// the provider like any other and the next call sees the winner's token.
#[derive(Default)]
pub struct RefreshLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl RefreshLocks {
    fn of(&self, identity_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Locks nobody holds go, so the map stays small.
        m.retain(|_, l| Arc::strong_count(l) > 1);
        m.entry(identity_id.to_string()).or_default().clone()
    }
}

fn not_found() -> Error {
    Error::not_found(Thing::Identity, "identity not found")
}

/// `GET /auth/api/sync/token/{identityId}`.
pub async fn token(app: &App, p: &Principal, identity_id: &str) -> Result<SyncToken> {
    p.require_scope("sync")?;
    if !p.is_client_credentials() {
        return Err(Error::forbidden(
            "the sync API takes client-credentials tokens only",
        ));
    }
    let lock = app.caches.sync_refresh.of(identity_id);
    let _held = lock.lock().await;
    let id = identity_id.to_string();
    let (identity, row) = app
        .db
        .read(move |r| {
            let i = identities::get(r, &id)?;
            let t = match &i {
                Some(i) => provider_tokens::get(r, &i.id)?,
                None => None,
            };
            Ok((i, t))
        })
        .await?;
    let identity = identity.ok_or_else(not_found)?;
    let instance = instances::get(app, &identity.instance_id).await?;
    if !instance.is_sync_active {
        return Err(Error::precondition(
            "the identity's strategy instance does not sync",
        ));
    }
    let row = row.ok_or_else(|| {
        Error::precondition("the identity's login did not grant sync: it has no provider token")
    })?;
    if row.needs_login {
        return Err(Error::precondition(
            "the provider refused to refresh this identity's token: its user must log in with it again",
        ));
    }
    let tokens = open_tokens(app, &row)?;
    let fresh = tokens
        .expires_at
        .is_none_or(|e| e > db::now_ms() + REFRESH_MARGIN_MS);
    if fresh {
        return Ok(SyncToken {
            token: tokens.access_token,
            expires_at: tokens.expires_at,
            instance,
        });
    }
    let iid = identity.id.clone();
    let Some(refresh_token) = tokens.refresh_token.clone() else {
        mark_needs_login(app, &iid).await?;
        return Err(Error::new(
            Reason::ProviderFailed,
            "the token has expired and the provider gave no refresh token: its user must log in with it again",
        ));
    };
    let provider = instance
        .strategy()
        .provider(&instance.config)?
        .ok_or_else(|| Error::precondition("the identity's strategy instance does not sync"))?;
    let refreshed = provider
        .refresh(
            &app.upstream,
            &refresh_token,
            &callback_url(app, &instance.id),
        )
        .await;
    let new = match refreshed {
        Ok(t) => t,
        Err(f) => {
            tracing::warn!(identity = %iid, error = f.detail(), "provider token refresh failed");
            if matches!(f, Failure::Provider(_) | Failure::IdToken(_)) {
                mark_needs_login(app, &iid).await?;
            }
            return Err(Error::new(
                Reason::ProviderFailed,
                match f {
                    Failure::Unreachable(_) => {
                        "the provider cannot be reached to refresh the token"
                    }
                    _ => {
                        "the provider refused to refresh the token: its user must log in with it again"
                    }
                },
            ));
        }
    };
    let (app2, stored) = (app.clone(), new.clone());
    app.db
        .write(move |tx| {
            // An identity removed meanwhile takes its tokens along.
            if identities::get(tx, &iid)?.is_none() {
                return Err(not_found());
            }
            store_tokens_in(&app2, tx, &iid, &stored)
        })
        .await?;
    Ok(SyncToken {
        token: new.access_token,
        expires_at: new.expires_at,
        instance,
    })
}

async fn mark_needs_login(app: &App, identity_id: &str) -> Result<()> {
    let id = identity_id.to_string();
    app.db
        .write(move |tx| provider_tokens::mark_needs_login(tx, &id))
        .await
}
