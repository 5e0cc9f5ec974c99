//! Command line of the api-server binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use token_core::startup;

use crate::app;

#[derive(Debug, Parser)]
#[command(
    name = "api-server",
    version,
    about = "Protected API for the Auth server's tokens"
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
    /// Serve the API (the default)
    Serve,
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
        Command::Serve => {
            let pool = startup::open_database(&settings).map_err(|error| error.to_string())?;
            let state = app::build_state(settings, pool).map_err(|error| error.to_string())?;
            actix_web::rt::System::new().block_on(app::serve(state))
        }
    }
}
