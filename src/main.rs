//! The `confab` binary: `confab serve` (the default) or `confab openapi`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use confab::config::Settings;
use confab::startup::{Application, openapi};
use confab::telemetry;

/// A chat backend on Redis.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Settings file (default: config/default.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Print the OpenAPI document.
    Openapi,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            let json = openapi()
                .to_pretty_json()
                .context("Failed to render the OpenAPI document")?;
            println!("{json}");
            Ok(())
        }
        Command::Serve => {
            let settings = Settings::load(cli.config.as_deref())?;
            telemetry::init(settings.server.log_format);
            actix_web::rt::System::new().block_on(async move {
                let bind = settings.server.bind.clone();
                let app = Application::build(settings).await?;
                tracing::info!(%bind, port = app.port(), "confab listening");
                app.run_until_signalled().await.context("Server failed")
            })
        }
    }
}
