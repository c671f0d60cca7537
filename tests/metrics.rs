//! The operator's `/metrics` as a Prometheus user reads them: per-class numbers by phase, cost,
//! budget, plan use and limit, trials expiring, purchases by outcome, drift corrections, list
//! age and queue depth — with series bounded by classes, and gone with their class.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::api::DeleteParams;
use serde_json::json;
use support::operator::{Fixture, assigned_to, claim_condition};
use support::{OperatorProcess, free_port};
use talkturo_operator::api::v1alpha1::{ClaimPhase, PhoneNumberClaim};
use talkturo_sim::SimConfig;

const T: Duration = Duration::from_secs(60);
const SALES: &str = "asst_demo_sales";
const SUPPORT: &str = "asst_demo_support";

/// `/metrics` as `name{labels}` → value (comments and the EOF marker left out).
async fn scrape(port: u16) -> BTreeMap<String, f64> {
    let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else {
        return BTreeMap::new();
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Scrapes until `check` holds for the metrics (and returns them), or panics with the last ones.
async fn until(
    port: u16,
    what: &str,
    check: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let started = Instant::now();
    loop {
        let m = scrape(port).await;
        if check(&m) {
            return m;
        }
        if started.elapsed() > T {
            panic!("{what}: not seen in {T:?}; metrics:\n{m:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn get(m: &BTreeMap<String, f64>, name: &str, labels: &str) -> Option<f64> {
    m.get(&format!("talkturo_operator_{name}{{{labels}}}"))
        .copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn class_metrics_report_numbers_money_plan_trials_drift_and_the_queue() {
    let Some(env) = support::env() else { return };
    // A paid class: a plan of 2 numbers, a budget, an assistant.
    let paid = Fixture::new(
        env,
        "metrics",
        |c| c.accounts[0].teams[0].max_numbers = 2,
        json!({"monthlyBudget": "50.00"}),
    )
    .await;
    // A free team: its one number is a trial, inside the 2h warning window at once.
    let free = Fixture::new(
        env,
        "metricstrial",
        |c: &mut SimConfig| {
            c.trial_duration_secs = 3600;
            for t in c.accounts.iter_mut().flat_map(|a| a.teams.iter_mut()) {
                t.subscribed = false;
            }
        },
        json!({"trial": {"warnBefore": "2h"}}),
    )
    .await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _operator = OperatorProcess::spawn(
        env,
        "metrics",
        &[
            "--admin-addr",
            &addr,
            "--lease-namespace",
            &paid.ns,
            "--identity",
            "metrics",
        ],
    );

    paid.claim("a", json!({"countryCode": "US", "assistantId": SALES}))
        .await;
    paid.claim("b", json!({"countryCode": "US"})).await;
    free.claim("t", json!({"countryCode": "US"})).await;
    let a = paid.wait_bound("a", T).await;
    paid.wait_bound("b", T).await;
    free.wait_bound("t", T).await;
    paid.claim("c", json!({"countryCode": "US"})).await;
    paid.wait_claim("c", T, |c| {
        claim_condition(c, "Ready").is_some_and(|r| r.1 == "PlanLimitReached")
    })
    .await;

    paid_class_figures(&paid, port).await;
    let c = format!("class=\"{}\"", paid.class);
    let t = format!("class=\"{}\"", free.class);
    let m = until(port, "the trial in its window", |m| {
        get(m, "trial_numbers_expiring", &t) == Some(1.0)
    })
    .await;
    assert_eq!(get(&m, "monthly_budget_dollars", &t), None, "no budget");

    queues_drain_and_no_label_names_a_number(port).await;
    drift_corrected_and_a_deleted_class_forgotten(&paid, port, a, &c).await;
}

/// An assignment moved outside the operator is moved back and counted; a deleted class takes its series with it.
async fn drift_corrected_and_a_deleted_class_forgotten(
    paid: &Fixture,
    port: u16,
    a: PhoneNumberClaim,
    c: &str,
) {
    // An assignment moved outside the operator is moved back, and counted. (Only an active
    // number can be assigned: wait for the operator's own assignment first.)
    paid.wait_claim("a", T, assigned_to(Some(SALES))).await;
    let id = a.status.unwrap().number_id.unwrap();
    {
        let mut world = paid.sim.sim.world();
        world.set_assistant_numbers("demo", SALES, &[]).unwrap();
        world
            .assign("demo", SUPPORT, "demo", std::slice::from_ref(&id))
            .unwrap();
    }
    until(port, "the drift correction", |m| {
        get(m, "assistant_drift_corrections_total", c) == Some(1.0)
    })
    .await;
    paid.wait_claim("a", T, |c| {
        c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound)
            && c.status.as_ref().and_then(|s| s.assistant_id.as_deref()) == Some(SALES)
    })
    .await;

    // A deleted class takes its series with it.
    paid.classes()
        .delete(&paid.class, &DeleteParams::default())
        .await
        .unwrap();
    until(port, "the deleted class's series gone", |m| {
        !m.keys().any(|k| k.contains(c))
    })
    .await;
}

/// Every controller's queue drains once nothing changes, and no label names a number.
async fn queues_drain_and_no_label_names_a_number(port: u16) {
    // Every controller's queue drains once nothing changes.
    let m = until(port, "empty queues", |m| {
        ["phonenumberclass", "phonenumberclaim", "phonenumber"]
            .iter()
            .all(|k| get(m, "queue_depth", &format!("controller=\"{k}\"")) == Some(0.0))
    })
    .await;
    assert!(
        m.keys()
            .any(|k| k.starts_with("talkturo_operator_reconciles_total{")),
        "reconcile outcomes (errors included) are counted"
    );

    // Series are per class: no label names a number, a PhoneNumber or a claim.
    for series in m.keys().filter(|k| k.starts_with("talkturo_operator_")) {
        for leak in ["+1", "tel-", "\"a\"", "\"b\"", "\"c\"", "\"t\""] {
            assert!(!series.contains(leak), "{series} carries {leak}");
        }
    }
}

/// The paid class's figures: numbers, money, the plan limit, purchases, the list's age.
async fn paid_class_figures(paid: &Fixture, port: u16) {
    let cost: f64 = paid
        .class_numbers()
        .await
        .iter()
        .filter_map(|n| n.status.as_ref().filter(|s| s.id.is_some()))
        .map(|s| s.monthly_price.as_deref().unwrap().parse::<f64>().unwrap())
        .sum();
    let c = format!("class=\"{}\"", paid.class);
    let m = until(port, "the paid class's figures", |m| {
        get(m, "plan_limit_reached", &c) == Some(1.0)
            && get(m, "phone_numbers", &format!("{c},phase=\"Bound\"")) == Some(2.0)
    })
    .await;
    assert_eq!(get(&m, "class_ready", &c), Some(1.0));
    assert_eq!(get(&m, "plan_numbers", &c), Some(2.0));
    let money = get(&m, "monthly_cost_dollars", &c).unwrap();
    assert!((money - cost).abs() < 1e-9, "{money} != {cost}");
    assert_eq!(get(&m, "unpriced_numbers", &c), Some(0.0));
    assert_eq!(get(&m, "monthly_budget_dollars", &c), Some(50.0));
    assert_eq!(
        get(&m, "purchases_total", &format!("{c},outcome=\"bought\"")),
        Some(2.0)
    );
    assert!(
        get(
            &m,
            "purchases_total",
            &format!("{c},outcome=\"plan_limit\"")
        ) >= Some(1.0)
    );
    assert_eq!(get(&m, "purchase_outcome_unknown", &c), Some(0.0));
    assert_eq!(get(&m, "trial_numbers_expiring", &c), Some(0.0));
    assert_eq!(get(&m, "assistant_drift_corrections_total", &c), Some(0.0));
    let listed = get(&m, "account_last_list_timestamp_seconds", &c).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (0.0..30.0).contains(&(now - listed)),
        "list age {}s at a 5s sync",
        now - listed
    );
}
