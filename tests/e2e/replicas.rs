//! Phase: active-active replicas on the real node. The running single-leader install (two
//! replicas) is upgraded to three active replicas (`activeActive.enabled`, `adminPort=0`: three
//! host-network pods on one node, each admin server on a port of its own, exec probes): nothing
//! bought, released or warned about. Six classes (the default one and five more, each its own
//! simulator) spread two per replica; then, with claims being bought in every class:
//! - a replica's pod deleted mid-burst: its classes move within the Lease duration + 5 s, every
//!   claim Bound with one purchase;
//! - a replica frozen with SIGSTOP past its Leases, then resumed: the others take its classes;
//!   it sends no request to any account (each request names its replica in the User-Agent)
//!   from its Leases' expiry until it holds a class Lease again;
//! - scaled 3 → 1 → 3: the classes gather on one replica and spread again;
//! - a namespace budget over two classes served by different replicas holds.
//!
//! At the end, in every account: purchases counted exactly, every number owned has its
//! PhoneNumber, no claim with two numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use talkturo_operator::api::v1alpha1::{
    ClaimPhase, PhoneNumber, PhoneNumberClaim, PhoneNumberClass,
};
use talkturo_sim::{FaultAction, FaultRule, Op, Sim, SimConfig, SimServer};

use super::{Clock, E2e, NS, RELEASE, T, create_ns};

#[path = "../leases/class_leases.rs"]
mod class_leases;

/// The Lease duration the replicas run with (`leaderElection.leaseDurationSeconds`).
const LEASE_SECS: u64 = 6;
const CLASSES: usize = 5;

/// Every class of the phase with its account: the default class on the e2e's simulator, and
/// five more on simulators of their own.
struct Accounts {
    /// The five new classes' simulators (the default class's is the e2e's).
    servers: Vec<SimServer>,
    /// The classes: the default one first, then one per server.
    classes: Vec<String>,
    /// Each account's purchases and releases when the phase started.
    start: Vec<(u64, u64)>,
    /// Claims of the phase Bound per class: each one purchase.
    bought: BTreeMap<String, u64>,
}

impl Accounts {
    async fn start(e: &E2e) -> Self {
        let mut servers = Vec::new();
        let mut classes = vec!["standard".to_owned()];
        for i in 0..CLASSES {
            // Numbers are unique across Talkturo: each account offers its own.
            let sim = SimServer::start(SimConfig {
                activation_delay_ms: 200,
                seed: 21 + i as u64,
                ..SimConfig::default()
            })
            .await
            .unwrap();
            let name = format!("aa-{i}");
            let class: PhoneNumberClass = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"apiBaseUrl": sim.base_url(), "teamId": "team_demo", "accountSlug": "demo",
                    "apiKeySecretRef": {"namespace": NS, "name": format!("{RELEASE}-api-key"), "key": "apiKey"},
                    "syncInterval": "5s", "maxMonthlyPrice": "5.00"},
            }))
            .unwrap();
            Api::<PhoneNumberClass>::all(e.client.clone())
                .create(&PostParams::default(), &class)
                .await
                .unwrap();
            servers.push(sim);
            classes.push(name);
        }
        let mut a = Accounts {
            servers,
            classes,
            start: Vec::new(),
            bought: BTreeMap::new(),
        };
        a.start = a.counts(e);
        a
    }

    fn sim<'a>(&'a self, e: &'a E2e, class: &str) -> &'a Sim {
        match self.classes.iter().position(|c| c == class) {
            Some(0) | None => &e.sim.sim,
            Some(i) => &self.servers[i - 1].sim,
        }
    }

    fn sims<'a>(&'a self, e: &'a E2e) -> Vec<&'a Sim> {
        self.classes.iter().map(|c| self.sim(e, c)).collect()
    }

    fn counts(&self, e: &E2e) -> Vec<(u64, u64)> {
        self.sims(e)
            .iter()
            .map(|s| {
                let w = s.world();
                (w.purchases(), w.releases())
            })
            .collect()
    }

    fn slow(&self, e: &E2e, op: Op, classes: &[String]) {
        for c in classes {
            let rule = FaultRule::on(op, FaultAction::Latency { ms: 1500 }, None);
            self.sim(e, c).set_faults(vec![rule]);
        }
    }

    fn clear(&self, e: &E2e) {
        for s in self.sims(e) {
            s.set_faults(Vec::new());
        }
    }

    /// `n` claims of each class were Bound: each counts one purchase.
    fn bought(&mut self, classes: &[String], n: usize) {
        for c in classes {
            *self.bought.entry(c.clone()).or_default() += n as u64;
        }
    }

    /// Exactly one purchase per claim of the phase Bound, nothing released, and every number an
    /// account owns has its PhoneNumber.
    async fn check(&self, e: &E2e) {
        let tracked: BTreeSet<String> = Api::<PhoneNumber>::all(e.client.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| p.spec.number)
            .collect();
        let sims = self.sims(e);
        for ((class, (p0, r0)), sim) in self.classes.iter().zip(&self.start).zip(sims) {
            let w = sim.world();
            let bought = self.bought.get(class).copied().unwrap_or(0);
            assert_eq!(w.purchases() - p0, bought, "purchases in class {class}");
            assert_eq!(w.releases(), *r0, "releases in class {class}");
            let untracked: Vec<&str> = w
                .records()
                .map(|r| r.phone_number.as_str())
                .filter(|n| !tracked.contains(*n))
                .collect();
            assert!(
                untracked.is_empty(),
                "{class}: owned, untracked: {untracked:?}"
            );
        }
    }
}

