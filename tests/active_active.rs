//! Active-active replicas (`--shard-by-class`), two operator processes against one API server
//! and four classes (each its own simulator): the classes spread two and two, every claim is
//! Bound with one purchase; a replica killed with SIGKILL loses its classes to the other once
//! their Leases expire, and new claims of those classes are bought there; a replica joining
//! takes its share back by handover. Never a second purchase for a claim.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};
use serde_json::json;
use support::OperatorProcess;
use support::operator::Fixture;
use talkturo_operator::api::v1alpha1::ClaimPhase;

const LEASE_SECS: &str = "6";

fn replica(env: &support::TestEnv, lease_ns: &str, identity: &str) -> OperatorProcess {
    OperatorProcess::spawn(
        env,
        identity,
        &[
            "--shard-by-class=true",
            "--identity",
            identity,
            "--lease-namespace",
            lease_ns,
            "--lease-duration-secs",
            LEASE_SECS,
            "--admin-addr",
            "127.0.0.1:0",
            "--fast-sync-secs",
            "1",
            "--purchase-grace-secs",
            "1",
            "--retry-base-secs",
            "1",
        ],
    )
}

/// Who holds each class Lease (class → holder).
async fn holders(client: &kube::Client, ns: &str) -> BTreeMap<String, String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    leases
        .list(&ListParams::default().labels("telephony.talkturo.ai/lease=class"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|l| {
            let class = l
                .metadata
                .annotations?
                .get("telephony.talkturo.ai/class")?
                .clone();
            Some((class, l.spec?.holder_identity?))
        })
        .collect()
}

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

async fn spread(client: &kube::Client, ns: &str, fixtures: &[Fixture], want: &[(&str, usize)]) {
    let started = std::time::Instant::now();
    loop {
        let h = holders(client, ns).await;
        let ours: Vec<&String> = fixtures.iter().filter_map(|f| h.get(&f.class)).collect();
        let ok = ours.len() == fixtures.len()
            && want
                .iter()
                .all(|(who, n)| ours.iter().filter(|h| h.as_str() == *who).count() == *n);
        if ok {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "class Leases {h:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_four_classes_and_take_over_a_dead_ones() {
    let Some(env) = support::env() else { return };
    let mut fixtures = Vec::new();
    for i in 0..4 {
        fixtures.push(Fixture::new(env, &format!("aa{i}"), |_| {}, json!({})).await);
    }
    let (client, lease_ns) = env.namespace("aa-leases").await;
    let mut a = replica(env, &lease_ns, "op-a");
    let _b = replica(env, &lease_ns, "op-b");
    bound(&fixtures, "first", Duration::from_secs(60)).await;
    spread(&client, &lease_ns, &fixtures, &[("op-a", 2), ("op-b", 2)]).await;
    assert_eq!(purchases(&fixtures), vec![1, 1, 1, 1]);

    // op-a dies: its two classes move to op-b after their Leases expire; new claims there are
    // bought once.
    a.kill();
    bound(&fixtures, "second", Duration::from_secs(60)).await;
    spread(&client, &lease_ns, &fixtures, &[("op-b", 4)]).await;
    assert_eq!(purchases(&fixtures), vec![2, 2, 2, 2]);

    // A third replica joins: op-b hands two classes over.
    let _c = replica(env, &lease_ns, "op-c");
    spread(&client, &lease_ns, &fixtures, &[("op-b", 2), ("op-c", 2)]).await;
    bound(&fixtures, "third", Duration::from_secs(60)).await;
    assert_eq!(purchases(&fixtures), vec![3, 3, 3, 3]);
}
