//! Active-active replicas (`--shard-by-class`), two operator processes against one API server
//! and four classes (each its own simulator): the classes spread two and two, every claim is
//! Bound with one purchase; a replica killed with SIGKILL loses its classes to the other once
//! their Leases expire, and new claims of those classes are bought there; a replica joining
//! takes its share back by handover. Never a second purchase for a claim.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

#[path = "active_active/caches.rs"]
mod caches;
#[path = "active_active/common.rs"]
mod common;

use common::{first_acquired_by, replica, spread};

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::OperatorProcess;
use support::operator::Fixture;
use talkturo_operator::api::v1alpha1::{ClaimPhase, PhoneNumberClaim};
use talkturo_sim::{FaultAction, FaultRule, Op};

async fn bound(fixtures: &[Fixture], claim: &str, within: Duration) {
    for f in fixtures {
        f.claim(claim, json!({"countryCode": "US"})).await;
    }
    for f in fixtures {
        f.wait_claim(claim, within, |c| {
            c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound)
        })
        .await;
    }
}

fn purchases(fixtures: &[Fixture]) -> Vec<u64> {
    fixtures
        .iter()
        .map(|f| f.sim.sim.world().purchases())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_four_classes_and_take_over_a_dead_ones() {
    let Some(env) = support::env() else { return };
    let mut fixtures = Vec::new();
    for i in 0..4 {
        fixtures.push(Fixture::new(env, &format!("aa{i}"), |_| {}, json!({})).await);
    }
    let (client, lease_ns) = env.namespace("aa-leases").await;
    let (pa, pb) = (support::free_port(), support::free_port());
    let mut a = replica(env, &lease_ns, "op-a", pa);
    let _b = replica(env, &lease_ns, "op-b", pb);
    bound(&fixtures, "first", Duration::from_secs(60)).await;
    spread(&client, &lease_ns, &fixtures, &[("op-a", 2), ("op-b", 2)]).await;
    assert_eq!(purchases(&fixtures), vec![1, 1, 1, 1]);
    // Each caches its two classes' claims and PhoneNumbers (one of each a class), no others.
    caches::caches_hold(&[(pa, 2.0, 2.0), (pb, 2.0, 2.0)]).await;
    let h = spread(&client, &lease_ns, &fixtures, &[("op-a", 2), ("op-b", 2)]).await;
    let elsewhere = fixtures
        .iter()
        .find(|f| h[&f.class] != h[&fixtures[0].class])
        .unwrap();
    caches::wrong_labels_are_corrected(&fixtures[0], elsewhere).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-talkturo"))
        .args(["check", "--operator-namespace", &lease_ns, "--kubeconfig"])
        .arg(&env.kubeconfig)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "kubectl talkturo check: {text}");
    assert!(
        text.contains("2 active replica(s) serve 4 classes: op-a (2), op-b (2)"),
        "{text}"
    );
    rolled_once(&fixtures[0]).await;
    let budgeted = namespace_budget_across_replicas(env, &client, &lease_ns, &fixtures).await;
    another_replicas_reservation_counts(env, &client, &lease_ns, &fixtures[0]).await;

    // op-a dies: its two classes move to op-b after their Leases expire; new claims there are
    // bought once.
    a.kill();
    bound(&fixtures, "second", Duration::from_secs(60)).await;
    spread(&client, &lease_ns, &fixtures, &[("op-b", 4)]).await;
    let now: Vec<u64> = purchases(&fixtures);
    assert_eq!(now, budgeted.iter().map(|b| b + 1).collect::<Vec<_>>());

    // A third replica joins: op-b hands two classes over.
    let c_admin = support::free_port();
    let c = replica(env, &lease_ns, "op-c", c_admin);
    spread(&client, &lease_ns, &fixtures, &[("op-b", 2), ("op-c", 2)]).await;
    bound(&fixtures, "third", Duration::from_secs(60)).await;
    assert_eq!(
        purchases(&fixtures),
        budgeted.iter().map(|b| b + 2).collect::<Vec<_>>()
    );
    frozen_replica_calls_nothing_on_a_lost_lease(&client, &lease_ns, &fixtures, (&c, c_admin))
        .await;
    // One purchase per claim, the frozen replica's purchases in flight included.
    assert_eq!(
        purchases(&fixtures),
        budgeted.iter().map(|b| b + 3).collect::<Vec<_>>()
    );
}

