//! A purchase this process makes while the account's list is paging neither waits for the list
//! nor makes it read again: the list tolerates the count growing by this process's own purchases
//! (`talkturo::client::paging`). Before #24 the count moved between pages and the list was read
//! again (and, with a purchase between every read, failed after three); then the purchase waited
//! for the list, seconds at 100,000 numbers. A change by someone else still makes it read again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use jiff::Timestamp;
use secrecy::SecretString;
use talkturo_operator::controller::account::{Account, AccountKey, PlanState};
use talkturo_operator::controller::io;
use talkturo_operator::talkturo;
use talkturo_sim::{FaultAction, FaultRule, Op, SimConfig, SimServer};

/// An account of 3 numbers listed one per page, 150 ms a page, through an [`Account`].
async fn paged_account() -> (SimServer, Account, Vec<String>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = SimServer::start(SimConfig {
        list_limit_cap: 1,
        activation_delay_ms: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let offered = sim.sim.world().offered_in("415");
    for n in &offered[..3] {
        let now = sim.sim.world().now();
        sim.sim.world().import("team_demo", n, None, now).unwrap();
    }
    sim.sim.set_faults(vec![FaultRule {
        op: Some(Op::List),
        action: FaultAction::Latency { ms: 150 },
        probability: 1.0,
        remaining: None,
    }]);
    let token = SecretString::from("tk_demo_token");
    let mut cfg = talkturo::ClientConfig::new(sim.base_url(), token.clone());
    cfg.page_size = 1;
    let client = talkturo::Client::new(cfg).unwrap();
    let (tx, _rx) = futures::channel::mpsc::unbounded();
    let key = AccountKey::new(&sim.base_url(), "team_demo", "demo", &token);
    let account = Account::new(key, client, PlanState::default(), tx);
    (sim, account, offered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_during_a_paged_list_does_not_wait_and_the_list_is_read_once() {
    let (sim, account, offered) = paged_account().await;
    let before = sim.sim.calls(Op::List);
    let started = Instant::now();
    let list = async {
        let listed = account.snapshot(Timestamp::now()).await;
        (listed, started.elapsed())
    };
    // Sent while the list of 3 pages (450 ms) is on its first or second page.
    let buy = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent =
            io::talkturo::purchase(&account, (&offered[3], None), "uid-1", Timestamp::now()).await;
        (sent, started.elapsed())
    };
    let ((listed, list_took), (bought, buy_took)) = tokio::join!(list, buy);
    let listed = listed.unwrap();
    bought.result.unwrap();
    assert!(
        buy_took < list_took,
        "the purchase came back ({buy_took:?}) before the list ended ({list_took:?}): it did not wait"
    );
    for n in &offered[..3] {
        assert!(
            listed.records.contains_key(n),
            "{n}, held at the start, is listed"
        );
    }
    let pages = sim.sim.calls(Op::List) - before;
    assert!(
        (3..=4).contains(&pages),
        "one read of 3 or 4 pages (the new record may be read too), none repeated: {pages}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_added_by_someone_else_during_a_paged_list_makes_it_read_again() {
    let (sim, account, offered) = paged_account().await;
    let before = sim.sim.calls(Op::List);
    let list = account.snapshot(Timestamp::now());
    let add = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = sim.sim.world().now();
        sim.sim
            .world()
            .import("team_demo", &offered[3], None, now)
            .unwrap();
    };
    let (listed, ()) = tokio::join!(list, add);
    let listed = listed.unwrap();
    assert_eq!(
        listed.records.len(),
        4,
        "the second read has the new number"
    );
    let pages = sim.sim.calls(Op::List) - before;
    assert!(
        pages >= 5,
        "read again after the count moved: {pages} page calls"
    );
}
