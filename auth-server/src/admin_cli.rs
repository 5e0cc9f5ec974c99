//! Admin commands that mirror the `/admin` routes for operators without a
//! token. `--json` prints the same fields as the HTTP routes.

use clap::{Args, Subcommand};
use token_core::db::DbPool;
use token_core::sessions::{self, SessionFilter};
use token_core::{Error, clients, users};

use crate::admin::session_filter;
use crate::table::{print_json, print_table, time};

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List live sessions, newest first
    List {
        /// Only sessions of this username
        #[arg(long)]
        user: Option<String>,
        /// Only sessions of this client id
        #[arg(long)]
        client: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// End one session by id, or every session of a user with --user
    End {
        /// The session id
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        /// End every session of this username
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct Output {
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn sessions(pool: &DbPool, command: SessionsCommand) -> Result<(), Error> {
    let mut conn = pool.get()?;
    match command {
        SessionsCommand::List {
            user,
            client,
            output,
        } => {
            let filter: SessionFilter = session_filter(&mut conn, user.as_deref(), client)?;
            let found = sessions::list_live(&mut conn, &filter)?;
            if output.json {
                return print_json(&found).map_err(Error::Internal);
            }
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|session| {
                    vec![
                        session.id.clone(),
                        session
                            .username
                            .clone()
                            .unwrap_or_else(|| format!("(client {})", session.subject)),
                        session.client_id.clone(),
                        time(session.created),
                        time(session.last_seen),
                        time(session.expires),
                    ]
                })
                .collect();
            print_table(
                &["ID", "USER", "CLIENT", "CREATED", "LAST SEEN", "EXPIRES"],
                &rows,
            );
            Ok(())
        }
        SessionsCommand::End { id, user, output } => {
            let ended = match (id, user) {
                (Some(id), _) => sessions::end_one(&mut conn, &id, None)?
                    .ok_or_else(|| Error::NotFound(format!("live session \"{id}\"")))?,
                (None, Some(username)) => {
                    let user = users::find_by_username(&mut conn, &username)?
                        .ok_or_else(|| Error::NotFound(format!("user \"{username}\"")))?;
                    sessions::end_all_of_user(&mut conn, &user.id)?
                }
                (None, None) => {
                    return Err(Error::Invalid("give a session id or --user".into()));
                }
            };
            if output.json {
                return print_json(&ended).map_err(Error::Internal);
            }
            println!(
                "ended {} session(s), revoked {} token(s)",
                ended.ended_sessions, ended.revoked_tokens
            );
            Ok(())
        }
    }
}

pub fn list_users(pool: &DbPool, output: &Output) -> Result<(), Error> {
    let found = users::list(&mut *pool.get()?)?;
    if output.json {
        return print_json(&found).map_err(Error::Internal);
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|user| {
            vec![
                user.id.clone(),
                user.username.clone(),
                user.enabled.to_string(),
            ]
        })
        .collect();
    print_table(&["ID", "USERNAME", "ENABLED"], &rows);
    Ok(())
}

pub fn set_user_enabled(
    pool: &DbPool,
    username: &str,
    enabled: bool,
    output: &Output,
) -> Result<(), Error> {
    let user = users::set_enabled(&mut *pool.get()?, username, enabled)?;
    if output.json {
        return print_json(&user).map_err(Error::Internal);
    }
    println!("user {} is now {}", user.username, enabled_word(enabled));
    Ok(())
}

pub fn list_clients(pool: &DbPool, output: &Output) -> Result<(), Error> {
    let found = clients::list(&mut *pool.get()?)?;
    if output.json {
        return print_json(&found).map_err(Error::Internal);
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|client| {
            vec![
                client.id.clone(),
                client.grant_types.join(","),
                client.scopes.join(" "),
                client.enabled.to_string(),
            ]
        })
        .collect();
    print_table(&["ID", "GRANT TYPES", "SCOPES", "ENABLED"], &rows);
    Ok(())
}

pub fn set_client_enabled(
    pool: &DbPool,
    id: &str,
    enabled: bool,
    output: &Output,
) -> Result<(), Error> {
    let client = clients::set_enabled(&mut *pool.get()?, id, enabled)?;
    if output.json {
        return print_json(&client).map_err(Error::Internal);
    }
    println!("client {} is now {}", client.id, enabled_word(enabled));
    Ok(())
}

fn enabled_word(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}
