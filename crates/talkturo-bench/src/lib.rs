//! The benchmark harness behind `make bench` (and the exact-count tests in `make test`): a real
//! kube-apiserver + etcd, the simulator (activation delay 0, no rate limits), and the operator
//! binary as a child process, so its memory is the OS's figure for that process alone.
//!
//! Counts come from the simulator's per-operation counters, the apiserver's audit log (every
//! request, metadata only) and the operator's `/metrics`; memory from `/proc/<pid>/status`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

use talkturo_operator::api::v1alpha1::{ClaimPhase, PhoneNumberClaim, PhoneNumberClass};
use talkturo_sim::{Op, SimConfig, SimServer};
use talkturo_testenv::{self as testenv, Binaries, ControlPlane};

mod audit;
mod figures;
mod fill;
mod report;
pub mod scale;
pub mod split;
pub use audit::{Mark, Writes};
pub use figures::{delta, floor, median, percentile, total};
pub use fill::{Filled, fill_number};
pub use report::{scale_table, table};
pub use scale::{memory_kib, metric_sum};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Area codes the claims spread over (the simulator keeps one inventory pool per prefix).
pub const AREAS: [&str; 10] = [
    "212", "213", "305", "312", "415", "503", "617", "646", "702", "919",
];
pub const NAMESPACE: &str = "bench";
pub const CLASS: &str = "bench";

/// A control plane, a simulator and (when started) the operator.
pub struct Bench {
    pub plane: ControlPlane,
    pub client: kube::Client,
    pub sim: SimServer,
    operator_bin: PathBuf,
    pub operator: Option<Operator>,
    incarnation: u32,
    /// How long a started operator may take to become active (its caches synced): 60 s, more
    /// for the scale runs (100,000 + 100,000 objects take about a minute to list).
    pub active_within: Duration,
}

/// The operator process.
pub struct Operator {
    child: Child,
    metrics_url: String,
    pub log: PathBuf,
}

