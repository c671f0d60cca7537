//! When the account suddenly looks different, the operator holds and asks a human: a list that
//! lacks many numbers at once, or a class re-pointed at another account, marks nothing `Lost`,
//! buys, releases or un-counts nothing, until the absence lasts `spec.lostConfirmation` or an
//! admin confirms it with the class annotation `telephony.talkturo.ai/confirm-lost`. A single
//! missing number is still `Lost` within one interval. Only Secrets marked as API keys are sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, claim_condition, condition, start_operator};
use talkturo_operator::api::v1alpha1::{
    ClaimPhase, NumberPhase, PhoneNumber, PhoneNumberClaim, PhoneNumberClass,
};
use talkturo_operator::talkturo::{Client, ClientConfig, SearchFilters};
use talkturo_sim::{FaultAction, FaultRule, Op, SimConfig, SimServer};

const T: Duration = Duration::from_secs(60);
/// The fixtures' sync interval.
const SYNC: Duration = Duration::from_secs(5);
const CONFIRM: &str = "telephony.talkturo.ai/confirm-lost";

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

fn ready(c: &PhoneNumberClaim) -> bool {
    claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
}

fn class_ready(c: &PhoneNumberClass) -> Option<(&str, &str, &str)> {
    condition(
        c.status.as_ref().map_or(&[][..], |s| &s.conditions),
        "Ready",
    )
}

fn number_condition<'a>(pn: &'a PhoneNumber, type_: &str) -> Option<(&'a str, &'a str, &'a str)> {
    condition(pn.status.as_ref().map_or(&[][..], |s| &s.conditions), type_)
}

fn phase(pn: &PhoneNumber) -> Option<NumberPhase> {
    pn.status.as_ref().and_then(|s| s.phase)
}

/// Bound and Ready claims `names`; their PhoneNumbers' names.
async fn bound_claims(f: &Fixture, names: &[&str]) -> Vec<String> {
    for c in names {
        f.claim(c, json!({"countryCode": "US", "areaCode": "415"}))
            .await;
    }
    let mut numbers = Vec::new();
    for c in names {
        let claim = f.wait_claim(c, T, ready).await;
        numbers.push(claim.status.unwrap().phone_number_name.unwrap());
    }
    numbers
}

/// Waits for the class's Ready to say `reason`; the class.
async fn class_says(f: &Fixture, reason: &str) -> PhoneNumberClass {
    f.wait_class(T, |c| class_ready(c).is_some_and(|r| r.1 == reason))
        .await
}

/// The class's Warning Events with `reason`.
async fn class_warnings(f: &Fixture, reason: &str) -> usize {
    f.events("PhoneNumberClass", &f.class)
        .await
        .iter()
        .filter(|(type_, r, _)| type_ == "Warning" && r == reason)
        .count()
}

/// Every number still held as it was (Bound, not Lost; `Synced=False` for `reason`), every
/// claim Bound, nothing bought or released, `monthlyCost` as it was, and no `NumberLost` Event.
async fn nothing_changed(f: &Fixture, numbers: &[String], reason: &str, cost: &str) {
    for name in numbers {
        let pn = f.numbers().get(name).await.unwrap();
        assert_eq!(
            phase(&pn),
            Some(NumberPhase::Bound),
            "{name} must not be Lost"
        );
        let synced = number_condition(&pn, "Synced").unwrap();
        assert_eq!(
            (synced.0, synced.1),
            ("False", reason),
            "{name}: {}",
            synced.2
        );
        let lost = f.event_reasons("PhoneNumber", name).await;
        assert!(!lost.iter().any(|r| r == "NumberLost"), "{name}: {lost:?}");
    }
    for c in f.claims().list(&Default::default()).await.unwrap() {
        assert_eq!(c.status.unwrap().phase, Some(ClaimPhase::Bound));
    }
    let class = f.classes().get(&f.class).await.unwrap();
    let totals = class.status.unwrap().totals.unwrap();
    assert_eq!(
        totals.monthly_cost, cost,
        "monthlyCost keeps the held numbers"
    );
    let world = f.sim.sim.world();
    assert_eq!(world.releases(), 0);
    assert_eq!(
        world.purchases(),
        numbers.len() as u64,
        "nothing bought again"
    );
}

