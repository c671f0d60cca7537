//! The operator as a process: admin endpoints, leader election on a Lease with a standby
//! replica, graceful shutdown on SIGTERM, and failover.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use serde_json::json;
use support::operator::Fixture;
use support::{OperatorProcess, free_port};

fn spawn(env: &support::TestEnv, lease_ns: &str, port: u16, identity: &str) -> OperatorProcess {
    let addr = format!("127.0.0.1:{port}");
    OperatorProcess::spawn(
        env,
        identity,
        &[
            "--admin-addr",
            &addr,
            "--lease-namespace",
            lease_ns,
            "--lease-duration-secs",
            "4",
            "--identity",
            identity,
        ],
    )
}

async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let r = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    Some((r.status().as_u16(), r.text().await.ok()?))
}

async fn until<F: std::future::Future<Output = bool>>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> F,
) {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within {timeout:?}");
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt("talkturo-operator")
        .await
        .ok()
        .flatten()?
        .spec?
        .holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_the_other_stands_by_and_takes_over_after_a_graceful_shutdown() {
    let Some(env) = support::env() else { return };
    let f = Fixture::new(env, "runtime", |_| {}, json!({})).await;
    let leases: Api<Lease> = Api::namespaced(f.client.clone(), &f.ns);
    let (pa, pb) = (free_port(), free_port());
    let mut a = spawn(env, &f.ns, pa, "replica-a");
    until("replica-a leading", Duration::from_secs(30), || async {
        holder(&leases).await.as_deref() == Some("replica-a")
    })
    .await;
    until("replica-a ready", Duration::from_secs(30), || async {
        get(pa, "/readyz").await.is_some_and(|r| r.0 == 200)
    })
    .await;
    let mut b = spawn(env, &f.ns, pb, "replica-b");
    until("replica-b healthy", Duration::from_secs(30), || async {
        get(pb, "/healthz").await.is_some_and(|r| r.0 == 200)
    })
    .await;
    // A standby is ready (it only waits) once its lease manager runs.
    until(
        "replica-b ready as a standby",
        Duration::from_secs(30),
        || async { get(pb, "/readyz").await.is_some_and(|r| r.0 == 200) },
    )
    .await;

    // The leader provisions; its metrics show the work.
    f.claim("line", json!({"countryCode": "US"})).await;
    f.wait_claim("line", Duration::from_secs(40), |c| {
        c.status.as_ref().and_then(|s| s.phase)
            == Some(talkturo_operator::api::v1alpha1::ClaimPhase::Bound)
    })
    .await;
    let (_, metrics) = get(pa, "/metrics").await.unwrap();
    for needle in [
        "talkturo_operator_reconciles_total{controller=\"phonenumberclaim\",outcome=\"ok\"}",
        "talkturo_operator_purchases_total{class=",
        "talkturo_operator_talkturo_requests_total{operation=\"purchase\",outcome=\"ok\"} 1",
        "talkturo_operator_phone_numbers{",
        "talkturo_operator_reconcile_duration_seconds_bucket",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from /metrics:\n{metrics}"
        );
    }
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-a"));

    // SIGTERM: the leader stops cleanly; the standby takes the lease over.
    a.terminate();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = a.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "replica-a did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    until("replica-b leading", Duration::from_secs(30), || async {
        holder(&leases).await.as_deref() == Some("replica-b")
    })
    .await;
    f.claim("second", json!({"countryCode": "US"})).await;
    f.wait_claim("second", Duration::from_secs(40), |c| {
        c.status.as_ref().and_then(|s| s.phase)
            == Some(talkturo_operator::api::v1alpha1::ClaimPhase::Bound)
    })
    .await;
    b.kill();
}
