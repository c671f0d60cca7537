//! Provisioning end to end: the operator (in-process) against the real kube-apiserver and the
//! Talkturo simulator. Each test has its own namespace, simulator and class.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use secrecy::SecretString;
use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, claim_condition, condition, start_operator};
use talkturo_operator::api::v1alpha1::{ClaimPhase, NumberPhase, PhoneNumber, PhoneNumberClaim};
use talkturo_operator::talkturo::{Client, ClientConfig, SearchFilters};
use talkturo_sim::inventory::{Inventory, Kind};
use talkturo_sim::{FaultAction, FaultRule, LostMode, Op};

const T: Duration = Duration::from_secs(40);

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

fn ready(c: &PhoneNumberClaim) -> bool {
    claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
}

fn pending_with(reason: &'static str) -> impl Fn(&PhoneNumberClaim) -> bool {
    move |c| {
        c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Pending)
            && claim_condition(c, "Ready").is_some_and(|r| r.1 == reason)
    }
}

fn sim_client(f: &Fixture) -> Client {
    Client::new(ClientConfig::new(
        f.sim.base_url(),
        SecretString::from("tk_demo_token"),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_with_criteria_becomes_bound_and_ready_with_the_cheapest_number_mirrored() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "criteria", |_| {}, json!({"maxSetupPrice": "1.00"})).await;
    f.claim(
        "line",
        json!({"countryCode": "US", "areaCode": "415", "maxMonthlyPrice": "2.00"}),
    )
    .await;
    let claim = f.wait_claim("line", T, ready).await;
    let st = claim.status.clone().unwrap();
    assert_eq!(st.phase, Some(ClaimPhase::Bound));
    assert_eq!(claim_condition(&claim, "Bound").map(|c| c.0), Some("True"));
    assert_eq!(st.class_name.as_deref(), Some(f.class.as_str()));
    // Created moments after its class: no Warning on the happy path (the class was one
    // reconcile away, not "not ready").
    let mut events = f.events("PhoneNumberClaim", "line").await;
    events.extend(
        f.events("PhoneNumber", st.phone_number_name.as_deref().unwrap())
            .await,
    );
    let warned: Vec<_> = events.iter().filter(|(t, ..)| t == "Warning").collect();
    assert!(warned.is_empty(), "{warned:?}");

    let pn = f
        .numbers()
        .get(st.phone_number_name.as_deref().unwrap())
        .await
        .unwrap();
    let ps = pn.status.clone().unwrap();
    assert_eq!(ps.provider_status.as_deref(), Some("active"));
    assert_eq!(ps.phase, Some(NumberPhase::Bound));
    assert!(ps.id.as_deref().is_some_and(|i| i.starts_with("pn_")) && ps.provider_id.is_some());
    assert!(ps.monthly_price.is_some() && ps.setup_price.is_some());
    assert_eq!(
        pn.spec.claim_ref.as_ref().map(|r| r.name.as_str()),
        Some("line")
    );
    // `kubectl get phonenumber` names the claim with its namespace.
    assert_eq!(ps.claim.as_deref(), Some(format!("{}/line", f.ns).as_str()));
    let out = env.kubectl(&["get", "phonenumber", &pn.name_any()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    let at = header.iter().position(|h| *h == "CLAIM").unwrap();
    assert_eq!(row[at], format!("{}/line", f.ns), "{text}");

    // The claim mirrors its number.
    assert_eq!(st.number.as_deref(), Some(pn.spec.number.as_str()));
    assert_eq!(
        (
            st.number_id,
            st.provider_id,
            st.monthly_price.clone(),
            st.setup_price
        ),
        (
            ps.id.clone(),
            ps.provider_id,
            ps.monthly_price,
            ps.setup_price
        )
    );

    the_cheapest_within_both_caps(&f, &pn.spec.number, st.monthly_price.as_deref()).await;
}

/// Cheapest within both caps (claim $2/month, class $1 setup), ties broken by the number; bought once.
async fn the_cheapest_within_both_caps(f: &Fixture, number: &str, monthly: Option<&str>) {
    // Cheapest within both caps (claim $2/month, class $1 setup), ties broken by the number.
    let seed = f.sim.sim.world().config().seed;
    let offers = Inventory::new(seed, 40).search("US", Some("415"), Kind::Local);
    let cheapest = offers[..20]
        .iter()
        .filter(|o| {
            o.monthly_price <= "2.00".parse().unwrap() && o.setup_price <= "1.00".parse().unwrap()
        })
        .min_by(|a, b| {
            (a.monthly_price, a.setup_price, &a.phone_number).cmp(&(
                b.monthly_price,
                b.setup_price,
                &b.phone_number,
            ))
        })
        .unwrap();
    assert_eq!(number, cheapest.phone_number);
    assert_eq!(monthly, Some(cheapest.monthly_price.to_string().as_str()));
    assert_eq!(f.sim.sim.world().purchases(), 1);
    assert_eq!(f.sim.sim.calls(Op::Purchase), 1);
    assert!(
        f.event_reasons("PhoneNumberClaim", "line")
            .await
            .contains(&"Bound".to_owned())
    );
    assert!(
        f.event_reasons(
            "PhoneNumber",
            &talkturo_operator::api::v1alpha1::phone_number_name(number)
        )
        .await
        .contains(&"Purchased".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_claims_at_once_get_fifty_distinct_numbers_and_exactly_fifty_purchases() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "fifty", |_| {}, json!({})).await;
    let names: Vec<String> = (0..50).map(|i| format!("c{i:02}")).collect();
    futures::future::join_all(
        names
            .iter()
            .map(|n| f.claim(n, json!({"countryCode": "US"}))),
    )
    .await;
    let mut numbers = BTreeSet::new();
    for n in &names {
        let c = f
            .wait_claim(n, Duration::from_secs(90), |c| {
                c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound)
            })
            .await;
        numbers.insert(c.status.unwrap().number.unwrap());
    }
    assert_eq!(numbers.len(), 50, "distinct numbers");
    assert_eq!(f.sim.sim.world().purchases(), 50);
    assert_eq!(
        f.sim.sim.calls(Op::Purchase),
        50,
        "no purchase call was repeated"
    );
    assert_eq!(
        f.class_numbers().await.len(),
        50,
        "one PhoneNumber per number, none left over"
    );
}

/// A class named with more than 63 characters (a label value's most) gets its numbers: their
/// class label is the name cut and ended by a digest (it used to be the whole name, which the API
/// server refused, so no PhoneNumber could be created).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_with_a_long_name_gets_its_numbers() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "longname", |_| {}, json!({})).await;
    let classes = f.classes();
    let mut long = classes.get(&f.class).await.unwrap();
    let name = format!("{}.{}", f.class, "numbers.team-a.example.com".repeat(3));
    assert!(name.len() > 63);
    long.metadata = serde_json::from_value(json!({"name": name})).unwrap();
    long.status = None;
    classes
        .create(&kube::api::PostParams::default(), &long)
        .await
        .unwrap();
    f.claim("long", json!({"countryCode": "US", "className": name}))
        .await;
    let c = f.wait_bound("long", T).await;
    let pn = f
        .numbers()
        .get(&c.status.unwrap().phone_number_name.unwrap())
        .await
        .unwrap();
    let label = pn.labels().get("telephony.talkturo.ai/class").cloned();
    assert_eq!(
        label,
        talkturo_operator::controller::decide::selection::label_value(&name),
        "the PhoneNumber's class label"
    );
    assert_eq!(f.sim.sim.world().purchases(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_and_static_claims_bind_and_a_contested_exact_number_goes_to_one_claim() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "exact", |_| {}, json!({})).await;
    let offers = sim_client(&f)
        .search(&SearchFilters {
            country_code: "US".into(),
            area_code: Some("212".into()),
            number_type: None,
            limit: Some(5),
        })
        .await
        .unwrap()
        .numbers;

    // An exact number: bought exactly.
    let exact = offers[3].phone_number.clone();
    f.claim("exact", json!({"number": exact, "countryCode": "US"}))
        .await;
    let c = f.wait_claim("exact", T, ready).await;
    assert_eq!(c.status.unwrap().number.as_deref(), Some(exact.as_str()));

    // Static binding: a number bought in the dashboard, described by an admin's PhoneNumber.
    let dashboard = offers[4].phone_number.clone();
    f.sim
        .sim
        .world()
        .import("team_demo", &dashboard, None, jiff::Timestamp::now())
        .unwrap();
    let name = f.create_number(&dashboard).await;
    f.wait_number(&name, T, |n| {
        n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Available)
    })
    .await;
    // Bought after the account's last list: the purchase answers 409 (the team owns it) and the
    // number is adopted from the next list, not bought again.
    let reasons = f.event_reasons("PhoneNumber", &name).await;
    assert!(
        reasons.contains(&"Adopted".to_owned()) && !reasons.contains(&"Purchased".to_owned()),
        "{reasons:?}"
    );
    f.claim("static", json!({"phoneNumberName": name})).await;
    let c = f.wait_claim("static", T, ready).await;
    assert_eq!(
        c.status.unwrap().number.as_deref(),
        Some(dashboard.as_str())
    );

    // Two claims for the same exact number: one wins, the other waits with a reason.
    let contested = offers[0].phone_number.clone();
    f.claim("first", json!({"number": contested})).await;
    f.claim("second", json!({"number": contested})).await;
    let pn = f
        .wait_number(
            &talkturo_operator::api::v1alpha1::phone_number_name(&contested),
            T,
            |n| n.status.as_ref().is_some_and(|s| s.id.is_some()),
        )
        .await;
    let won = pn.spec.claim_ref.unwrap().name;
    let lost = if won == "first" { "second" } else { "first" };
    f.wait_claim(&won, T, ready).await;
    let loser = f.wait_claim(lost, T, pending_with("NumberTaken")).await;
    assert!(
        claim_condition(&loser, "Ready").unwrap().2.contains(&won),
        "{:?}",
        claim_condition(&loser, "Ready")
    );
    assert_eq!(
        f.sim.sim.world().purchases(),
        2,
        "the exact number and the contested one; the dashboard number was adopted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_candidate_or_every_candidate_over_the_cap_leaves_the_claim_pending_without_buying() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "nocand", |_| {}, json!({"maxMonthlyPrice": "5.00"})).await;
    f.claim("nowhere", json!({"countryCode": "ZZ"})).await;
    f.claim(
        "cheap",
        json!({"countryCode": "US", "areaCode": "415", "maxMonthlyPrice": "0.10"}),
    )
    .await;
    f.claim(
        "fax",
        json!({"countryCode": "GB", "features": ["voice", "fax"]}),
    )
    .await;
    let c = f
        .wait_claim("nowhere", T, pending_with("NoCandidates"))
        .await;
    assert!(
        claim_condition(&c, "Ready")
            .unwrap()
            .2
            .contains("no number matching"),
        "{:?}",
        claim_condition(&c, "Ready")
    );
    let c = f.wait_claim("cheap", T, pending_with("OverPrice")).await;
    assert!(
        claim_condition(&c, "Ready").unwrap().2.contains("$0.10"),
        "{:?}",
        claim_condition(&c, "Ready")
    );
    f.wait_claim("fax", T, pending_with("NoCandidates")).await;
    assert!(
        f.event_reasons("PhoneNumberClaim", "cheap")
            .await
            .contains(&"OverPrice".to_owned())
    );
    assert_eq!(f.sim.sim.calls(Op::Purchase), 0);
    assert!(f.class_numbers().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_limit_stops_purchases_on_class_and_claims() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "limit",
        |c| c.accounts[0].teams[0].max_numbers = 2,
        json!({}),
    )
    .await;
    for i in 0..4 {
        f.claim(&format!("c{i}"), json!({"countryCode": "US"}))
            .await;
    }
    f.wait_class(T, |c| {
        condition(
            c.status.as_ref().map_or(&[][..], |s| &s.conditions),
            "PlanLimitReached",
        )
        .is_some_and(|r| r.0 == "True")
    })
    .await;
    let mut bound = 0;
    for i in 0..4 {
        let c = f
            .wait_claim(&format!("c{i}"), T, |c| {
                ready(c) || pending_with("PlanLimitReached")(c)
            })
            .await;
        bound += usize::from(ready(&c));
    }
    assert_eq!(bound, 2);
    let attempts = f.sim.sim.calls(Op::Purchase);
    // No purchase is attempted again: watch through several sync intervals.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        f.sim.sim.calls(Op::Purchase),
        attempts,
        "purchases were attempted after the plan limit"
    );
    assert!(attempts <= 4, "{attempts} purchase calls for 2 numbers");
    assert_eq!(f.sim.sim.world().purchases(), 2);
    // The waiting claims said PlanLimitReached throughout (no "retrying in 3s" in between).
    for i in 0..4 {
        let c = f.claims().get(&format!("c{i}")).await.unwrap();
        if !ready(&c) {
            assert!(pending_with("PlanLimitReached")(&c), "c{i}");
            let said = f.event_reasons("PhoneNumberClaim", &format!("c{i}")).await;
            assert!(
                !said.contains(&"PurchaseFailed".to_owned()),
                "c{i}: {said:?}"
            );
        }
        // No Warning that is not true: the only one a claim may carry is the plan limit.
        let warned: Vec<_> = f
            .events("PhoneNumberClaim", &format!("c{i}"))
            .await
            .into_iter()
            .filter(|(t, r, _)| t == "Warning" && r != "PlanLimitReached")
            .collect();
        assert!(warned.is_empty(), "c{i}: {warned:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_response_and_a_timeout_on_purchase_are_adopted_from_the_list_with_one_purchase_each()
 {
    let Some(env) = env() else { return };
    for (i, mode) in [LostMode::Drop, LostMode::Hang].into_iter().enumerate() {
        let f = Fixture::new(env, &format!("lost{i}"), |_| {}, json!({})).await;
        f.sim.sim.set_faults(vec![FaultRule::on(
            Op::Purchase,
            FaultAction::LostResponse { mode },
            Some(1),
        )]);
        f.claim("line", json!({"countryCode": "US"})).await;
        let c = f.wait_claim("line", T, ready).await;
        assert_eq!(f.sim.sim.world().purchases(), 1, "{mode:?}");
        assert_eq!(
            f.sim.sim.calls(Op::Purchase),
            1,
            "{mode:?}: settled from the list, not bought again"
        );
        let pn = c.status.unwrap().phone_number_name.unwrap();
        let reasons = f.event_reasons("PhoneNumber", &pn).await;
        // Settled within seconds: a Normal note, not the Warning kept for outcomes still
        // unsettled after --outcome-alert-secs.
        assert!(
            reasons.contains(&"PurchaseUnsettled".to_owned())
                && reasons.contains(&"Adopted".to_owned())
                && !reasons.contains(&"PurchaseOutcomeUnknown".to_owned()),
            "{mode:?}: {reasons:?}"
        );
        // Nothing went wrong that a user must act on: no Warning on the number or the claim.
        let mut all = f.events("PhoneNumber", &pn).await;
        all.extend(f.events("PhoneNumberClaim", "line").await);
        let warned: Vec<_> = all.iter().filter(|(t, ..)| t == "Warning").collect();
        assert!(warned.is_empty(), "{mode:?}: {warned:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_makes_the_class_unauthorized_and_claims_wait_without_an_error_storm() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "badkey",
        |c| c.accounts[0].tokens = vec!["tk_other".into()],
        json!({}),
    )
    .await;
    f.claim("line", json!({"countryCode": "US"})).await;
    let class = f
        .wait_class(T, |c| {
            condition(
                c.status.as_ref().map_or(&[][..], |s| &s.conditions),
                "Ready",
            )
            .is_some_and(|r| r.1 == "Unauthorized")
        })
        .await;
    assert_eq!(
        condition(&class.status.unwrap().conditions, "Ready")
            .unwrap()
            .0,
        "False"
    );
    // The claim may first say the class "has not been checked yet"; it must come to say why.
    let says_unauthorized = pending_with("ClassNotReady");
    f.wait_claim("line", T, |c| {
        says_unauthorized(c)
            && claim_condition(c, "Ready").is_some_and(|r| r.2.contains("Unauthorized"))
    })
    .await;
    let before: u64 = f.sim.sim.counters().values().map(|c| c.calls).sum();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after: u64 = f.sim.sim.counters().values().map(|c| c.calls).sum();
    assert!(
        after - before <= 4,
        "{} Talkturo requests in 10 s with a wrong key (sync interval 5 s)",
        after - before
    );
    assert_eq!(
        f.sim.sim.calls(Op::Purchase) + f.sim.sim.calls(Op::Search),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_removed_at_talkturo_makes_number_and_claim_lost_with_a_warning() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "lost", |_| {}, json!({})).await;
    // A second number stays: one of two gone is a number lost. (The account's last number
    // gone, its list is empty: that is held as a suspect list, see tests/account_hold.rs.)
    f.claim("other", json!({"countryCode": "GB"})).await;
    f.claim("line", json!({"countryCode": "GB"})).await;
    f.wait_claim("other", T, ready).await;
    let c = f.wait_claim("line", T, ready).await;
    let st = c.status.unwrap();
    f.sim
        .sim
        .world()
        .vanish(st.number.as_deref().unwrap())
        .unwrap();
    let name = st.phone_number_name.unwrap();
    f.wait_number(&name, T, |n| {
        n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Lost)
    })
    .await;
    let c = f
        .wait_claim("line", T, |c| {
            c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Lost)
        })
        .await;
    assert_eq!(
        claim_condition(&c, "Ready").map(|r| (r.0, r.1)),
        Some(("False", "Lost"))
    );
    assert!(
        f.event_reasons("PhoneNumber", &name)
            .await
            .contains(&"NumberLost".to_owned())
    );
    assert!(
        f.event_reasons("PhoneNumberClaim", "line")
            .await
            .contains(&"NumberLost".to_owned())
    );
    let _: Api<PhoneNumber> = f.numbers();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_purchase_deletes_the_number_and_the_claim_retries_with_persisted_backoff() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "refused", |_| {}, json!({})).await;
    let gone = FaultAction::Status {
        status: 410,
        retry_after_secs: None,
    };
    f.sim
        .sim
        .set_faults(vec![FaultRule::on(Op::Purchase, gone, Some(1))]);
    f.claim("line", json!({"countryCode": "US"})).await;
    let c = f.wait_claim("line", T, ready).await;
    let p = c.status.unwrap().purchase.unwrap();
    assert_eq!(p.attempts, 1, "one refused attempt recorded");
    assert!(
        p.last_failure_reason
            .as_deref()
            .is_some_and(|r| r.contains("410")),
        "{p:?}"
    );
    assert!(p.last_failure_time.is_some() && p.candidate.is_none());
    assert_eq!(
        (f.sim.sim.calls(Op::Purchase), f.sim.sim.world().purchases()),
        (2, 1)
    );
    assert_eq!(
        f.class_numbers().await.len(),
        1,
        "the refused PhoneNumber was deleted"
    );
    assert!(
        f.event_reasons("PhoneNumberClaim", "line")
            .await
            .contains(&"PurchaseFailed".to_owned())
    );
}

/// A purchase answered 500 (outcome unknown), settled as not taken from two lists and sent
/// again, then refused (410): the refused PhoneNumber goes for good (before the fix it kept its
/// finalizer, waiting on the first attempt's doubt, and listed the account every second), and
/// the claim is bound with one purchase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_after_an_unknown_outcome_lets_the_phone_number_go() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "unkref", |_| {}, json!({})).await;
    let status = |status| FaultAction::Status {
        status,
        retry_after_secs: None,
    };
    f.sim.sim.set_faults(vec![
        FaultRule::on(Op::Purchase, status(500), Some(1)),
        FaultRule::on(Op::Purchase, status(410), Some(1)),
    ]);
    f.claim("line", json!({"countryCode": "US"})).await;
    f.wait_claim("line", T, ready).await;
    let started = std::time::Instant::now();
    loop {
        let numbers = f.class_numbers().await;
        let deleting: Vec<_> = numbers
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_some())
            .collect();
        if deleting.is_empty() && numbers.len() == 1 {
            break;
        }
        assert!(
            started.elapsed() < T,
            "a refused PhoneNumber stays: {:?}",
            deleting.iter().map(|n| &n.status).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        (f.sim.sim.calls(Op::Purchase), f.sim.sim.world().purchases()),
        (3, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_makes_the_class_not_ready_with_its_reason() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "nosecret", |_| {}, json!({})).await;
    f.patch_class(
        json!({"apiKeySecretRef": {"namespace": f.ns, "name": "absent", "key": "apiKey"}}),
    )
    .await;
    let class = f
        .wait_class(T, |c| {
            condition(
                c.status.as_ref().map_or(&[][..], |s| &s.conditions),
                "Ready",
            )
            .is_some_and(|r| r.1 == "SecretNotFound")
        })
        .await;
    assert!(
        condition(&class.status.unwrap().conditions, "Ready")
            .unwrap()
            .2
            .contains("absent")
    );
    f.patch_class(
        json!({"apiKeySecretRef": {"namespace": f.ns, "name": "talkturo", "key": "nokey"}}),
    )
    .await;
    f.wait_class(T, |c| {
        condition(
            c.status.as_ref().map_or(&[][..], |s| &s.conditions),
            "Ready",
        )
        .is_some_and(|r| r.1 == "SecretKeyMissing")
    })
    .await;
    f.claim("line", json!({"countryCode": "US"})).await;
    f.wait_claim("line", T, pending_with("ClassNotReady")).await;
    assert_eq!(f.sim.sim.calls(Op::Purchase), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_budget_is_never_exceeded() {
    let Some(env) = env() else { return };
    let seed_probe = Fixture::new(env, "budget", |_| {}, json!({})).await;
    let seed = seed_probe.sim.sim.world().config().seed;
    let offers = Inventory::new(seed, 40).search("US", Some("415"), Kind::Local);
    let cheapest = offers[..20].iter().map(|o| o.monthly_price).min().unwrap();
    // The budget fits exactly one cheapest number.
    seed_probe
        .patch_class(json!({"monthlyBudget": cheapest.to_string()}))
        .await;
    let f = seed_probe;
    f.claim("first", json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    f.wait_claim("first", T, ready).await;
    f.claim("second", json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    let c = f
        .wait_claim("second", T, pending_with("BudgetExceeded"))
        .await;
    assert!(
        claim_condition(&c, "Ready")
            .unwrap()
            .2
            .contains(&format!("${cheapest} budget")),
        "{:?}",
        claim_condition(&c, "Ready")
    );
    f.wait_class(T, |c| {
        condition(
            c.status.as_ref().map_or(&[][..], |s| &s.conditions),
            "BudgetExceeded",
        )
        .is_some_and(|r| r.0 == "True")
    })
    .await;
    assert_eq!(f.sim.sim.world().purchases(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_bought_while_the_account_list_fails_even_with_an_older_list_in_hand() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "listfail", |_| {}, json!({})).await;
    let class_ready = |want: &'static str| {
        move |c: &talkturo_operator::api::v1alpha1::PhoneNumberClass| {
            condition(
                c.status.as_ref().map_or(&[][..], |s| &s.conditions),
                "Ready",
            )
            .is_some_and(|r| r.0 == want)
        }
    };
    f.wait_class(T, class_ready("True")).await;
    let number = f.first_offer("US").await;
    // Every list fails from now on; the class's next periodic list says so.
    f.sim.sim.set_faults(vec![FaultRule::on(
        Op::List,
        FaultAction::Status {
            status: 500,
            retry_after_secs: None,
        },
        None,
    )]);
    f.wait_class(T, class_ready("False")).await;

    // A PhoneNumber to buy: the account's last good list does not show it, but the latest list
    // failed, so the purchase waits (Synced False) instead of deciding on the old list.
    let name = f.create_number(&number).await;
    let waiting = f
        .wait_number(&name, T, |n| {
            n.status
                .as_ref()
                .and_then(|s| condition(&s.conditions, "Synced"))
                .is_some_and(|r| r.0 == "False" && r.1 == "SyncFailed")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        (f.sim.sim.calls(Op::Purchase), f.sim.sim.world().purchases()),
        (0, 0),
        "bought while the account list was failing: {:?}",
        waiting.status
    );

    // Lists work again: the class lists at its next interval and the number is bought, once.
    f.sim.sim.set_faults(vec![]);
    f.wait_number(&name, T, |n| {
        n.status.as_ref().is_some_and(|s| s.id.is_some())
    })
    .await;
    assert_eq!(f.sim.sim.world().purchases(), 1);
}

/// A PhoneNumber created again for a number this process already tried to buy is bought at
/// once. Found by chaos: the process remembered the first object's purchase by number, took the
/// new object (no attempt in its status) for a stale copy of the first, and waited 10 minutes
/// without a word while its claim stayed `Purchasing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_number_created_again_for_a_number_tried_before_is_bought_without_waiting() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "again", |_| {}, json!({})).await;
    let number = f.first_offer("US").await;
    // The first object's purchase is refused outright (nothing bought): it turns Failed.
    f.sim.sim.set_faults(vec![FaultRule::on(
        Op::Purchase,
        FaultAction::Status {
            status: 400,
            retry_after_secs: None,
        },
        Some(1),
    )]);
    let name = f.create_number(&number).await;
    f.wait_number(&name, T, |n| {
        n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Failed)
    })
    .await;
    f.numbers()
        .delete(&name, &Default::default())
        .await
        .unwrap();
    f.wait_number_gone(&name, T).await;
    // The same number again, as a new object: bought, once.
    f.create_number(&number).await;
    f.wait_number(&name, T, |n| {
        n.status.as_ref().is_some_and(|s| s.id.is_some())
    })
    .await;
    assert_eq!(f.sim.sim.calls(Op::Purchase), 2);
    assert_eq!(f.sim.sim.world().purchases(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_class_connection_id_is_sent_with_its_purchases() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "connection",
        |_| {},
        json!({"connectionId": "fqdn-conn-7781"}),
    )
    .await;
    f.claim("line", json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    let claim = f.wait_claim("line", T, ready).await;
    let number = claim.status.unwrap().number.unwrap();
    let world = f.sim.sim.world();
    let record = world
        .records()
        .find(|r| r.phone_number == number)
        .expect("the number is in the account");
    assert_eq!(record.connection_id.as_deref(), Some("fqdn-conn-7781"));
}
