//! Upstream logins (GitHub, GitLab, any OIDC provider): the redirect to the provider and its
//! callback. The flow state (instance, mode, authorization request, user for a link, PKCE
//! verifier, nonce, browser binding) is a database row found by the digest of `state`, taken
//! out once. The callback exchanges the code and learns the account first; then one write
//! transaction does whatever the outcome needs (a session, a waiting identity, a link, the
//! provider's tokens), or nothing. Every failure ends on keyward's problem page, named by a
//! `reason`; no e-mail address ever links an account by itself.

use super::instances::{self, Instance};
use super::login::{self, Outcome};
use super::oauth::{AuthRequest, destination_in, open_flow};
use super::sessions::{self, Origin};
use super::{Actor, new_id, pending};
use crate::App;
use crate::auth::secret::{digest, digest_eq, random_token};
use crate::db::identities::{Identity, State};
use crate::db::{self, Write, identities, provider_tokens, upstream_flows};
use crate::error::{Error, Reason, Result};
use crate::strategies::provider::{Account, Failure, Provider, Start, Tokens, pkce};
use serde_json::json;

/// How long an upstream login may take, from the redirect to the callback.
const FLOW_TTL_MS: i64 = 10 * 60 * 1000;

/// Why an upstream login ended on the problem page, and what that page needs.
#[derive(Debug, Clone)]
pub struct Problem {
    /// `consent_denied`, `state_invalid`, `provider_error`, `provider_unreachable`,
    /// `id_token_invalid`, `no_account`, `login_disabled`, `blocked`, `identity_taken`,
    /// `not_logged_in`, `instance_unknown`, `invalid_request`, `internal_error`.
    pub reason: &'static str,
    pub instance: String,
    /// The authorization request to go back to.
    pub flow: Option<String>,
    /// `no_account` on an instance that allows self-registration.
    pub register: bool,
    /// `no_account` where a user has the provider's verified e-mail address.
    pub hint_email: bool,
}

impl Problem {
    fn new(reason: &'static str, instance: &str, flow: Option<&str>) -> Problem {
        Problem {
            reason,
            instance: instance.to_string(),
            flow: flow.map(str::to_string),
            register: false,
            hint_email: false,
        }
    }

    /// The problem page's URL.
    pub fn url(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("reason", self.reason);
        q.append_pair("instance", &self.instance);
        if let Some(f) = &self.flow {
            q.append_pair("flow", f);
        }
        if self.register {
            q.append_pair("register", "1");
        }
        if self.hint_email {
            q.append_pair("hint", "email");
        }
        format!("/auth/flow/problem?{}", q.finish())
    }
}

/// What an upstream login mode asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Log in; an unknown account registers only with `doesImplicitRegister`.
    Login,
    /// Sign up (or log in, for a known account): an unknown account also registers where the
    /// instance allows self-registration.
    Register,
    /// Attach the account to the browser's signed-in user.
    Link,
}

impl Mode {
    fn parse(s: Option<&str>) -> Option<Mode> {
        match s {
            None | Some("") | Some("login") => Some(Mode::Login),
            Some("register") => Some(Mode::Register),
            Some("link") => Some(Mode::Link),
            _ => None,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Mode::Login => "login",
            Mode::Register => "register",
            Mode::Link => "link",
        }
    }
}

/// `{publicUrl}/auth/api/flow/callback/{id}`: the instance's `callbackUrl`.
pub fn callback_url(app: &App, instance_id: &str) -> String {
    format!("{}/auth/api/flow/callback/{instance_id}", app.public_url)
}

/// An instance of a redirect kind and its provider, or `instance_unknown`.
async fn redirect_instance(
    app: &App,
    id: &str,
) -> std::result::Result<(Instance, Box<dyn Provider>), Problem> {
    let unknown = || Problem::new("instance_unknown", id, None);
    let inst = match instances::get(app, id).await {
        Ok(i) => i,
        Err(e) if matches!(e.reason, Reason::NotFound(_)) => return Err(unknown()),
        Err(e) => return Err(internal(id, None, &e.message)),
    };
    match inst.strategy().provider(&inst.config) {
        Ok(Some(p)) => Ok((inst, p)),
        _ => Err(unknown()),
    }
}

