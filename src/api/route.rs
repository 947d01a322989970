//! Route tables. Each surface lists its operations once, as `Route`s: method, path template,
//! the handler, and what the OpenAPI document says of it. The same table dispatches requests,
//! answers 405 (with `Allow`) when a path matches but its method does not, and is the only
//! source of the surface's paths in `GET /api/openapi.json` (see `api::openapi`).
//!
//! A handler is `async fn(Cx, G, I) -> Result<O>`: `G: Guard` is who may call it (checked
//! before the handler runs), `I: Input` is the typed request (body and/or query), `O: Output`
//! the typed answer. Their types also describe the operation in the document, so the document
//! cannot drift from what the code parses and renders.

use super::Req;
use crate::App;
use crate::error::{Error, Result, Thing};
use schemars::SchemaGenerator;
use serde_json::{Map, Value, json};
use std::future::Future;
use std::sync::Arc;
use warp::http::{HeaderValue, Method, header};
use warp::reply::Response;

/// What a handler gets besides its guard and input: the app, the request and the values of
/// the path template's parameters, in order.
pub struct Cx {
    pub app: App,
    pub req: Req,
    params: Vec<String>,
}

impl Cx {
    /// The `n`th `{param}` of the path template.
    pub fn param(&self, n: usize) -> &str {
        self.params.get(n).map(String::as_str).unwrap_or("")
    }
    pub fn address(&self) -> Option<String> {
        self.req.address()
    }
}

/// The documentation of one operation, filled by the route's guard, input and output types
/// and by the route itself.
#[derive(Default, Clone)]
pub struct OpDoc {
    pub id: &'static str,
    pub summary: &'static str,
    pub description: Option<&'static str>,
    pub tag: &'static str,
    /// `security` requirement objects (empty: none needed).
    pub security: Vec<Value>,
    pub query: Vec<Value>,
    pub body: Option<Value>,
    /// Status → response object without the error ones.
    pub responses: Vec<(u16, Value)>,
    /// Error statuses this operation may answer, rendered in the surface's error shape.
    pub errors: Vec<u16>,
}

impl OpDoc {
    pub fn error(&mut self, status: u16) {
        if !self.errors.contains(&status) {
            self.errors.push(status);
        }
    }
    pub fn errors(&mut self, statuses: &[u16]) {
        for s in statuses {
            self.error(*s);
        }
    }
}

/// Who may call an operation. Checked before the input is read, so a caller without the right
/// learns nothing about the input's rules.
pub trait Guard: Sized + Send + 'static {
    fn check(cx: &Cx) -> impl Future<Output = Result<Self>> + Send;
    fn doc(d: &mut OpDoc);
}

/// Anyone.
pub struct Public;

impl Guard for Public {
    async fn check(_: &Cx) -> Result<Self> {
        Ok(Public)
    }
    fn doc(_: &mut OpDoc) {}
}

/// The typed request of an operation.
pub trait Input: Sized + Send + 'static {
    fn parse(cx: &Cx) -> Result<Self>;
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator);
}

/// The typed answer of an operation.
pub trait Output: Send + 'static {
    fn into_response(self) -> Response;
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator);
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;
type Handler = Arc<dyn Fn(Cx) -> BoxFuture<Result<Response>> + Send + Sync>;

#[derive(Clone, PartialEq, Eq)]
enum Seg {
    Lit(&'static str),
    Param(&'static str),
}

pub struct Route {
    pub method: Method,
    /// The path template, e.g. `/auth/api/login/user/{id}`.
    pub path: &'static str,
    segs: Vec<Seg>,
    pub doc: OpDoc,
    /// Fills the schema-bearing parts of `doc` (input and output types), on demand.
    doc_types: fn(&mut OpDoc, &mut SchemaGenerator),
    handler: Handler,
}

fn parse_template(path: &'static str) -> Vec<Seg> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Seg::Param(name),
                None => Seg::Lit(s),
            },
        )
        .collect()
}

fn doc_types<G: Guard, I: Input, O: Output>(d: &mut OpDoc, g: &mut SchemaGenerator) {
    G::doc(d);
    I::doc(d, g);
    O::doc(d, g);
}

