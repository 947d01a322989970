//! `GET /auth/api/flow/redirect/{instanceId}` and `GET /auth/api/flow/callback/{instanceId}`:
//! the browser's trip to an upstream provider and back (see `core::upstream`). Both are plain
//! navigations and always answer 302: to the provider, to where the login goes on, or to the
//! problem page with a `reason`. No input makes them answer anything else.

use super::super::cookies::{self, WithCookies};
use super::super::io::Raw;
use super::super::route::{Cx, Input, OpDoc, Output, Public, Route, query_params};
use crate::core::upstream::{self, CallbackRequest, StartRequest};
use crate::error::Result;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::json;
use std::collections::HashMap;
use warp::http::{HeaderValue, Method, StatusCode, header};
use warp::reply::Response;

fn found(description: &'static str) -> serde_json::Value {
    json!({
        "description": description,
        "headers": {
            "Location": {"schema": {"type": "string"}},
            "Set-Cookie": {
                "description": "The binding cookie (kw_browser) when the browser had none; the session cookie (kw_session) after a login",
                "schema": {"type": "string"},
            },
        },
    })
}

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/auth/api/flow/redirect/{instanceId}",
            "flowUpstreamRedirect",
            redirect,
        )
        .summary("Go to an upstream provider to log in, sign up or link")
        .describe(
            "A browser navigation from the hosted pages. Answers 302 to the provider's \
             authorization endpoint with `state` (bound to this browser by the kw_browser \
             cookie, which is set when missing), a PKCE S256 challenge and, for OIDC, a \
             `nonce`; `mode=link` needs the browser's keyward session. Any problem answers 302 \
             to `/auth/flow/problem?reason=…&instance=…`.",
        )
        .response(
            302,
            found("To the provider's authorization endpoint, or to the problem page"),
        ),
        Route::new(
            Method::GET,
            "/auth/api/flow/callback/{instanceId}",
            "flowUpstreamCallback",
            callback,
        )
        .summary("Where an upstream provider sends the browser back")
        .describe(
            "The instance's `callbackUrl`. Checks `state` (single use, 10 minutes, this \
             browser's), exchanges the code with the PKCE verifier, learns the account (for \
             OIDC from the validated ID token) and answers 302: back to the application or the \
             account page with the session cookie; to the register page with a register token \
             bound to this browser; to `/account?linked=…` after a link; or to \
             `/auth/flow/problem?reason=…&instance=…[&flow=…][&register=1][&hint=email]`.",
        )
        .response(
            302,
            found("To where the login goes on, or to the problem page"),
        ),
    ]
}

/// `GET /auth/api/flow/redirect/{instanceId}` query.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct RedirectQuery {
    /// `login` (default), `register` or `link`.
    #[schemars(extend("enum" = ["login", "register", "link"]))]
    mode: Option<String>,
    /// The authorization request (flow id) the hosted page serves.
    flow: Option<String>,
}

/// `GET /auth/api/flow/callback/{instanceId}` query, as the provider sends it.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// `access_denied` when the person declined.
    error: Option<String>,
    error_description: Option<String>,
}

/// The query as text pairs: whatever it holds, these endpoints answer with a redirect, never
/// with an error of their own. A parameter given twice counts as not given.
struct Params<T>(HashMap<String, Option<String>>, std::marker::PhantomData<T>);

impl<T> Params<T> {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).and_then(|v| v.as_deref())
    }
}

impl<T: JsonSchema + Send + 'static> Input for Params<T> {
    fn parse(cx: &Cx) -> Result<Self> {
        let mut m: HashMap<String, Option<String>> = HashMap::new();
        for (k, v) in form_urlencoded::parse(cx.req.raw_query.as_bytes()) {
            m.entry(k.into_owned())
                .and_modify(|e| *e = None)
                .or_insert(Some(v.into_owned()));
        }
        Ok(Params(m, std::marker::PhantomData))
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        d.query = query_params::<T>(g);
    }
}

fn see_other(to: &str, set: Vec<String>) -> Raw {
    let mut r = Response::new(Vec::new().into());
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    } else {
        r.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_static("/auth/flow/login"),
        );
    }
    Raw(WithCookies {
        answer: Raw(r),
        cookies: set,
    }
    .into_response())
}

async fn redirect(cx: Cx, _: Public, q: Params<RedirectQuery>) -> Result<Raw> {
    let (browser, new_browser) = cookies::browser_or_new(&cx.app, &cx.req);
    let to = upstream::start(
        &cx.app,
        StartRequest {
            instance_id: cx.param(0),
            mode: q.get("mode"),
            flow: q.get("flow"),
            browser: &browser,
            session_cookie: cookies::session(&cx.req),
        },
    )
    .await;
    Ok(see_other(&to, new_browser.into_iter().collect()))
}

async fn callback(cx: Cx, _: Public, q: Params<CallbackQuery>) -> Result<Raw> {
    let browser = cookies::browser(&cx.app, &cx.req);
    let landing = upstream::callback(
        &cx.app,
        CallbackRequest {
            instance_id: cx.param(0),
            code: q.get("code"),
            state: q.get("state"),
            error: q.get("error"),
            browser: browser.as_deref(),
            session_cookie: cookies::session(&cx.req),
            origin: cx.req.origin(None),
        },
    )
    .await;
    let set = landing
        .session
        .map(|(value, max_age)| cookies::session_cookie(&cx.app, &value, max_age))
        .into_iter()
        .collect();
    Ok(see_other(&landing.to, set))
}
