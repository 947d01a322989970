//! Health and readiness for load balancers and supervisors.

use super::{Req, error_response, send_json};
use crate::App;
use crate::error::Error;
use serde_json::json;
use warp::reply::Response;

pub async fn handle(app: &App, req: Req) -> Response {
    match req.segs[0].as_str() {
        // The process answers: nothing else is checked, so this stays cheap under load.
        "healthz" => send_json(200, &json!({"status": "ok"})),
        _ => {
            let ok = app
                .db
                .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
                .await
                .is_ok();
            if ok {
                send_json(200, &json!({"status": "ok"}))
            } else {
                let mut r = error_response(&Error::internal("the database does not answer"));
                *r.status_mut() = warp::http::StatusCode::SERVICE_UNAVAILABLE;
                r
            }
        }
    }
}