impl Route {
    /// A route whose handler takes the guard `G` and the input `I` and answers `O`.
    pub fn new<G, I, O, F, Fut>(method: Method, path: &'static str, id: &'static str, f: F) -> Route
    where
        G: Guard,
        I: Input,
        O: Output,
        F: Fn(Cx, G, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O>> + Send + 'static,
    {
        let f = Arc::new(f);
        let handler: Handler = Arc::new(move |cx: Cx| {
            let f = f.clone();
            Box::pin(async move {
                let guard = G::check(&cx).await?;
                let input = I::parse(&cx)?;
                Ok(f(cx, guard, input).await?.into_response())
            })
        });
        Route {
            method,
            path,
            segs: parse_template(path),
            doc: OpDoc {
                id,
                ..OpDoc::default()
            },
            doc_types: doc_types::<G, I, O>,
            handler,
        }
    }

    pub fn summary(mut self, s: &'static str) -> Route {
        self.doc.summary = s;
        self
    }
    pub fn describe(mut self, s: &'static str) -> Route {
        self.doc.description = Some(s);
        self
    }
    pub fn tag(mut self, t: &'static str) -> Route {
        self.doc.tag = t;
        self
    }
    /// A response the handler's output type cannot describe (a redirect, a page).
    pub fn response(mut self, status: u16, response: Value) -> Route {
        self.doc.responses.push((status, response));
        self
    }
    /// Error statuses of this operation beyond those its guard and input bring.
    pub fn errors(mut self, statuses: &[u16]) -> Route {
        self.doc.errors(statuses);
        self
    }

    /// The values of the template's parameters when `segs` matches it.
    fn matches(&self, segs: &[String]) -> Option<Vec<String>> {
        if segs.len() != self.segs.len() {
            return None;
        }
        let mut params = Vec::new();
        for (want, got) in self.segs.iter().zip(segs) {
            match want {
                Seg::Lit(l) if *l == got => {}
                Seg::Lit(_) => return None,
                Seg::Param(_) => params.push(got.clone()),
            }
        }
        Some(params)
    }

    /// The full documentation of this operation.
    pub fn full_doc(&self, g: &mut SchemaGenerator) -> OpDoc {
        let mut d = self.doc.clone();
        (self.doc_types)(&mut d, g);
        d
    }

    pub fn params(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.segs.iter().filter_map(|s| match s {
            Seg::Param(p) => Some(*p),
            Seg::Lit(_) => None,
        })
    }
}

/// The template of the route that answered, kept with its response for the request metrics.
#[derive(Clone, Copy)]
pub struct Template(pub &'static str);

/// One API surface: its routes and the way it renders errors.
pub struct Surface {
    pub name: &'static str,
    /// The schema of its error shape (a reference into the document's components).
    pub error_schema: fn(&mut SchemaGenerator) -> Value,
    pub render: fn(&Error) -> Response,
    pub routes: Vec<Route>,
}

impl Surface {
    /// Runs the route that matches the request; a path that matches with another method is
    /// a 405 with `Allow`, no match at all a 404, both in the surface's error shape.
    pub async fn dispatch(&self, app: &App, req: Req) -> Response {
        let mut allowed: Vec<&Method> = Vec::new();
        let mut hit = None;
        for r in &self.routes {
            if let Some(params) = r.matches(&req.segs) {
                let same = r.method == req.method
                    || (r.method == Method::GET && req.method == Method::HEAD);
                if same {
                    hit = Some((r, params));
                    break;
                }
                allowed.push(&r.method);
            }
        }
        let Some((route, params)) = hit else {
            if allowed.is_empty() {
                return (self.render)(&Error::not_found(Thing::Route, "no such resource"));
            }
            let mut resp = (self.render)(&super::method_not_allowed());
            let allow = allowed
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
            // The path matched a template, only the method did not.
            if let Some(r) = self.routes.iter().find(|r| r.matches(&req.segs).is_some()) {
                resp.extensions_mut().insert(Template(r.path));
            }
            return resp;
        };
        let cx = Cx {
            app: app.clone(),
            req,
            params,
        };
        let mut resp = match (route.handler)(cx).await {
            Ok(r) => r,
            Err(e) => (self.render)(&e),
        };
        resp.extensions_mut().insert(Template(route.path));
        resp
    }
}

/// A JSON schema reference to `T` in the document's components.
pub fn schema_ref<T: schemars::JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

/// A JSON response object for the document.
pub fn json_response(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema}},
    })
}

/// Query parameters of a struct, as OpenAPI parameter objects: one per property of its schema.
pub fn query_params<T: schemars::JsonSchema>(g: &mut SchemaGenerator) -> Vec<Value> {
    let schema = g.root_schema_for::<T>().to_value();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let empty = Map::new();
    schema["properties"]
        .as_object()
        .unwrap_or(&empty)
        .iter()
        .map(|(name, s)| {
            let mut p = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": s,
            });
            if let Some(d) = s.get("description") {
                p["description"] = d.clone();
            }
            p
        })
        .collect()
}
