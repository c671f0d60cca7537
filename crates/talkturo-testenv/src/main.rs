//! `talkturo-testenv`: a local kube-apiserver + etcd for humans (`make cluster`, `make demo`).
//! The same code the integration tests use (`talkturo_testenv`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use talkturo_testenv::{self as testenv, Binaries, ControlPlane};

/// Local Kubernetes control plane (kube-apiserver + etcd on loopback, RBAC on).
#[derive(Parser, Debug)]
#[command(name = "talkturo-testenv", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the control plane, install the CRDs, and run until SIGINT or SIGTERM.
    Up {
        /// State directory (certificates, etcd data, logs, kubeconfig); emptied first.
        #[arg(long, env = "TESTENV_DIR", default_value = ".cache/cluster")]
        dir: PathBuf,
        /// Directory of CRD manifests to install.
        #[arg(long, default_value = "crds")]
        crds: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let Command::Up { dir, crds } = Cli::parse().command;
    let dir = std::path::absolute(&dir)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let binaries = Binaries::locate()?;
    let mut plane = ControlPlane::start(&binaries, &dir).await?;
    let client = kube::Client::try_from(plane.config().await?)?;
    let installed = testenv::install_crds(&client, &crds).await?;
    tracing::info!(crds = installed.len(), "CRDs installed");
    std::fs::write(
        dir.join("ready"),
        format!("export KUBECONFIG={}\n", plane.kubeconfig_path().display()),
    )?;
    println!("control plane ready; state and logs in {}", dir.display());
    println!("export KUBECONFIG={}", plane.kubeconfig_path().display());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping the control plane");
    plane.stop();
    let _ = std::fs::remove_file(dir.join("ready"));
    Ok(())
}
