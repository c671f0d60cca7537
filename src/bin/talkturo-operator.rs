//! The operator binary. Thin: parses the command line and calls into the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Kubernetes operator for Talkturo phone numbers.
#[derive(Parser, Debug)]
#[command(name = "talkturo-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML (or write one file per CRD with --out-dir).
    Crds {
        /// Write `<plural>.yaml` files into this directory instead of printing to stdout.
        #[arg(long, env = "TALKTURO_CRDS_OUT_DIR")]
        out_dir: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds { out_dir: None } => print!("{}", talkturo_operator::crdgen::all_yaml()?),
        Command::Crds {
            out_dir: Some(dir), ..
        } => {
            std::fs::create_dir_all(&dir)?;
            for (file, crd) in talkturo_operator::crdgen::crds() {
                std::fs::write(dir.join(file), talkturo_operator::crdgen::to_yaml(&crd)?)?;
            }
        }
    }
    Ok(())
}
