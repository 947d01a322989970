//! `keyward users export` and `keyward users import`: users as JSON lines, so that a user base
//! moves between installations (and in from Auth0 or the Gropius login service) with its
//! passwords. Hashes are taken as they are, never computed here: argon2id, argon2i or bcrypt,
//! checked at login like any stored hash and replaced by a current argon2id hash then.
//!
//! An import goes in batches of one transaction each. Every line is parsed and checked on its
//! own first; inside the batch's transaction each line is then checked against the database
//! (the instance it names, an id, username or identity that exists already) and inserted under a
//! savepoint, so one bad line is reported by its number and skipped while the rest goes in.

use super::users::{check_display_name, check_email, check_username, userpass_subject};
use super::{Actor, check_no_control, rfc3339};
use crate::App;
use crate::auth::password::check_imported_hash;
use crate::db::{Write, transfer as sql};
use crate::error::{Error, Reason, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::BufRead;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutLine<'a> {
    id: &'a str,
    username: &'a str,
    display_name: &'a str,
    email: Option<&'a str>,
    is_admin: bool,
    is_blocked: bool,
    created_at: String,
    identities: Vec<OutIdentity<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutIdentity<'a> {
    instance: &'a str,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<&'a str>,
}

/// Passkeys stay behind: a passkey is bound to this installation's relying party and its
/// public key lives in a row of its own, so the line format does not carry it.
const NOT_MOVED: &str = "passkey";

