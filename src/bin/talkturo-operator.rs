//! The operator binary. Thin: parses the command line and calls into the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use talkturo_operator::controller::shard::ShardConfig;
use talkturo_operator::controller::{self, Config, InitialList, RunOptions};

/// jemalloc: a cache of 10,000 PhoneNumbers and 10,000 claims is hundreds of thousands of small
/// allocations made by several threads, which glibc's per-thread arenas leave fragmented
/// (BENCHMARKS.md, M6: 150 → 115 MiB steady). With background threads (enabled by the
/// `background_threads` feature), jemalloc returns freed pages to the OS on its own.
#[cfg(all(not(target_env = "msvc"), feature = "jemalloc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at start-up (`MALLOC_CONF` in the environment, as
/// `_RJEM_MALLOC_CONF`, still overrides them). One arena instead of jemalloc's default of four per
/// CPU: the operator's few threads allocate little concurrently (each keeps a thread cache), and
/// each extra arena keeps its own partly used pages. At 5,020 numbers + 5,020 claims the peak went
/// from 84.6 to 70.8–73.0 MiB with no loss of throughput beyond the run-to-run noise
/// (BENCHMARKS.md, M6). A shorter dirty-page decay (1 s) lowered the steady state by another
/// ~6 MiB but slowed bursts (32/s against 51/s), so the default (10 s) stays.
#[cfg(all(not(target_env = "msvc"), feature = "jemalloc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 10] = b"narenas:1\0";

/// Kubernetes operator for Talkturo phone numbers.
#[derive(Parser, Debug)]
#[command(name = "talkturo-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the controllers (PhoneNumberClass, PhoneNumberClaim, PhoneNumber).
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (or write one file per CRD with --out-dir).
    Crds {
        /// Write `<plural>.yaml` files into these directories instead of printing to stdout.
        #[arg(long, env = "TALKTURO_CRDS_OUT_DIR", num_args = 1..)]
        out_dir: Vec<PathBuf>,
    },
    /// Ask this pod's admin server for a path (`/healthz`, `/readyz`): exit 0 on a success, 1
    /// otherwise. For probes run in the pod when the admin port is chosen at start
    /// (`--admin-addr host:0` with `--admin-addr-file`).
    Probe(ProbeArgs),
}

#[derive(Args, Debug)]
struct ProbeArgs {
    /// The path to ask for.
    #[arg(default_value = "/healthz")]
    path: String,
    /// The file `run --admin-addr-file` wrote the admin server's address to.
    #[arg(long, env = "TALKTURO_ADMIN_ADDR_FILE", conflicts_with = "admin_addr")]
    admin_addr_file: Option<PathBuf>,
    /// The admin server's address, when it is fixed.
    #[arg(long, default_value = "127.0.0.1:8080")]
    admin_addr: SocketAddr,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 2)]
    timeout_secs: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Flags of `run`. The cluster comes from the in-cluster service account or $KUBECONFIG.
