//! `chirp-bench`: seeds a realistic Chirp data set straight into Redis (`seed`) and measures
//! the API's core loop against Redis's own ceiling on the same machine (`quick`).
//!
//! Every key name comes from `chirp_domain::keys`, so the seeded data is exactly what the API
//! and the fan-out workers read and write. See `BENCHMARKS.md` at the workspace root.

mod backend;
mod ceiling;
mod load;
mod plot;
mod profile;
mod quick;
mod rbench;
mod seed;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, BoxError>;

#[derive(Parser)]
#[command(name = "chirp-bench", about = "Seed and benchmark Chirp")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a reproducible social graph, tweets and home timelines directly in Redis.
    Seed(seed::SeedArgs),
    /// Start a private redis-server, chirp-api and chirp-fanout-workers, seed a graph, measure
    /// everything, and write target/bench/summary.json and latency.png.
    Quick(quick::QuickArgs),
}

/// The workspace root, found from this crate's manifest at build time.
pub fn workspace_root() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    root.canonicalize().unwrap_or(root)
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Seed(args) => seed::run(&args).await.map(|_| ()),
        Command::Quick(args) => quick::run(args).await,
    };
    if let Err(err) = outcome {
        eprintln!("chirp-bench: {err}");
        std::process::exit(1);
    }
}
