//! The subcommands other than `serve`. They open the same database as the server and work while
//! it runs: SQLite in WAL mode lets both write, and the server picks up new keys by itself.

use crate::config::{AdminCommand, Common, KeysCommand, Settings};
use crate::core::{Actor, rfc3339, sessions, users};
use crate::error::{Error, Result};
use serde_json::json;
use std::io::BufRead;

pub async fn admin(common: &Common, cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Create {
            username,
            password_stdin: _,
            display_name,
            settings,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| Error::internal(format!("cannot read the password: {e}")))?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let app = open(common, *settings).await?;
            let user = users::create(
                &app,
                &Actor::cli(),
                users::NewUser {
                    display_name: display_name.unwrap_or_else(|| username.clone()),
                    username,
                    email: None,
                    is_admin: true,
                    password: Some(password),
                },
            )
            .await?;
            println!("created admin {} ({})", user.username, user.id);
            Ok(())
        }
        AdminCommand::Token {
            username,
            scope,
            ttl,
        } => {
            let app = open(common, Settings::default()).await?;
            let token = sessions::issue_cli_token(&app, &username, &scope, ttl).await?;
            println!("{token}");
            Ok(())
        }
    }
}

pub async fn keys(common: &Common, cmd: KeysCommand) -> Result<()> {
    let app = open(common, Settings::default()).await?;
    match cmd {
        KeysCommand::Rotate { alg } => {
            let keys = app.keys.clone();
            let kid = tokio::task::spawn_blocking(move || keys.rotate(alg))
                .await
                .map_err(|e| Error::internal(e.to_string()))??;
            app.db
                .write(move |tx| {
                    Actor::cli().audit(tx, "keys.rotate", Some(&kid), json!({"alg": alg.as_str()}))
                })
                .await?;
            let kid = app.keys.signing()?.kid.clone();
            println!("new {} signing key {kid}", alg.as_str());
        }
        KeysCommand::List => {
            for k in app.keys.describe().await? {
                let state = match k.retired_at {
                    None => "signing".to_string(),
                    Some(r) => format!("retired {}", rfc3339(r)),
                };
                println!(
                    "{}  {:5}  created {}  {state}",
                    k.kid,
                    k.alg,
                    rfc3339(k.created_at)
                );
            }
        }
    }
    Ok(())
}

async fn open(common: &Common, settings: Settings) -> Result<crate::App> {
    let common = common.clone();
    tokio::task::spawn_blocking(move || crate::open(&common, settings, None))
        .await
        .map_err(|e| Error::internal(e.to_string()))?
}
