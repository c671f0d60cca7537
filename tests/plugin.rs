//! `kubectl-talkturo` against the real API server, the operator and the simulator: the binary
//! is run as a user would run it (KUBECONFIG, arguments), and its output and side effects
//! checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, start_operator};
use talkturo_operator::sim::Op;

const T: Duration = Duration::from_secs(40);

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

/// Runs the plugin; returns (success, stdout, stderr).
fn plugin(env: &TestEnv, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-talkturo"))
        .args(args)
        .env("KUBECONFIG", &env.kubeconfig)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_claim_number_and_class_with_conditions_and_events() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugstatus", |_| {}, json!({})).await;
    f.claim(
        "line",
        json!({"countryCode": "US", "assistantId": "asst_demo_sales"}),
    )
    .await;
    let c = f
        .wait_claim("line", T, |c| {
            support::operator::claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
        })
        .await;
    let s = c.status.unwrap();
    let (ok, out, err) = tokio::task::spawn_blocking({
        let ns = f.ns.clone();
        move || plugin(env, &["status", "line", "-n", &ns])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let number = s.number.unwrap();
    let pn = s.phone_number_name.unwrap();
    for want in [
        format!("PhoneNumberClaim {}/line  Bound  {number}", f.ns),
        "assistant: wanted asst_demo_sales, assigned asst_demo_sales".to_owned(),
        "Ready=True  Active".to_owned(),
        "event Normal Bound".to_owned(),
        format!("└─ PhoneNumber {pn}  Bound"),
        "event Normal Purchased".to_owned(),
        format!("└─ PhoneNumberClass {}", f.class),
        "Ready=True  AccountReachable".to_owned(),
    ] {
        assert!(out.contains(&want), "{want:?} missing from:\n{out}");
    }

    let (ok, _, err) = plugin(env, &["status", "nope", "-n", &f.ns]);
    assert!(!ok);
    assert!(
        err.contains("PhoneNumberClaim") && err.contains("not found"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_lists_candidates_in_order_and_buys_nothing() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugsearch", |_| {}, json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("claim.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: telephony.talkturo.ai/v1alpha1\nkind: PhoneNumberClaim\nmetadata:\n  name: preview\nspec:\n  className: {}\n  countryCode: US\n  areaCode: \"415\"\n",
            f.class
        ),
    )
    .unwrap();
    let before = (f.sim.sim.calls(Op::Search), f.sim.sim.calls(Op::Purchase));
    let (ok, out, err) = tokio::task::spawn_blocking({
        let file = file.clone();
        move || plugin(env, &["search", file.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("Cheapest selection"), "{out}");
    assert!(out.contains("(nothing was bought)"), "{out}");
    // Candidates come cheapest first, all in 415.
    let prices: Vec<f64> = out
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|n| n.starts_with("+1415"))
        })
        .map(|l| {
            l.split_whitespace()
                .nth(2)
                .unwrap()
                .trim_start_matches('$')
                .parse()
                .unwrap()
        })
        .collect();
    assert!(prices.len() > 1, "{out}");
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    assert_eq!(
        (f.sim.sim.calls(Op::Search), f.sim.sim.calls(Op::Purchase)),
        (before.0 + 1, before.1),
        "one search, no purchase"
    );
    assert_eq!(f.sim.sim.world().purchases(), 0);
    assert!(f.class_numbers().await.is_empty(), "no object written");

    // A claim whose caps nothing meets says so.
    std::fs::write(
        &file,
        format!(
            "apiVersion: telephony.talkturo.ai/v1alpha1\nkind: PhoneNumberClaim\nmetadata:\n  name: preview\nspec:\n  className: {}\n  countryCode: US\n  maxMonthlyPrice: \"0.01\"\n",
            f.class
        ),
    )
    .unwrap();
    let (ok, out, _) = plugin(env, &["search", file.to_str().unwrap()]);
    assert!(ok);
    assert!(out.contains("no acceptable candidate: OverPrice"), "{out}");

    let (ok, _, err) = plugin(env, &["search", "/nonexistent.yaml"]);
    assert!(!ok && err.contains("/nonexistent.yaml"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_lists_account_numbers_without_a_phone_number() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "plugorphan", |_| {}, json!({})).await;
    f.claim("line", json!({"countryCode": "US"})).await;
    let c = f.wait_bound("line", T).await;
    let managed = c.status.unwrap().number.unwrap();
    let offer = f.bought_outside("GB").await;
    let (ok, out, err) = tokio::task::spawn_blocking(move || plugin(env, &["orphans"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    let mine: Vec<&str> = out.lines().filter(|l| l.contains(&f.class)).collect();
    assert_eq!(mine.len(), 1, "{out}");
    assert!(mine[0].starts_with(&offer), "{out}");
    assert!(
        !out.contains(&managed),
        "a managed number is no orphan:\n{out}"
    );
    assert_eq!(f.sim.sim.world().purchases(), 1);
}
