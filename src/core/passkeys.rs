//! Passkeys on webauthn-rs: registration (by the user, an admin, or the holder of a one-time
//! link code), sign-up (a passkey that makes a new account; its rules are `registration`'s),
//! the list, renaming and removal, link codes, and the login ceremony.
//!
//! A passkey is an identity of its user under the `passkey` instance (subject: the credential
//! id, base64url); its public key lives in the `passkeys` table. Ceremony state is kept in the
//! database, single use, for 5 minutes. Every function checks and writes in one transaction.

use super::instances;
use super::login::{self, Outcome};
use super::registration::Registration;
use super::sessions::Origin;
use super::users::may_see;
use super::{Actor, check_no_control, new_id};
use crate::App;
use crate::auth::secret::{b64, digest, digest_eq, random_token};
use crate::db::ceremonies::{self, Ceremony};
use crate::db::identities::{self, Identity, State};
use crate::db::link_codes::{self, LinkCode};
use crate::db::passkeys::{self as rows, PasskeyRow};
use crate::db::{self, Read, Write, settings, users};
use crate::error::{CeremonyProblem, Error, LinkCodeProblem, Reason, Result, Thing};
use crate::strategies::Kind;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};

/// A ceremony's state lives this long.
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
/// Wrong codes a link takes before it is void.
pub const MAX_CODE_TRIES: i64 = 3;
/// The longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// What the passwordless API reports about the user after a call.
#[derive(Debug, Clone)]
pub struct Details {
    pub sequence: i64,
    pub created_at: i64,
    pub changed_at: i64,
    pub resource_owner: String,
}

/// The kind of authenticator a registration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    Unspecified,
    Platform,
    CrossPlatform,
}

/// Who may enrol: a caller (self, or admin for anyone) or the holder of a link code (no login).
pub enum Authority<'a> {
    Caller(&'a Actor),
    Code { code_id: &'a str, code: &'a str },
}

pub struct Started {
    pub passkey_id: String,
    /// `{"publicKey": {...}}` for `navigator.credentials.create`, binary fields base64url.
    pub options: Value,
    pub details: Details,
}

#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct Link {
    pub code_id: String,
    pub code: String,
    pub url: String,
    pub expires_at: i64,
    pub ttl_secs: u64,
    pub details: Details,
}

/// A login ceremony begun: its id and the options for `navigator.credentials.get`.
pub struct LoginStarted {
    pub ceremony_id: String,
    pub options: Value,
}

/// webauthn-rs's state of a ceremony, as stored.
#[derive(Serialize, Deserialize)]
enum CeremonyState {
    Register(PasskeyRegistration),
    /// Username-first: the user's passkeys are the allowed credentials.
    User(PasskeyAuthentication),
    /// Usernameless: the authenticator names the user by its user handle.
    Discoverable(DiscoverableAuthentication),
    /// A sign-up: the account to be and the user handle its passkey is made for.
    Signup {
        state: PasskeyRegistration,
        profile: Registration,
        handle: String,
    },
}

const REGISTER: &str = "register";
const LOGIN: &str = "login";
const SIGNUP: &str = "signup";

/// A sign-up ceremony begun: its id and the options for `navigator.credentials.create`.
pub struct SignupStarted {
    pub ceremony_id: String,
    pub options: Value,
}

/// A sign-up whose credential checked out, inside the finishing transaction: what the new
/// account is made of. `save_signup_in` stores its passkey once the user exists.
pub struct Signup {
    pub profile: Registration,
    /// The passkey instance, as it is now (its flags decide whether sign-up is still open).
    pub instance: db::instances::InstanceRow,
    handle: String,
    passkey: Passkey,
}

/// The relying party, or why passkeys are off.
fn rp(app: &App) -> Result<&Webauthn> {
    app.webauthn
        .as_ref()
        .ok_or_else(|| Error::precondition(crate::passkeys_off_message(&app.public_url)))
}

/// Passkeys are on, or the error that says to set a host name. Every passkey operation checks
/// this before any other precondition (a mail server, an e-mail address), so that a server
/// with passkeys off always says why.
pub fn require_on(app: &App) -> Result<()> {
    rp(app).map(|_| ())
}

/// The refusal of a registration for a blocked user.
fn blocked() -> Error {
    Error::new(
        Reason::Blocked,
        "This user is blocked: no passkey can be added until an admin unblocks them.",
    )
}

fn internal(what: &str) -> impl FnOnce(serde_json::Error) -> Error + '_ {
    move |e| {
        tracing::error!(error = %e, "{what}");
        Error::internal(what.to_string())
    }
}

/// The instance passkeys are registered under: `passkey`, else the oldest passkey instance.
pub fn passkey_instance(c: &Read) -> Result<db::instances::InstanceRow> {
    if let Some(i) = db::instances::by_name(c, instances::DEFAULT_PASSKEY)?
        && i.kind == Kind::Passkey
    {
        return Ok(i);
    }
    db::instances::list(c, Some(Kind::Passkey))?
        .into_iter()
        .next()
        .ok_or_else(|| Error::precondition("there is no passkey strategy instance"))
}