fn internal(instance: &str, flow: Option<&str>, detail: &str) -> Problem {
    tracing::error!(
        instance,
        error = detail,
        "upstream login failed inside keyward"
    );
    Problem::new("internal_error", instance, flow)
}

fn failed(instance: &str, flow: Option<&str>, f: &Failure) -> Problem {
    tracing::warn!(
        instance,
        reason = f.reason(),
        error = f.detail(),
        "upstream call failed"
    );
    Problem::new(f.reason(), instance, flow)
}

/// A redirect to a provider, as the browser asked for it.
pub struct StartRequest<'a> {
    pub instance_id: &'a str,
    pub mode: Option<&'a str>,
    /// The authorization request (sealed) the login serves.
    pub flow: Option<&'a str>,
    /// The browser's binding cookie (made by the caller when it had none).
    pub browser: &'a str,
    pub session_cookie: Option<&'a str>,
}

/// `GET /auth/api/flow/redirect/{instanceId}`: where the browser goes, the provider's
/// authorization endpoint or the problem page.
pub async fn start(app: &App, r: StartRequest<'_>) -> String {
    match start_flow(app, &r).await {
        Ok(url) => url,
        Err(p) => p.url(),
    }
}

async fn start_flow(app: &App, r: &StartRequest<'_>) -> std::result::Result<String, Problem> {
    let (inst, provider) = redirect_instance(app, r.instance_id).await?;
    let id = inst.id.clone();
    let flow = r.flow.filter(|f| !f.is_empty());
    let Some(mode) = Mode::parse(r.mode) else {
        return Err(Problem::new("invalid_request", &id, flow));
    };
    if flow.is_some() && open_flow(app, flow).is_err() {
        // The application's request is gone: the page starts over without it.
        return Err(Problem::new("invalid_request", &id, None));
    }
    let user_id = match mode {
        Mode::Link => {
            let found = match r.session_cookie {
                Some(c) => sessions::cookie_session(app, c)
                    .await
                    .map_err(|e| internal(&id, flow, &e.message))?,
                None => None,
            };
            let (_, user) = found.ok_or_else(|| Problem::new("not_logged_in", &id, flow))?;
            Some(user.id)
        }
        // A link may attach an account of an instance that does not log in (sync only).
        Mode::Login | Mode::Register if !inst.is_login_active => {
            return Err(Problem::new("login_disabled", &id, flow));
        }
        Mode::Login | Mode::Register => None,
    };
    let state = random_token(32);
    let (verifier, challenge) = pkce();
    let nonce = provider.uses_nonce().then(|| random_token(32));
    let callback = callback_url(app, &id);
    let url = provider
        .authorize_url(
            &app.upstream,
            Start {
                state: &state,
                challenge: &challenge,
                nonce: nonce.as_deref(),
                redirect_uri: &callback,
            },
        )
        .await
        .map_err(|f| failed(&id, flow, &f))?;
    let row = upstream_flows::UpstreamFlow {
        digest: digest(&state),
        instance_id: id.clone(),
        mode: mode.as_str().into(),
        flow: flow.map(str::to_string),
        user_id,
        browser: digest(r.browser),
        verifier,
        nonce,
        created_at: 0,
        expires: 0,
    };
    app.db
        .write(move |tx| {
            upstream_flows::insert(
                tx,
                &upstream_flows::UpstreamFlow {
                    created_at: tx.now,
                    expires: tx.now + FLOW_TTL_MS,
                    ..row
                },
            )
        })
        .await
        .map_err(|e| internal(&id, flow, &e.message))?;
    Ok(url)
}

/// The provider's answer at the callback, as the browser brought it.
pub struct CallbackRequest<'a> {
    pub instance_id: &'a str,
    pub code: Option<&'a str>,
    pub state: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The browser's binding cookie, if it sent one.
    pub browser: Option<&'a str>,
    pub session_cookie: Option<&'a str>,
    pub origin: Origin,
}

/// Where the browser goes after the callback, and the session cookie it gets, if any.
pub struct Landing {
    pub to: String,
    /// The session cookie's value and its lifetime in seconds.
    pub session: Option<(String, i64)>,
}

