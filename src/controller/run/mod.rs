//! The operator's runtime: three controllers with shared stores, leader election on a Lease,
//! graceful shutdown, and the admin server (`/metrics`, `/healthz`, `/readyz`).

mod admin;
mod controllers;
mod queue;
mod selected;
mod sharding;
mod subscription;
mod watch;
mod workloads;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt;

pub use watch::streams_lists;

use super::{Config, Metrics};
use admin::admin_server;
use controllers::controllers;

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub lease_name: String,
    pub namespace: String,
    pub identity: String,
    /// Seconds a lease is valid after its last renewal.
    pub lease_duration_secs: u64,
    /// Seconds before expiry the holder renews.
    pub renew_grace_secs: u64,
}

/// How to run the operator.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub config: Config,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`; not served when `None`.
    pub admin_addr: Option<SocketAddr>,
    /// Where to write the address the admin server bound (`host:port`), e.g. for port 0: the
    /// pod's probes (`talkturo-operator probe`) read it there.
    pub admin_addr_file: Option<std::path::PathBuf>,
    /// Leader election; `None` runs as the only writer without a lease (tests, local runs).
    pub leader_election: Option<LeaderElection>,
    /// Name reported on Events.
    pub reporter: String,
    /// Replicas share the classes by Leases (`--shard-by-class`): no leader election, each
    /// class served by one replica. `None`: this process serves every class.
    pub sharding: Option<crate::controller::shard::ShardConfig>,
}

/// Runs the operator until `shutdown` resolves (or leadership is lost, which is an error: the
/// process should exit and restart rather than risk two writers).
pub async fn run(
    client: kube::Client,
    opts: RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let shutdown = shutdown.shared();
    if opts.sharding.is_some() {
        // Each replica caches its classes' objects, found by their class label.
        crate::api::lean::keep_class_label();
    }
    if let Some(addr) = opts.admin_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("binding the admin server to {addr}: {e}"))?;
        let bound = listener.local_addr()?;
        tracing::info!(address = %bound, "admin server listening");
        if let Some(file) = &opts.admin_addr_file {
            crate::probe::write_address(file, bound).map_err(|e| {
                anyhow::anyhow!("writing the admin address to {}: {e}", file.display())
            })?;
        }
        tokio::spawn(admin_server(
            listener,
            metrics.clone(),
            ready.clone(),
            shutdown.clone(),
        ));
    }

    let mut leadership = None;
    if let Some(le) = &opts.leader_election {
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &le.lease_name)
            .with_namespace(&le.namespace)
            .with_identity(&le.identity)
            .with_duration(le.lease_duration_secs)
            .with_grace(le.renew_grace_secs)
            .build()
            .await?;
        let (mut rx, task) = manager.watch().await;
        tracing::info!(
            lease = le.lease_name,
            namespace = le.namespace,
            identity = le.identity,
            "waiting for leadership"
        );
        // A standby is healthy and ready: it only waits.
        ready.store(true, Ordering::SeqCst);
        let leading = tokio::select! {
            r = rx.wait_for(|leading| *leading) => Some(r.is_ok()),
            () = shutdown.clone() => None,
        };
        match leading {
            Some(true) => {}
            Some(false) => return Err(anyhow::anyhow!("the lease manager stopped")),
            None => {
                // Shutting down as a standby: closing the channel stops the lease manager.
                drop(rx);
                let _ = task.await;
                return Ok(());
            }
        }
        tracing::info!("acquired leadership");
        ready.store(false, Ordering::SeqCst);
        leadership = Some((rx, task));
    }

    let controllers = controllers(client, &opts, metrics, ready.clone(), shutdown.clone());
    match leadership {
        None => {
            controllers.await;
            Ok(())
        }
        Some((mut rx, task)) => {
            let lost = async move {
                let _ = rx.wait_for(|leading| !*leading).await;
            };
            tokio::select! {
                () = controllers => { let _ = task.await; Ok(()) }
                () = lost => Err(anyhow::anyhow!("lost leadership of the lease; exiting so that only one writer acts")),
            }
        }
    }
}