fn details_in(c: &Read, user_id: &str) -> Result<Details> {
    let u = users::get(c, user_id)?.ok_or_else(user_not_found)?;
    Ok(Details {
        sequence: u.sequence,
        created_at: u.created_at,
        changed_at: u.updated_at,
        resource_owner: settings::get(c, "org_id")?.unwrap_or_default(),
    })
}

fn user_not_found() -> Error {
    Error::not_found(Thing::User, "user not found")
}

fn passkey_not_found() -> Error {
    Error::not_found(Thing::Passkey, "passkey not found")
}

/// A passkey name: 1 to 64 characters, no control characters.
pub fn check_name(field: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::field(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::field(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    check_no_control(field, name)?;
    Ok(name.to_string())
}

fn link_problem(p: LinkCodeProblem) -> Error {
    let m = match p {
        LinkCodeProblem::Wrong => "The code of this passkey link is wrong.",
        LinkCodeProblem::Expired => "This passkey link has expired; ask for a new one.",
        LinkCodeProblem::Used => {
            "This passkey link was already used to register a passkey; ask for a new one."
        }
        LinkCodeProblem::Void => {
            "This passkey link is no longer valid (too many wrong codes); ask for a new one."
        }
        LinkCodeProblem::Unsent => {
            "This passkey link is not valid: its mail could not be sent, so it was voided; ask for a new one."
        }
    };
    Error::new(Reason::LinkCode(p), m)
}

/// Why a link code cannot be used now, if it cannot (its code not yet checked).
fn dead(l: &LinkCode, now: i64) -> Option<LinkCodeProblem> {
    if l.used_at.is_some() {
        Some(LinkCodeProblem::Used)
    } else if l.digest.is_empty() {
        // Erased when its mail failed (`void_link`).
        Some(LinkCodeProblem::Unsent)
    } else if l.failed_tries >= MAX_CODE_TRIES {
        Some(LinkCodeProblem::Void)
    } else if l.expires <= now {
        Some(LinkCodeProblem::Expired)
    } else {
        None
    }
}

/// Checks a link code for `user_id` in the caller's transaction. `Ok(Err(_))`: refused, with a
/// wrong try counted, which the transaction must keep (commit).
fn check_code(tx: &Write, user_id: &str, code_id: &str, code: &str) -> Result<Result<String>> {
    let Some(l) = link_codes::get(tx, code_id)?.filter(|l| l.user_id == user_id) else {
        // A code of nobody, or of someone else: nothing to count a try against.
        return Ok(Err(link_problem(LinkCodeProblem::Wrong)));
    };
    if let Some(p) = dead(&l, tx.now) {
        return Ok(Err(link_problem(p)));
    }
    if !digest_eq(&l.digest, &digest(code)) {
        link_codes::count_failure(tx, &l.id)?;
        // Every one of the allowed wrong tries is answered as a wrong code; the last one says
        // that the code is void from now on.
        if l.failed_tries + 1 >= MAX_CODE_TRIES {
            return Ok(Err(Error::new(
                Reason::LinkCode(LinkCodeProblem::Wrong),
                "The code of this passkey link is wrong, for the third time: the link is no longer valid; ask for a new one.",
            )));
        }
        return Ok(Err(link_problem(LinkCodeProblem::Wrong)));
    }
    Ok(Ok(l.id))
}

/// The user's WebAuthn user handle, made at their first ceremony.
fn handle_in(tx: &Write, user_id: &str) -> Result<Uuid> {
    let h = match rows::handle(tx, user_id)? {
        Some(h) => h,
        None => {
            let h = Uuid::new_v4().to_string();
            rows::set_handle(tx, user_id, &h)?;
            h
        }
    };
    Uuid::parse_str(&h).map_err(|_| Error::internal("a stored WebAuthn user handle is not a UUID"))
}

fn parse_passkey(row: &PasskeyRow) -> Result<Passkey> {
    serde_json::from_str(&row.credential).map_err(internal("a stored passkey does not parse"))
}

/// The credential id of a stored passkey.
fn rows_cred_id(row: &PasskeyRow) -> Result<Vec<u8>> {
    Ok(parse_passkey(row)?.cred_id().to_vec())
}

/// Asks for a discoverable credential with user verification (webauthn-rs's passkey options
/// say `residentKey: discouraged`), so that the passkey works for usernameless login, and
/// lists the user's credentials in `excludeCredentials` (see `start_registration`).
fn creation_options(options: Value, attachment: Attachment, exclude: &[Vec<u8>]) -> Value {
    let mut options = options;
    options["publicKey"]["excludeCredentials"] = exclude
        .iter()
        .map(|id| json!({"type": "public-key", "id": b64(id)}))
        .collect();
    let sel = &mut options["publicKey"]["authenticatorSelection"];
    if !sel.is_object() {
        *sel = json!({});
    }
    sel["residentKey"] = json!("required");
    sel["requireResidentKey"] = json!(true);
    sel["userVerification"] = json!("required");
    match attachment {
        Attachment::Unspecified => {
            if let Some(o) = sel.as_object_mut() {
                o.remove("authenticatorAttachment");
            }
        }
        Attachment::Platform => sel["authenticatorAttachment"] = json!("platform"),
        Attachment::CrossPlatform => sel["authenticatorAttachment"] = json!("cross-platform"),
    }
    options
}

/// Begins a passkey registration for `user_id`. With a code, its checks (and a wrong try) are
/// in this transaction; the code is used up only when `finish_registration` saves the passkey.
pub async fn start_registration(
    app: &App,
    user_id: &str,
    by: Authority<'_>,
    attachment: Attachment,
) -> Result<Started> {
    rp(app)?;
    let code = match by {
        Authority::Caller(actor) => {
            may_see(actor, user_id)?;
            None
        }
        Authority::Code { code_id, code } => Some((code_id.to_string(), code.to_string())),
    };
    let (app2, uid) = (app.clone(), user_id.to_string());
    app.db
        .write(move |tx| {
            let user = users::get(tx, &uid)?.ok_or_else(user_not_found)?;
            let link_code_id = match &code {
                Some((id, code)) => match check_code(tx, &uid, id, code)? {
                    Ok(id) => Some(id),
                    Err(e) => return Ok(Err(e)),
                },
                None => None,
            };
            // After the code: only its holder learns that the user is blocked.
            if user.is_blocked {
                return Err(blocked());
            }
            let rp = rp(&app2)?;
            let handle = handle_in(tx, &uid)?;
            // The user's credentials go to the browser as `excludeCredentials`, but not into
            // webauthn-rs's state: its finish would refuse one of them as an unexplained
            // verification failure, where keyward answers "already registered" (the same as
            // for another user's credential).
            let exclude = rows::list_for_user(tx, &uid)?
                .into_iter()
                .map(|row| rows_cred_id(&row))
                .collect::<Result<Vec<_>>>()?;
            let (options, state) = rp
                .start_passkey_registration(handle, &user.username, &user.display_name, None)
                .map_err(|e| Error::internal(format!("webauthn registration start: {e}")))?;
            let options = serde_json::to_value(&options).map_err(internal("options"))?;
            let state = serde_json::to_string(&CeremonyState::Register(state))
                .map_err(internal("ceremony state"))?;
            let id = new_id();
            ceremonies::insert(
                tx,
                &Ceremony {
                    id: id.clone(),
                    kind: REGISTER.into(),
                    user_id: Some(uid.clone()),
                    link_code_id,
                    state,
                    created_at: tx.now,
                    expires: tx.now + CEREMONY_TTL_MS,
                    browser: None,
                },
            )?;
            Ok(Ok(Started {
                passkey_id: id,
                options: creation_options(options, attachment, &exclude),
                details: details_in(tx, &uid)?,
            }))
        })
        .await?
}

/// Completes a registration: the ceremony `passkey_id` of `user_id` is taken (single use) and
/// the credential verified against it; the passkey is saved as identity `passkey_id`, and the
/// link code it was started with, if any, is used up, all in one transaction.
///
/// A ceremony started with a link code needs no login: the code was the authority. One started
/// by a login needs `caller` to be a login that may act for the user (the user, or an admin;
/// not necessarily the one who started it): the ceremony id alone is no authority, so that
/// whoever learns it cannot add their own passkey to the user. `caller` is the request's login
/// as the surface checked it (scope and user), or why it has none; a refusal for it leaves the
/// ceremony as it was.
pub async fn finish_registration(
    app: &App,
    user_id: &str,
    passkey_id: &str,
    credential: Value,
    name: &str,
    caller: Result<Actor>,
    address: Option<String>,
) -> Result<Details> {
    rp(app)?;
    let name = check_name("passkeyName", name)?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| {
            Error::field(
                "publicKeyCredential",
                "is not the JSON of a WebAuthn registration credential",
            )
        })?;
    let (app2, uid, pid) = (app.clone(), user_id.to_string(), passkey_id.to_string());
    app.db
        .write(move |tx| {
            let unknown = || {
                Error::not_found(
                    Thing::Passkey,
                    "no passkey registration with this id is in progress (it may have expired); start again",
                )
            };
            // Someone else's ceremony is not touched: the transaction rolls back.
            let Some(c) = ceremonies::take(tx, &pid)? else {
                return Err(unknown());
            };
            if c.kind != REGISTER || c.user_id.as_deref() != Some(uid.as_str()) {
                return Err(unknown());
            }
            let by = match &c.link_code_id {
                Some(_) => None,
                None => {
                    let actor = caller?;
                    may_see(&actor, &uid)?;
                    Some(actor)
                }
            };
            // From here on the ceremony is spent, whatever comes of it.
            if c.expires <= tx.now {
                return Ok(Err(unknown()));
            }
            if let Some(code_id) = &c.link_code_id {
                let Some(l) = link_codes::get(tx, code_id)? else {
                    return Ok(Err(link_problem(LinkCodeProblem::Void)));
                };
                if let Some(p) = dead(&l, tx.now) {
                    return Ok(Err(link_problem(p)));
                }
            }
            if users::get(tx, &uid)?.ok_or_else(user_not_found)?.is_blocked {
                return Ok(Err(blocked()));
            }
            let CeremonyState::Register(state) =
                serde_json::from_str(&c.state).map_err(internal("ceremony state"))?
            else {
                return Ok(Err(unknown()));
            };
            let rp = rp(&app2)?;
            let passkey = match rp.finish_passkey_registration(&credential, &state) {
                Ok(p) => p,
                Err(e) => {
                    tracing::info!(error = %e, "passkey registration refused");
                    return Ok(Err(Error::bad_request(
                        "the passkey could not be verified; try again",
                    )));
                }
            };
            let inst = passkey_instance(tx)?;
            if is_registered(tx, &inst.id, &passkey)? {
                return Ok(Err(Error::conflict("this passkey is already registered")));
            }
            insert_in(tx, &inst.id, &pid, &uid, &passkey, &name)?;
            if let Some(code_id) = &c.link_code_id {
                link_codes::mark_used(tx, code_id)?;
            }
            users::bump_sequence(tx, &uid)?;
            let actor = by.unwrap_or(Actor {
                id: uid.clone(),
                is_admin: false,
                address,
            });
            actor.audit(
                tx,
                "passkey.add",
                Some(&pid),
                json!({"user": uid, "name": name, "viaLink": c.link_code_id.is_some()}),
            )?;
            Ok(Ok(details_in(tx, &uid)?))
        })
        .await?
}

/// Whether the credential of `passkey` is already some user's passkey.
fn is_registered(tx: &Write, instance_id: &str, passkey: &Passkey) -> Result<bool> {
    let cred_id: &[u8] = passkey.cred_id().as_ref();
    Ok(rows::by_credential_id(tx, cred_id)?.is_some()
        || identities::by_subject(tx, instance_id, &b64(cred_id))?.is_some())
}

/// Saves a verified passkey of `user_id` as identity `identity_id` of the passkey instance
/// (subject: the credential id) with its row (public key, counter, name).
fn insert_in(
    tx: &Write,
    instance_id: &str,
    identity_id: &str,
    user_id: &str,
    passkey: &Passkey,
    name: &str,
) -> Result<()> {
    let cred_id: &[u8] = passkey.cred_id().as_ref();
    identities::insert(
        tx,
        &Identity {
            id: identity_id.to_string(),
            user_id: Some(user_id.to_string()),
            instance_id: instance_id.to_string(),
            subject: b64(cred_id),
            state: State::Valid,
            expires: None,
            password_hash: None,
            profile: json!({"name": name}),
            created_at: tx.now,
        },
    )?;
    let stored = serde_json::to_string(passkey).map_err(internal("passkey"))?;
    rows::insert(tx, identity_id, cred_id, name, &stored)
}

/// Begins a passkey sign-up for the account `profile` (its rules already checked by
/// `registration`), bound to the browser whose binding cookie is `browser`: a fresh user
/// handle, and a ceremony that keeps both until the credential comes back.
pub async fn start_signup(
    app: &App,
    profile: Registration,
    browser: &str,
) -> Result<SignupStarted> {
    rp(app)?;
    let (app2, bound) = (app.clone(), digest(browser));
    app.db
        .write(move |tx| {
            let rp = rp(&app2)?;
            let handle = Uuid::new_v4();
            let (options, state) = rp
                .start_passkey_registration(handle, &profile.username, &profile.display_name, None)
                .map_err(|e| Error::internal(format!("webauthn registration start: {e}")))?;
            let options = serde_json::to_value(&options).map_err(internal("options"))?;
            let state = CeremonyState::Signup {
                state,
                profile,
                handle: handle.to_string(),
            };
            let id = new_id();
            ceremonies::insert(
                tx,
                &Ceremony {
                    id: id.clone(),
                    kind: SIGNUP.into(),
                    user_id: None,
                    link_code_id: None,
                    state: serde_json::to_string(&state).map_err(internal("ceremony state"))?,
                    created_at: tx.now,
                    expires: tx.now + CEREMONY_TTL_MS,
                    browser: Some(bound),
                },
            )?;
            Ok(SignupStarted {
                ceremony_id: id,
                options: creation_options(options, Attachment::Unspecified, &[]),
            })
        })
        .await
}

fn ceremony_problem(p: CeremonyProblem) -> Error {
    let m = match p {
        CeremonyProblem::OtherBrowser => {
            "This passkey sign-up was begun in another browser. Nothing was created; start again here."
        }
        CeremonyProblem::Unknown => {
            "No passkey sign-up with this id is in progress (it was finished already, or took longer than 5 minutes). Nothing was created; start again."
        }
    };
    Error::new(Reason::Ceremony(p), m)
}

/// Finishes a passkey sign-up in one transaction: takes the ceremony (single use; one of
/// another browser is left untouched), verifies the credential against it, refuses a
/// credential that is already registered, and runs `then` with what the account is made of.
/// `then` answers `Ok(Err(_))` for a refusal that writes nothing (the ceremony is spent all
/// the same) and `Err(_)` to roll everything back.
pub async fn finish_signup_then<T, F>(
    app: &App,
    ceremony_id: &str,
    credential: Value,
    browser: Option<&str>,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write, &Signup) -> Result<Result<T>> + Send + 'static,
    T: Send + 'static,
{
    rp(app)?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| {
            Error::field(
                "credential",
                "is not the JSON of a WebAuthn registration credential",
            )
        })?;
    let (app2, cid) = (app.clone(), ceremony_id.to_string());
    let bound = browser.map(digest);
    app.db
        .write(move |tx| {
            let Some(c) = ceremonies::take(tx, &cid)? else {
                return Err(ceremony_problem(CeremonyProblem::Unknown));
            };
            // Another kind of ceremony, or one of another browser, is not touched: the
            // transaction rolls back.
            if c.kind != SIGNUP {
                return Err(ceremony_problem(CeremonyProblem::Unknown));
            }
            let ours = match (&c.browser, &bound) {
                (Some(a), Some(b)) => digest_eq(a, b),
                _ => false,
            };
            if !ours {
                return Err(ceremony_problem(CeremonyProblem::OtherBrowser));
            }
            // From here on the ceremony is spent, whatever comes of it.
            if c.expires <= tx.now {
                return Ok(Err(ceremony_problem(CeremonyProblem::Unknown)));
            }
            let CeremonyState::Signup {
                state,
                profile,
                handle,
            } = serde_json::from_str(&c.state).map_err(internal("ceremony state"))?
            else {
                return Ok(Err(ceremony_problem(CeremonyProblem::Unknown)));
            };
            let passkey = match rp(&app2)?.finish_passkey_registration(&credential, &state) {
                Ok(p) => p,
                Err(e) => {
                    tracing::info!(error = %e, "passkey sign-up refused");
                    return Ok(Err(Error::field(
                        "credential",
                        "could not be verified; try again",
                    )));
                }
            };
            let instance = passkey_instance(tx)?;
            if is_registered(tx, &instance.id, &passkey)? {
                return Ok(Err(Error::new(
                    Reason::IdentityTaken,
                    "This passkey is already registered to an account: sign in with it instead.",
                )));
            }
            then(
                tx,
                &Signup {
                    profile,
                    instance,
                    handle,
                    passkey,
                },
            )
        })
        .await?
}

