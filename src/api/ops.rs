//! Operations: health and readiness for load balancers and supervisors, and the OpenAPI
//! document of every surface.

use super::io::{Json, NoInput, Raw};
use super::route::{Cx, Public, Route, Surface};
use crate::error::{Error, Reason, Result};
use schemars::JsonSchema;
use serde::Serialize;
use std::sync::OnceLock;
use warp::http::Method;

#[derive(Serialize, JsonSchema)]
/// The process (or the database) answers.
pub struct Status {
    /// Always `ok`.
    status: &'static str,
}

pub fn surface() -> Surface {
    Surface {
        name: "operations",
        error_schema: super::login_error_schema,
        render: super::error_response,
        routes: vec![
            Route::new(Method::GET, "/healthz", "healthz", healthz)
                .summary("The process is up")
                .describe("Checks nothing else, so it stays cheap under load."),
            Route::new(Method::GET, "/readyz", "readyz", readyz)
                .summary("The database answers")
                .errors(&[503]),
            Route::new(Method::GET, "/api/openapi.json", "openapi", openapi)
                .summary("This document")
                .response(
                    200,
                    serde_json::json!({
                        "description": "The OpenAPI 3.1 document of every surface",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }),
                ),
        ],
    }
}

async fn healthz(_: Cx, _: Public, _: NoInput) -> Result<Json<Status>> {
    Ok(Json(Status { status: "ok" }))
}

async fn readyz(cx: Cx, _: Public, _: NoInput) -> Result<Json<Status>> {
    cx.app
        .db
        .ping()
        .await
        .map_err(|_| Error::new(Reason::Busy(1), "the database does not answer"))?;
    Ok(Json(Status { status: "ok" }))
}

async fn openapi(cx: Cx, _: Public, _: NoInput) -> Result<Raw> {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| super::openapi_document(&cx.app).to_string());
    Ok(Raw(super::respond(200, "application/json", doc.clone())))
}
