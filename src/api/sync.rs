//! The sync API (`/auth/api/sync`): provider access tokens for a sync service, which holds a
//! client-credentials token with the scope `sync` (see `core::sync`). Errors in the login
//! API's shape.

use super::guard::Bearer;
use super::io::{Json, NoInput};
use super::login_api::InstanceOut;
use super::route::{Cx, Route, Surface};
use crate::core::{rfc3339, sync};
use crate::error::Result;
use schemars::JsonSchema;
use serde::Serialize;
use warp::http::Method;

pub fn surface() -> Surface {
    Surface {
        name: "sync",
        error_schema: super::login_error_schema,
        render: super::bearer_error_response,
        routes: vec![
            Route::new(
                Method::GET,
                "/auth/api/sync/token/{identityId}",
                "syncToken",
                token,
            )
            .summary("The provider access token of an identity")
            .describe(
                "For client-credentials tokens with the scope `sync`. The token is refreshed \
                 with the provider first when it has expired or expires within a minute. 404: \
                 no such identity; 409: its instance does not sync, or its login gave no \
                 token, or it needs a new login; 502: the provider refused the refresh (the \
                 identity then needs a new login) or cannot be reached.",
            )
            .tag("sync")
            .errors(&[403, 404, 409, 502]),
        ],
    }
}

/// A provider access token.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SyncToken")]
struct TokenOut {
    token: String,
    /// When the token expires; null when the provider gave no expiry.
    expires_at: Option<String>,
    strategy_instance: InstanceOut,
}

async fn token(cx: Cx, Bearer(p): Bearer, _: NoInput) -> Result<Json<TokenOut>> {
    let t = sync::token(&cx.app, &p, cx.param(0)).await?;
    Ok(Json(TokenOut {
        token: t.token,
        expires_at: t.expires_at.map(rfc3339),
        strategy_instance: InstanceOut::of(&cx.app, &t.instance),
    }))
}