/// Saves the passkey of a sign-up for the user just made from it (`user_id`), as identity
/// `identity_id` named `name`, and gives the user the handle the credential was made for.
pub fn save_signup_in(
    tx: &Write,
    s: &Signup,
    user_id: &str,
    identity_id: &str,
    name: &str,
    address: Option<String>,
) -> Result<()> {
    rows::set_handle(tx, user_id, &s.handle)?;
    insert_in(tx, &s.instance.id, identity_id, user_id, &s.passkey, name)?;
    Actor {
        id: user_id.to_string(),
        is_admin: false,
        address,
    }
    .audit(
        tx,
        "passkey.add",
        Some(identity_id),
        json!({"user": user_id, "name": name, "viaLink": false, "signup": true}),
    )
}

fn info(row: PasskeyRow) -> PasskeyInfo {
    PasskeyInfo {
        id: row.identity_id,
        name: row.name,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
    }
}

/// A user's passkeys, oldest first (self or admin).
pub async fn list(app: &App, actor: &Actor, user_id: &str) -> Result<(Vec<PasskeyInfo>, Details)> {
    rp(app)?;
    may_see(actor, user_id)?;
    let uid = user_id.to_string();
    app.db
        .read(move |c| {
            let details = details_in(c, &uid)?;
            let list = rows::list_for_user(c, &uid)?
                .into_iter()
                .map(info)
                .collect();
            Ok((list, details))
        })
        .await
}

