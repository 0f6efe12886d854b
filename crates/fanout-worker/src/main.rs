//! `chirp-fanout-worker`: reads its settings, sets up logging and metrics, runs migrations, and
//! runs one [`Worker`](chirp_fanout_worker::Worker) per fan-out stream until SIGTERM or SIGINT.

use std::time::Duration;

use anyhow::Context as _;
use chirp_domain::{Store, migrations};
use chirp_fanout_worker::settings::{Command, DlqAction};
use chirp_fanout_worker::{Settings, dlq, error, metrics, run_all};
use tokio::sync::watch;

/// Pooled connections the worker uses: one for stream bookkeeping, a few for applying events.
const POOL_SIZE: usize = 4;

/// Bad settings exit with clap's message and status 2 ([`Settings::load`]); any other failure to
/// start (or of a `dlq` command) returns its error with every cause, which logs it and exits 1.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load();
    settings.shared.init_logging();
    let result = match &settings.command {
        Some(Command::Dlq { action }) => dlq_command(&settings, action).await,
        None | Some(Command::Run) => run(settings).await,
    };
    if let Err(e) = &result {
        // For log collectors; `main`'s return prints the same chain to stderr.
        tracing::error!(error = format!("{e:#}"), "chirp-fanout-worker failed");
    }
    result
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let redis_url = &settings.shared.redis_url;
    metrics::install(settings.metrics_bind)
        .with_context(|| format!("metrics endpoint on {}", settings.metrics_bind))?;

    let stopped = stop_on_signal().context("installing the SIGTERM and SIGINT handlers")?;
    let Some(store) = open_store(&settings, stopped.clone()).await else {
        return Ok(());
    };
    let config = settings.worker_config();
    tracing::info!(
        redis = %redis_url,
        consumer = %config.consumer,
        metrics = %settings.metrics_bind,
        "starting",
    );

    if !migrate(&store, stopped.clone()).await {
        return Ok(());
    }
    run_all(
        store,
        redis_url.expose().to_owned(),
        config,
        wait_for(stopped),
    )
    .await;
    Ok(())
}

/// `dlq list` / `dlq replay`: prints to stdout, so it can be piped to `jq`.
async fn dlq_command(settings: &Settings, action: &DlqAction) -> anyhow::Result<()> {
    let redis_url = &settings.shared.redis_url;
    let (_, store) = settings
        .shared
        .open_store(1, settings.limits())
        .await
        .with_context(|| format!("redis at {redis_url}"))?;
    let mut conn = store
        .conn()
        .await
        .with_context(|| format!("redis at {redis_url}"))?;
    match action {
        DlqAction::List { count } => {
            let letters = dlq::list(&mut conn, store.fanout_shards(), *count)
                .await
                .context("listing dead letters")?;
            for letter in letters {
                println!("{letter}");
            }
        }
        DlqAction::Replay { ids, all } => {
            let ids = if *all { &[][..] } else { &ids[..] };
            let replayed = dlq::replay(&mut conn, store.fanout_shards(), ids)
                .await
                .context("replaying dead letters")?;
            for id in &replayed {
                println!("replayed {id}");
            }
            eprintln!("{} dead letter(s) replayed", replayed.len());
        }
    }
    Ok(())
}

/// The store on the configured Redis (one server or a cluster), retrying while Redis does not
/// answer: telling the two apart may need to ask it. `None` if stopped meanwhile.
async fn open_store(settings: &Settings, stopped: watch::Receiver<bool>) -> Option<Store> {
    until_done("redis not reachable yet, retrying", stopped, || async {
        let (_, store) = settings
            .shared
            .open_store(POOL_SIZE, settings.limits())
            .await?;
        Ok(store)
    })
    .await
}

/// Applies pending data migrations, retrying while Redis is unavailable: a worker started before
/// its Redis should wait for it, not crash-loop. `false` if stopped meanwhile.
async fn migrate(store: &Store, stopped: watch::Receiver<bool>) -> bool {
    let applied = until_done("migrations not run yet, retrying", stopped, || {
        migrations::run(store)
    })
    .await;
    if let Some(applied) = &applied
        && !applied.is_empty()
    {
        tracing::info!(?applied, "applied migrations");
    }
    applied.is_some()
}

/// Runs `attempt` until it succeeds, backing off from 100 ms to 5 s and warning once; `None`
/// if stopped first.
async fn until_done<T, F, Fut>(
    warning: &str,
    stopped: watch::Receiver<bool>,
    attempt: F,
) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = chirp_domain::error::Result<T>>,
{
    let mut delay = Duration::from_millis(100);
    let mut warned = false;
    loop {
        match attempt().await {
            Ok(done) => return Some(done),
            Err(e) if !warned => {
                tracing::warn!(error = %error::chain(&e), "{warning}");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            () = wait_for(stopped.clone()) => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Flips to `true` on the first SIGTERM or SIGINT ([`chirp_runtime::shutdown_signal`]); a
/// channel because both the migrations and the run loops wait for it.
fn stop_on_signal() -> std::io::Result<watch::Receiver<bool>> {
    let signal = chirp_runtime::shutdown_signal()?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let name = signal.await;
        tracing::info!(signal = name, "shutting down");
        let _ = tx.send(true);
    });
    Ok(rx)
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens after it sent.
    let _ = stopped.wait_for(|&stop| stop).await;
}