/// `GET /auth/api/flow/callback/{instanceId}`.
pub async fn callback(app: &App, r: CallbackRequest<'_>) -> Landing {
    match finish_flow(app, &r).await {
        Ok(l) => l,
        Err(p) => Landing {
            to: p.url(),
            session: None,
        },
    }
}

async fn finish_flow(app: &App, r: &CallbackRequest<'_>) -> std::result::Result<Landing, Problem> {
    let (inst, provider) = redirect_instance(app, r.instance_id).await?;
    let id = inst.id.clone();
    let state_invalid = |flow: Option<&str>| Problem::new("state_invalid", &id, flow);
    let state = r
        .state
        .filter(|s| !s.is_empty() && s.len() <= 512)
        .ok_or_else(|| state_invalid(None))?;
    // Taken out whatever comes next: a state works once, also when this attempt fails.
    let key = digest(state);
    let row = app
        .db
        .write(move |tx| upstream_flows::take(tx, &key))
        .await
        .map_err(|e| internal(&id, None, &e.message))?
        .ok_or_else(|| state_invalid(None))?;
    let flow = row.flow.clone();
    let flow_ref = flow.as_deref();
    let ours = r
        .browser
        .is_some_and(|b| digest_eq(&digest(b), &row.browser));
    if row.instance_id != id || row.expires <= db::now_ms() || !ours {
        return Err(state_invalid(flow_ref));
    }
    if let Some(e) = r.error.filter(|e| !e.is_empty()) {
        let reason = if e == "access_denied" {
            "consent_denied"
        } else {
            "provider_error"
        };
        return Err(Problem::new(reason, &id, flow_ref));
    }
    let code = r
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Problem::new("provider_error", &id, flow_ref))?;
    let mode = Mode::parse(Some(&row.mode)).unwrap_or(Mode::Login);
    let (request, origin) = match super::hosted::flow_and_origin(app, flow_ref, r.origin.clone()) {
        Ok(x) => x,
        // The application's request expired while the browser was at the provider.
        Err(_) => return Err(state_invalid(None)),
    };
    let callback = callback_url(app, &id);
    let (kind, name) = (inst.kind, inst.name.clone());
    let (tokens, account) = provider
        .exchange(
            &app.upstream,
            code,
            &row.verifier,
            &callback,
            row.nonce.as_deref(),
        )
        .await
        .map_err(|f| {
            let p = failed(&id, flow_ref, &f);
            count_login(app, kind, name.as_deref(), &p);
            p
        })?;
    let done = Done {
        inst,
        mode,
        request,
        flow: flow.clone(),
        user_id: row.user_id.clone(),
        session_cookie: r.session_cookie.map(str::to_string),
        browser: r.browser.unwrap_or_default().to_string(),
        tokens,
        account,
        origin,
    };
    let app2 = app.clone();
    let landing = match app.db.write(move |tx| done.apply(&app2, tx)).await {
        Ok(Ok(landing)) => Ok(landing),
        Ok(Err(reason)) => Err(Problem {
            flow: flow.clone(),
            ..reason.problem(&id)
        }),
        Err(e) if e.reason == Reason::Blocked => Err(Problem::new("blocked", &id, flow_ref)),
        Err(e) => Err(internal(&id, flow_ref, &e.message)),
    };
    match &landing {
        Ok(l) if l.session.is_some() => app.metrics.login(kind, name.as_deref(), &Ok(())),
        Err(p) => count_login(app, kind, name.as_deref(), p),
        Ok(_) => {}
    }
    landing
}

/// A provider login that was refused for the account's sake counts as a failed login of the
/// instance (in /metrics); the other problems (a stale state, a provider that is down) are
/// not logins that were tried.
fn count_login(app: &App, kind: crate::strategies::Kind, name: Option<&str>, p: &Problem) {
    let reason = match p.reason {
        "blocked" => Reason::Blocked,
        "id_token_invalid" | "login_disabled" => Reason::WrongCredentials,
        _ => return,
    };
    app.metrics
        .login::<()>(kind, name, &Err(Error::new(reason, p.reason)));
}

/// A problem the outcome's transaction found before it wrote anything.
enum Refusal {
    LoginDisabled,
    NotLoggedIn,
    IdentityTaken,
    NoAccount { register: bool, hint_email: bool },
}