/// A user's passkeys, for a caller that has already checked who may see them (login data).
pub async fn of_user(app: &App, user_id: &str) -> Result<Vec<PasskeyInfo>> {
    let uid = user_id.to_string();
    app.db
        .read(move |c| {
            Ok(rows::list_for_user(c, &uid)?
                .into_iter()
                .map(info)
                .collect())
        })
        .await
}

/// The passkey `passkey_id`, of `user_id` when given; the owner or an admin may act on it.
fn owned(c: &Read, actor: &Actor, user_id: Option<&str>, passkey_id: &str) -> Result<PasskeyRow> {
    rows::get(c, passkey_id)?
        .filter(|r| user_id.is_none() || r.user_id.as_deref() == user_id)
        .filter(|r| actor.is_admin || r.user_id.as_deref() == Some(actor.id.as_str()))
        .ok_or_else(passkey_not_found)
}

/// Renames a passkey (its owner or an admin).
pub async fn rename(
    app: &App,
    actor: &Actor,
    user_id: &str,
    passkey_id: &str,
    name: &str,
) -> Result<Details> {
    rp(app)?;
    may_see(actor, user_id)?;
    let name = check_name("name", name)?;
    rename_in_db(app, actor, Some(user_id), passkey_id, name)
        .await
        .map(|(_, d)| d)
}

