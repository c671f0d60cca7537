//! A running single-leader install turned into active-active replicas: the replicas wait until
//! the old leader is gone, then take the classes over, label every claim once, and buy, release
//! and warn about nothing. (Its own test binary, so its own API server: replicas serve every
//! class of the cluster, those of another test included.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

#[path = "active_active/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{Api, ListParams};
use serde_json::json;
use talkturo_operator::api::v1alpha1::{ClaimPhase, PhoneNumberClaim};

use common::{holders, replica, spread};
use support::OperatorProcess;
use support::operator::Fixture;

/// Each claim's phase and number, by namespace and name.
async fn claims(fixtures: &[Fixture]) -> BTreeMap<String, (Option<ClaimPhase>, Option<String>)> {
    let mut out = BTreeMap::new();
    for f in fixtures {
        for c in f.claims().list(&ListParams::default()).await.unwrap().items {
            let s = c.status.unwrap_or_default();
            out.insert(
                format!("{}/{}", f.ns, c.metadata.name.unwrap_or_default()),
                (s.phase, s.number),
            );
        }
    }
    out
}

/// Whether every claim of every fixture carries its class's label.
async fn all_labelled(fixtures: &[Fixture]) -> bool {
    for f in fixtures {
        let api: Api<PhoneNumberClaim> = f.claims();
        for c in api.list(&ListParams::default()).await.unwrap().items {
            let labels = c.metadata.labels.unwrap_or_default();
            if labels.get("telephony.talkturo.ai/class") != Some(&f.class) {
                return false;
            }
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_leader_install_turns_active_active_buying_and_releasing_nothing() {
    let Some(env) = support::env() else { return };
    let mut fixtures = Vec::new();
    for i in 0..2 {
        fixtures.push(Fixture::new(env, &format!("sw{i}"), |_| {}, json!({})).await);
    }
    let (client, lease_ns) = env.namespace("sw-leases").await;
    let old = OperatorProcess::spawn(
        env,
        "sw-leader",
        &[
            "--identity",
            "leader",
            "--lease-namespace",
            &lease_ns,
            "--lease-duration-secs",
            "6",
            "--admin-addr",
            "127.0.0.1:0",
        ],
    );
    for f in &fixtures {
        for name in ["one", "two"] {
            f.claim(
                name,
                json!({"countryCode": "US", "assistantId": "asst_demo_sales"}),
            )
            .await;
        }
    }
    for f in &fixtures {
        for name in ["one", "two"] {
            f.wait_bound(name, Duration::from_secs(60)).await;
        }
    }
    let before = claims(&fixtures).await;
    let bought: Vec<u64> = fixtures
        .iter()
        .map(|f| f.sim.sim.world().purchases())
        .collect();
    // The replicas start beside the old leader: they take no class while it leads.
    let a = replica(env, &lease_ns, "op-a", support::free_port());
    let b = replica(env, &lease_ns, "op-b", support::free_port());
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(
        holders(&client, &lease_ns).await.is_empty(),
        "a replica took a class while the old leader led"
    );
    old.terminate();
    spread(&client, &lease_ns, &fixtures, &[("op-a", 1), ("op-b", 1)]).await;
    let started = std::time::Instant::now();
    while !all_labelled(&fixtures).await {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "claims not labelled"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Settled for a few Lease rounds: the same claims, the same numbers, nothing bought,
    // released or warned about.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(claims(&fixtures).await, before);
    for (f, n) in fixtures.iter().zip(&bought) {
        assert_eq!(f.sim.sim.world().purchases(), *n, "{}", f.class);
        assert_eq!(f.sim.sim.world().releases(), 0, "{}", f.class);
        for name in ["one", "two"] {
            let warnings: Vec<_> = f
                .events("PhoneNumberClaim", name)
                .await
                .into_iter()
                .filter(|(t, _, _)| t == "Warning")
                .collect();
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
        }
    }
    drop((a, b));
}
