//! Chaos with active-active replicas (`--shard-by-class`): three replicas serve three classes
//! (each class its own simulator, injecting the chaos test's faults and hostile answers) while
//! for K rounds claims are created, deleted and moved in every class, and each round one
//! replica is killed (SIGKILL; a new one, with a new identity, starts a moment later), frozen
//! (SIGSTOP past its 3 s Leases, then SIGCONT), or joined by a fourth (which leaves again,
//! gracefully, in a later round). Everything random comes from one logged seed; a failing run
//! is replayed with `CHAOS_SEED=<seed>`.
//!
//! At the end (faults cleared, the system left to settle) the chaos invariants are checked for
//! every class: purchases − releases = numbers owned = managed PhoneNumbers holding a record id
//! (so never a number bought twice, never one owned but untracked); no claim with two numbers;
//! every claim `Bound`, or `Pending` with a reason; the class never over its `monthlyBudget`; no
//! number on an assistant no claim asked for; no replica panicked, exited on its own, logged the
//! key or held more than 100 MiB. The figures go to `target/chaos/replicas-last-run.json`.
//!
//! `CHAOS_ROUNDS` (default 4) sets K: `make test` runs it with 4, `make chaos K=20` longer.
//! RELIABILITY.md lists what its runs found and fixed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

#[path = "chaos/shared.rs"]
mod shared;

use std::time::{Duration, Instant};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use shared::{BUDGET, Tally, check, churn, faults, lost_events, process_violations};
use support::OperatorProcess;
use support::operator::Fixture;

const CLASSES: usize = 3;
const REPLICAS: usize = 3;
const SETTLE: Duration = Duration::from_secs(150);

/// One replica: its process, identity and admin port.
struct Replica {
    process: OperatorProcess,
    identity: String,
    port: u16,
}

fn spawn(env: &support::TestEnv, lease_ns: &str, identity: String) -> Replica {
    let port = support::free_port();
    let admin = format!("127.0.0.1:{port}");
    // CHAOS_OPERATOR_LOG: the replicas' log filter (e.g. `talkturo_operator=debug`).
    let log = format!(
        "--log={}",
        std::env::var("CHAOS_OPERATOR_LOG").unwrap_or_else(|_| "info".into())
    );
    let process = OperatorProcess::spawn(
        env,
        &format!("chaos-{identity}"),
        &[
            &log,
            "--shard-by-class=true",
            "--identity",
            &identity,
            "--lease-namespace",
            lease_ns,
            "--lease-duration-secs",
            "3",
            "--admin-addr",
            &admin,
            "--fast-sync-secs",
            "1",
            "--purchase-grace-secs",
            "1",
            "--api-timeout-secs",
            "2",
            "--retry-base-secs",
            "1",
            "--outcome-alert-secs",
            "20",
        ],
    );
    Replica {
        process,
        identity,
        port,
    }
}

/// What a live replica serves and caches, from its metrics (for a failed run's message).
async fn shares(replicas: &[Replica]) -> Vec<String> {
    let mut out = Vec::new();
    for r in replicas {
        let url = format!("http://127.0.0.1:{}/metrics", r.port);
        let text = match reqwest::get(&url).await {
            Ok(answer) => answer.text().await.unwrap_or_default(),
            Err(e) => format!("unreachable: {e}"),
        };
        let wanted = [
            "talkturo_operator_classes_served",
            "talkturo_operator_cached_claims",
            "talkturo_operator_cached_phone_numbers",
            "talkturo_operator_claims_awaiting_label",
            "talkturo_operator_active",
            "talkturo_operator_queue_depth",
            "talkturo_operator_reconciles_total",
        ];
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| wanted.iter().any(|w| l.starts_with(w)))
            .collect();
        out.push(format!("{}: {}", r.identity, lines.join("; ")));
    }
    out
}

