//! The hosted login page: what it shows (the application asking, the ways to log in, who is
//! logged in here) and its password and passkey logins, which enter the browser's session,
//! cookie and the application's code in the login's own transaction.

use super::instances::{self, Instance};
use super::login::{Outcome, password_instance, password_login_then};
use super::oauth::{destination_in, open_flow};
use super::sessions::{self, Entered, Origin};
use super::{clients, pending};
use crate::App;
use crate::db::users::User;
use crate::error::Result;

/// What a hosted login page shows: the application asking, the instances to log in with, and
/// who is logged in in this browser.
pub struct PageContext {
    pub client: Option<clients::Client>,
    pub instances: Vec<Instance>,
    pub user: Option<User>,
}

/// The context of a hosted page serving `flow`, for the browser whose session cookie is
/// `cookie`.
pub async fn page_context(
    app: &App,
    flow: Option<&str>,
    cookie: Option<&str>,
) -> Result<PageContext> {
    let client = match open_flow(app, flow)? {
        Some(r) => Some(clients::get(app, &r.client_id).await?),
        None => None,
    };
    let instances = instances::list(app, None)
        .await?
        .into_iter()
        .filter(|i| i.is_login_active)
        .collect();
    let user = match cookie {
        Some(c) => sessions::cookie_session(app, c).await?.map(|(_, u)| u),
        None => None,
    };
    Ok(PageContext {
        client,
        instances,
        user,
    })
}

/// Where a hosted page's password login goes on.
pub enum PageLogin {
    /// A user logged in: the browser's session cookie, and where it goes next.
    Entered(Entered),
    /// The login found an identity that waits for registration: the register page takes over
    /// with this register token, bound to the browser (see `pending::check_browser`).
    Register { token: String },
}

/// The hosted login page's password login for the browser whose binding cookie is `browser`,
/// inside the authorization request `flow` if there is one. A login to a user enters its
/// session, cookie and code in the login's own transaction.
pub async fn page_login(
    app: &App,
    flow: Option<&str>,
    instance: Option<&str>,
    username: &str,
    password: &str,
    origin: Origin,
    browser: &str,
) -> Result<PageLogin> {
    let (request, origin) = flow_and_origin(app, flow, origin)?;
    let inst = password_instance(app, instance, "instanceId").await?;
    let (app2, browser) = (app.clone(), browser.to_string());
    // A login to a waiting identity writes nothing more; its register token is only signed.
    password_login_then(app, &inst, username, password, &origin, move |tx, o| {
        Ok(match o {
            Outcome::LoggedIn { session, .. } => {
                let to = destination_in(tx, &session.id, request.as_ref())?;
                PageLogin::Entered(sessions::enter_in(tx, &session.id, to)?)
            }
            Outcome::Waiting { identity, session } => {
                let (token, _) =
                    pending::browser_register_token(&app2, &identity, &session, &browser)?;
                PageLogin::Register { token }
            }
        })
    })
    .await
}

/// The hosted login page's passkey login (ceremony begun by `passkeys::start_login`), inside
/// the authorization request `flow` if there is one. It ends exactly like `page_login`: the
/// session, its cookie and the application's code in the login's own transaction.
pub async fn page_passkey_login(
    app: &App,
    flow: Option<&str>,
    ceremony_id: &str,
    credential: serde_json::Value,
    origin: Origin,
) -> Result<Entered> {
    let (request, origin) = flow_and_origin(app, flow, origin)?;
    super::passkeys::finish_login_then(app, ceremony_id, credential, &origin, move |tx, o| {
        match o {
            Outcome::LoggedIn { session, .. } => {
                let to = destination_in(tx, &session.id, request.as_ref())?;
                sessions::enter_in(tx, &session.id, to)
            }
            // A passkey is registered to a user: it never waits for registration.
            Outcome::Waiting { .. } => Err(crate::error::Error::internal(
                "a passkey identity waits for registration",
            )),
        }
    })
    .await
}

/// The authorization request a page serves, if any, and the login's origin with its client:
/// a session started for an application is that application's.
pub fn flow_and_origin(
    app: &App,
    flow: Option<&str>,
    origin: Origin,
) -> Result<(Option<super::oauth::AuthRequest>, Origin)> {
    let request = open_flow(app, flow)?;
    let origin = Origin {
        client_id: request.as_ref().map(|r| r.client_id.clone()),
        ..origin
    };
    Ok((request, origin))
}