async fn annotate_class(f: &Fixture, key: &str, value: &str) {
    f.classes()
        .patch(
            &f.class,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {key: value}}})),
        )
        .await
        .unwrap();
}

async fn wait_lost(f: &Fixture, numbers: &[String]) {
    for name in numbers {
        f.wait_number(name, T, |n| phase(n) == Some(NumberPhase::Lost))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_list_for_three_intervals_holds_everything_until_an_admin_confirms() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "hold-empty", |_| {}, json!({})).await;
    let numbers = bound_claims(&f, &["a", "b", "c"]).await;
    let cost = f.monthly_cost(3).await;
    f.sim
        .sim
        .set_faults(vec![FaultRule::on(Op::List, FaultAction::EmptyList, None)]);
    let class = class_says(&f, "SuspectList").await;
    let (_, _, message) = class_ready(&class).unwrap();
    assert!(message.contains("lacks 3 numbers"), "{message}");
    assert!(message.contains(CONFIRM), "{message}");
    // Three sync intervals of empty lists: nothing changes.
    tokio::time::sleep(SYNC * 3 + Duration::from_secs(2)).await;
    nothing_changed(&f, &numbers, "SuspectList", &cost).await;
    assert_eq!(
        class_warnings(&f, "SuspectList").await,
        1,
        "one Warning, not one per number"
    );
    // A confirmation that names another hold confirms nothing.
    annotate_class(&f, CONFIRM, "2020-01-01T00:00:00Z").await;
    tokio::time::sleep(SYNC + Duration::from_secs(1)).await;
    nothing_changed(&f, &numbers, "SuspectList", &cost).await;
    // The one the status names does: the numbers are Lost, still counted.
    let hold = f
        .classes()
        .get(&f.class)
        .await
        .unwrap()
        .status
        .unwrap()
        .hold
        .unwrap();
    annotate_class(&f, CONFIRM, &hold.confirm_with).await;
    wait_lost(&f, &numbers).await;
    class_says(&f, "AccountReachable").await;
    let class = f
        .wait_class(T, |c| {
            c.status
                .as_ref()
                .and_then(|s| s.totals.as_ref())
                .is_some_and(|t| t.lost == 3)
        })
        .await;
    let totals = class.status.unwrap().totals.unwrap();
    assert_eq!((totals.numbers, totals.lost), (0, 3));
    assert_eq!(
        totals.monthly_cost, cost,
        "Lost numbers stay in monthlyCost"
    );
    assert_eq!(f.sim.sim.world().purchases(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_confirms_a_held_absence_and_a_single_missing_number_is_lost_at_once() {
    let Some(env) = env() else { return };
    // The shortest window there is: three sync intervals.
    let spec = json!({"lostConfirmation": "1s"});
    let f = Fixture::new(env, "hold-window", |_| {}, spec).await;
    let numbers = bound_claims(&f, &["a", "b", "c", "d"]).await;
    // One number gone from the account: Lost within about one interval, the class Ready.
    let gone = f.numbers().get(&numbers[0]).await.unwrap().spec.number;
    let vanished = Instant::now();
    f.sim.sim.world().vanish(&gone).unwrap();
    wait_lost(&f, &numbers[..1]).await;
    let took = vanished.elapsed();
    assert!(
        took < SYNC * 2 + Duration::from_secs(2),
        "Lost after {took:?}"
    );
    let class = f.classes().get(&f.class).await.unwrap();
    assert_eq!(class_ready(&class).unwrap().0, "True");
    // Then the list is empty: held for three intervals, then Lost by time.
    f.sim
        .sim
        .set_faults(vec![FaultRule::on(Op::List, FaultAction::EmptyList, None)]);
    let held = Instant::now();
    let class = class_says(&f, "SuspectList").await;
    assert_eq!(class.status.unwrap().hold.unwrap().missing, 3);
    wait_lost(&f, &numbers[1..]).await;
    let took = held.elapsed();
    assert!(took >= SYNC * 3 - SYNC, "confirmed after only {took:?}");
    let world = f.sim.sim.world();
    assert_eq!((world.purchases(), world.releases()), (4, 0));
}

/// A second account on a simulator of its own, holding one number of its own.
async fn other_account() -> SimServer {
    let other = SimServer::start(SimConfig {
        seed: 99,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = Client::new(ClientConfig::new(
        other.base_url(),
        secrecy::SecretString::from("tk_demo_token"),
    ))
    .unwrap();
    let filters = SearchFilters {
        country_code: "US".into(),
        ..SearchFilters::default()
    };
    let offer = client.search(&filters).await.unwrap().numbers.remove(0);
    let now = other.sim.world().now();
    other
        .sim
        .world()
        .import("team_demo", &offer.phone_number, None, now)
        .unwrap();
    other
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_re_pointed_at_another_account_holds_and_re_pointed_back_settles_quietly() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "hold-repoint", |_| {}, json!({})).await;
    let numbers = bound_claims(&f, &["a", "b"]).await;
    let cost = f.monthly_cost(2).await;
    let other = other_account().await;
    f.patch_class(json!({"apiBaseUrl": other.base_url()})).await;
    let class = class_says(&f, "AccountChanged").await;
    let (_, _, message) = class_ready(&class).unwrap();
    let (old, new) = (f.sim.base_url(), other.base_url());
    let changed = format!(
        "apiBaseUrl changed from {} to {}",
        old.trim_end_matches('/'),
        new.trim_end_matches('/')
    );
    assert!(message.contains(&changed), "{message}");
    tokio::time::sleep(SYNC * 3).await;
    nothing_changed(&f, &numbers, "AccountChanged", &cost).await;
    let there = {
        let w = other.sim.world();
        (w.purchases(), w.releases())
    };
    assert_eq!(
        there,
        (0, 0),
        "nothing bought or released in the other account"
    );
    // Back to the account the numbers are in: Ready again, and then quiet.
    f.patch_class(json!({"apiBaseUrl": f.sim.base_url()})).await;
    class_says(&f, "AccountReachable").await;
    for name in &numbers {
        f.wait_number(name, T, |n| {
            number_condition(n, "Synced").is_some_and(|s| s.0 == "True")
        })
        .await;
    }
    let versions = resource_versions(&f, &numbers).await;
    tokio::time::sleep(SYNC * 3).await;
    assert_eq!(
        resource_versions(&f, &numbers).await,
        versions,
        "no status churn"
    );
    assert_eq!(class_warnings(&f, "AccountChanged").await, 1, "one Warning");
    nothing_lost(&f, &numbers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_account_change_marks_the_numbers_lost_and_records_the_new_account() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "hold-confirm", |_| {}, json!({})).await;
    let numbers = bound_claims(&f, &["a", "b"]).await;
    let cost = f.monthly_cost(2).await;
    let before = f.classes().get(&f.class).await.unwrap();
    let old = before.status.unwrap().account_identity.unwrap();
    let other = other_account().await;
    f.patch_class(json!({"apiBaseUrl": other.base_url()})).await;
    let class = class_says(&f, "AccountChanged").await;
    let status = class.status.unwrap();
    assert_eq!(
        status.account_identity.as_ref(),
        Some(&old),
        "kept while held"
    );
    annotate_class(&f, CONFIRM, &status.hold.unwrap().confirm_with).await;
    wait_lost(&f, &numbers).await;
    let class = f
        .wait_class(T, |c| {
            c.status
                .as_ref()
                .is_some_and(|s| s.hold.is_none() && s.totals.as_ref().is_some_and(|t| t.lost == 2))
        })
        .await;
    let status = class.status.unwrap();
    let recorded = status.account_identity.unwrap();
    assert_eq!(
        recorded.api_base_url,
        other.base_url().trim_end_matches('/')
    );
    assert_eq!(recorded.key_fingerprint, old.key_fingerprint, "same key");
    assert_eq!(
        status.totals.unwrap().monthly_cost,
        cost,
        "Lost numbers still counted"
    );
    let world = f.sim.sim.world();
    assert_eq!((world.purchases(), world.releases()), (2, 0));
}

async fn nothing_lost(f: &Fixture, numbers: &[String]) {
    for name in numbers {
        let pn = f.numbers().get(name).await.unwrap();
        assert_eq!(phase(&pn), Some(NumberPhase::Bound));
        assert!(
            !f.event_reasons("PhoneNumber", name)
                .await
                .iter()
                .any(|r| r == "NumberLost")
        );
    }
    let world = f.sim.sim.world();
    assert_eq!(
        (world.purchases(), world.releases()),
        (numbers.len() as u64, 0)
    );
}

/// The resourceVersions of the class, the numbers and the claims.
async fn resource_versions(f: &Fixture, numbers: &[String]) -> Vec<String> {
    let mut out = vec![
        f.classes()
            .get(&f.class)
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap(),
    ];
    for name in numbers {
        out.push(
            f.numbers()
                .get(name)
                .await
                .unwrap()
                .metadata
                .resource_version
                .unwrap(),
        );
    }
    for c in f.claims().list(&Default::default()).await.unwrap() {
        out.push(c.metadata.resource_version.unwrap());
    }
    out
}

/// A TCP server that counts the connections made to it and answers none of them.
async fn capture_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_naming_an_unlabelled_secret_sends_nothing_and_says_why() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "hold-secret", |_| {}, json!({})).await;
    let (url, requests) = capture_server().await;
    let secrets: Api<Secret> = Api::namespaced(f.client.clone(), &f.ns);
    let plain: Secret = serde_json::from_value(json!({"metadata": {"name": "db-password"},
        "stringData": {"password": "hunter2-database"}}))
    .unwrap();
    secrets
        .create(&PostParams::default(), &plain)
        .await
        .unwrap();
    f.patch_class(json!({
        "apiBaseUrl": url,
        "apiKeySecretRef": {"namespace": f.ns, "name": "db-password", "key": "password"},
    }))
    .await;
    let class = class_says(&f, "SecretNotMarked").await;
    let (_, _, message) = class_ready(&class).unwrap();
    assert!(
        message.contains("telephony.talkturo.ai/api-key"),
        "{message}"
    );
    tokio::time::sleep(SYNC * 2).await;
    assert_eq!(
        requests.load(Ordering::SeqCst),
        0,
        "nothing sent to the class's URL"
    );
    let warned = f.events("PhoneNumberClass", &f.class).await;
    assert!(
        warned
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "SecretNotMarked"),
        "{warned:?}"
    );
    // Marked, it is used (which shows the count above could have moved).
    secrets
        .patch(
            "db-password",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"labels": {"telephony.talkturo.ai/api-key": "true"}}}),
            ),
        )
        .await
        .unwrap();
    let started = Instant::now();
    while requests.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < T, "a marked Secret is used");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_port_says_the_server_does_not_speak_tls() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "hold-tls", |_| {}, json!({})).await;
    let https = f.sim.base_url().replacen("http://", "https://", 1);
    f.patch_class(json!({"apiBaseUrl": https})).await;
    let class = class_says(&f, "Unreachable").await;
    let (_, _, message) = class_ready(&class).unwrap();
    assert!(message.contains("does not speak TLS"), "{message}");
}
