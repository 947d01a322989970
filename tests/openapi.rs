//! `GET /api/openapi.json` against the route tables: the served document is a well-formed
//! OpenAPI 3.1 document, it lists exactly the routes of every route table (`api::surfaces()`,
//! so a surface converted later is covered without a change here), and every route answers a
//! method it does not have with 405 and `Allow`. (tests/schemathesis/run checks the document
//! with openapi-spec-validator too, and fuzzes every operation in it.)

mod common;

use common::Server;
use keyward::api::{route, surfaces};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document(s: &Server) -> Value {
    let r = s.get("/api/openapi.json", None);
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    r.json().unwrap()
}

/// The `{name}`s of a path template, in order.
fn template_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// Every `$ref` in `v`, with where it was found.
fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                    _ => refs(x, format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// What is wrong with one operation object of the document.
fn operation_problems(doc: &Value, path: &str, method: &str, op: &Value) -> Vec<String> {
    let at = format!("{} {path}", method.to_uppercase());
    let mut bad = Vec::new();
    if op["operationId"].as_str().is_none_or(str::is_empty) {
        bad.push(format!("{at}: no operationId"));
    }
    if op["summary"].as_str().is_none_or(str::is_empty) {
        bad.push(format!("{at}: no summary"));
    }
    match op["responses"].as_object() {
        Some(rs) if !rs.is_empty() => {
            for (status, resp) in rs {
                let ok_key = status == "default"
                    || (status.len() == 3
                        && matches!(status.as_bytes()[0], b'1'..=b'5')
                        && (status[1..].bytes().all(|b| b.is_ascii_digit())
                            || &status[1..] == "XX"));
                if !ok_key {
                    bad.push(format!("{at}: response key {status:?}"));
                }
                if resp.get("$ref").is_none() && !resp["description"].is_string() {
                    bad.push(format!("{at}: response {status} has no description"));
                }
                if let Some(content) = resp.get("content") {
                    match content.as_object() {
                        Some(c) if !c.is_empty() => {}
                        _ => bad.push(format!("{at}: response {status}: empty content")),
                    }
                }
            }
        }
        _ => bad.push(format!("{at}: no responses")),
    }
    // Parameters: well-formed, unique, and the path ones exactly the template's.
    let mut seen = BTreeSet::new();
    let mut declared_path = BTreeSet::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let (Some(name), Some(place)) = (p["name"].as_str(), p["in"].as_str()) else {
            bad.push(format!("{at}: a parameter without name or in: {p}"));
            continue;
        };
        if !matches!(place, "path" | "query" | "header" | "cookie") {
            bad.push(format!("{at}: parameter {name} in {place:?}"));
        }
        if !seen.insert((name, place)) {
            bad.push(format!("{at}: parameter {name} in {place} twice"));
        }
        if p.get("schema").is_none() && p.get("content").is_none() {
            bad.push(format!(
                "{at}: parameter {name} has neither schema nor content"
            ));
        }
        if place == "path" {
            if p["required"] != true {
                bad.push(format!("{at}: path parameter {name} is not required"));
            }
            declared_path.insert(name);
        }
    }
    let in_template: BTreeSet<&str> = template_params(path).into_iter().collect();
    if declared_path != in_template {
        bad.push(format!(
            "{at}: path parameters {declared_path:?}, template has {in_template:?}"
        ));
    }
    if let Some(body) = op.get("requestBody") {
        match body["content"].as_object() {
            Some(c) if !c.is_empty() => {}
            _ => bad.push(format!("{at}: requestBody without content")),
        }
    }
    // Security: every scheme named exists; an operation that needs credentials documents
    // how it refuses a caller without them (401, or 403 for a CSRF token).
    let schemes = &doc["components"]["securitySchemes"];
    let security = op["security"].as_array().cloned().unwrap_or_default();
    for requirement in &security {
        for name in requirement.as_object().into_iter().flat_map(|m| m.keys()) {
            if schemes.get(name).is_none() {
                bad.push(format!("{at}: unknown security scheme {name}"));
            }
        }
    }
    let anonymous = security.is_empty()
        || security
            .iter()
            .any(|r| r.as_object().is_some_and(|m| m.is_empty()));
    if !anonymous && op["responses"].get("401").is_none() && op["responses"].get("403").is_none() {
        bad.push(format!(
            "{at}: needs credentials but documents no 401 or 403"
        ));
    }
    bad
}

