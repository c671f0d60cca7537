//! Class Leases against the API server: replicas spread classes evenly, a dead replica's
//! classes move after its Lease expires, a joining replica gets its share only once the holder's
//! work in flight is done, a replica that stops hands its classes over at once, and at no moment
//! do two replicas serve one class.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use talkturo_operator::controller::decide::shard::placement;
use talkturo_operator::controller::shard::{Guard, ShardConfig, Shards};

const DURATION: Duration = Duration::from_secs(3);

fn replica(client: &kube::Client, ns: &str, identity: &str) -> Arc<Shards> {
    Shards::new(
        client.clone(),
        ShardConfig {
            identity: identity.to_owned(),
            namespace: ns.to_owned(),
            prefix: "talkturo-operator".to_owned(),
            duration: DURATION,
            margin: Duration::from_secs(1),
        },
    )
}

fn classes() -> Vec<String> {
    (0..6).map(|i| format!("customer-{i}")).collect()
}

/// One round of each replica, then: no class served twice. Answers what each serves.
async fn round(replicas: &[&Arc<Shards>]) -> Vec<Vec<String>> {
    for r in replicas {
        r.round(&classes()).await.unwrap();
    }
    let serving: Vec<Vec<String>> = replicas.iter().map(|r| r.serving()).collect();
    let mut seen = BTreeSet::new();
    for s in serving.iter().flatten() {
        assert!(seen.insert(s.clone()), "{s} served twice: {serving:?}");
    }
    serving
}

/// Rounds (a third of the duration apart, as the runtime spaces them) until `done`: how many.
async fn until(
    replicas: &[&Arc<Shards>],
    within: Duration,
    what: &str,
    done: impl Fn(&[Vec<String>]) -> bool,
) -> usize {
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        let serving = round(replicas).await;
        rounds += 1;
        if done(&serving) {
            return rounds;
        }
        assert!(started.elapsed() < within, "{what}: {serving:?}");
        tokio::time::sleep(DURATION / 3).await;
    }
}

fn each(n: usize) -> impl Fn(&[Vec<String>]) -> bool {
    move |s| s.iter().all(|c| c.len() == n)
}

/// Replica d joins while a is busy with one of its classes that d is to take: d, that class,
/// and the guard of a's work on it.
fn d_joins_while_a_is_busy(
    client: &kube::Client,
    ns: &str,
    a: &Arc<Shards>,
) -> (Arc<Shards>, String, Guard) {
    let d = replica(client, ns, "d");
    let placed = placement(&classes(), &["a", "b", "d"].map(str::to_owned));
    let busy_class = a
        .serving()
        .into_iter()
        .find(|c| placed[c] == "d")
        .expect("d takes one of a's classes");
    let guard = a.serve(&busy_class).unwrap();
    (d, busy_class, guard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_spread_classes_and_move_them_without_overlap() {
    let Some(env) = support::env() else { return };
    let (client, ns) = env.namespace("shards").await;
    let (a, b, c) = (
        replica(&client, &ns, "a"),
        replica(&client, &ns, "b"),
        replica(&client, &ns, "c"),
    );
    until(
        &[&a, &b, &c],
        Duration::from_secs(20),
        "2 classes each",
        each(2),
    )
    .await;

    // c dies (no renewal, no release): its classes stop being served by c once its Lease is
    // about to expire, and move to a and b once it expired.
    until(
        &[&a, &b],
        Duration::from_secs(20),
        "3 classes each",
        each(3),
    )
    .await;
    assert!(c.serving().is_empty(), "{:?}", c.serving());

    // d joins while a is busy with one of its classes: a hands that class over only once the
    // work is done; the others move at once.
    let (d, busy_class, guard) = d_joins_while_a_is_busy(&client, &ns, &a);
    until(
        &[&a, &b, &d],
        Duration::from_secs(20),
        "d serves 1 or 2",
        |s| !s[2].is_empty(),
    )
    .await;
    // For longer than a Lease lasts: nobody starts new work on it, and a keeps its Lease (the
    // work in flight may still spend).
    for _ in 0..4 {
        round(&[&a, &b, &d]).await;
        assert!(!a.serving().contains(&busy_class) && !d.serving().contains(&busy_class));
        assert!(guard.may_spend(), "the draining class's Lease lapsed");
        tokio::time::sleep(DURATION / 3).await;
    }
    drop(guard);
    until(
        &[&a, &b, &d],
        Duration::from_secs(20),
        "2 classes each",
        each(2),
    )
    .await;

    // b stops gracefully: a and d take its classes at once, not after its Lease expired.
    b.stop(Duration::from_secs(5)).await;
    assert!(b.serving().is_empty());
    let rounds = until(
        &[&a, &d],
        Duration::from_secs(20),
        "3 classes each",
        each(3),
    )
    .await;
    assert_eq!(
        rounds, 1,
        "a graceful stop's classes are free for the next round"
    );
}

/// A replica joins while the holder is busy with a class placed on it, then leaves before the
/// handover is done: the holder serves that class again (the handover is off), with its work
/// in flight still able to spend, instead of keeping it half handed over for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_to_a_replica_that_left_is_called_off() {
    let Some(env) = support::env() else { return };
    let (client, ns) = env.namespace("shards-off").await;
    let (a, b) = (replica(&client, &ns, "a"), replica(&client, &ns, "b"));
    until(
        &[&a, &b],
        Duration::from_secs(20),
        "3 classes each",
        each(3),
    )
    .await;
    let (d, busy_class, guard) = d_joins_while_a_is_busy(&client, &ns, &a);
    until(
        &[&a, &b, &d],
        Duration::from_secs(20),
        "a hands over",
        |_| !a.serving().contains(&busy_class),
    )
    .await;
    d.stop(Duration::from_secs(5)).await;
    until(
        &[&a, &b],
        Duration::from_secs(20),
        "a serves its 3 classes again",
        each(3),
    )
    .await;
    assert!(a.serving().contains(&busy_class));
    assert!(guard.may_spend());
    drop(guard);
    round(&[&a, &b]).await;
    assert!(a.serving().contains(&busy_class));
}