/// `PUT /login-data/{id}/name`: renames the passkey of login data `identity_id` (its owner or
/// an admin) and answers its owner. Works with passkeys off too: it changes only a name.
pub async fn rename_identity(
    app: &App,
    actor: &Actor,
    identity_id: &str,
    name: &str,
) -> Result<String> {
    let name = check_name("name", name)?;
    rename_in_db(app, actor, None, identity_id, name)
        .await
        .map(|(owner, _)| owner)
}

async fn rename_in_db(
    app: &App,
    actor: &Actor,
    user_id: Option<&str>,
    passkey_id: &str,
    name: String,
) -> Result<(String, Details)> {
    let (actor, uid, pid) = (
        actor.clone(),
        user_id.map(str::to_string),
        passkey_id.to_string(),
    );
    app.db
        .write(move |tx| {
            let row = owned(tx, &actor, uid.as_deref(), &pid)?;
            let owner = row.user_id.clone().ok_or_else(passkey_not_found)?;
            rows::set_name(tx, &pid, &name)?;
            users::bump_sequence(tx, &owner)?;
            actor.audit(
                tx,
                "passkey.rename",
                Some(&pid),
                json!({"user": owner, "name": name}),
            )?;
            Ok((owner.clone(), details_in(tx, &owner)?))
        })
        .await
}

