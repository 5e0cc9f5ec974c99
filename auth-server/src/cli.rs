//! Command line of the auth-server binary.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use token_core::db::DbPool;
use token_core::secret::Secret;
use token_core::{Settings, clients, startup, users};

use crate::admin_cli::{self, Output, SessionsCommand};
use crate::{app, cleanup_job};

#[derive(Debug, Parser)]
#[command(
    name = "auth-server",
    version,
    about = "OAuth 2.0 authorization server"
)]
pub struct Cli {
    /// Settings file [default: appsettings/appsettings.json]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the OAuth endpoints (the default)
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
    /// Manage OAuth clients
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage users who log in with the password grant
    #[command(subcommand)]
    Users(UsersCommand),
    /// List and end login sessions
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Maintain stored tokens
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Delete expired and revoked tokens and ended sessions once, in batches
    Cleanup {
        /// Keep rows that expired, were revoked or ended less than this many
        /// seconds ago [default: Cleanup:RetentionSeconds]
        #[arg(long)]
        retention_seconds: Option<u64>,
        /// Rows per delete statement [default: Cleanup:BatchSize]
        #[arg(long)]
        batch_size: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Register a confidential client
    Add(AddClient),
    /// List clients
    List(Output),
    /// Disable a client: it cannot authenticate and its tokens stop working
    Disable {
        client_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Enable a disabled client again
    Enable {
        client_id: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
struct AddClient {
    /// Client id: letters, digits, '-', '.', '_' or '~'
    client_id: String,
    /// Client secret, at least 16 characters (visible in the process list;
    /// prefer --secret-stdin on shared hosts)
    #[arg(
        long,
        required_unless_present = "secret_stdin",
        conflicts_with = "secret_stdin"
    )]
    secret: Option<String>,
    /// Read the client secret from the first line of standard input
    #[arg(long)]
    secret_stdin: bool,
    /// Comma-separated grant types: client_credentials, password, refresh_token
    #[arg(long, value_delimiter = ',', required = true)]
    grant_types: Vec<String>,
    /// Space-separated scopes the client may request
    #[arg(long, default_value = "")]
    scopes: String,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Register a user
    Add(AddUser),
    /// List users
    List(Output),
    /// Disable a user: logins fail and the user's tokens stop working
    Disable {
        username: String,
        #[command(flatten)]
        output: Output,
    },
    /// Enable a disabled user again
    Enable {
        username: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
struct AddUser {
    /// The name the user logs in with
    username: String,
    /// Read the password from the first line of standard input
    #[arg(long, required = true)]
    password_stdin: bool,
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    web_common::logging::init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let settings =
        startup::load_settings(cli.config.as_deref()).map_err(|error| error.to_string())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            startup::open_database(&settings).map_err(|error| error.to_string())?;
            println!("migrations applied");
            Ok(())
        }
        Command::Clients(ClientsCommand::Add(args)) => add_client(&settings, args),
        Command::Users(UsersCommand::Add(args)) => add_user(&settings, args),
        Command::Clients(ClientsCommand::List(output)) => {
            with_database(&settings, |pool| admin_cli::list_clients(pool, &output))
        }
        Command::Clients(ClientsCommand::Disable { client_id, output }) => {
            with_database(&settings, |pool| {
                admin_cli::set_client_enabled(pool, &client_id, false, &output)
            })
        }
        Command::Clients(ClientsCommand::Enable { client_id, output }) => {
            with_database(&settings, |pool| {
                admin_cli::set_client_enabled(pool, &client_id, true, &output)
            })
        }
        Command::Users(UsersCommand::List(output)) => {
            with_database(&settings, |pool| admin_cli::list_users(pool, &output))
        }
        Command::Users(UsersCommand::Disable { username, output }) => {
            with_database(&settings, |pool| {
                admin_cli::set_user_enabled(pool, &username, false, &output)
            })
        }
        Command::Users(UsersCommand::Enable { username, output }) => {
            with_database(&settings, |pool| {
                admin_cli::set_user_enabled(pool, &username, true, &output)
            })
        }
        Command::Tokens(TokensCommand::Cleanup {
            retention_seconds,
            batch_size,
        }) => {
            let mut settings = settings;
            if let Some(retention_seconds) = retention_seconds {
                settings.cleanup.retention_seconds = retention_seconds;
            }
            if let Some(batch_size) = batch_size.filter(|size| *size > 0) {
                settings.cleanup.batch_size = batch_size;
            }
            with_database(&settings, |pool| cleanup_with_progress(pool, &settings))
        }
        Command::Sessions(command) => {
            with_database(&settings, |pool| admin_cli::sessions(pool, command))
        }
    }
}

/// Runs one cleanup pass; on a terminal, shows the rows deleted so far and
/// the rate on one updating line.
fn cleanup_with_progress(pool: &DbPool, settings: &Settings) -> Result<(), token_core::Error> {
    let started = Instant::now();
    let interactive = std::io::stderr().is_terminal();
    let rate = |deleted: u64| deleted as f64 / started.elapsed().as_secs_f64().max(0.001);
    let deleted = cleanup_job::run_once(pool, settings, |so_far| {
        if interactive {
            eprint!(
                "\rdeleted {} tokens and {} sessions ({:.0} rows/s)",
                so_far.tokens,
                so_far.sessions,
                rate(so_far.total())
            );
        }
    })?;
    if interactive {
        eprintln!();
    }
    println!(
        "deleted {} tokens and {} sessions in {:.1} s ({:.0} rows/s)",
        deleted.tokens,
        deleted.sessions,
        started.elapsed().as_secs_f64(),
        rate(deleted.total())
    );
    Ok(())
}

/// Opens the database and runs one admin command against it.
fn with_database(
    settings: &Settings,
    command: impl FnOnce(&DbPool) -> Result<(), token_core::Error>,
) -> Result<(), String> {
    let pool = startup::open_database(settings).map_err(|error| error.to_string())?;
    command(&pool).map_err(|error| error.to_string())
}

fn serve(settings: Settings) -> Result<(), String> {
    let pool = startup::open_database(&settings).map_err(|error| error.to_string())?;
    let state = app::build_state(settings, pool).map_err(|error| error.to_string())?;
    actix_web::rt::System::new().block_on(app::serve(state))
}

fn add_client(settings: &Settings, args: AddClient) -> Result<(), String> {
    let secret = match args.secret {
        Some(secret) => Secret::new(secret),
        None => read_stdin_line("client secret")?,
    };
    let grant_types: Vec<String> = args
        .grant_types
        .iter()
        .map(|grant_type| grant_type.trim().to_owned())
        .filter(|grant_type| !grant_type.is_empty())
        .collect();
    let scopes = token_core::scope::split(&args.scopes);

    with_database(settings, |pool| {
        let client = clients::add(
            &mut *pool.get()?,
            &args.client_id,
            &secret,
            &grant_types,
            &scopes,
        )?;
        println!(
            "added client {} (grant types: {}; scopes: {})",
            client.id,
            client.grant_types.join(", "),
            client.scopes.join(" ")
        );
        Ok(())
    })
}

fn add_user(settings: &Settings, args: AddUser) -> Result<(), String> {
    let password = read_stdin_line("password")?;
    with_database(settings, |pool| {
        let user = users::add(&mut *pool.get()?, &args.username, &password)?;
        println!("added user {} with id {}", user.username, user.id);
        Ok(())
    })
}

/// Reads one line from standard input without its line ending; `name`
/// names the line in the error message.
fn read_stdin_line(name: &str) -> Result<Secret, String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|error| format!("cannot read the {name} from standard input: {error}"))?;
    let line = input.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(format!("standard input contains no {name}"));
    }
    Ok(Secret::new(line))
}