/// What is wrong with the document as OpenAPI 3.1 (the structural rules of the
/// specification that a generator can break).
fn document_problems(doc: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    if doc["openapi"] != "3.1.0" {
        bad.push(format!("openapi is {}", doc["openapi"]));
    }
    if !doc["info"]["title"].is_string() || !doc["info"]["version"].is_string() {
        bad.push("info needs a title and a version".into());
    }
    for server in doc["servers"].as_array().into_iter().flatten() {
        if !server["url"].is_string() {
            bad.push(format!("a server without url: {server}"));
        }
    }
    let Some(paths) = doc["paths"].as_object() else {
        bad.push("no paths".into());
        return bad;
    };
    let mut ids = BTreeMap::new();
    for (path, item) in paths {
        if !path.starts_with('/') {
            bad.push(format!("path {path:?} does not start with /"));
        }
        let Some(item) = item.as_object() else {
            bad.push(format!("{path}: not an object"));
            continue;
        };
        for (key, op) in item {
            if !METHODS.contains(&key.as_str()) {
                if !matches!(
                    key.as_str(),
                    "summary" | "description" | "servers" | "parameters"
                ) {
                    bad.push(format!("{path}: unknown key {key}"));
                }
                continue;
            }
            bad.extend(operation_problems(doc, path, key, op));
            if let Some(id) = op["operationId"].as_str()
                && let Some(other) = ids.insert(id, format!("{key} {path}"))
            {
                bad.push(format!("operationId {id} twice: {other} and {key} {path}"));
            }
        }
    }
    for (name, scheme) in doc["components"]["securitySchemes"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let ok = match scheme["type"].as_str() {
            Some("http") => scheme["scheme"].is_string(),
            Some("apiKey") => scheme["name"].is_string() && scheme["in"].is_string(),
            Some("oauth2") => scheme["flows"].is_object(),
            Some("openIdConnect") => scheme["openIdConnectUrl"].is_string(),
            Some("mutualTLS") => true,
            _ => false,
        };
        if !ok {
            bad.push(format!("security scheme {name} is malformed: {scheme}"));
        }
    }
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if !schema.is_object() && !schema.is_boolean() {
            bad.push(format!("schema {name} is neither an object nor a boolean"));
        }
    }
    let mut found = Vec::new();
    refs(doc, String::new(), &mut found);
    for (at, r) in found {
        let resolves = r
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .is_some();
        if !resolves {
            bad.push(format!("{at}: $ref {r} does not resolve in the document"));
        }
    }
    bad
}

#[test]
fn the_document_is_well_formed_openapi_3_1() {
    let s = Server::start();
    let doc = document(&s);
    let bad = document_problems(&doc);
    assert!(bad.is_empty(), "{}", bad.join("\n"));

    // The checks above do find what they look for.
    let mut broken = doc.clone();
    let (path, item) = broken["paths"]
        .as_object_mut()
        .unwrap()
        .iter_mut()
        .find(|(p, _)| p.contains('{'))
        .expect("a path with a parameter");
    let path = path.clone();
    let op = item.as_object_mut().unwrap().values_mut().next().unwrap();
    op["parameters"] = serde_json::json!([]);
    op["responses"] = serde_json::json!({});
    op["requestBody"] = serde_json::json!({"$ref": "#/components/schemas/NoSuchSchema"});
    let bad = document_problems(&broken).join("\n");
    assert!(bad.contains("no responses"), "{bad}");
    assert!(bad.contains("path parameters {}"), "{bad}");
    assert!(bad.contains("NoSuchSchema does not resolve"), "{bad}");
    assert!(bad.contains(&path), "{bad}");
}