/// Removes a passkey (its owner or an admin); refused when it is the user's last way to log in.
pub async fn remove(app: &App, actor: &Actor, user_id: &str, passkey_id: &str) -> Result<Details> {
    rp(app)?;
    may_see(actor, user_id)?;
    let (actor, uid, pid) = (actor.clone(), user_id.to_string(), passkey_id.to_string());
    app.db
        .write(move |tx| {
            let row = owned(tx, &actor, Some(&uid), &pid)?;
            let identity = identities::get(tx, &row.identity_id)?.ok_or_else(passkey_not_found)?;
            super::linking::remove_in(tx, &actor, &identity, "passkey.remove")?;
            details_in(tx, &uid)
        })
        .await
}

/// Whether identity `i` is a passkey (its instance is of the passkey kind).
pub fn is_passkey(c: &Read, i: &Identity) -> Result<bool> {
    Ok(db::instances::get(c, &i.instance_id)?.is_some_and(|inst| inst.kind == Kind::Passkey))
}

/// Makes a passkey link for `user_id` (self or admin): a new one-time code (older ones stay
/// good) and the link that carries it. `url_template` may use Zitadel's `{{.UserID}}`,
/// `{{.OrgID}}`, `{{.CodeID}}` and `{{.Code}}`; None gives keyward's passkey page.
pub async fn make_link(
    app: &App,
    actor: &Actor,
    user_id: &str,
    url_template: Option<&str>,
) -> Result<Link> {
    rp(app)?;
    may_see(actor, user_id)?;
    let (app2, actor, uid) = (app.clone(), actor.clone(), user_id.to_string());
    let template = url_template.map(str::to_string);
    app.db
        .write(move |tx| {
            users::get(tx, &uid)?.ok_or_else(user_not_found)?;
            let org = settings::get(tx, "org_id")?.unwrap_or_default();
            let ttl = app2.settings.passkey_link_ttl;
            let code = random_token(16);
            let code_id = new_id();
            let url = match &template {
                Some(t) => link_from_template(t, &uid, &org, &code_id, &code)?,
                None => format!(
                    "{}/auth/flow/passkey?userID={uid}&orgID={org}&codeID={code_id}&code={code}",
                    app2.public_url
                ),
            };
            let expires_at = tx.now + ttl as i64 * 1000;
            link_codes::insert(
                tx,
                &LinkCode {
                    id: code_id.clone(),
                    user_id: uid.clone(),
                    digest: digest(&code),
                    created_at: tx.now,
                    expires: expires_at,
                    failed_tries: 0,
                    used_at: None,
                },
            )?;
            users::bump_sequence(tx, &uid)?;
            actor.audit(
                tx,
                "passkey.link",
                Some(&uid),
                json!({"codeId": code_id, "expires": expires_at}),
            )?;
            Ok(Link {
                code_id,
                code,
                url,
                expires_at,
                ttl_secs: ttl,
                details: details_in(tx, &uid)?,
            })
        })
        .await
}

/// The field a link template comes in.
const TEMPLATE_FIELD: &str = "urlTemplate";

