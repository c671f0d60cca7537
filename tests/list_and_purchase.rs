//! A purchase this process makes while the account's list is paging must not make that list
//! inconsistent: the purchase waits for the list (`Account::changing_count`), so the list is read
//! once. Before, the count moved between pages and the list was read again (and, with a purchase
//! between every read, failed after three).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use jiff::Timestamp;
use secrecy::SecretString;
use talkturo_operator::controller::account::{Account, AccountKey, PlanState};
use talkturo_operator::controller::io;
use talkturo_operator::talkturo;
use talkturo_sim::{FaultAction, FaultRule, Op, SimConfig, SimServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_during_a_paged_list_waits_for_it_and_the_list_is_read_once() {
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
    // Each page takes 150 ms: the list of 3 pages is in progress when the purchase is sent.
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

    let before = sim.sim.calls(Op::List);
    let list = account.snapshot(Timestamp::now());
    let buy = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        io::talkturo::purchase(&account, &offered[3], "uid-1", Timestamp::now()).await
    };
    let (listed, bought) = tokio::join!(list, buy);
    let listed = listed.unwrap();
    bought.result.unwrap();
    assert_eq!(
        listed.records.len(),
        3,
        "the list as it was before the purchase"
    );
    assert_eq!(
        sim.sim.calls(Op::List) - before,
        3,
        "one read of 3 pages, none repeated"
    );
}
