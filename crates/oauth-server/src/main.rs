//! The `oauth-server` command.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// An OAuth 2.1 authorization server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the configured endpoints until SIGTERM.
    Serve {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Check a configuration file and exit.
    Check {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Manage clients in the configured shared store.
    Client {
        /// The TOML configuration file.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: oauth_server::admin::ClientCommand,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).init();
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve { config } => oauth_server::run(oauth_server::Config::load(&config)?, Some(config)).await,
        Command::Check { config } => {
            oauth_server::Config::load(&config)?.validate().context("invalid configuration")?;
            println!("{}: ok", config.display());
            Ok(())
        }
        Command::Client { config, command } => {
            let Some(config) = config else { anyhow::bail!("--config: required") };
            let output = oauth_server::admin::run(&oauth_server::Config::load(&config)?, command).await?;
            print!("{output}");
            Ok(())
        }
    }
}