/// Fills in a link template as Zitadel does: a Go template whose only actions may be the
/// placeholders `{{.UserID}}`, `{{.OrgID}}`, `{{.CodeID}}` and `{{.Code}}` (spaces inside the
/// braces and Go's trim markers `{{- ` / ` -}}` allowed). Anything else in braces, or a `{{`
/// without `}}`, is refused, as Zitadel's template parser or its execution would. The result
/// must be an absolute http(s) URL: it is the link of a mail (never `javascript:`).
fn link_from_template(
    template: &str,
    user_id: &str,
    org_id: &str,
    code_id: &str,
    code: &str,
) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let text = &rest[..open];
        let text = if trim_next { text.trim_start() } else { text };
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(Error::field(TEMPLATE_FIELD, "has a {{ without its }}"));
        };
        let mut action = &after[..close];
        // "{{- " trims the white space before the action, " -}}" the white space after it.
        let trim_before = action.starts_with("- ") || action.starts_with("-\t");
        if trim_before {
            action = &action[1..];
        }
        trim_next = action.ends_with(" -") || action.ends_with("\t-");
        if trim_next {
            action = &action[..action.len() - 1];
        }
        out.push_str(if trim_before { text.trim_end() } else { text });
        let value = match action.trim() {
            ".UserID" => user_id,
            ".OrgID" => org_id,
            ".CodeID" => code_id,
            ".Code" => code,
            other => {
                return Err(Error::field(
                    TEMPLATE_FIELD,
                    format!(
                        "may use only {{{{.UserID}}}}, {{{{.OrgID}}}}, {{{{.CodeID}}}} and {{{{.Code}}}}, not {{{{{other}}}}}"
                    ),
                ));
            }
        };
        out.push_str(value);
        rest = &after[close + 2..];
    }
    out.push_str(if trim_next { rest.trim_start() } else { rest });
    let ok = url::Url::parse(&out)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !ok {
        return Err(Error::field(
            TEMPLATE_FIELD,
            "must give an absolute http(s) URL once filled in",
        ));
    }
    Ok(out)
}

/// Checks a link template before anything is made or sent (see `link_from_template`).
pub fn check_url_template(template: &str) -> Result<()> {
    // Values of the real ones' kinds: UUIDs and a base64url code.
    let id = "00000000-0000-4000-8000-000000000000";
    link_from_template(template, id, id, id, "AAAAAAAAAAAAAAAAAAAAAA").map(|_| ())
}

/// Voids a link whose mail could not be sent, so that no usable code is left behind; its link
/// then says that its mail failed.
pub async fn void_link(app: &App, code_id: &str) -> Result<()> {
    let id = code_id.to_string();
    app.db
        .write(move |tx| link_codes::void_unsent(tx, &id))
        .await
}

pub async fn details(app: &App, user_id: &str) -> Result<Details> {
    let uid = user_id.to_string();
    app.db.read(move |c| details_in(c, &uid)).await
}

/// The answer to every failed passkey login, whatever failed, so that it tells nothing.
pub const LOGIN_REFUSED: &str =
    "This passkey is not known here, or the sign-in took too long; try again.";

fn refused() -> Error {
    Error::new(Reason::WrongCredentials, LOGIN_REFUSED)
}

/// Begins a passkey login. With a username that has passkeys: those are the allowed
/// credentials (username-first); otherwise (no username, an unknown one, or one without
/// passkeys) a discoverable challenge, so the answer does not tell whether a user exists.
pub async fn start_login(
    app: &App,
    username: Option<&str>,
    address: Option<&str>,
) -> Result<LoginStarted> {
    rp(app)?;
    // Each start writes a ceremony row before anyone is signed in: bounded per address.
    app.throttle
        .ceremony_started(address.and_then(|a| a.parse().ok()))?;
    let (app2, username) = (app.clone(), username.map(|u| u.trim().to_string()));
    app.db
        .write(move |tx| {
            let rp = rp(&app2)?;
            let mut user_id = None;
            let mut passkeys = Vec::new();
            if let Some(u) = username.as_deref().filter(|u| !u.is_empty())
                && let Some(user) = users::by_username(tx, u)?
            {
                for row in rows::list_for_user(tx, &user.id)? {
                    passkeys.push(parse_passkey(&row)?);
                }
                user_id = Some(user.id);
            }
            let (options, state) = if passkeys.is_empty() {
                user_id = None;
                let (o, s) = rp
                    .start_discoverable_authentication()
                    .map_err(|e| Error::internal(format!("webauthn login start: {e}")))?;
                (serde_json::to_value(&o), CeremonyState::Discoverable(s))
            } else {
                let (o, s) = rp
                    .start_passkey_authentication(&passkeys)
                    .map_err(|e| Error::internal(format!("webauthn login start: {e}")))?;
                (serde_json::to_value(&o), CeremonyState::User(s))
            };
            let mut options = options.map_err(internal("options"))?;
            // The page picks the mediation (a button, or conditional in the username field).
            if let Some(o) = options.as_object_mut() {
                o.remove("mediation");
            }
            let id = new_id();
            ceremonies::insert(
                tx,
                &Ceremony {
                    id: id.clone(),
                    kind: LOGIN.into(),
                    user_id,
                    link_code_id: None,
                    state: serde_json::to_string(&state).map_err(internal("ceremony state"))?,
                    created_at: tx.now,
                    expires: tx.now + CEREMONY_TTL_MS,
                    browser: None,
                },
            )?;
            Ok(LoginStarted {
                ceremony_id: id,
                options,
            })
        })
        .await
}

