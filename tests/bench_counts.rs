//! The exact counts of BENCHMARKS.md (M1, M2, M3, M7) at a small scale, asserted on every
//! `make test`: the same harness as `make bench` (`talkturo_bench`), with the debug
//! operator binary as a child process against a real API server and the simulator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use kube::api::PostParams;
use serde_json::json;
use talkturo_bench::{self as bench, Bench};
use talkturo_operator::api::v1alpha1::PhoneNumberClaim;
use talkturo_sim::Op;
use talkturo_testenv::Binaries;

const BURST: usize = 30;
const SYNC_SECS: u64 = 5;

/// Whether the control plane binaries are there (CI must have them).
fn binaries() -> bool {
    if let Err(e) = Binaries::locate() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "control plane binaries missing (CI=true): {e}"
        );
        eprintln!("*** SKIPPED: {e}");
        return false;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_writes_and_restarts_cost_exactly_what_benchmarks_md_says() {
    if !binaries() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut b = Bench::start(
        dir.path(),
        env!("CARGO_BIN_EXE_talkturo-operator").into(),
        |_| {},
        &format!("{SYNC_SECS}s"),
    )
    .await
    .unwrap();
    b.start_operator().await.unwrap();

    // M1, isolated: one search, one purchase (the account's last list does not show the
    // number), and one list to see it active (a purchase answers `purchasing`). Counted from
    // when the class is Ready, so its own first list is not the claim's.
    b.wait_class_ready(Duration::from_secs(30)).await.unwrap();
    let (calls, mark) = (b.calls(), b.mark());
    b.create_claims("solo", 0..1, 1).await.unwrap();
    b.wait_bound(1, Duration::from_secs(30)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let isolated = bench::delta(&b.calls(), &calls);
    assert_eq!(
        (
            isolated.get(&Op::Search),
            isolated.get(&Op::Purchase),
            isolated.get(&Op::List),
            bench::total(&isolated)
        ),
        (Some(&1), Some(&1), Some(&1), 3),
        "isolated claim: {isolated:?}"
    );
    // M2: the PhoneNumber's status is written once (bought and seen active together); the
    // claim's at most 4 times (the first claim of a new class may also see it not ready yet).
    let w = b.writes_since(mark).unwrap();
    eprintln!("isolated claim: {isolated:?}, writes {w:?}");
    assert_eq!(w.detail.get("patch phonenumbers/status"), Some(&1), "{w:?}");
    assert!(
        w.detail
            .get("patch phonenumberclaims/status")
            .is_some_and(|n| *n <= 4),
        "{w:?}"
    );

    a_burst_costs_one_purchase_and_at_most_five_writes_per_claim(&b).await;
    // M3: steady state: only the class's list, once per sync interval; nothing written.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (calls, mark) = (b.calls(), b.mark());
    let window = 3 * SYNC_SECS;
    tokio::time::sleep(Duration::from_secs(window)).await;
    let steady = bench::delta(&b.calls(), &calls);
    let lists = steady.get(&Op::List).copied().unwrap_or(0);
    assert!(
        steady.keys().all(|op| *op == Op::List),
        "only lists in the steady state: {steady:?}"
    );
    assert!(
        (2..=4).contains(&lists),
        "{lists} lists in {window}s at a {SYNC_SECS}s sync"
    );
    let w = b.writes_since(mark).unwrap();
    assert_eq!((w.state, w.events, w.conflicts), (0, 0, 0), "{w:?}");

    // M7: a restart with everything bound: one list, no other call, no write, no purchase.
    b.operator.take().unwrap().kill();
    let (calls, mark, purchases) = (b.calls(), b.mark(), b.sim.sim.world().purchases());
    b.start_operator().await.unwrap();
    tokio::time::sleep(Duration::from_secs(SYNC_SECS - 1)).await;
    let restart = bench::delta(&b.calls(), &calls);

    assert_eq!(restart.get(&Op::List), Some(&1), "{restart:?}");
    assert_eq!(bench::total(&restart), 1, "{restart:?}");
    let w = b.writes_since(mark).unwrap();
    assert_eq!((w.state, w.events), (0, 0), "{w:?}");
    assert_eq!(b.sim.sim.world().purchases(), purchases);
}

/// M1, M2: a burst: one purchase per claim, at most five state writes per claim, no conflict.
async fn a_burst_costs_one_purchase_and_at_most_five_writes_per_claim(b: &Bench) {
    // M1, M2: a burst.
    let (calls, mark, purchases) = (b.calls(), b.mark(), b.sim.sim.world().purchases());
    b.create_claims("burst", 0..BURST, 16).await.unwrap();
    b.wait_bound(1 + BURST, Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let burst = bench::delta(&b.calls(), &calls);
    assert_eq!(
        b.sim.sim.world().purchases() - purchases,
        BURST as u64,
        "no duplicate purchase"
    );
    assert_eq!(burst.get(&Op::Purchase), Some(&(BURST as u64)));
    let w = b.writes_since(mark).unwrap();
    eprintln!("burst of {BURST}: {burst:?}, writes {w:?}");
    // M2 (≤ 5 per claim): one PhoneNumber create and one status write per claim, at most
    // three claim status writes (intent, PhoneNumber named, bound and ready), and the class's
    // debounced totals.
    assert!(
        w.state <= 5 * BURST as u64 + 2,
        "{} state writes for {BURST} claims: {w:?}",
        w.state
    );
    assert_eq!(
        w.detail.get("patch phonenumbers/status"),
        Some(&(BURST as u64)),
        "{w:?}"
    );
    assert_eq!(
        w.detail.get("create phonenumbers/"),
        Some(&(BURST as u64)),
        "one PhoneNumber create per claim, none repeated from a stale cache: {w:?}"
    );
    assert_eq!(w.conflicts, 0, "{w:?}");
}

/// The Ready reason of a claim, if it has one.
fn ready_reason(c: &PhoneNumberClaim) -> Option<String> {
    c.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.reason.clone())
}

/// Waits until claim `name` has Ready reason `reason`.
async fn wait_reason(b: &Bench, name: &str, reason: &str) {
    let api = b.claims();
    for _ in 0..600 {
        let c = api.get(name).await.unwrap();
        if ready_reason(&c).as_deref() == Some(reason) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("claim {name} never said {reason}");
}

/// A restart (or leader change) rewrites nothing whose state did not change: with bound,
/// plan-limited and pending claims, the new process lists the account once and makes no write
/// and no Event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_bound_plan_limited_and_pending_claims_lists_once_and_writes_nothing() {
    if !binaries() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut b = Bench::start(
        dir.path(),
        env!("CARGO_BIN_EXE_talkturo-operator").into(),
        |c| {
            for t in c.accounts.iter_mut().flat_map(|a| a.teams.iter_mut()) {
                t.max_numbers = 20;
            }
        },
        &format!("{SYNC_SECS}s"),
    )
    .await
    .unwrap();
    b.start_operator().await.unwrap();
    b.wait_class_ready(Duration::from_secs(30)).await.unwrap();

    // 20 bound (the plan's limit), then 3 refused for the plan.
    b.create_claims("bound", 0..20, 8).await.unwrap();
    b.wait_bound(20, Duration::from_secs(60)).await.unwrap();
    b.create_claims("limited", 0..3, 3).await.unwrap();
    for i in 0..3 {
        wait_reason(&b, &format!("limited-{i}"), "PlanLimitReached").await;
    }
    // 5 pending on what only a user can fix: a class that does not exist, a PhoneNumber that
    // does not exist.
    let pending: [(&str, serde_json::Value, &str); 5] = [
        (
            "noclass-0",
            json!({"className": "premium", "countryCode": "US"}),
            "ClassNotFound",
        ),
        (
            "noclass-1",
            json!({"className": "premium", "countryCode": "CA"}),
            "ClassNotFound",
        ),
        (
            "noclass-2",
            json!({"className": "premium", "countryCode": "US", "areaCode": "212"}),
            "ClassNotFound",
        ),
        (
            "static-0",
            json!({"phoneNumberName": "tel-14150000000"}),
            "PhoneNumberNotFound",
        ),
        (
            "static-1",
            json!({"phoneNumberName": "tel-14150000001"}),
            "PhoneNumberNotFound",
        ),
    ];
    for (name, spec, _) in &pending {
        let c: PhoneNumberClaim =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
        b.claims().create(&PostParams::default(), &c).await.unwrap();
    }
    for (name, _, reason) in &pending {
        wait_reason(&b, name, reason).await;
    }
    // Everything settled (the class's debounced totals too).
    tokio::time::sleep(Duration::from_secs(3)).await;

    b.operator.take().unwrap().kill();
    let (calls, mark, purchases) = (b.calls(), b.mark(), b.sim.sim.world().purchases());
    b.start_operator().await.unwrap();
    tokio::time::sleep(Duration::from_secs(SYNC_SECS - 1)).await;
    let restart = bench::delta(&b.calls(), &calls);
    let w = b.writes_since(mark).unwrap();
    eprintln!("restart: {restart:?}, writes {w:?}");
    assert_eq!(restart.get(&Op::List), Some(&1), "{restart:?}");
    assert_eq!(bench::total(&restart), 1, "{restart:?}");
    assert_eq!((w.state, w.events), (0, 0), "{w:?}");
    assert_eq!(b.sim.sim.world().purchases(), purchases);
    // And the claims still say what they said.
    for i in 0..3 {
        let c = b.claims().get(&format!("limited-{i}")).await.unwrap();
        assert_eq!(ready_reason(&c).as_deref(), Some("PlanLimitReached"));
    }
}