/// What happened to the replicas, counted.
#[derive(Default)]
struct Events {
    kills: usize,
    freezes: usize,
    joins: usize,
    leaves: usize,
    started: usize,
    /// Every replica that ran, for its log and exit status at the end.
    gone: Vec<Replica>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_killed_frozen_and_joined_buy_nothing_twice() {
    let Some(env) = support::env() else { return };
    let (seed, rounds, mut rng) = shared::seeded("chaos (replicas)");
    let mut fixtures = Vec::new();
    for i in 0..CLASSES {
        let class =
            json!({"reclaimPolicy": "Release", "monthlyBudget": BUDGET, "syncInterval": "5s"});
        let f = Fixture::new(
            env,
            &format!("chr{i}"),
            |c| {
                c.release_enabled = true;
                c.activation_delay_ms = 300;
                // Numbers are unique across Talkturo: each account offers its own.
                c.seed = 1000 + i as u64;
            },
            class,
        )
        .await;
        fixtures.push(f);
    }
    let (_, lease_ns) = env.namespace("chr-leases").await;
    let mut events = Events::default();
    let mut replicas: Vec<Replica> = (0..REPLICAS)
        .map(|_| next_replica(env, &lease_ns, &mut events))
        .collect();
    let mut tallies: Vec<Tally> = fixtures.iter().map(|_| Tally::default()).collect();
    let started = Instant::now();
    for round in 0..rounds {
        for f in &fixtures {
            f.sim.sim.set_faults(faults(&mut rng));
        }
        for (f, tally) in fixtures.iter().zip(tallies.iter_mut()) {
            churn(f, &mut rng, tally).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..2500))).await;
        upset(env, &lease_ns, &mut rng, &mut replicas, &mut events).await;
        let purchases: Vec<u64> = fixtures
            .iter()
            .map(|f| f.sim.sim.world().purchases())
            .collect();
        eprintln!(
            "chaos (replicas): round {round}: purchases {purchases:?}, {} replicas",
            replicas.len()
        );
    }
    for f in &fixtures {
        f.sim.sim.set_faults(Vec::new());
    }
    let chaos_secs = started.elapsed().as_secs_f64();
    let (violations, settle_secs) = settle(&fixtures, &tallies).await;
    finish(FinishArgs {
        fixtures: &fixtures,
        tallies: &mut tallies,
        replicas,
        events,
        seed_rounds: (seed, rounds),
        violations,
        secs: (chaos_secs, settle_secs),
    })
    .await;
}

/// A replica with a new identity, as a replacement pod would have.
fn next_replica(env: &support::TestEnv, lease_ns: &str, events: &mut Events) -> Replica {
    events.started += 1;
    spawn(env, lease_ns, format!("r{}", events.started))
}

/// One round's upset: a replica killed and replaced, one frozen past its Leases and resumed, or
/// a fourth joining (or leaving again, gracefully).
async fn upset(
    env: &'static support::TestEnv,
    lease_ns: &str,
    rng: &mut ChaCha8Rng,
    replicas: &mut Vec<Replica>,
    events: &mut Events,
) {
    let victim = rng.random_range(0..replicas.len());
    match rng.random_range(0..3) {
        0 => {
            let mut dead = replicas.remove(victim);
            dead.process.kill();
            eprintln!("chaos (replicas): killed {}", dead.identity);
            events.kills += 1;
            events.gone.push(dead);
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..2000))).await;
            replicas.push(next_replica(env, lease_ns, events));
        }
        1 => {
            let pid = replicas[victim].process.child.id() as libc::pid_t;
            let frozen = Duration::from_millis(rng.random_range(3500..8000));
            eprintln!(
                "chaos (replicas): froze {} for {frozen:?}",
                replicas[victim].identity
            );
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            tokio::time::sleep(frozen).await;
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGCONT) };
            events.freezes += 1;
        }
        _ if replicas.len() > REPLICAS => {
            let leaving = replicas.remove(victim);
            eprintln!("chaos (replicas): {} leaves", leaving.identity);
            leaving.process.terminate();
            events.leaves += 1;
            events.gone.push(leaving);
        }
        _ => {
            replicas.push(next_replica(env, lease_ns, events));
            eprintln!(
                "chaos (replicas): {} joins",
                replicas[replicas.len() - 1].identity
            );
            events.joins += 1;
        }
    }
}

