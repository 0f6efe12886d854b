use std::process::ExitCode;

use chirp_api::{Application, Settings, openapi};
use clap::{Parser, Subcommand};

/// Chirp's HTTP API server. Configured by CHIRP_* environment variables or the flags below.
#[derive(Parser)]
#[command(name = "chirp-api", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending data migrations to Redis, then exit.
    Migrate,
    /// Print the OpenAPI document (what openapi/openapi.json holds).
    Openapi,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.settings.shared.init_logging();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            println!("{}", openapi::to_json());
            Ok(())
        }
        Command::Migrate => migrate(cli.settings).await,
        Command::Serve => serve(cli.settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("chirp-api: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    let handle = app.handle();
    // Only once serving: until then a signal stops the process at once, as it should while
    // start-up is still waiting for Redis.
    let stopped = chirp_runtime::shutdown_signal()
        .map_err(|e| format!("SIGTERM and SIGINT handlers: {e}"))?;
    tokio::spawn(async move {
        let name = stopped.await;
        // Stop accepting, let in-flight requests finish.
        tracing::info!(signal = name, "draining in-flight requests, then stopping");
        handle.stop(true).await;
    });
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    tracing::info!("chirp-api stopped");
    Ok(())
}

async fn migrate(settings: Settings) -> Result<(), String> {
    let store =
        chirp_domain::Store::connect(settings.shared.redis_url.expose(), 2, Default::default())
            .map_err(|e| e.to_string())?;
    let applied = chirp_domain::migrations::run(&store)
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    tracing::info!(?applied, "migrations done");
    Ok(())
}