/// `(METHOD, path template)` of every route of every route table, with its operationId.
fn routes() -> BTreeMap<(String, String), &'static str> {
    let mut out = BTreeMap::new();
    for surface in surfaces().all() {
        for r in &surface.routes {
            let key = (r.method.as_str().to_string(), r.path.to_string());
            let twice = out.insert(key, r.doc.id);
            assert!(
                twice.is_none(),
                "{} {} is in the route tables twice",
                r.method,
                r.path
            );
        }
    }
    out
}

#[test]
fn the_document_lists_every_route_of_every_route_table_and_nothing_else() {
    let s = Server::start();
    let doc = document(&s);
    let mut documented = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                documented.insert(
                    (method.to_uppercase(), path.clone()),
                    op["operationId"].as_str().unwrap_or_default().to_string(),
                );
            }
        }
    }
    let routes = routes();
    let undocumented: Vec<_> = routes
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    let unrouted: Vec<_> = documented
        .keys()
        .filter(|k| !routes.contains_key(*k))
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document (is the surface in api::openapi_document?): {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented operations that no route table has: {unrouted:?}"
    );
    for (key, id) in &routes {
        assert_eq!(documented[key], *id, "operationId of {key:?}");
    }
    // Operations is one of them; a surface left out of `Surfaces::all` would not compile.
    assert!(routes.contains_key(&("GET".to_string(), "/api/openapi.json".to_string())));
}

/// Whether the path template `t` matches the concrete path `p`.
fn template_matches(t: &str, p: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (
        t.split('/').filter(|s| !s.is_empty()).collect(),
        p.split('/').filter(|s| !s.is_empty()).collect(),
    );
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

/// The schema of a surface's error shape, as its operations document their errors.
fn error_schema<'a>(doc: &'a Value, surface: &route::Surface) -> &'a Value {
    let schema = surface
        .routes
        .iter()
        .filter_map(|r| {
            doc["paths"][r.path][r.method.as_str().to_lowercase()]["responses"].as_object()
        })
        .flat_map(|rs| rs.iter())
        .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
        .map(|(_, resp)| &resp["content"]["application/json"]["schema"])
        .find(|schema| !schema.is_null())
        .unwrap_or_else(|| panic!("surface {} documents no error", surface.name));
    match schema["$ref"].as_str() {
        Some(r) => doc.pointer(&r[1..]).expect("resolves"),
        None => schema,
    }
}

#[test]
fn every_route_answers_a_method_it_does_not_have_with_405_and_allow() {
    let s = Server::start();
    let doc = document(&s);
    let mut checked = 0;
    for surface in surfaces().all() {
        let shape = error_schema(&doc, surface);
        for r in &surface.routes {
            // A value no literal segment of any route has.
            let path = r
                .path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "p0-not-a-literal"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            // Every route of the table that the path matches is dispatched to, so `Allow`
            // names all of their methods (HEAD goes where GET does).
            let allowed: BTreeSet<&str> = surface
                .routes
                .iter()
                .filter(|other: &&route::Route| template_matches(other.path, &path))
                .map(|other| other.method.as_str())
                .collect();
            for wrong in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                if allowed.contains(wrong) {
                    continue;
                }
                let resp = s.send(wrong, &path, None, None);
                let at = format!("{wrong} {path} ({} {})", r.method, r.path);
                assert_eq!(resp.status(), 405, "{at}");
                let allow: BTreeSet<String> = resp
                    .headers()
                    .get("allow")
                    .unwrap_or_else(|| panic!("{at}: no Allow"))
                    .to_str()
                    .unwrap()
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .collect();
                let want: BTreeSet<String> = allowed.iter().map(|m| m.to_string()).collect();
                assert_eq!(allow, want, "{at}: Allow");
                let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
                assert!(ct.starts_with("application/json"), "{at}: {ct}");
                // In the surface's own error shape.
                let body: Value = resp.json().unwrap();
                for field in shape["required"].as_array().into_iter().flatten() {
                    let field = field.as_str().unwrap();
                    assert!(body.get(field).is_some(), "{at}: {body} lacks {field}");
                }
                if let Some(status) = body.get("statusCode") {
                    assert_eq!(status, 405, "{at}: {body}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}