/// Every class settled (its invariants hold), or what still fails after [`SETTLE`].
async fn settle(fixtures: &[Fixture], tallies: &[Tally]) -> (Vec<String>, f64) {
    let started = Instant::now();
    loop {
        let mut v = Vec::new();
        for (f, t) in fixtures.iter().zip(tallies) {
            v.extend(
                check(f, &t.live)
                    .await
                    .into_iter()
                    .map(|e| format!("{}: {e}", f.class)),
            );
        }
        if v.is_empty() || started.elapsed() > SETTLE {
            return (v, started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

struct FinishArgs<'a> {
    fixtures: &'a [Fixture],
    tallies: &'a mut [Tally],
    replicas: Vec<Replica>,
    events: Events,
    seed_rounds: (u64, usize),
    violations: Vec<String>,
    secs: (f64, f64),
}

/// The replicas' own violations (panics, exits, the key in a log, memory), false `Lost`s, the
/// report, and the verdict.
async fn finish(a: FinishArgs<'_>) {
    let FinishArgs {
        fixtures,
        tallies,
        mut replicas,
        mut events,
        seed_rounds: (seed, rounds),
        mut violations,
        secs: (chaos_secs, settle_secs),
    } = a;
    let live = shares(&replicas).await;
    if !violations.is_empty() {
        stacks(&replicas);
    }
    let mut panics = 0;
    // The live replicas' exits and memory, and every replica's log (those killed or gone
    // included).
    for r in &mut replicas {
        let mut own = Tally::default();
        own.observe(&mut r.process, "at the end");
        panics += process_violations(&r.process, &mut own, &mut violations);
    }
    for r in &events.gone {
        panics += process_violations(&r.process, &mut Tally::default(), &mut violations);
    }
    replicas.append(&mut events.gone);
    // (Every class's Events, read once: the list is cluster-wide.)
    violations.extend(
        lost_events(&fixtures[0])
            .await
            .into_iter()
            .map(|n| format!("a number was reported lost: {n}")),
    );
    let report = json!({
        "seed": seed,
        "rounds": rounds,
        "classes": fixtures.len(),
        "replicaKills": events.kills,
        "replicaFreezes": events.freezes,
        "replicaJoins": events.joins,
        "replicaLeaves": events.leaves,
        "claimsCreated": tallies.iter().map(|t| t.created).sum::<usize>(),
        "claimsDeleted": tallies.iter().map(|t| t.deleted).sum::<usize>(),
        "purchases": fixtures.iter().map(|f| f.sim.sim.world().purchases()).sum::<u64>(),
        "releases": fixtures.iter().map(|f| f.sim.sim.world().releases()).sum::<u64>(),
        "faultsInjected": fixtures.iter().map(|f| f.sim.sim.faults_injected().values().sum::<u64>()).sum::<u64>(),
        "panics": panics,
        "chaosSeconds": chaos_secs,
        "settleSeconds": settle_secs,
        "invariantViolations": violations.len(),
    });
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../chaos");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("replicas-last-run.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    eprintln!("chaos (replicas) report: {report}");
    let logs: Vec<String> = replicas
        .iter()
        .map(|r| r.process.log.display().to_string())
        .collect();
    assert!(
        violations.is_empty(),
        "seed {seed}: invariants violated:\n{}\nlive replicas:\n{}\nreplica logs: {logs:?}",
        violations.join("\n"),
        live.join("\n")
    );
}

/// `CHAOS_STACKS=1`: every live replica's threads, from gdb, into its log before it is stopped
/// (a replica that stopped making progress shows where).
fn stacks(replicas: &[Replica]) {
    if std::env::var("CHAOS_STACKS").as_deref() != Ok("1") {
        return;
    }
    for r in replicas {
        let out = std::process::Command::new("gdb")
            .args(["-batch", "-p", &r.process.child.id().to_string()])
            .args(["-ex", "thread apply all bt 30"])
            .output();
        if let Ok(out) = out {
            let path = r.process.log.with_extension("stacks");
            let _ = std::fs::write(&path, &out.stdout);
            eprintln!("{}: stacks in {}", r.identity, path.display());
        }
    }
}
