//! `kubectl-talkturo`: a kubectl plugin (on `PATH`, it runs as `kubectl talkturo ...`) showing what
//! the talkturo operator sees. Read-only: it buys, assigns and releases nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use talkturo_operator::plugin;

#[derive(Parser)]
#[command(name = "kubectl-talkturo", version, about, long_about = None)]
struct Cli {
    /// Namespace of the claim (default: the kubeconfig context's namespace).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The claim → its PhoneNumber → its class, with conditions and recent Events.
    Status {
        /// The PhoneNumberClaim's name.
        claim: String,
    },
    /// The numbers a claim (a YAML file, `-` for stdin) would get, in the order the operator would
    /// try them, with prices. Sends one search; buys nothing.
    Search {
        /// A PhoneNumberClaim manifest.
        claim_file: PathBuf,
    },
    /// Numbers in each class's Talkturo account that no PhoneNumber represents.
    Orphans,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<String, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::Config::infer().await?;
    let namespace = cli
        .namespace
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config)?;
    Ok(match cli.command {
        Command::Status { claim } => plugin::status(&client, &namespace, &claim).await?,
        Command::Search { claim_file } => {
            let text = if claim_file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&claim_file)
                    .map_err(|e| format!("reading {}: {e}", claim_file.display()))?
            };
            plugin::search(&client, &text).await?
        }
        Command::Orphans => plugin::orphans(&client).await?,
    })
}