impl Refusal {
    fn problem(&self, instance: &str) -> Problem {
        let mut p = Problem::new(
            match self {
                Refusal::LoginDisabled => "login_disabled",
                Refusal::NotLoggedIn => "not_logged_in",
                Refusal::IdentityTaken => "identity_taken",
                Refusal::NoAccount { .. } => "no_account",
            },
            instance,
            None,
        );
        if let Refusal::NoAccount {
            register,
            hint_email,
        } = self
        {
            p.register = *register;
            p.hint_email = *hint_email;
        }
        p
    }
}

/// Everything the outcome's transaction needs, learned before it.
struct Done {
    inst: Instance,
    mode: Mode,
    request: Option<AuthRequest>,
    /// The sealed form of `request`, as the pages pass it on.
    flow: Option<String>,
    user_id: Option<String>,
    session_cookie: Option<String>,
    browser: String,
    tokens: Tokens,
    account: Account,
    origin: Origin,
}

/// A waiting identity abandoned past its window does not count.
fn stale(i: &Identity, now: i64) -> bool {
    i.state == State::WaitingForRegister && i.expires.is_none_or(|e| e <= now)
}

impl Done {
    /// The outcome, in one transaction. A refusal is decided before any write.
    fn apply(self, app: &App, tx: &Write) -> Result<std::result::Result<Landing, Refusal>> {
        let found = identities::by_subject(tx, &self.inst.id, &self.account.subject)?
            .filter(|i| !stale(i, tx.now));
        match self.mode {
            Mode::Link => self.link(app, tx, found),
            Mode::Login | Mode::Register => self.login(app, tx, found),
        }
    }

    fn link(
        self,
        app: &App,
        tx: &Write,
        found: Option<Identity>,
    ) -> Result<std::result::Result<Landing, Refusal>> {
        // The browser must still be signed in as the user who asked for the link.
        let me = match sessions::from_cookie(tx, self.session_cookie.as_deref().unwrap_or("")) {
            Ok(Some((_, u))) if Some(&u.id) == self.user_id.as_ref() => u,
            _ => return Ok(Err(Refusal::NotLoggedIn)),
        };
        let identity_id = match &found {
            Some(i) if i.user_id.as_deref() == Some(me.id.as_str()) => {
                identities::set_profile(tx, &i.id, &self.account.profile())?;
                i.id.clone()
            }
            Some(i) if i.user_id.is_some() => return Ok(Err(Refusal::IdentityTaken)),
            other => {
                // Nobody's yet (waiting, or stale): it becomes this user's, made afresh.
                if let Some(i) = other {
                    identities::delete(tx, &i.id)?;
                }
                if let Some(i) = identities::by_subject(tx, &self.inst.id, &self.account.subject)? {
                    identities::delete(tx, &i.id)?;
                }
                let i = self.new_identity(app, tx, Some(&me.id));
                identities::insert(tx, &i)?;
                db::users::bump_sequence(tx, &me.id)?;
                Actor::user(&me, self.origin.address.clone()).audit(
                    tx,
                    "identity.upstream-link",
                    Some(&i.id),
                    json!({"user": me.id, "instance": self.inst.id}),
                )?;
                i.id
            }
        };
        self.store_tokens(app, tx, &identity_id)?;
        let name = self
            .inst
            .name
            .clone()
            .unwrap_or_else(|| self.inst.id.clone());
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("linked", &name)
            .finish();
        Ok(Ok(Landing {
            to: format!("{}?{q}", sessions::AFTER_LOGIN),
            session: None,
        }))
    }

