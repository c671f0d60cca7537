//! Chaos: for K rounds, claims (some with an assistant, moved or cleared later) are created and
//! deleted while the simulator injects latency, 5xx, 429 + Retry-After, lost purchase responses
//! and hostile answers (a purchase of another number, empty lists, malformed numbers, one number
//! under two ids, unpriced and absurd prices, endless lists, errors echoing the key, redirects),
//! the operator process is SIGKILLed at random moments and restarted, and the API server is
//! restarted once (etcd data kept). Everything random comes from one logged seed; a failing run
//! is replayed with `CHAOS_SEED=<seed>`.
//!
//! At the end (faults cleared, the system left to settle) the invariants are checked:
//! purchases − releases = numbers owned = managed PhoneNumbers holding a record id; no owned
//! number without a PhoneNumber; no claim with two numbers; every claim `Bound`, or `Pending`
//! with a reason; the class never over its `monthlyBudget` by the operator's choices; no number on
//! an assistant that no claim asked for, and every bound claim's number on its assistant; the
//! operator never panicked or exited on its own, and stayed under 100 MiB; after every kill it is
//! ready again within a bound. The figures are printed and written to
//! `target/chaos/last-run.json` (RELIABILITY.md quotes them).
//!
//! `CHAOS_ROUNDS` (default 4) sets K; `make chaos K=20` runs longer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde_json::json;
use support::OperatorProcess;
use support::operator::{Fixture, claim_condition};
use talkturo_operator::api::v1alpha1::{ClaimPhase, ManagementPolicy, NumberPhase};
use talkturo_sim::{FaultAction, FaultRule, LostMode, Op};

const BUDGET: &str = "9.00";
/// The operator must be ready again within this long after a kill (its Lease lasts 3 s).
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
const SETTLE: Duration = Duration::from_secs(150);
/// The most memory the operator may hold, whatever the answers (an endless list included).
const MAX_RSS_KIB: u64 = 100 << 10;
const ASSISTANTS: [&str; 2] = ["asst_demo_sales", "asst_demo_support"];

struct Operator {
    process: OperatorProcess,
    metrics_url: String,
}