/// Creates `n` claims of each class in `ns` (created when missing), named `<prefix>-<class>-<i>`.
async fn create(e: &E2e, ns: &str, prefix: &str, classes: &[String], n: usize) -> Vec<String> {
    let exists = Api::<Namespace>::all(e.client.clone())
        .get_opt(ns)
        .await
        .unwrap();
    if exists.is_none() {
        create_ns(&e.client, ns).await;
    }
    let api: Api<PhoneNumberClaim> = Api::namespaced(e.client.clone(), ns);
    let mut names = Vec::new();
    for c in classes {
        for i in 0..n {
            let name = format!("{prefix}-{c}-{i}");
            let claim: PhoneNumberClaim = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"className": c, "countryCode": "US"},
            }))
            .unwrap();
            api.create(&PostParams::default(), &claim).await.unwrap();
            names.push(name);
        }
    }
    names
}

/// How many of `names` are Bound in `ns`.
async fn bound_of(e: &E2e, ns: &str, names: &[String]) -> usize {
    let api: Api<PhoneNumberClaim> = Api::namespaced(e.client.clone(), ns);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|c| c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound))
        .filter(|c| c.metadata.name.as_ref().is_some_and(|n| names.contains(n)))
        .count()
}

async fn wait_bound(e: &E2e, ns: &str, names: &[String]) {
    let started = Instant::now();
    loop {
        let bound = bound_of(e, ns, names).await;
        if bound == names.len() {
            return;
        }
        assert!(
            started.elapsed() < T,
            "{bound} of {} claims Bound in {ns}; operator log:\n{}",
            names.len(),
            e.operator_log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The operator pods running and not being deleted.
async fn live_pods(e: &E2e) -> Vec<String> {
    e.operator_pods()
        .await
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter_map(|p| p.metadata.name)
        .collect()
}

/// Who holds each class Lease (class → holder).
async fn holders(e: &E2e) -> BTreeMap<String, String> {
    class_leases::holders(&e.client, NS).await
}

/// Waits until `pods` replicas are live and every class is held by one of them, none holding
/// more than `most` (6 classes on 3 replicas, at most 2 each: 2 each); returns the holders.
async fn wait_spread(
    e: &E2e,
    classes: &[String],
    pods: usize,
    most: usize,
) -> BTreeMap<String, String> {
    let started = Instant::now();
    loop {
        let (h, live) = (holders(e).await, live_pods(e).await);
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for c in classes {
            if let Some(who) = h.get(c).filter(|w| live.contains(w)) {
                *count.entry(who.as_str()).or_default() += 1;
            }
        }
        let held = count.values().sum::<usize>() == classes.len();
        if live.len() == pods && held && count.values().all(|n| *n <= most) {
            return h;
        }
        assert!(
            started.elapsed() < T,
            "class Leases {h:?} over live pods {live:?}, want {pods} holding at most {most} each; operator log:\n{}",
            e.operator_log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until none of `classes` is held by `gone`; returns how long that took.
async fn wait_moved(e: &E2e, classes: &[String], gone: &str) -> Duration {
    let started = Instant::now();
    loop {
        let h = holders(e).await;
        if classes.iter().all(|c| h.get(c).is_some_and(|w| w != gone)) {
            return started.elapsed();
        }
        assert!(started.elapsed() < T, "{gone}'s classes never moved: {h:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Warning Events about the operator's objects since `since`.
async fn warnings_since(e: &E2e, since: jiff::Timestamp) -> Vec<String> {
    let kinds = ["PhoneNumber", "PhoneNumberClaim", "PhoneNumberClass"];
    Api::<Event>::all(e.client.clone())
        .list(&ListParams::default().fields("type=Warning"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|ev| kinds.contains(&ev.involved_object.kind.as_deref().unwrap_or_default()))
        .filter(|ev| {
            let last = ev.last_timestamp.as_ref().map(|t| t.0);
            let at = ev.event_time.as_ref().map(|t| t.0);
            last.or(at).is_some_and(|t| t >= since)
        })
        .map(|ev| format!("{:?}: {:?}", ev.reason, ev.message))
        .collect()
}

/// The host pid of `pod`'s operator process (`run`, not a probe), from its environment.
fn operator_pid(pod: &str) -> libc::pid_t {
    let want = format!("POD_NAME={pod}");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
            continue;
        };
        let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        if env.split(|b| *b == 0).any(|v| v == want.as_bytes())
            && args
                .first()
                .is_some_and(|a| a.ends_with(b"talkturo-operator"))
            && args.get(1) == Some(&b"run".as_slice())
        {
            return pid;
        }
    }
    panic!("no operator process of pod {pod}");
}

#[path = "replicas_phases.rs"]
mod phases;

pub(super) use phases::phase_active_active;