    fn login(
        self,
        app: &App,
        tx: &Write,
        found: Option<Identity>,
    ) -> Result<std::result::Result<Landing, Refusal>> {
        if !self.inst.is_login_active {
            return Ok(Err(Refusal::LoginDisabled));
        }
        let identity = match found {
            Some(i) => {
                identities::set_profile(tx, &i.id, &self.account.profile())?;
                Identity {
                    profile: self.account.profile(),
                    ..i
                }
            }
            None => {
                let may_register = self.inst.does_implicit_register
                    || (self.mode == Mode::Register && self.inst.is_self_register_active);
                if !may_register {
                    // Only a verified address hints at an account, and it never links one.
                    let hint_email = match (&self.account.email, self.account.email_verified) {
                        (Some(e), true) => db::users::email_exists(tx, e)?,
                        _ => false,
                    };
                    return Ok(Err(Refusal::NoAccount {
                        register: self.inst.is_self_register_active,
                        hint_email,
                    }));
                }
                // A stale waiting identity of this account makes room.
                if let Some(old) = identities::by_subject(tx, &self.inst.id, &self.account.subject)?
                {
                    identities::delete(tx, &old.id)?;
                }
                let i = self.new_identity(app, tx, None);
                identities::insert(tx, &i)?;
                i
            }
        };
        let identity_id = identity.id.clone();
        match login::finish_in(app, tx, identity, &self.origin)? {
            Outcome::LoggedIn { session, .. } => {
                self.store_tokens(app, tx, &identity_id)?;
                let to = destination_in(tx, &session.id, self.request.as_ref())?;
                let entered = sessions::enter_in(tx, &session.id, to)?;
                Ok(Ok(Landing {
                    to: entered.redirect,
                    session: Some((entered.cookie, entered.max_age)),
                }))
            }
            Outcome::Waiting { identity, session } => {
                self.store_tokens(app, tx, &identity_id)?;
                let (token, _) =
                    pending::browser_register_token(app, &identity, &session, &self.browser)?;
                let page = match &self.flow {
                    Some(f) => {
                        let q = form_urlencoded::Serializer::new(String::new())
                            .append_pair("flow", f)
                            .finish();
                        format!("/auth/flow/register?{q}")
                    }
                    None => "/auth/flow/register".to_string(),
                };
                Ok(Ok(Landing {
                    to: format!("{page}#registerToken={token}"),
                    session: None,
                }))
            }
        }
    }

    /// The identity of this account: the user's at once, or waiting for registration.
    fn new_identity(&self, app: &App, tx: &Write, user: Option<&str>) -> Identity {
        Identity {
            id: new_id(),
            user_id: user.map(str::to_string),
            instance_id: self.inst.id.clone(),
            subject: self.account.subject.clone(),
            state: if user.is_some() {
                State::Valid
            } else {
                State::WaitingForRegister
            },
            expires: match user {
                Some(_) => None,
                None => Some(tx.now + app.settings.register_window as i64 * 1000),
            },
            password_hash: None,
            profile: self.account.profile(),
            created_at: tx.now,
        }
    }

    /// With `isSyncActive`: the provider's tokens, sealed, replacing what the identity had.
    fn store_tokens(&self, app: &App, tx: &Write, identity_id: &str) -> Result<()> {
        if !self.inst.is_sync_active {
            return Ok(());
        }
        store_tokens_in(app, tx, identity_id, &self.tokens)
    }
}

fn token_context(identity_id: &str) -> String {
    format!("provider-token:{identity_id}")
}

/// In the caller's transaction: an identity's provider tokens, sealed with the master key.
pub fn store_tokens_in(app: &App, tx: &Write, identity_id: &str, t: &Tokens) -> Result<()> {
    let plain = serde_json::to_vec(t)
        .map_err(|e| crate::error::Error::internal(format!("cannot seal tokens: {e}")))?;
    provider_tokens::upsert(
        tx,
        &provider_tokens::ProviderToken {
            identity_id: identity_id.to_string(),
            sealed: app.master.seal(&token_context(identity_id), &plain),
            expires_at: t.expires_at,
            scopes: t.scopes.join(" "),
            needs_login: false,
        },
    )
}

/// A stored token row opened: the access and refresh token, with the row's expiry and scopes.
pub fn open_tokens(app: &App, row: &provider_tokens::ProviderToken) -> Result<Tokens> {
    let plain = app
        .master
        .open(&token_context(&row.identity_id), &row.sealed)?;
    let mut t: Tokens = serde_json::from_slice(&plain)
        .map_err(|e| crate::error::Error::internal(format!("stored tokens are not JSON: {e}")))?;
    t.expires_at = row.expires_at;
    t.scopes = row
        .scopes
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Ok(t)
}