/// The operator process; each incarnation has its own identity, as a replacement pod would, so
/// it must wait for the dead one's Lease to expire before it leads.
fn spawn(env: &support::TestEnv, ns: &str, incarnation: usize) -> Operator {
    let identity = format!("chaos-{incarnation}");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let process = OperatorProcess::spawn(
        env,
        "chaos",
        &[
            "--admin-addr",
            &addr,
            "--lease-namespace",
            ns,
            "--identity",
            &identity,
            "--lease-duration-secs",
            "3",
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
    Operator {
        process,
        metrics_url: format!("http://{addr}/metrics"),
    }
}

/// How long until the operator reconciles (`talkturo_operator_active 1`: leader, caches
/// synced). Each incarnation has a new identity, so a takeover after a SIGKILL first waits out
/// the dead holder's 3 s Lease.
async fn wait_active(op: &Operator) -> Duration {
    let started = Instant::now();
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(&op.metrics_url).send().await
            && let Ok(text) = r.text().await
            && text.lines().any(|l| l == "talkturo_operator_active 1")
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < RECOVERY_BOUND,
            "the operator did not take over within {RECOVERY_BOUND:?} of a restart; log: {}",
            op.process.log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A hostile answer and the operation it distorts.
fn hostile(rng: &mut ChaCha8Rng) -> (Op, FaultAction) {
    let anywhere = [Op::Search, Op::Purchase, Op::List][rng.random_range(0..3)];
    match rng.random_range(0..10) {
        9 => (Op::List, FaultAction::ForeignList),
        0 => (Op::Purchase, FaultAction::MismatchedPurchase),
        1 => (Op::List, FaultAction::EmptyList),
        2 => (Op::List, FaultAction::MalformedNumbers),
        3 => (Op::List, FaultAction::DuplicateIds),
        4 => (Op::Search, FaultAction::UnpricedOffers),
        5 => (Op::Search, FaultAction::AbsurdPrices),
        6 => (Op::List, FaultAction::EndlessList),
        7 => (
            anywhere,
            FaultAction::EchoAuthorization { bytes: 256 << 10 },
        ),
        _ => (
            anywhere,
            FaultAction::Redirect {
                location: "http://127.0.0.1:9/api/phone-numbers/purchase".into(),
            },
        ),
    }
}

/// A random set of fault rules for one round; returns them with a label per kind.
fn faults(rng: &mut ChaCha8Rng) -> Vec<FaultRule> {
    let ops = [Op::Search, Op::Purchase, Op::List, Op::Release];
    let mut rules = Vec::new();
    for _ in 0..rng.random_range(1..=3) {
        let op = ops[rng.random_range(0..ops.len())];
        let action = match rng.random_range(0..4) {
            0 => FaultAction::Latency {
                ms: rng.random_range(50..800),
            },
            1 => FaultAction::Status {
                status: if rng.random_bool(0.5) { 500 } else { 503 },
                retry_after_secs: None,
            },
            2 => FaultAction::Status {
                status: 429,
                retry_after_secs: Some(1),
            },
            _ => {
                let mode =
                    [LostMode::Drop, LostMode::ServerError, LostMode::Hang][rng.random_range(0..3)];
                rules.push(FaultRule {
                    op: Some(Op::Purchase),
                    action: FaultAction::LostResponse { mode },
                    probability: 0.4,
                    remaining: Some(3),
                });
                continue;
            }
        };
        rules.push(FaultRule {
            op: Some(op),
            action,
            probability: rng.random_range(0.2..0.6),
            remaining: None,
        });
    }
    // Most rounds also get one hostile answer, hitting a few calls.
    if rng.random_bool(0.75) {
        let (op, action) = hostile(rng);
        rules.push(FaultRule {
            op: Some(op),
            action,
            probability: rng.random_range(0.3..0.8),
            remaining: Some(rng.random_range(1..=4)),
        });
    }
    rules
}

/// What a chaos run did, counted as it goes.
#[derive(Default)]
struct Tally {
    live: BTreeSet<String>,
    next: usize,
    kills: usize,
    created: usize,
    deleted: usize,
    moves: usize,
    max_rss_kib: u64,
    exits: Vec<String>,
    recoveries: Vec<Duration>,
    /// Rounds whose lists were all empty, or another account's, for two sync intervals.
    long_holds: usize,
    /// PhoneNumbers marked Lost at the end whose number the account owns.
    false_lost: usize,
}

impl Tally {
    /// Notes the operator's memory, and whether it exited on its own.
    fn observe(&mut self, op: &mut Operator, when: &str) {
        self.max_rss_kib = self.max_rss_kib.max(rss_kib(op));
        if let Some(code) = exited(op) {
            self.exits
                .push(format!("{when}: the operator exited on its own ({code})"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_survive_faults_kills_and_an_api_server_restart() {
    let Some(env) = support::env() else { return };
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let rounds: usize = std::env::var("CHAOS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    eprintln!("chaos: seed {seed}, {rounds} rounds (replay: CHAOS_SEED={seed})");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let f = Fixture::new(
        env,
        "chaos",
        |c| {
            c.release_enabled = true;
            c.activation_delay_ms = 300;
        },
        json!({"reclaimPolicy": "Release", "monthlyBudget": BUDGET, "syncInterval": "5s"}),
    )
    .await;
    let mut op = spawn(env, &f.ns, 0);
    wait_active(&op).await;
    let mut tally = Tally::default();
    let run_started = Instant::now();
    for round in 0..rounds {
        long_hold(&f, round, &mut tally).await;
        chaos_round(env, &f, &mut rng, &mut tally, &mut op).await;
        if round == rounds / 2 {
            eprintln!("chaos: restarting the API server");
            env.restart_apiserver().await;
        }
        eprintln!(
            "chaos: round {round}: {} live claims, {} purchases, {} kills",
            tally.live.len(),
            f.sim.sim.world().purchases(),
            tally.kills
        );
    }
    let injected = f.sim.sim.faults_injected();
    f.sim.sim.set_faults(vec![]);
    let chaos_secs = run_started.elapsed().as_secs_f64();

    // Settle: every claim Bound or Pending with a reason, nothing being bought or reclaimed.
    let started = Instant::now();
    let mut violations = loop {
        let v = check(&f, &tally.live).await;
        if v.is_empty() || started.elapsed() > SETTLE {
            break v;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let settle_secs = started.elapsed().as_secs_f64();
    tally.observe(&mut op, "at the end");
    let panics = process_violations(&op, &mut tally, &mut violations);
    let lost = lost_events(&f).await;
    tally.false_lost = lost.len();
    violations.extend(
        lost.into_iter()
            .map(|note| format!("a number was reported lost: {note}")),
    );
    let report = report(&f, (seed, rounds), &mut tally, &injected, panics).with(
        chaos_secs,
        settle_secs,
        violations.len(),
    );
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../chaos");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("last-run.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    eprintln!("chaos report: {report}");
    assert!(
        violations.is_empty(),
        "seed {seed}: invariants violated:\n{}\noperator log: {}",
        violations.join("\n"),
        op.process.log.display()
    );
}

/// In the second round an empty list, in the third another account's list, for every list
/// call over two sync intervals (claims are created meanwhile): the class holds, and nothing
/// may be marked Lost (checked at the end: the simulator never loses a number).
async fn long_hold(f: &Fixture, round: usize, tally: &mut Tally) {
    let action = match round {
        1 => FaultAction::EmptyList,
        2 => FaultAction::ForeignList,
        _ => return,
    };
    eprintln!("chaos: every list answers {action:?} for two sync intervals");
    f.sim
        .sim
        .set_faults(vec![FaultRule::on(Op::List, action, None)]);
    let mut rng = ChaCha8Rng::seed_from_u64(round as u64);
    churn(f, &mut rng, tally).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    tally.long_holds += 1;
}

/// One round: faults for the round, claims created, deleted and moved, a pause, and maybe the
/// operator killed and started again.
async fn chaos_round(
    env: &'static support::TestEnv,
    f: &Fixture,
    rng: &mut ChaCha8Rng,
    tally: &mut Tally,
    op: &mut Operator,
) {
    let mut rules = faults(rng);
    if !f.sim.sim.faults_injected().contains_key("endless_list") {
        // Every run meets a list without end (until one was answered): memory is measured
        // against it. First, so that no other rule on lists takes its turn.
        rules.insert(
            0,
            FaultRule {
                op: Some(Op::List),
                action: FaultAction::EndlessList,
                probability: 1.0,
                remaining: Some(2),
            },
        );
    }
    f.sim.sim.set_faults(rules);
    churn(f, rng, tally).await;
    tally.observe(op, "during a round");
    tokio::time::sleep(Duration::from_millis(rng.random_range(200..2500))).await;
    tally.observe(op, "during a round");
    if rng.random_bool(0.6) {
        op.process.kill();
        tally.kills += 1;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1500))).await;
        *op = spawn(env, &f.ns, tally.kills);
        tally.recoveries.push(wait_active(op).await);
    }
}

/// Claims created, deleted, and moved to another assistant (or off theirs).
async fn churn(f: &Fixture, rng: &mut ChaCha8Rng, tally: &mut Tally) {
    for _ in 0..rng.random_range(1..=4) {
        let name = format!("c{:03}", tally.next);
        tally.next += 1;
        let mut spec = if rng.random_bool(0.2) {
            json!({"countryCode": "US", "numberType": "toll-free"})
        } else {
            let area = ["415", "212", "646"][rng.random_range(0..3)];
            json!({"countryCode": "US", "areaCode": area})
        };
        if rng.random_bool(0.3) {
            spec["assistantId"] = json!(ASSISTANTS[rng.random_range(0..2)]);
        }
        f.claim(&name, spec).await;
        tally.live.insert(name);
        tally.created += 1;
    }
    let doomed: Vec<String> = tally
        .live
        .iter()
        .filter(|_| rng.random_bool(0.25))
        .cloned()
        .collect();
    for name in doomed {
        f.claims().delete(&name, &Default::default()).await.unwrap();
        tally.live.remove(&name);
        tally.deleted += 1;
    }
    let moved: Vec<String> = tally
        .live
        .iter()
        .filter(|_| rng.random_bool(0.1))
        .cloned()
        .collect();
    for name in moved {
        let to = [Some(ASSISTANTS[0]), Some(ASSISTANTS[1]), None][rng.random_range(0..3)];
        let patch = json!({"spec": {"assistantId": to}});
        f.claims()
            .patch(&name, &Default::default(), &kube::api::Patch::Merge(&patch))
            .await
            .unwrap();
        tally.moves += 1;
    }
}

/// What the operator process itself did wrong: exits, memory, panics, the key in its log.
/// Returns the panics counted.
fn process_violations(op: &Operator, tally: &mut Tally, violations: &mut Vec<String>) -> usize {
    violations.append(&mut tally.exits);
    if tally.max_rss_kib > MAX_RSS_KIB {
        violations.push(format!(
            "the operator held {} KiB, over {MAX_RSS_KIB} KiB",
            tally.max_rss_kib
        ));
    }
    let log = std::fs::read_to_string(&op.process.log).unwrap_or_default();
    let panics = log.matches("panicked").count();
    if panics > 0 {
        violations.push(format!("{panics} panics in the operator's log"));
    }
    if log.contains("tk_demo_token") {
        violations.push("the API key appears in the operator's log".into());
    }
    panics
}

/// The report's figures, before the times and the verdict.
struct Report(serde_json::Value);

impl Report {
    fn with(mut self, chaos_secs: f64, settle_secs: f64, violations: usize) -> serde_json::Value {
        self.0["chaosSeconds"] = json!(chaos_secs);
        self.0["settleSeconds"] = json!(settle_secs);
        self.0["invariantViolations"] = json!(violations);
        self.0
    }
}

/// The run's report (`target/chaos/last-run.json`).
fn report(
    f: &Fixture,
    (seed, rounds): (u64, usize),
    tally: &mut Tally,
    injected: &BTreeMap<String, u64>,
    panics: usize,
) -> Report {
    let hostile_answers: u64 = injected
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("latency") && !k.starts_with("status_") && !k.starts_with("lost_")
        })
        .map(|(_, n)| *n)
        .sum();
    tally.recoveries.sort();
    let recoveries = &tally.recoveries;
    let ms = |d: Option<&Duration>| d.map_or(0, |d| d.as_millis() as u64);
    Report(json!({
        "seed": seed,
        "rounds": rounds,
        "claimsCreated": tally.created,
        "claimsDeleted": tally.deleted,
        "faultsInjected": injected,
        "operatorKills": tally.kills,
        "assistantMoves": tally.moves,
        "hostileAnswers": hostile_answers,
        "substitutedPurchases": f.sim.sim.world().substitutes().len(),
        "maxRssKiB": tally.max_rss_kib,
        "panics": panics,
        "apiServerRestarts": u32::from(rounds > 0),
        "purchases": f.sim.sim.world().purchases(),
        "releases": f.sim.sim.world().releases(),
        "purchaseCalls": f.sim.sim.calls(Op::Purchase),
        "recoveryMs": {"median": ms(recoveries.get(recoveries.len() / 2)), "max": ms(recoveries.last())},
        "longHolds": tally.long_holds,
        "falseLost": tally.false_lost,
    }))
}

/// The operator's resident memory, from /proc (0 when it cannot be read).
fn rss_kib(op: &Operator) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", op.process.child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The exit status, if the operator is no longer running.
fn exited(op: &mut Operator) -> Option<std::process::ExitStatus> {
    op.process.child.try_wait().ok().flatten()
}

/// The account as the simulator holds it.
struct Seen {
    owned: BTreeSet<String>,
    purchases: u64,
    releases: u64,
    prices: BTreeMap<String, Decimal>,
    /// Numbers bought in place of the one asked for.
    substitutes: BTreeSet<String>,
    /// Number → the assistant it is on.
    on_assistants: BTreeMap<String, String>,
}

/// The invariants; empty when all hold.
async fn check(f: &Fixture, live: &BTreeSet<String>) -> Vec<String> {
    let mut v = Vec::new();
    let numbers = f.class_numbers().await;
    let claims = f.claims().list(&Default::default()).await.unwrap().items;
    let seen = seen(f);
    accounting(&seen, &numbers, &mut v);
    settled_numbers(&numbers, live, &mut v);
    settled_claims(&claims, &mut v);
    assistants_and_budget(&seen, &claims, &mut v);
    for n in false_lost(&seen, &numbers) {
        v.push(format!("{n} is marked Lost, but the account owns it"));
    }
    v
}

/// PhoneNumbers marked Lost whose number the account owns (the simulator never loses one).
fn false_lost(seen: &Seen, numbers: &Numbers) -> Vec<String> {
    numbers
        .iter()
        .filter(|n| n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Lost))
        .filter(|n| seen.owned.contains(&n.spec.number))
        .map(|n| n.spec.number.clone())
        .collect()
}

/// Every `NumberLost` Event of the run: the simulator never loses a number, so each one is a
/// number falsely reported lost, even one a later list showed again.
async fn lost_events(f: &Fixture) -> Vec<String> {
    let api: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::all(f.client.clone());
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("NumberLost"))
        .map(|e| e.note.unwrap_or_default())
        .collect()
}

/// The account as the simulator holds it now.
fn seen(f: &Fixture) -> Seen {
    let w = f.sim.sim.world();
    Seen {
        owned: w.records().map(|r| r.phone_number.clone()).collect(),
        purchases: w.purchases(),
        releases: w.releases(),
        prices: w
            .records()
            .map(|r| (r.phone_number.clone(), r.monthly_price))
            .collect(),
        substitutes: w.substitutes().clone(),
        on_assistants: w
            .records()
            .filter_map(|r| Some((r.phone_number.clone(), r.assistant_id.clone()?)))
            .collect(),
    }
}

type Numbers = [talkturo_operator::api::v1alpha1::PhoneNumber];

/// Every number bought is owned once and recorded by a PhoneNumber; no PhoneNumber records a
/// number the account does not own.
fn accounting(seen: &Seen, numbers: &Numbers, v: &mut Vec<String>) {
    let Seen {
        owned,
        purchases,
        releases,
        ..
    } = seen;
    let managed: BTreeSet<String> = numbers
        .iter()
        .filter(|n| n.spec.management_policy == ManagementPolicy::Managed)
        .filter(|n| n.status.as_ref().is_some_and(|s| s.id.is_some()))
        .map(|n| n.spec.number.clone())
        .collect();
    if purchases - releases != owned.len() as u64 {
        v.push(format!(
            "purchases {purchases} - releases {releases} != {} owned numbers",
            owned.len()
        ));
    }
    // Numbers Talkturo bought in place of the ones asked for are tracked by ObserveOnly
    // PhoneNumbers (the operator never buys or releases on such an answer's word).
    let recorded: BTreeSet<String> = numbers
        .iter()
        .filter(|n| n.status.as_ref().is_some_and(|s| s.id.is_some()))
        .map(|n| n.spec.number.clone())
        .collect();
    for n in owned.difference(&recorded) {
        v.push(format!("{n} is owned but no PhoneNumber records it"));
    }
    for n in managed.difference(owned) {
        v.push(format!(
            "PhoneNumber for {n} holds a record id, but the account does not own it"
        ));
    }
}

/// Nothing still being bought or reclaimed; one PhoneNumber per live claim.
fn settled_numbers(numbers: &Numbers, live: &BTreeSet<String>, v: &mut Vec<String>) {
    for n in numbers {
        if let Some(s) = n
            .status
            .as_ref()
            .filter(|s| s.id.is_none() && n.metadata.deletion_timestamp.is_none())
            && s.phase != Some(talkturo_operator::api::v1alpha1::NumberPhase::Failed)
        {
            v.push(format!(
                "{} is still being bought ({:?})",
                n.spec.number, s.phase
            ));
        }
        if n.metadata.deletion_timestamp.is_some() {
            v.push(format!("{} is still being reclaimed", n.spec.number));
        }
    }
    let mut per_claim: BTreeMap<String, usize> = BTreeMap::new();
    for n in numbers {
        if let Some(r) = &n.spec.claim_ref {
            *per_claim.entry(r.name.clone()).or_default() += 1;
        }
    }
    for (claim, count) in &per_claim {
        if *count > 1 && live.contains(claim) {
            v.push(format!("claim {claim} has {count} PhoneNumbers"));
        }
    }
}

/// Every claim Bound, or waiting for a reason the user can act on.
fn settled_claims(
    claims: &[talkturo_operator::api::v1alpha1::PhoneNumberClaim],
    v: &mut Vec<String>,
) {
    for c in claims {
        let name = c.metadata.name.clone().unwrap();
        let phase = c.status.as_ref().and_then(|s| s.phase);
        let reason = claim_condition(c, "Ready").map(|r| r.1.to_owned());
        match (phase, reason.as_deref()) {
            (Some(ClaimPhase::Bound), _) => {}
            // Waiting for a reason the user can act on, not stuck mid-purchase.
            (
                Some(ClaimPhase::Pending),
                Some("BudgetExceeded" | "NoCandidates" | "OverPrice" | "PlanLimitReached"),
            ) => {}
            other => v.push(format!("claim {name}: {other:?}")),
        }
    }
}

/// Assistants as the bound claims ask, and the budget kept.
fn assistants_and_budget(
    seen: &Seen,
    claims: &[talkturo_operator::api::v1alpha1::PhoneNumberClaim],
    v: &mut Vec<String>,
) {
    let Seen {
        owned,
        prices,
        substitutes,
        on_assistants,
        ..
    } = seen;
    // What the operator chose to buy: numbers Talkturo bought in place of another are not its
    // choice (it tracks them, and counts them against the budget from then on).
    let spent: Decimal = owned
        .difference(substitutes)
        .filter_map(|n| prices.get(n))
        .sum();
    // Assistants: each number on one only because a live claim bound to it asks for it, and
    // each bound claim's number on the assistant it asks for.
    let wanted: BTreeMap<String, String> = claims
        .iter()
        .filter_map(|c| {
            let st = c.status.as_ref()?;
            (st.phase == Some(ClaimPhase::Bound) && c.metadata.deletion_timestamp.is_none())
                .then_some(())?;
            Some((st.number.clone()?, c.spec.assistant_id.clone()?))
        })
        .collect();
    for (number, assistant) in on_assistants {
        if wanted.get(number) != Some(assistant) {
            v.push(format!(
                "{number} is on assistant {assistant}, which no claim bound to it asks for"
            ));
        }
    }
    for (number, assistant) in &wanted {
        if on_assistants.get(number) != Some(assistant) {
            v.push(format!(
                "{number} is not on assistant {assistant} as its claim asks"
            ));
        }
    }
    if spent > Decimal::from_str(BUDGET).unwrap() {
        v.push(format!(
            "the class spends ${spent}/month, over its ${BUDGET} budget"
        ));
    }
}