/// A namespace with a $4.00 budget and six claims at once in each of two classes served by
/// different replicas: what is bound stays within the budget, and the claims left over say
/// BudgetExceeded. Answers each simulator's purchases so far.
async fn namespace_budget_across_replicas(
    env: &support::TestEnv,
    client: &kube::Client,
    lease_ns: &str,
    fixtures: &[Fixture],
) -> Vec<u64> {
    let h = spread(client, lease_ns, fixtures, &[("op-a", 2), ("op-b", 2)]).await;
    let a = fixtures.iter().find(|f| h[&f.class] == "op-a").unwrap();
    let b = fixtures.iter().find(|f| h[&f.class] == "op-b").unwrap();
    let (_, ns) = env.namespace("aa-budget").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let patch =
        json!({"metadata": {"annotations": {"telephony.talkturo.ai/monthly-budget": "4.00"}}});
    namespaces
        .patch(&ns, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    // Searches answer slowly, so both replicas decide at the same moment, before either's cache
    // shows the other's purchases: only the shared reservations keep them within the budget.
    for f in [a, b] {
        let slow = FaultRule::on(Op::Search, FaultAction::Latency { ms: 1500 }, None);
        f.sim.sim.set_faults(vec![slow]);
    }
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client.clone(), &ns);
    let mut names = Vec::new();
    for (i, f) in [a, b].iter().enumerate() {
        for j in 0..6 {
            let name = format!("c{i}-{j}");
            let obj: PhoneNumberClaim = serde_json::from_value(json!({"metadata": {"name": name},
                "spec": {"className": f.class, "countryCode": "US"}}))
            .unwrap();
            claims.create(&PostParams::default(), &obj).await.unwrap();
            names.push(name);
        }
    }
    // Settled: every claim Bound or BudgetExceeded.
    let started = std::time::Instant::now();
    let spent = loop {
        let all = claims.list(&ListParams::default()).await.unwrap().items;
        let settled = all.iter().all(|c| {
            let s = c.status.as_ref();
            s.and_then(|s| s.phase) == Some(ClaimPhase::Bound)
                || s.is_some_and(|s| s.conditions.iter().any(|c| c.reason == "BudgetExceeded"))
        });
        if settled && all.len() == names.len() {
            let prices = all
                .iter()
                .filter_map(|c| c.status.as_ref()?.monthly_price.clone());
            break prices.map(|p| p.parse::<f64>().unwrap()).sum::<f64>();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not settled");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let bound = claims
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|c| c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound))
        .count();
    eprintln!("namespace budget $4.00: {bound} of 12 bound, ${spent:.2}/month");
    for f in [a, b] {
        f.sim.sim.set_faults(Vec::new());
    }
    // The claims left waiting would buy once a cheap enough offer shows up (the rest of the
    // test counts purchases exactly): they go.
    for c in claims.list(&ListParams::default()).await.unwrap().items {
        if c.status.as_ref().and_then(|s| s.phase) != Some(ClaimPhase::Bound) {
            let name = c.metadata.name.unwrap();
            claims.delete(&name, &Default::default()).await.unwrap();
        }
    }
    assert!(
        spent <= 4.0 + 1e-9,
        "namespace spent ${spent} of a $4.00 budget"
    );
    assert!((1..12).contains(&bound), "{bound} bound");
    purchases(fixtures)
}

/// What another replica reserved in a namespace's budget counts here even before any
/// PhoneNumber shows it: $1.95 reserved of a $2.00 budget leaves nothing to buy.
async fn another_replicas_reservation_counts(
    env: &support::TestEnv,
    client: &kube::Client,
    lease_ns: &str,
    f: &Fixture,
) {
    let (_, ns) = env.namespace("aa-reserved").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let patch =
        json!({"metadata": {"annotations": {"telephony.talkturo.ai/monthly-budget": "2.00"}}});
    namespaces
        .patch(&ns, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let reserved = json!({"+19995550100": {"price": "1.95", "at": jiff::Timestamp::now()}});
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": format!("talkturo-operator-budget-{ns}")},
        "data": {"reservations": reserved.to_string()}}))
    .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), lease_ns)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client.clone(), &ns);
    let obj: PhoneNumberClaim = serde_json::from_value(json!({"metadata": {"name": "late"},
        "spec": {"className": f.class, "countryCode": "US"}}))
    .unwrap();
    claims.create(&PostParams::default(), &obj).await.unwrap();
    let over = support::operator::wait(&claims, "late", Duration::from_secs(30), |c| {
        c.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.reason == "BudgetExceeded"))
    })
    .await;
    assert_eq!(over.status.and_then(|s| s.phase), Some(ClaimPhase::Pending));
}

