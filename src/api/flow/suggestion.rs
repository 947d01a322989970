//! `POST /auth/api/flow/suggestion`: the account a register token of this browser suggests,
//! and the login the page is about to attach.

use super::super::cookies;
use super::super::io::{Body, Json};
use super::super::route::Cx;
use super::Csrf;
use crate::core::pending::{self, Suggestion, SuggestionStatus};
use crate::error::{Error, Result};
use crate::strategies::Kind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FlowSuggestionRequest")]
pub(super) struct SuggestionBody {
    register_token: String,
}

/// What the provider told us about the person, as the login API's data suggestion says it.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSuggestion {
    status: Status,
    /// The suggested account: with `OK` and `USERNAME_TAKEN` only.
    #[serde(flatten)]
    profile: Option<Profile>,
    /// The login the page is about to attach, while it waits (the hosted pages only).
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<Login>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schemars(rename = "SuggestionStatus")]
enum Status {
    /// The suggested username is free.
    Ok,
    /// A user has the suggested username.
    UsernameTaken,
    /// The login belongs to an account already.
    AlreadyRegistered,
    /// Nothing to suggest.
    NoData,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SuggestedProfile")]
struct Profile {
    // Absent rather than null when there is nothing to suggest (`username?` and so on).
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// A waiting login, named for the person who is about to attach it.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "WaitingLogin")]
struct Login {
    /// The strategy instance's name.
    instance: String,
    /// The strategy type.
    #[serde(rename = "type")]
    kind: Kind,
    /// The username or e-mail address of the login.
    account: String,
}

impl From<Suggestion> for DataSuggestion {
    fn from(s: Suggestion) -> DataSuggestion {
        DataSuggestion {
            status: match s.status {
                SuggestionStatus::Ok => Status::Ok,
                SuggestionStatus::UsernameTaken => Status::UsernameTaken,
                SuggestionStatus::AlreadyRegistered => Status::AlreadyRegistered,
                SuggestionStatus::NoData => Status::NoData,
            },
            profile: s.profile.map(|p| Profile {
                username: p.username,
                display_name: p.display_name,
                email: p.email,
            }),
            login: s.login.map(|l| Login {
                instance: l.instance,
                kind: l.kind,
                account: l.account,
            }),
        }
    }
}

pub(super) async fn suggestion(
    cx: Cx,
    _: Csrf,
    Body(b): Body<SuggestionBody>,
) -> Result<Json<DataSuggestion>> {
    if b.register_token.trim().is_empty() {
        return Err(Error::field("registerToken", "must not be empty"));
    }
    let browser = cookies::browser(&cx.app, &cx.req);
    let s = pending::page_suggestion(&cx.app, &b.register_token, browser.as_deref()).await?;
    Ok(Json(s.into()))
}
