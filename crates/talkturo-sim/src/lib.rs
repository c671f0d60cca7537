//! The Talkturo simulator: a stateful, deterministic stand-in for the Talkturo HTTP API (the
//! contract `tests/conformance.rs` checks row by row), with fault injection and a test-only admin API.
//!
//! Used by the tests, the demo and the benchmarks; useful to users for local development. It
//! shares no code with the client in [`crate::talkturo`], so the two check each other.

mod admin;
mod api;
pub mod config;
pub mod faults;
pub mod inventory;
pub mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::net::TcpListener;

pub use config::SimConfig;
pub use faults::{FaultAction, FaultRule, LostMode, Op};
pub use state::{NumberStatus, World};

/// Calls and answers of one operation.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct OpCounter {
    /// Requests received.
    pub calls: u64,
    /// Answers by HTTP status, plus `lost` for answers the fault injector cut off.
    pub responses: BTreeMap<String, u64>,
}

/// One request as received: when, which operation, and the caller's `User-Agent` (the operator
/// names its replica there, so tests can tell which process called).
#[derive(Clone, Debug)]
pub struct Received {
    pub at: jiff::Timestamp,
    pub op: Op,
    pub agent: String,
}

/// How many requests [`Sim::received`] keeps (the newest).
const RECEIVED_KEPT: usize = 100_000;

/// The simulator's shared state.
pub struct Sim {
    world: Mutex<World>,
    faults: Mutex<faults::Faults>,
    counters: Mutex<BTreeMap<Op, OpCounter>>,
    received: Mutex<std::collections::VecDeque<Received>>,
}

impl Sim {
    pub fn new(config: SimConfig) -> Arc<Self> {
        let seed = config.seed;
        Arc::new(Self {
            world: Mutex::new(World::new(config)),
            faults: Mutex::new(faults::Faults::new(seed)),
            counters: Mutex::new(BTreeMap::new()),
            received: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    /// The accounts. Hold the guard briefly: every request takes it.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        lock(&self.faults).set(rules);
    }

    /// How many requests each kind of fault hit so far.
    pub fn faults_injected(&self) -> BTreeMap<String, u64> {
        lock(&self.faults).injected.clone()
    }

    /// Calls and answers per operation so far.
    pub fn counters(&self) -> BTreeMap<Op, OpCounter> {
        lock(&self.counters).clone()
    }

    /// Requests received for one operation.
    pub fn calls(&self, op: Op) -> u64 {
        lock(&self.counters).get(&op).map_or(0, |c| c.calls)
    }

    pub fn reset_counters(&self) {
        lock(&self.counters).clear();
    }

    fn count_call(&self, op: Op, agent: &str) {
        lock(&self.counters).entry(op).or_default().calls += 1;
        let mut received = lock(&self.received);
        if received.len() == RECEIVED_KEPT {
            received.pop_front();
        }
        received.push_back(Received {
            at: jiff::Timestamp::now(),
            op,
            agent: agent.to_owned(),
        });
    }

    /// The requests received so far (the newest 100,000), oldest first.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.received).iter().cloned().collect()
    }

    fn count_response(&self, op: Op, label: String) {
        *lock(&self.counters)
            .entry(op)
            .or_default()
            .responses
            .entry(label)
            .or_default() += 1;
    }
}

/// A poisoned lock only means a handler panicked mid-update; the simulator keeps serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The simulator's routes: the Talkturo API under `/api`, the admin API under `/admin`.
pub fn router(sim: Arc<Sim>) -> axum::Router {
    api::routes().merge(admin::routes()).with_state(sim)
}

/// A simulator serving on a loopback port, stopped when dropped. For tests and tools.
pub struct SimServer {
    pub sim: Arc<Sim>,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    /// Starts a simulator on `127.0.0.1` at a free port.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, config)
    }

    /// Serves a simulator on an already bound listener.
    pub fn serve(listener: TcpListener, config: SimConfig) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let sim = Sim::new(config);
        let app = router(sim.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        Ok(Self { sim, addr, task })
    }

    /// Base URL to give a client, e.g. `http://127.0.0.1:39817`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
