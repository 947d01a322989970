//! Operations: health and readiness for load balancers and supervisors, the Prometheus
//! metrics, and the OpenAPI document of every surface.

use super::io::{Json, NoInput, Raw};
use super::route::{Cx, Guard, OpDoc, Public, Route, Surface};
use crate::auth::secret::{digest, digest_eq};
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
            Route::new(Method::GET, "/metrics", "metrics", metrics)
                .summary("Prometheus metrics")
                .describe(
                    "Prometheus text format 0.0.4: requests by route template, method and \
                     status class with a latency histogram; logins by strategy instance and \
                     outcome; password hashes waiting and running; tokens issued by grant; \
                     active sessions; database connections in use; process memory and start \
                     time. Open unless the server runs with `--metrics-token`; then it needs \
                     that token as a bearer token.",
                )
                .response(
                    200,
                    serde_json::json!({
                        "description": "The metrics in Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }),
                ),
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

/// Who may read the metrics: anyone, or with `--metrics-token` whoever presents it.
pub struct MetricsReader;

impl Guard for MetricsReader {
    async fn check(cx: &Cx) -> Result<Self> {
        let Some(want) = &cx.app.settings.metrics_token else {
            return Ok(MetricsReader);
        };
        let given = super::guard::bearer(cx.req.header("authorization")).unwrap_or("");
        // Digests have one length, so the comparison tells nothing of the token's.
        if digest_eq(&digest(given), &digest(want)) {
            Ok(MetricsReader)
        } else {
            Err(Error::unauthorized(
                "the metrics need Authorization: Bearer <the --metrics-token>",
            ))
        }
    }
    fn doc(d: &mut OpDoc) {
        // Optional: no requirement, or the bearer token when the server has one set.
        d.security = vec![serde_json::json!({}), serde_json::json!({"bearer": []})];
        d.error(401);
    }
}

async fn metrics(cx: Cx, _: MetricsReader, _: NoInput) -> Result<Raw> {
    let (sessions, instances) = cx
        .app
        .db
        .read(|c| {
            let instances = crate::db::instances::list(c, None)?;
            Ok((
                crate::db::sessions::count_live(c, c.now)?,
                instances.into_iter().map(|i| (i.kind, i.name)).collect(),
            ))
        })
        .await?;
    let (hashes_waiting, hashes_running) = cx.app.hasher.load();
    let (pool_size, pool_in_use) = cx.app.db.pool_use();
    let text = cx.app.metrics.render(crate::metrics::Readings {
        hashes_waiting,
        hashes_running,
        active_sessions: sessions,
        pool_in_use,
        pool_size,
        instances,
    });
    Ok(Raw(super::respond(
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        text,
    )))
}

async fn openapi(cx: Cx, _: Public, _: NoInput) -> Result<Raw> {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| super::openapi_document(&cx.app).to_string());
    Ok(Raw(super::respond(200, "application/json", doc.clone())))
}
