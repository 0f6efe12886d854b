use anyhow::Context as _;
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

/// Bad settings exit with clap's message and status 2; any other failure to start returns its
/// error with every cause, which logs it and exits 1.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
    if let Err(e) = &result {
        // For log collectors; `main`'s return prints the same chain to stderr.
        tracing::error!(error = format!("{e:#}"), "chirp-api failed");
    }
    result
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings)
        .await
        .context("starting chirp-api")?;
    let handle = app.handle();
    // Only once serving: until then a signal stops the process at once, as it should while
    // start-up is still waiting for Redis.
    let stopped =
        chirp_runtime::shutdown_signal().context("installing the SIGTERM and SIGINT handlers")?;
    tokio::spawn(async move {
        let name = stopped.await;
        // Stop accepting, let in-flight requests finish.
        tracing::info!(signal = name, "draining in-flight requests, then stopping");
        handle.stop(true).await;
    });
    app.run_until_stopped().await.context("serving")?;
    tracing::info!("chirp-api stopped");
    Ok(())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let redis_url = &settings.shared.redis_url;
    let (_, store) = settings
        .shared
        .open_store(2, Default::default())
        .await
        .with_context(|| format!("redis at {redis_url}"))?;
    let applied = chirp_domain::migrations::run(&store)
        .await
        .context("migrations failed")?;
    tracing::info!(?applied, "migrations done");
    Ok(())
}
