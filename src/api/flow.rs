//! The JSON calls behind the hosted pages (`/auth/api/flow/...`).

use super::body::Body;
use super::{Req, error_response, method_not_allowed, send_json};
use crate::App;
use crate::core::bootstrap;
use crate::error::{Error, Result};
use serde_json::{Value, json};
use warp::http::Method;
use warp::reply::Response;

pub async fn handle(app: &App, req: Req) -> Response {
    match route(app, &req).await {
        Ok((status, v)) => send_json(status, &v),
        Err(e) => error_response(&e),
    }
}

async fn route(app: &App, req: &Req) -> Result<(u16, Value)> {
    let segs = req.rest(3);
    match (segs.as_slice(), &req.method) {
        // Whether a setup link is still good, so the page can say so before asking for anything.
        (["setup", "check"], &Method::POST) => {
            let b = Body::parse(&req.body)?;
            b.only(&["token"])?;
            bootstrap::check_setup_token(app, b.str("token")?).await?;
            Ok((200, json!({"valid": true})))
        }
        (["setup"], &Method::POST) => {
            let b = Body::parse(&req.body)?;
            b.only(&["token", "username", "displayName", "password"])?;
            let user = bootstrap::complete_setup(
                app,
                b.str("token")?,
                b.str("username")?,
                b.opt_str("displayName")?,
                b.str("password")?,
                req.address(),
            )
            .await?;
            Ok((201, super::login_api::user_json(&user)))
        }
        (["setup"] | ["setup", "check"], _) => Err(method_not_allowed()),
        _ => Err(Error::not_found("no such resource")),
    }
}