impl Operator {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident and peak resident memory, in KiB, from `/proc/<pid>/status`.
    pub fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.pid())
    }

    /// The operator's own metrics text.
    pub async fn metrics(&self) -> String {
        match reqwest::get(&self.metrics_url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until it reconciles (`talkturo_operator_active 1`); how long that took.
    pub async fn wait_active(&self, bound: Duration) -> Result<Duration, Error> {
        let started = Instant::now();
        while started.elapsed() < bound {
            if self
                .metrics()
                .await
                .lines()
                .any(|l| l == "talkturo_operator_active 1")
            {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("the operator was not active within {bound:?}").into())
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Bench {
    /// Starts a control plane in `dir` and a simulator with `sim`'s tweaks; creates the
    /// namespace, the API key Secret and the class (sync interval `sync`).
    pub async fn start(
        dir: &Path,
        operator_bin: PathBuf,
        sim: impl FnOnce(&mut SimConfig),
        sync: &str,
    ) -> Result<Self, Error> {
        let binaries = Binaries::locate()?;
        let plane = ControlPlane::start(&binaries, dir).await?;
        let config = plane.config().await?;
        let client = kube::Client::try_from(config)?;
        testenv::install_crds(
            &client,
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crds"),
        )
        .await?;
        let mut c = SimConfig {
            activation_delay_ms: 0,
            pool_size: 2_000,
            ..SimConfig::default()
        };
        // Rate and plan limits lifted: the benchmark measures the operator, not the plan.
        for t in c.accounts.iter_mut().flat_map(|a| a.teams.iter_mut()) {
            t.max_numbers = u32::MAX;
        }
        sim(&mut c);
        let sim = SimServer::start(c).await?;
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "talkturo", "namespace": NAMESPACE,
                "labels": {talkturo_operator::api::API_KEY_LABEL: "true"}},
            "stringData": {"apiKey": "tk_demo_token"}}))?;
        Api::<Secret>::namespaced(client.clone(), NAMESPACE)
            .create(&PostParams::default(), &secret)
            .await?;
        let class: PhoneNumberClass = serde_json::from_value(json!({
            "metadata": {"name": CLASS},
            "spec": {"apiBaseUrl": sim.base_url(), "teamId": "team_demo", "accountSlug": "demo",
                     "apiKeySecretRef": {"namespace": NAMESPACE, "name": "talkturo", "key": "apiKey"},
                     "syncInterval": sync}}))?;
        Api::<PhoneNumberClass>::all(client.clone())
            .create(&PostParams::default(), &class)
            .await?;
        Ok(Self {
            plane,
            client,
            sim,
            operator_bin,
            operator: None,
            incarnation: 0,
            active_within: Duration::from_secs(60),
        })
    }

    /// Starts the operator binary (no leader election: one process, no Lease traffic).
    pub async fn start_operator(&mut self) -> Result<Duration, Error> {
        let started = Instant::now();
        let op = self.spawn_operator(&["--leader-election=false"]).await?;
        self.operator = Some(op);
        Ok(started.elapsed())
    }

    /// Starts one more operator process with `args` (besides its log filter and admin
    /// address), and waits until it is active.
    pub async fn spawn_operator(&mut self, args: &[&str]) -> Result<Operator, Error> {
        let [port] = talkturo_testenv::free_ports::<1>()?;
        self.incarnation += 1;
        let log = self
            .plane
            .dir()
            .join(format!("operator-{}.log", self.incarnation));
        let out = std::fs::File::create(&log)?;
        // BENCH_OPERATOR_LOG: the operator's log filter (default: warnings only).
        let filter = std::env::var("BENCH_OPERATOR_LOG").unwrap_or_else(|_| "warn".to_owned());
        let child = Command::new(&self.operator_bin)
            .arg("run")
            .args(args)
            .args([
                &format!("--log={filter}"),
                "--admin-addr",
                &format!("127.0.0.1:{port}"),
            ])
            .env("KUBECONFIG", self.plane.kubeconfig_path())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let op = Operator {
            child,
            metrics_url: format!("http://127.0.0.1:{port}/metrics"),
            log,
        };
        op.wait_active(self.active_within).await?;
        Ok(op)
    }

    /// Waits until the class reports `Ready` (its account exists and has listed once), so that
    /// what a claim made after it costs is the claim's own, not the class's first list.
    pub async fn wait_class_ready(&self, bound: Duration) -> Result<(), Error> {
        let ready = |c: Option<&PhoneNumberClass>| {
            c.and_then(|c| c.status.as_ref()).is_some_and(|s| {
                talkturo_operator::controller::conditions::is_true(
                    &s.conditions,
                    talkturo_operator::api::conditions::types::READY,
                )
            })
        };
        tokio::time::timeout(
            bound,
            kube::runtime::wait::await_condition(
                Api::<PhoneNumberClass>::all(self.client.clone()),
                CLASS,
                ready,
            ),
        )
        .await
        .map_err(|_| format!("class {CLASS} not Ready after {bound:?}"))??;
        Ok(())
    }

    pub fn claims(&self) -> Api<PhoneNumberClaim> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Creates claims `<prefix>-<i>` for `i` in `range`, `concurrency` at a time, spread over the
    /// area codes.
    pub async fn create_claims(
        &self,
        prefix: &str,
        range: std::ops::Range<usize>,
        concurrency: usize,
    ) -> Result<Vec<String>, Error> {
        let names: Vec<String> = range.clone().map(|i| format!("{prefix}-{i}")).collect();
        let api = self.claims();
        let results: Vec<Result<(), kube::Error>> = futures::stream::iter(range)
            .map(|i| {
                let api = api.clone();
                let name = format!("{prefix}-{i}");
                async move {
                    let claim: PhoneNumberClaim = serde_json::from_value(json!({
                        "metadata": {"name": name},
                        "spec": {"className": CLASS, "countryCode": "US", "areaCode": AREAS[i % AREAS.len()]}}))
                    .map_err(kube::Error::SerdeError)?;
                    api.create(&PostParams::default(), &claim).await.map(|_| ())
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(names)
    }

    /// Creates claim `<prefix>-<i>` and waits (up to `bound`) until it is Bound: apply → Bound,
    /// in milliseconds.
    pub async fn apply_one(&self, prefix: &str, i: usize, bound: Duration) -> Result<f64, Error> {
        let names = self.create_claims(prefix, i..i + 1, 1).await?;
        let started = Instant::now();
        let is_bound = |c: Option<&PhoneNumberClaim>| {
            c.and_then(|c| c.status.as_ref())
                .is_some_and(|s| s.phase == Some(ClaimPhase::Bound))
        };
        tokio::time::timeout(
            bound,
            kube::runtime::wait::await_condition(self.claims(), &names[0], is_bound),
        )
        .await??;
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Waits until `n` claims in the namespace are Bound; returns the time it took.
    pub async fn wait_bound(&self, n: usize, bound: Duration) -> Result<Duration, Error> {
        let started = Instant::now();
        loop {
            let count = self
                .claims()
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .filter(|c| c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound))
                .count();
            if count >= n {
                return Ok(started.elapsed());
            }
            if started.elapsed() > bound {
                return Err(format!("only {count} of {n} claims Bound after {bound:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The simulator's request counts per operation.
    pub fn calls(&self) -> BTreeMap<Op, u64> {
        self.sim
            .sim
            .counters()
            .into_iter()
            .map(|(op, c)| (op, c.calls))
            .collect()
    }
}

/// Call counts by operation, as JSON (`{"list": 3, ...}`).
pub fn calls_json(c: &BTreeMap<Op, u64>) -> Value {
    json!(
        c.iter()
            .map(|(op, n)| (format!("{op:?}").to_lowercase(), *n))
            .collect::<BTreeMap<_, _>>()
    )
}

#[cfg(test)]
mod tests;