/// Finishes a passkey login. The attempt is counted (per credential and per address) before
/// the signature is checked; then one transaction takes the ceremony (single use), verifies
/// the assertion, stores the credential's new counter and backup flags and when it was used,
/// starts the session and runs `then` with the outcome, so that the caller's writes (a cookie,
/// an authorization code) land together with the login.
pub async fn finish_login_then<T, F>(
    app: &App,
    ceremony_id: &str,
    credential: Value,
    origin: &Origin,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write, Outcome) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let r = finish_login_counted(app, ceremony_id, credential, origin, then).await;
    // Counted under the instance passkeys are registered under (an unknown credential has no
    // instance of its own).
    let inst = app
        .db
        .read(|c| Ok(passkey_instance(c).ok().and_then(|i| i.name)))
        .await;
    app.metrics
        .login(Kind::Passkey, inst.ok().flatten().as_deref(), &r);
    r
}

async fn finish_login_counted<T, F>(
    app: &App,
    ceremony_id: &str,
    credential: Value,
    origin: &Origin,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write, Outcome) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    rp(app)?;
    let credential: PublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| refused())?;
    let key = format!("passkey:{}", b64(credential.get_credential_id()));
    let ip = origin.address.as_deref().and_then(|a| a.parse().ok());
    // Counted from here on; released if this request ends without a verdict.
    let attempt = app.throttle.begin(&key, ip)?;
    // A finish let through settles one pending start of this address (bogus finishes that
    // would free starts are themselves failures, throttled per address).
    app.throttle.ceremony_finished(ip);
    let (app2, cid, origin) = (app.clone(), ceremony_id.to_string(), origin.clone());
    let result = app
        .db
        .write(move |tx| {
            let Some(c) = ceremonies::take(tx, &cid)? else {
                return Ok(Err(refused()));
            };
            if c.kind != LOGIN || c.expires <= tx.now {
                return Ok(Err(refused()));
            }
            let Some(row) = rows::by_credential_id(tx, credential.get_credential_id())? else {
                return Ok(Err(refused()));
            };
            let Some(owner) = row.user_id.clone() else {
                return Ok(Err(refused()));
            };
            let mut passkey = parse_passkey(&row)?;
            let rp = rp(&app2)?;
            let state = serde_json::from_str(&c.state).map_err(internal("ceremony state"))?;
            let verified = match state {
                CeremonyState::User(s) => {
                    // A credential of another user than the one the ceremony was made for.
                    if c.user_id.as_deref() != Some(owner.as_str()) {
                        return Ok(Err(refused()));
                    }
                    rp.finish_passkey_authentication(&credential, &s)
                }
                CeremonyState::Discoverable(s) => {
                    // The authenticator names the user by the handle it was registered with.
                    let handle = rows::handle(tx, &owner)?;
                    let named = rp
                        .identify_discoverable_authentication(&credential)
                        .ok()
                        .map(|(u, _)| u.to_string());
                    if handle.is_none() || named != handle {
                        return Ok(Err(refused()));
                    }
                    rp.finish_discoverable_authentication_v2(&credential, s, &passkey)
                }
                CeremonyState::Register(_) | CeremonyState::Signup { .. } => {
                    return Ok(Err(refused()));
                }
            };
            let result = match verified {
                Ok(r) => r,
                Err(e) => {
                    tracing::info!(error = %e, "passkey assertion refused");
                    return Ok(Err(refused()));
                }
            };
            passkey.update_credential(&result);
            let stored = serde_json::to_string(&passkey).map_err(internal("passkey"))?;
            rows::record_use(tx, &row.identity_id, &stored)?;
            // Verified: from here on a refusal rolls the transaction back (Err), and the
            // attempt counts as a right credential.
            let identity = identities::get(tx, &row.identity_id)?
                .ok_or_else(|| Error::internal("passkey without identity"))?;
            let inst = db::instances::get(tx, &identity.instance_id)?
                .ok_or_else(|| Error::internal("identity without instance"))?;
            if !inst.is_login_active {
                return Err(Error::forbidden(
                    "login is disabled on this strategy instance",
                ));
            }
            if identity.state != State::Valid {
                return Err(Error::new(
                    Reason::Blocked,
                    "This login method is blocked or expired.",
                ));
            }
            let outcome = login::finish_in(&app2, tx, identity, &origin)?;
            if let Outcome::LoggedIn { user, session } = &outcome {
                Actor {
                    id: user.id.clone(),
                    is_admin: user.is_admin,
                    address: origin.address.clone(),
                }
                .audit(
                    tx,
                    "passkey.login",
                    Some(&row.identity_id),
                    json!({"user": user.id, "session": session.id}),
                )?;
            }
            Ok(Ok(then(tx, outcome)?))
        })
        .await;
    match result {
        Ok(Ok(t)) => {
            attempt.succeeded();
            Ok(t)
        }
        Ok(Err(e)) => {
            attempt.failed();
            Err(e)
        }
        Err(e) if matches!(e.reason, Reason::Blocked | Reason::Forbidden) => {
            attempt.succeeded();
            Err(e)
        }
        Err(e) => Err(e),
    }
}
