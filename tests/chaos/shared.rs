//! What both chaos tests share: the faults and hostile answers of a round, the claims churned,
//! and the invariants checked at the end.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde_json::json;
use talkturo_operator::api::v1alpha1::{ClaimPhase, ManagementPolicy, NumberPhase};
use talkturo_sim::{FaultAction, FaultRule, LostMode, Op};

use crate::support::OperatorProcess;
use crate::support::operator::{Fixture, claim_condition};

pub const BUDGET: &str = "9.00";

/// The run's seed (`CHAOS_SEED`, else random) and rounds (`CHAOS_ROUNDS`, else 4), logged under
/// `label`, and the random source every choice comes from.
pub fn seeded(label: &str) -> (u64, usize, ChaCha8Rng) {
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let rounds: usize = std::env::var("CHAOS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    eprintln!("{label}: seed {seed}, {rounds} rounds (replay: CHAOS_SEED={seed})");
    (seed, rounds, ChaCha8Rng::seed_from_u64(seed))
}
/// The most memory an operator process may hold, whatever the answers (an endless list
/// included).
pub const MAX_RSS_KIB: u64 = 100 << 10;
pub const ASSISTANTS: [&str; 2] = ["asst_demo_sales", "asst_demo_support"];

/// A hostile answer and the operation it distorts.
pub fn hostile(rng: &mut ChaCha8Rng) -> (Op, FaultAction) {
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
pub fn faults(rng: &mut ChaCha8Rng) -> Vec<FaultRule> {
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
pub struct Tally {
    pub live: BTreeSet<String>,
    pub next: usize,
    pub kills: usize,
    pub created: usize,
    pub deleted: usize,
    pub moves: usize,
    pub max_rss_kib: u64,
    pub exits: Vec<String>,
    pub recoveries: Vec<Duration>,
    /// Rounds whose lists were all empty, or another account's, for two sync intervals.
    pub long_holds: usize,
    /// PhoneNumbers marked Lost at the end whose number the account owns.
    pub false_lost: usize,
}

impl Tally {
    /// Notes the operator's memory, and whether it exited on its own.
    pub fn observe(&mut self, op: &mut OperatorProcess, when: &str) {
        self.max_rss_kib = self.max_rss_kib.max(rss_kib(op));
        if let Some(code) = exited(op) {
            self.exits
                .push(format!("{when}: the operator exited on its own ({code})"));
        }
    }
}

/// Claims created, deleted, and moved to another assistant (or off theirs).
pub async fn churn(f: &Fixture, rng: &mut ChaCha8Rng, tally: &mut Tally) {
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
pub fn process_violations(
    op: &OperatorProcess,
    tally: &mut Tally,
    violations: &mut Vec<String>,
) -> usize {
    violations.append(&mut tally.exits);
    if tally.max_rss_kib > MAX_RSS_KIB {
        violations.push(format!(
            "the operator held {} KiB, over {MAX_RSS_KIB} KiB",
            tally.max_rss_kib
        ));
    }
    let log = std::fs::read_to_string(&op.log).unwrap_or_default();
    let panics = log.matches("panicked").count();
    if panics > 0 {
        violations.push(format!("{panics} panics in the operator's log"));
    }
    if log.contains("tk_demo_token") {
        violations.push("the API key appears in the operator's log".into());
    }
    panics
}

/// The operator's resident memory, from /proc (0 when it cannot be read).
pub fn rss_kib(op: &OperatorProcess) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", op.child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The exit status, if the operator is no longer running.
pub fn exited(op: &mut OperatorProcess) -> Option<std::process::ExitStatus> {
    op.child.try_wait().ok().flatten()
}

/// The account as the simulator holds it.
pub struct Seen {
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
pub async fn check(f: &Fixture, live: &BTreeSet<String>) -> Vec<String> {
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
pub fn false_lost(seen: &Seen, numbers: &Numbers) -> Vec<String> {
    numbers
        .iter()
        .filter(|n| n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Lost))
        .filter(|n| seen.owned.contains(&n.spec.number))
        .map(|n| n.spec.number.clone())
        .collect()
}

/// Every `NumberLost` Event of the run: the simulator never loses a number, so each one is a
/// number falsely reported lost, even one a later list showed again.
pub async fn lost_events(f: &Fixture) -> Vec<String> {
    let api: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::all(f.client.clone());
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("NumberLost"))
        .map(|e| {
            // Who said so, and when (a failed run's logs are searched by both).
            let when = e.event_time.map(|t| t.0.to_string()).unwrap_or_default();
            let by = e.reporting_instance.unwrap_or_default();
            format!(
                "{} (reported by {by} at {when})",
                e.note.unwrap_or_default()
            )
        })
        .collect()
}

/// The account as the simulator holds it now.
pub fn seen(f: &Fixture) -> Seen {
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
pub fn accounting(seen: &Seen, numbers: &Numbers, v: &mut Vec<String>) {
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
pub fn settled_numbers(numbers: &Numbers, live: &BTreeSet<String>, v: &mut Vec<String>) {
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
pub fn settled_claims(
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
            other => {
                // What it says, and the PhoneNumber it names (a stuck claim's logs are searched
                // by both).
                let message = claim_condition(c, "Ready").map(|r| r.2.to_owned());
                let names = c.status.as_ref().and_then(|s| s.phone_number_name.clone());
                let labels = c.metadata.labels.clone().unwrap_or_default();
                v.push(format!(
                    "claim {name}: {other:?}: {message:?} (PhoneNumber {names:?}, labels {labels:?}, generation {:?}, observed {:?})",
                    c.metadata.generation,
                    c.status.as_ref().and_then(|s| s.observed_generation)
                ));
            }
        }
    }
}

/// Assistants as the bound claims ask, and the budget kept.
pub fn assistants_and_budget(
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
