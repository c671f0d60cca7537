//! The operator process is killed with SIGKILL while purchases are in flight, then restarted
//! (taking over the leader Lease): every claim ends Bound, the simulator's purchases equal the
//! bound PhoneNumbers, no number is bought twice, and none is left without a PhoneNumber.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use support::OperatorProcess;
use support::operator::Fixture;
use talkturo_operator::api::v1alpha1::{ClaimPhase, phone_number_name};
use talkturo_sim::{FaultAction, FaultRule, LostMode, Op};

fn spawn_operator(env: &support::TestEnv, lease_ns: &str) -> OperatorProcess {
    let args = [
        "--admin-addr",
        "127.0.0.1:0",
        "--lease-namespace",
        lease_ns,
        "--lease-duration-secs",
        "3",
        "--fast-sync-secs",
        "1",
    ];
    OperatorProcess::spawn(
        env,
        "crash",
        &[
            &args[..],
            &[
                "--purchase-grace-secs",
                "1",
                "--api-timeout-secs",
                "2",
                "--retry-base-secs",
                "1",
            ],
        ]
        .concat(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_purchases_loses_nothing_and_buys_nothing_twice() {
    let Some(env) = support::env() else { return };
    let f = Fixture::new(env, "crash", |_| {}, json!({})).await;
    // The first purchases take effect and their answers hang (bought, not yet recorded: the
    // window that matters); the rest are slow, so more are in flight when the process dies.
    f.sim.sim.set_faults(vec![
        FaultRule::on(
            Op::Purchase,
            FaultAction::LostResponse {
                mode: LostMode::Hang,
            },
            Some(3),
        ),
        FaultRule::on(Op::Purchase, FaultAction::Latency { ms: 400 }, None),
    ]);
    let mut op = spawn_operator(env, &f.ns);

    let names: Vec<String> = (0..20).map(|i| format!("c{i:02}")).collect();
    futures::future::join_all(
        names
            .iter()
            .map(|n| f.claim(n, json!({"countryCode": "US"}))),
    )
    .await;
    let started = Instant::now();
    while f.sim.sim.world().purchases() < 3 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    op.kill();
    let at_kill = (f.sim.sim.calls(Op::Purchase), f.sim.sim.world().purchases());
    assert!(
        at_kill.1 >= 3,
        "the kill should land after purchases took effect unrecorded: {at_kill:?}"
    );

    let mut op = spawn_operator(env, &f.ns);
    let mut numbers = BTreeSet::new();
    for n in &names {
        let c = f
            .wait_claim(n, Duration::from_secs(120), |c| {
                c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound)
            })
            .await;
        numbers.insert(c.status.unwrap().number.unwrap());
    }
    op.kill();

    nothing_lost_nothing_bought_twice(&f, &numbers, at_kill).await;
}

/// Every claim has its own number, every number bought is bound and recorded, and nothing was bought twice.
async fn nothing_lost_nothing_bought_twice(
    f: &Fixture,
    numbers: &BTreeSet<String>,
    at_kill: (u64, u64),
) {
    let owned: BTreeSet<String> = f
        .sim
        .sim
        .world()
        .records()
        .map(|r| r.phone_number.clone())
        .collect();
    let objects: BTreeSet<String> = f
        .class_numbers()
        .await
        .into_iter()
        .filter(|n| n.status.as_ref().is_some_and(|s| s.id.is_some()))
        .map(|n| n.spec.number)
        .collect();
    eprintln!(
        "killed after {} purchase calls ({} effective); finished with {} calls, {} purchases",
        at_kill.0,
        at_kill.1,
        f.sim.sim.calls(Op::Purchase),
        f.sim.sim.world().purchases()
    );
    assert_eq!(numbers.len(), 20, "every claim has its own number");
    assert_eq!(
        f.sim.sim.world().purchases(),
        20,
        "purchases at the simulator equal the bound PhoneNumbers"
    );
    assert_eq!(&owned, numbers, "every owned number is bound to a claim");
    assert_eq!(
        objects, owned,
        "no owned number is left without a PhoneNumber"
    );
    for n in &owned {
        assert!(
            f.numbers()
                .get_opt(&phone_number_name(n))
                .await
                .unwrap()
                .is_some()
        );
    }
}
