//! Passkey links by mail: a new link for the user, sent to their e-mail address. A link whose
//! mail the server did not take is voided at once, so no usable code is left behind that
//! nobody received.

use super::Actor;
use super::passkeys::{self, Details, Link};
use crate::App;
use crate::db;
use crate::error::{Error, Reason, Result, Thing};
use crate::mail::Mail;

/// Makes a passkey link for `user_id` (see `passkeys::make_link`) and mails it to the user.
pub async fn send_link(
    app: &App,
    actor: &Actor,
    user_id: &str,
    url_template: Option<&str>,
) -> Result<Details> {
    if actor.id != user_id && !actor.is_admin {
        return Err(Error::forbidden("only an admin may act on another user"));
    }
    // Passkeys off, then a bad template: both before the user and the mail are looked at.
    passkeys::require_on(app)?;
    if let Some(t) = url_template {
        passkeys::check_url_template(t)?;
    }
    let id = user_id.to_string();
    let user = app
        .db
        .read(move |r| db::users::get(r, &id))
        .await?
        .ok_or_else(|| Error::not_found(Thing::User, "user not found"))?;
    // After the user: an unknown user is 404 whether or not mail is set up.
    let mailer = app.mailer.as_ref().ok_or_else(|| {
        Error::new(
            Reason::Precondition,
            "no mail server is configured (start keyward with --smtp-url)",
        )
    })?;
    let to = user
        .email
        .clone()
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| Error::new(Reason::Precondition, "the user has no e-mail address"))?;
    let link = passkeys::make_link(app, actor, user_id, url_template).await?;
    let mail = message(app, &user.display_name, &to, &link);
    if let Err(e) = mailer.send(mail).await {
        passkeys::void_link(app, &link.code_id).await?;
        return Err(e);
    }
    Ok(link.details)
}

fn message<'a>(app: &App, name: &str, to: &'a str, link: &Link) -> Mail<'a> {
    let expires = super::rfc3339(link.expires_at);
    let minutes = link.ttl_secs.div_ceil(60);
    let text = format!(
        "Hello {name},\n\n\
         open this link to add a passkey to your account at {site}:\n\n\
         {url}\n\n\
         The link works once and expires in {minutes} minutes ({expires}).\n\
         If you did not ask for it, ignore this message: without the link nothing changes.\n",
        site = app.public_url,
        url = link.url,
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>Hello {name},</p>\
         <p>open this link to add a passkey to your account at {site}:</p>\
         <p><a href=\"{url}\">Add a passkey</a></p>\
         <p>The link works once and expires in {minutes} minutes ({expires}).<br>\
         If you did not ask for it, ignore this message: without the link nothing changes.</p>\
         </body></html>",
        name = escape(name),
        site = escape(&app.public_url),
        url = escape(&link.url),
    );
    Mail {
        to,
        subject: "Add a passkey to your account",
        text,
        html,
    }
}

/// HTML text escaping for the few values the message shows.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
