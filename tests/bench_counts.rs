//! The exact counts of BENCHMARKS.md (M1, M2, M3, M7) at a small scale, asserted on every
//! `make test`: the same harness as `make bench` (`talkturo_operator::bench`), with the debug
//! operator binary as a child process against a real API server and the simulator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use talkturo_operator::bench::{self, Bench};
use talkturo_operator::sim::Op;
use talkturo_operator::testenv::Binaries;

const BURST: usize = 30;
const SYNC_SECS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_writes_and_restarts_cost_exactly_what_benchmarks_md_says() {
    if let Err(e) = Binaries::locate() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "control plane binaries missing (CI=true): {e}"
        );
        eprintln!("*** SKIPPED: {e}");
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
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