/// op-c frozen (SIGSTOP) past its Leases while purchases are slow: op-b takes its classes and
/// buys what is asked meanwhile; op-c resumed (SIGCONT) sends nothing to any account until it
/// holds a class Lease again (the simulator sees each request's User-Agent, which names the
/// replica), and writes nothing its reconciles in flight had read before: the purchase each
/// was waiting for is answered (or timed out) on resuming, and the status that answer leads to
/// is not written (reconcile outcome `fenced`).
async fn frozen_replica_calls_nothing_on_a_lost_lease(
    client: &kube::Client,
    lease_ns: &str,
    fixtures: &[Fixture],
    (c, c_admin): (&OperatorProcess, u16),
) {
    for f in fixtures {
        let slow = FaultRule::on(Op::Purchase, FaultAction::Latency { ms: 1000 }, None);
        f.sim.sim.set_faults(vec![slow]);
    }
    for f in fixtures {
        f.claim("fourth", json!({"countryCode": "US"})).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = c.child.id() as libc::pid_t;
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let stopped = jiff::Timestamp::now();
    spread(client, lease_ns, fixtures, &[("op-b", 4)]).await;
    for f in fixtures {
        f.wait_claim("fourth", Duration::from_secs(60), |c| {
            c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound)
        })
        .await;
        f.sim.sim.set_faults(Vec::new());
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    spread(client, lease_ns, fixtures, &[("op-b", 2), ("op-c", 2)]).await;
    let retaken = first_acquired_by(client, lease_ns, "op-c").await;
    let expired = stopped + jiff::SignedDuration::from_secs(6);
    for f in fixtures {
        let late: Vec<_> = f
            .sim
            .sim
            .received()
            .into_iter()
            .filter(|r| r.agent.contains("(op-c)") && r.at > expired && r.at < retaken)
            .collect();
        assert!(
            late.is_empty(),
            "op-c called after its Leases expired: {late:?}"
        );
    }
    let claims: u64 = fixtures.iter().map(|f| f.sim.sim.world().purchases()).sum();
    let fenced = fenced_reconciles(c_admin).await;
    eprintln!(
        "op-c frozen at {stopped}, Leases taken again at {retaken}; {claims} purchases; {fenced} writes fenced"
    );
    assert!(
        fenced >= 1.0,
        "op-c's reconciles in flight wrote after its Leases lapsed"
    );
}

/// A labelled Deployment reading a claim's ConfigMap is rolled by one replica only (the
/// router's holder): its hash set, one `NumberRolledOut` Event. Buys the claim's number.
async fn rolled_once(f: &Fixture) {
    f.claim("cm", json!({"countryCode": "US", "configMapName": "line"}))
        .await;
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"telephony.talkturo.ai/rollout": "true"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1",
                    "envFrom": [{"configMapRef": {"name": "line"}}]}]}}}}))
    .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), &f.ns);
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    support::operator::wait(&deployments, "web", Duration::from_secs(60), |d| {
        let template = d.spec.as_ref().map(|s| &s.template);
        let annotations = template.and_then(|t| t.metadata.as_ref()?.annotations.as_ref());
        annotations.is_some_and(|a| a.contains_key("telephony.talkturo.ai/numbers-hash"))
    })
    .await;
    // Every replica had the chance to roll it (they look every 30 s at most; the Events of
    // two rolls would be two).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rolled = f.event_reasons("Deployment", "web").await;
    let n = rolled.iter().filter(|r| *r == "NumberRolledOut").count();
    assert_eq!(n, 1, "{rolled:?}");
}

/// The reconciles of a replica whose writes were refused for a lapsed Lease, from its metrics.
async fn fenced_reconciles(admin: u16) -> f64 {
    let url = format!("http://127.0.0.1:{admin}/metrics");
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("talkturo_operator_reconciles_total{"))
        .filter(|l| l.contains(r#"outcome="fenced""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |sum, n| sum + n)
}