#[derive(Args, Debug)]
struct RunArgs {
    /// Address of the admin server (`/metrics`, `/healthz`, `/readyz`).
    #[arg(long, env = "TALKTURO_ADMIN_ADDR", default_value = "0.0.0.0:8080")]
    admin_addr: SocketAddr,
    /// Write the admin server's bound address to this file (for port 0: the kernel picks a free
    /// port, and `talkturo-operator probe --admin-addr-file` reads it).
    #[arg(long, env = "TALKTURO_ADMIN_ADDR_FILE")]
    admin_addr_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "TALKTURO_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Log filter, e.g. `info,talkturo_operator=debug` (RUST_LOG syntax).
    #[arg(long, env = "TALKTURO_LOG", default_value = "info")]
    log: String,
    /// Elect a leader on a Lease so only one replica acts (disable only for a single local run).
    #[arg(long, env = "TALKTURO_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Active-active replicas: each class is served by the replica holding its Lease
    /// (`<lease-name>-class-<class>`), replicas announce themselves with `<lease-name>-member-<id>`
    /// Leases and spread the classes evenly; no leader is elected. Starts acting only once the
    /// single leader's Lease (`--lease-name`) is free.
    #[arg(long, env = "TALKTURO_SHARD_BY_CLASS", default_value_t = false, action = clap::ArgAction::Set)]
    shard_by_class: bool,
    /// Name of the Lease used for leader election (the prefix of the class Leases).
    #[arg(long, env = "TALKTURO_LEASE_NAME", default_value = "talkturo-operator")]
    lease_name: String,
    /// Namespace of the Lease (the pod's namespace in a cluster).
    #[arg(long, env = "POD_NAMESPACE", default_value = "talkturo-system")]
    lease_namespace: String,
    /// Identity in the Lease (the pod's name in a cluster; hostname and pid otherwise).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds a lease stays valid without renewal; a new leader takes over after this.
    #[arg(long, env = "TALKTURO_LEASE_DURATION_SECS", default_value_t = 15)]
    lease_duration_secs: u64,
    /// Timeout of each Talkturo request, in seconds.
    #[arg(long, env = "TALKTURO_API_TIMEOUT_SECS", default_value_t = 10)]
    api_timeout_secs: u64,
    /// Most numbers one account list may hold; a list announcing or sending more is an invalid
    /// answer (the class reports `InvalidResponse` and nothing changes). Raise it for accounts
    /// with more numbers.
    #[arg(long, env = "TALKTURO_MAX_LIST_RECORDS", default_value_t = talkturo_operator::talkturo::DEFAULT_MAX_LIST_RECORDS)]
    max_list_records: usize,
    /// Longest time, in seconds, one account list (every page) may take before it is given up
    /// as an invalid answer.
    #[arg(long, env = "TALKTURO_MAX_LIST_SECS", default_value_t = 120)]
    max_list_secs: u64,
    /// Seconds between list refreshes of a class while one of its numbers is purchasing.
    #[arg(long, env = "TALKTURO_FAST_SYNC_SECS", default_value_t = 2)]
    fast_sync_secs: u64,
    /// Seconds after an unknown-outcome purchase before the account list is trusted to show it.
    #[arg(long, env = "TALKTURO_PURCHASE_GRACE_SECS", default_value_t = 3)]
    purchase_grace_secs: u64,
    /// Seconds an unknown purchase outcome may stay unsettled before it is raised to a human.
    #[arg(long, env = "TALKTURO_OUTCOME_ALERT_SECS", default_value_t = 600)]
    outcome_alert_secs: u64,
    /// Seconds after hitting the plan limit before one purchase probes the plan again.
    #[arg(long, env = "TALKTURO_PLAN_LIMIT_RECHECK_SECS", default_value_t = 3600)]
    plan_limit_recheck_secs: u64,
    /// First retry delay, in seconds, after a refused purchase (doubles per attempt).
    #[arg(long, env = "TALKTURO_RETRY_BASE_SECS", default_value_t = 5)]
    retry_base_secs: u64,
    /// Reconciles run at once per controller.
    #[arg(long, env = "TALKTURO_CONCURRENCY", default_value_t = 16)]
    concurrency: u16,
    /// How the caches get their initial contents: `stream` (a watch that sends the current
    /// objects first; Kubernetes 1.32+), `list` (one list call per kind), or `auto` (stream when
    /// the API server supports it).
    #[arg(long, env = "TALKTURO_INITIAL_LIST", value_enum, default_value_t = InitialList::Auto)]
    initial_list: InitialList,
    /// Roll Deployments and StatefulSets labelled `telephony.talkturo.ai/rollout: "true"` when
    /// the claim ConfigMaps they read change (`--workload-rollout=false`: nothing in `apps` is
    /// read or written, and the chart grants nothing there).
    #[arg(long, env = "TALKTURO_WORKLOAD_ROLLOUT", default_value_t = true, action = clap::ArgAction::Set)]
    workload_rollout: bool,
    /// Seconds a replaced trial number waits for the workloads reading its claim's ConfigMap to
    /// roll out the new number before it is let go anyway (with a Warning).
    #[arg(long, env = "TALKTURO_ROLLOUT_TIMEOUT_SECS", default_value_t = 600)]
    rollout_timeout_secs: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds { out_dir } if out_dir.is_empty() => {
            print!("{}", talkturo_operator::crdgen::all_yaml()?)
        }
        Command::Crds { out_dir } => {
            for dir in out_dir {
                std::fs::create_dir_all(&dir)?;
                for (file, crd) in talkturo_operator::crdgen::crds() {
                    std::fs::write(dir.join(file), talkturo_operator::crdgen::to_yaml(&crd)?)?;
                }
            }
        }
        Command::Probe(args) => probe(args),
        Command::Run(args) => {
            #[cfg(all(not(target_env = "msvc"), feature = "jemalloc"))]
            talkturo_operator::memory::allocator_returns_memory();
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(run(*args))?
        }
    }
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)?;
    match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
    }
    let secs = Duration::from_secs;
    let config = Config {
        fast_sync: secs(args.fast_sync_secs.max(1)),
        purchase_grace: secs(args.purchase_grace_secs),
        outcome_alert_after: secs(args.outcome_alert_secs),
        plan_limit_recheck: secs(args.plan_limit_recheck_secs),
        retry_base: secs(args.retry_base_secs.max(1)),
        talkturo_timeout: secs(args.api_timeout_secs.max(1)),
        max_list_records: args.max_list_records.max(1),
        max_list_time: secs(args.max_list_secs.max(1)),
        concurrency: args.concurrency.max(1),
        initial_list: args.initial_list,
        workload_rollout: args.workload_rollout,
        rollout_timeout: secs(args.rollout_timeout_secs),
        ..Config::default()
    };
    let identity = args.identity.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "local".into());
        format!("{host}-{}", std::process::id())
    });
    let duration = args.lease_duration_secs.max(3);
    let sharding = args.shard_by_class.then(|| ShardConfig {
        identity: identity.clone(),
        namespace: args.lease_namespace.clone(),
        prefix: args.lease_name.clone(),
        duration: secs(duration),
        margin: secs(duration) / 5,
    });
    let leader_election =
        (args.leader_election && !args.shard_by_class).then(|| controller::run::LeaderElection {
            lease_name: args.lease_name.clone(),
            namespace: args.lease_namespace.clone(),
            identity,
            lease_duration_secs: args.lease_duration_secs.max(2),
            renew_grace_secs: (args.lease_duration_secs / 3).max(1),
        });
    let client = kube::Client::try_default()
        .await
        .map_err(|e| anyhow::anyhow!("connecting to Kubernetes: {e}"))?;
    let opts = RunOptions {
        config,
        admin_addr: Some(args.admin_addr),
        admin_addr_file: args.admin_addr_file.clone(),
        leader_election,
        reporter: "talkturo-operator".into(),
        sharding,
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "starting talkturo-operator"
    );
    controller::run(client, opts, shutdown_signal()).await
}

/// `probe`: exits 1 (with the reason on stderr, which the kubelet shows in the pod's Events) when
/// the admin server does not answer with a success.
fn probe(args: ProbeArgs) -> ! {
    let result = (|| {
        let addr = match &args.admin_addr_file {
            Some(file) => talkturo_operator::probe::read_address(file)?,
            None => args.admin_addr,
        };
        let timeout = Duration::from_secs(args.timeout_secs.max(1));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(talkturo_operator::probe::check(addr, &args.path, timeout))?;
        anyhow::Ok(())
    })();
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("probe failed: {e}");
            std::process::exit(1)
        }
    }
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