/// Writes every user as one JSON line to `out`, from one snapshot of the database; `progress`
/// hears the count now and then. Returns how many users were written.
pub fn export(
    app: &App,
    out: &mut dyn std::io::Write,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let write_failed = |e: std::io::Error| Error::internal(format!("cannot write: {e}"));
    let mut n = 0u64;
    app.db.read_blocking(|c| {
        sql::for_each_user(c, |u, idents| {
            let line = OutLine {
                id: &u.id,
                username: &u.username,
                display_name: &u.display_name,
                email: u.email.as_deref(),
                is_admin: u.is_admin,
                is_blocked: u.is_blocked,
                created_at: rfc3339(u.created_at),
                identities: idents
                    .iter()
                    .filter(|i| i.kind != NOT_MOVED)
                    .map(|i| OutIdentity {
                        instance: &i.instance,
                        subject: &i.subject,
                        password_hash: i.password_hash.as_deref(),
                    })
                    .collect(),
            };
            serde_json::to_writer(&mut *out, &line)
                .map_err(|e| Error::internal(format!("cannot write: {e}")))?;
            out.write_all(b"\n").map_err(write_failed)?;
            n += 1;
            if n.is_multiple_of(100_000) {
                progress(n);
            }
            Ok(())
        })
    })?;
    out.flush().map_err(write_failed)?;
    Ok(n)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InLine {
    #[serde(default)]
    id: Option<String>,
    username: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    is_admin: bool,
    #[serde(default)]
    is_blocked: bool,
    /// RFC 3339, or Unix milliseconds.
    #[serde(default)]
    created_at: Option<Value>,
    #[serde(default)]
    identities: Vec<InIdentity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InIdentity {
    instance: String,
    /// A userpass identity without one logs in with the line's username.
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
}

/// A line that passed every check that needs no database.
struct Checked {
    line: u64,
    id: String,
    username: String,
    display_name: String,
    email: Option<String>,
    is_admin: bool,
    is_blocked: bool,
    created_at: i64,
    identities: Vec<InIdentity>,
}

/// A line longer than this is refused unread (one user is a few hundred bytes).
const MAX_LINE: usize = 64 * 1024;

fn check_line(line: u64, text: &str, now: i64) -> std::result::Result<Checked, String> {
    if text.len() > MAX_LINE {
        return Err(format!("longer than {MAX_LINE} bytes"));
    }
    let l: InLine =
        serde_json::from_str(text).map_err(|e| format!("not a valid user line: {e}"))?;
    let field = |e: Error| e.message;
    let id = match &l.id {
        None => uuid::Uuid::new_v4().to_string(),
        Some(s) => uuid::Uuid::parse_str(s)
            .map_err(|_| format!("id {s:?} is not a UUID"))?
            .to_string(),
    };
    check_username(&l.username).map_err(field)?;
    let display_name = l.display_name.clone().unwrap_or_else(|| l.username.clone());
    check_display_name(&display_name).map_err(field)?;
    let email = l.email.clone().filter(|e| !e.is_empty());
    check_email(&email).map_err(field)?;
    let created_at = match &l.created_at {
        None | Some(Value::Null) => now,
        Some(Value::String(s)) => super::parse_rfc3339(s)
            .ok_or_else(|| format!("createdAt {s:?} is not an RFC 3339 time"))?,
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|ms| *ms >= 0)
            .ok_or_else(|| format!("createdAt {n} is not a time in Unix milliseconds"))?,
        Some(_) => return Err("createdAt must be an RFC 3339 string".into()),
    };
    for (k, i) in l.identities.iter().enumerate() {
        let at = |m: String| format!("identities[{k}]: {m}");
        if i.instance.is_empty() {
            return Err(at("instance must not be empty".into()));
        }
        if let Some(subject) = &i.subject {
            check_no_control("subject", subject).map_err(|e| at(e.message))?;
            if subject.is_empty() || subject.len() > 1024 {
                return Err(at("subject must have 1 to 1024 bytes".into()));
            }
        }
        if let Some(h) = &i.password_hash {
            check_imported_hash(h).map_err(|m| at(format!("passwordHash: {m}")))?;
        }
    }
    Ok(Checked {
        line,
        id,
        display_name: display_name.trim().to_string(),
        username: l.username,
        email,
        is_admin: l.is_admin,
        is_blocked: l.is_blocked,
        created_at,
        identities: l.identities,
    })
}

/// The strategy instances, found by name or id.
struct Instances(HashMap<String, (String, String)>);

impl Instances {
    fn load(tx: &Write) -> Result<Instances> {
        let mut map = HashMap::new();
        for (id, name, kind) in sql::instances(tx)? {
            if let Some(n) = name {
                map.insert(n, (id.clone(), kind.clone()));
            }
            map.entry(id.clone()).or_insert((id, kind));
        }
        Ok(Instances(map))
    }
}

/// Checks a line against the database and inserts it. `Ok(Err(why))` is a line skipped.
fn insert_line(
    tx: &Write,
    instances: &Instances,
    c: &Checked,
) -> Result<std::result::Result<(), String>> {
    let mut idents = Vec::with_capacity(c.identities.len());
    let mut seen = HashSet::new();
    for (k, i) in c.identities.iter().enumerate() {
        let Some((inst_id, kind)) = instances.0.get(&i.instance) else {
            return Ok(Err(format!(
                "identities[{k}]: no strategy instance {:?}",
                i.instance
            )));
        };
        let subject = match (kind.as_str(), &i.subject) {
            ("userpass", given) => {
                let name = given.as_deref().unwrap_or(&c.username);
                if let Err(e) = check_username(name) {
                    return Ok(Err(format!("identities[{k}]: subject: {}", e.message)));
                }
                userpass_subject(name)
            }
            (NOT_MOVED, _) => {
                return Ok(Err(format!(
                    "identities[{k}]: passkeys cannot be imported (they are bound to the \
                     installation that registered them)"
                )));
            }
            (_, Some(subject)) => subject.clone(),
            (_, None) => {
                return Ok(Err(format!("identities[{k}]: subject must be given")));
            }
        };
        if i.password_hash.is_some() && kind != "userpass" {
            return Ok(Err(format!(
                "identities[{k}]: only a userpass identity has a passwordHash"
            )));
        }
        if !seen.insert((inst_id.clone(), subject.clone())) {
            return Ok(Err(format!(
                "identities[{k}]: the line lists {}/{subject} twice",
                i.instance
            )));
        }
        idents.push((
            inst_id,
            kind,
            subject,
            i.password_hash.as_deref(),
            &i.instance,
        ));
    }
    if sql::user_id_exists(tx, &c.id)? {
        return Ok(Err(format!("a user with id {} exists already", c.id)));
    }
    if sql::username_exists(tx, &c.username)? {
        return Ok(Err(format!("username {:?} is taken", c.username)));
    }
    for (inst_id, _, subject, _, name) in &idents {
        if sql::identity_exists(tx, inst_id, subject)? {
            return Ok(Err(format!(
                "the identity {subject:?} on {name:?} belongs to another user"
            )));
        }
    }
    let profile = json!({"username": c.username, "displayName": c.display_name, "email": c.email})
        .to_string();
    sql::savepoint(tx)?;
    let inserted = (|| {
        sql::insert_user(
            tx,
            &sql::NewUser {
                id: &c.id,
                username: &c.username,
                display_name: &c.display_name,
                email: c.email.as_deref(),
                is_admin: c.is_admin,
                is_blocked: c.is_blocked,
                created_at: c.created_at,
            },
        )?;
        for (k, (inst_id, kind, subject, hash, _)) in idents.iter().enumerate() {
            sql::insert_identity(
                tx,
                &sql::NewIdentity {
                    user_id: &c.id,
                    instance_id: inst_id,
                    subject,
                    password_hash: *hash,
                    profile: if kind.as_str() == "userpass" {
                        &profile
                    } else {
                        "{}"
                    },
                    created_at: tx.now + k as i64,
                },
            )?;
        }
        Ok::<(), Error>(())
    })();
    match inserted {
        Ok(()) => {
            sql::release(tx)?;
            Ok(Ok(()))
        }
        Err(e) if e.reason == Reason::Conflict => {
            sql::roll_back_line(tx)?;
            Ok(Err(e.message))
        }
        Err(e) => Err(e),
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub imported: u64,
    pub skipped: u64,
}

/// Reads user lines from `input` and inserts them, `batch` lines to a transaction. Each
/// skipped line goes to `report` as (line number, why); `progress` hears the counts now and
/// then. Blank lines are not counted.
pub fn import(
    app: &App,
    input: &mut dyn BufRead,
    batch: usize,
    report: &mut dyn FnMut(u64, &str),
    progress: &mut dyn FnMut(u64, Imported),
) -> Result<Imported> {
    let mut total = Imported::default();
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    let mut done = false;
    let mut next_progress = 100_000u64;
    while !done {
        let mut good = Vec::with_capacity(batch);
        let mut problems: Vec<(u64, String)> = Vec::new();
        let now = crate::db::now_ms();
        let mut read = 0;
        let first_line = line_no + 1;
        while read < batch {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::internal(format!("cannot read line {}: {e}", line_no + 1)))?;
            if n == 0 {
                done = true;
                break;
            }
            line_no += 1;
            let Ok(text) = std::str::from_utf8(&buf) else {
                problems.push((line_no, "not UTF-8".into()));
                read += 1;
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            read += 1;
            match check_line(line_no, text, now) {
                Ok(c) => good.push(c),
                Err(why) => problems.push((line_no, why)),
            }
        }
        if good.is_empty() && problems.is_empty() {
            continue;
        }
        let (first, last) = (first_line, line_no);
        let (inserted, clashes) = app.db.write_blocking(move |tx| {
            sql::import_cache(tx)?;
            let instances = Instances::load(tx)?;
            let mut inserted = 0u64;
            let mut clashes = Vec::new();
            for c in &good {
                match insert_line(tx, &instances, c)? {
                    Ok(()) => inserted += 1,
                    Err(why) => clashes.push((c.line, why)),
                }
            }
            Actor::cli().audit(
                tx,
                "users.import",
                None,
                json!({"imported": inserted, "skipped": clashes.len(), "lines": [first, last]}),
            )?;
            Ok((inserted, clashes))
        })?;
        problems.extend(clashes);
        problems.sort_by_key(|p| p.0);
        for (line, why) in &problems {
            report(*line, why);
        }
        total.imported += inserted;
        total.skipped += problems.len() as u64;
        if line_no >= next_progress {
            progress(line_no, total);
            next_progress = (line_no / 100_000 + 1) * 100_000;
        }
    }
    Ok(total)
}
