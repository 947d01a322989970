//! `GET /api/openapi.json`: the OpenAPI 3.1 document of every surface, built from their route
//! tables and the schemas of their typed inputs and outputs (JSON Schema 2020-12, which
//! OpenAPI 3.1 uses as it is).

use super::route::Surface;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use warp::http::StatusCode;

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The whole document for a server reachable at `public_url`.
pub fn document(public_url: &str, surfaces: &[&Surface]) -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut paths = Map::new();
    for s in surfaces {
        let error_schema = (s.error_schema)(&mut g);
        for r in &s.routes {
            let d = r.full_doc(&mut g);
            let mut params: Vec<Value> = r
                .params()
                .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            params.extend(d.query.iter().cloned());
            let mut responses = Map::new();
            for (status, resp) in &d.responses {
                responses.insert(status.to_string(), resp.clone());
            }
            let mut errors = d.errors.clone();
            errors.sort_unstable();
            for status in errors {
                let mut resp = json!({
                    "description": reason(status),
                    "content": {"application/json": {"schema": error_schema}},
                });
                if matches!(status, 429 | 503) {
                    resp["headers"] = json!({"Retry-After": {
                        "description": "Seconds to wait before trying again",
                        "schema": {"type": "integer"},
                    }});
                }
                responses.insert(status.to_string(), resp);
            }
            let mut op = json!({
                "operationId": d.id,
                "summary": d.summary,
                "tags": [if d.tag.is_empty() { s.name } else { d.tag }],
                "parameters": params,
                "responses": responses,
                "security": d.security,
            });
            if let Some(desc) = d.description {
                op["description"] = json!(desc);
            }
            if let Some(body) = d.body {
                op["requestBody"] = body;
            }
            let item = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
            item[r.method.as_str().to_ascii_lowercase()] = op;
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "keyward",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A login service in one binary: the Gropius login API, an OAuth 2 / OpenID Connect server, the Auth0 identities API and the Zitadel passkey API over one core.",
        },
        "servers": [{"url": public_url}],
        "paths": paths,
        "components": {
            "schemas": g.take_definitions(true),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "An access token keyward issued (typ at+jwt)"},
                "clientBasic": {"type": "http", "scheme": "basic",
                    "description": "OAuth client authentication: client id and secret"},
                "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                    "description": "The hosted pages' CSRF token: the value of the kw_csrf cookie"},
                "csrfCookie": {"type": "apiKey", "in": "cookie", "name": "kw_csrf",
                    "description": "The CSRF cookie that every page sets"},
                "browserSession": {"type": "apiKey", "in": "cookie", "name": "kw_session",
                    "description": "The browser's keyward session (hosted pages)"},
            },
        },
    })
}
