//! Hostile answers: each failure found by a Talkturo implementation written from the contract
//! alone and a proxy distorting its answers, replayed with the simulator's fault actions against
//! the operator on the real API server. A wrong answer may stop progress; it never spends,
//! forgets, deletes or re-routes anything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, assigned_to, claim_condition, condition, start_operator};
use talkturo_operator::api::v1alpha1::{
    ClaimPhase, ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClaim, PhoneNumberClass,
    phone_number_name,
};
use talkturo_operator::talkturo::SearchFilters;
use talkturo_sim::{FaultAction, FaultRule, Op};

const T: Duration = Duration::from_secs(60);
const SALES: &str = "asst_demo_sales";
const SUPPORT: &str = "asst_demo_support";
const TOKEN: &str = "tk_demo_token";
/// Two of the fixtures' 5 s sync intervals and a margin: long enough for a suspect list to be
/// confirmed, or for a loop to show.
const SETTLE: Duration = Duration::from_secs(12);

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

fn ready(c: &PhoneNumberClaim) -> bool {
    claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
}

fn class_condition<'a>(
    c: &'a PhoneNumberClass,
    type_: &str,
) -> Option<(&'a str, &'a str, &'a str)> {
    condition(c.status.as_ref().map_or(&[][..], |s| &s.conditions), type_)
}

fn faults(f: &Fixture, rules: Vec<FaultRule>) {
    f.sim.sim.set_faults(rules);
}

/// The claims' PhoneNumbers as the API server has them now.
async fn numbers_of(f: &Fixture, claims: &[&str]) -> Vec<PhoneNumber> {
    let mut out = Vec::new();
    for c in claims {
        let claim = f.claims().get(c).await.unwrap();
        let name = claim.status.unwrap().phone_number_name.unwrap();
        out.push(f.numbers().get(&name).await.unwrap());
    }
    out
}

fn phase(pn: &PhoneNumber) -> Option<NumberPhase> {
    pn.status.as_ref().and_then(|s| s.phase)
}

/// Every Event of the cluster (the operator writes them in the objects' namespaces).
async fn events(f: &Fixture) -> Vec<Event> {
    Api::<Event>::all(f.client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

/// Waits until the claim's condition `type_` has `reason`; its message.
async fn claim_says(f: &Fixture, claim: &str, type_: &str, reason: &str) -> String {
    let c = f
        .wait_claim(claim, T, |c| {
            claim_condition(c, type_).is_some_and(|r| r.1 == reason)
        })
        .await;
    claim_condition(&c, type_).unwrap().2.to_owned()
}

/// Makes every search's first offer unpriced; the offers of 415 as a claim's search sees them.
async fn unpriced_first(f: &Fixture) -> Vec<talkturo_operator::talkturo::AvailableNumber> {
    faults(
        f,
        vec![FaultRule::on(Op::Search, FaultAction::UnpricedOffers, None)],
    );
    let filters = SearchFilters {
        country_code: "US".into(),
        area_code: Some("415".into()),
        number_type: Some("local".into()),
        limit: Some(20),
    };
    f.talkturo().search(&filters).await.unwrap().numbers
}

/// A fixture whose claim `line` is bound and Ready; the claim.
async fn one_line(env: &'static TestEnv, prefix: &str) -> (Fixture, PhoneNumberClaim) {
    let f = Fixture::new(env, prefix, |_| {}, json!({})).await;
    f.claim("line", json!({"countryCode": "US"})).await;
    let c = f.wait_claim("line", T, ready).await;
    (f, c)
}

/// Sets `action` on every list call and waits until the class reports `Ready=False` with
/// `reason`; the condition's message.
async fn list_refused(f: &Fixture, action: FaultAction, reason: &'static str) -> String {
    faults(f, vec![FaultRule::on(Op::List, action, None)]);
    let class = f
        .wait_class(T, |c| {
            class_condition(c, "Ready").is_some_and(|r| r.0 == "False" && r.1 == reason)
        })
        .await;
    class_condition(&class, "Ready").unwrap().2.to_owned()
}

/// Two sync intervals later, `line`'s PhoneNumber as it is then, still `Bound`.
async fn still_bound(f: &Fixture) -> PhoneNumber {
    tokio::time::sleep(SETTLE).await;
    let pn = numbers_of(f, &["line"]).await.remove(0);
    assert_eq!(phase(&pn), Some(NumberPhase::Bound), "not Lost");
    pn
}

/// Failure 1: the assistant GET lists unassigned active numbers too, so a move that PATCHed
/// back the whole answer assigned every unassigned number to the old assistant, every sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assistant_moves_touch_exactly_the_numbers_asked_for_and_then_stay_quiet() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "h-assist", |_| {}, json!({})).await;
    let names: Vec<String> = (0..20).map(|i| format!("c{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        let mut spec = json!({"countryCode": "US"});
        if i < 10 {
            spec["assistantId"] = json!(SALES);
        }
        f.claim(name, spec).await;
    }
    for (i, name) in names.iter().enumerate() {
        f.wait_claim(name, T, assigned_to((i < 10).then_some(SALES)))
            .await;
    }
    // Moves: 5 to the other assistant, 3 cleared, 2 unassigned ones given one.
    let mut want: Vec<(usize, Option<&'static str>)> = Vec::new();
    for i in 0..5 {
        want.push((i, Some(SUPPORT)));
    }
    for i in 5..8 {
        want.push((i, None));
    }
    for i in 10..12 {
        want.push((i, Some(SUPPORT)));
    }
    for (i, a) in &want {
        f.set_assistant(&names[*i], *a).await;
    }
    let mut expected = std::collections::BTreeMap::<&str, BTreeSet<String>>::new();
    for (i, name) in names.iter().enumerate() {
        let target = want
            .iter()
            .find(|(j, _)| *j == i)
            .map_or((i < 10).then_some(SALES), |(_, a)| *a);
        let c = f.wait_claim(name, T, assigned_to(target)).await;
        if let Some(a) = target {
            let id = c.status.unwrap().number_id.unwrap();
            expected.entry(a).or_default().insert(id);
        }
    }
    for a in [SALES, SUPPORT] {
        let held: BTreeSet<String> = f.held(a).await.into_iter().collect();
        assert_eq!(held, expected.remove(a).unwrap_or_default(), "{a}");
    }
    // Settled: no assistant call over two sync intervals (drift correction is not looping).
    f.sim.sim.reset_counters();
    tokio::time::sleep(SETTLE).await;
    let calls =
        [Op::Assign, Op::AssistantNumbers, Op::SetAssistantNumbers].map(|op| f.sim.sim.calls(op));
    assert_eq!(calls, [0, 0, 0], "assign, get, set calls after settling");
    assert!(f.sim.sim.calls(Op::List) > 0, "the class kept syncing");
}

/// An assignment Talkturo accepts but does not make: `AssignmentUnverified`, retried only after
/// a back-off, never in a loop of calls and writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_the_read_back_does_not_show_backs_off_instead_of_looping() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "h-unverified", |_| {}, json!({})).await;
    faults(
        &f,
        vec![FaultRule::on(Op::Assign, FaultAction::IgnoredWrite, None)],
    );
    f.claim("line", json!({"countryCode": "US", "assistantId": SALES}))
        .await;
    let message = claim_says(&f, "line", "Assigned", "AssignmentUnverified").await;
    assert!(message.contains("trying again in 10 minutes"), "{message}");
    let before = f.sim.sim.calls(Op::Assign);
    let version = f
        .claims()
        .get("line")
        .await
        .unwrap()
        .metadata
        .resource_version;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        f.sim.sim.calls(Op::Assign),
        before,
        "no retry within the back-off"
    );
    let after = f
        .claims()
        .get("line")
        .await
        .unwrap()
        .metadata
        .resource_version;
    assert_eq!(after, version, "no status rewrites");
    assert!(f.held(SALES).await.is_empty());
}

/// Failure 2: an offer whose price does not parse sorted first under `Cheapest` and was bought
/// over $1 offers; the class showed its cost as 0.00.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpriced_offer_is_not_chosen_over_priced_ones() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "h-unpriced", |_| {}, json!({})).await;
    let offers = unpriced_first(&f).await;
    assert_eq!(offers[0].monthly_price, None, "the fault took effect");
    let unpriced = offers[0].phone_number.clone();
    f.claim("cheap", json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    let c = f.wait_bound("cheap", T).await;
    let st = c.status.unwrap();
    assert_ne!(st.number.as_deref(), Some(unpriced.as_str()));
    let price: rust_decimal::Decimal = st.monthly_price.unwrap().parse().unwrap();
    assert!(price > rust_decimal::Decimal::ZERO);
    let cost = f.monthly_cost(1).await;
    assert_eq!(cost, format!("{price:.2}"));
}

/// Failure 3: an unknown price became `Decimal::MAX` in the budget check, and adding it
/// panicked, every restart again. Absurd prices are invalid answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_price_under_a_budget_is_refused_without_a_panic() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "h-overflow",
        |_| {},
        json!({"monthlyBudget": "500.00"}),
    )
    .await;
    f.claim("first", json!({"countryCode": "US", "areaCode": "212"}))
        .await;
    f.wait_bound("first", T).await;
    let unpriced = unpriced_first(&f).await[0].phone_number.clone();
    f.claim("exact", json!({"countryCode": "US", "number": unpriced}))
        .await;
    let message = claim_says(&f, "exact", "Ready", "BudgetExceeded").await;
    assert!(message.contains("no known monthly price"), "{message}");
    // Absurd prices fail the search: nothing is chosen from it.
    faults(
        &f,
        vec![FaultRule::on(Op::Search, FaultAction::AbsurdPrices, None)],
    );
    f.claim("absurd", json!({"countryCode": "US", "areaCode": "310"}))
        .await;
    let c = f
        .wait_claim("absurd", T, |c| {
            claim_condition(c, "Ready").is_some_and(|r| r.2.contains("above the sane bound"))
        })
        .await;
    assert_eq!(c.status.unwrap().phase, Some(ClaimPhase::Pending));
    // The operator is alive and provisions as soon as the answers are sane again ("exact" goes
    // first: with its price known, it would fit the budget).
    f.claims()
        .delete("exact", &DeleteParams::default())
        .await
        .unwrap();
    faults(&f, vec![]);
    f.claim("after", json!({"countryCode": "US", "areaCode": "206"}))
        .await;
    f.wait_bound("after", T).await;
    f.wait_bound("absurd", T).await;
    assert_eq!(f.sim.sim.world().purchases(), 3, "first, absurd, after");
}

/// Failure 4: an account list that suddenly returned `[]` turned every PhoneNumber Lost; Lost
/// numbers left the budget (a waiting claim bought past it) and a Release claim deleted
/// meanwhile took its PhoneNumber with it while the number was still owned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_list_spends_forgets_and_deletes_nothing() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "h-empty",
        |c| c.release_enabled = true,
        json!({"reclaimPolicy": "Release"}),
    )
    .await;
    let claims = ["a", "b", "c"];
    for c in claims {
        f.claim(c, json!({"countryCode": "US", "areaCode": "415"}))
            .await;
    }
    for c in claims {
        f.wait_claim(c, T, ready).await;
    }
    let spent = f.monthly_cost(3).await;
    f.patch_class(json!({"monthlyBudget": spent})).await;
    let names: Vec<String> = numbers_of(&f, &claims)
        .await
        .iter()
        .map(|n| n.metadata.name.clone().unwrap())
        .collect();

    faults(
        &f,
        vec![FaultRule::on(Op::List, FaultAction::EmptyList, None)],
    );
    let class = f
        .wait_class(T, |c| {
            class_condition(c, "SuspectList").is_some_and(|r| r.0 == "True")
        })
        .await;
    let message = class_condition(&class, "SuspectList").unwrap().2.to_owned();
    assert!(message.contains("lacks 3 numbers"), "{message}");
    for pn in numbers_of(&f, &claims).await {
        assert_eq!(phase(&pn), Some(NumberPhase::Bound), "not Lost on one list");
    }
    f.claim("d", json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    f.claims()
        .delete("a", &DeleteParams::default())
        .await
        .unwrap();
    // The class is held (Ready=False SuspectList): nothing is bought for it.
    f.wait_claim("d", T, |c| {
        claim_condition(c, "Ready")
            .is_some_and(|r| r.1 == "ClassNotReady" && r.2.contains("SuspectList"))
    })
    .await;
    // Lists keep coming back empty: the numbers are held (not Lost, still counted against the
    // budget); none is deleted, bought or released.
    tokio::time::sleep(SETTLE).await;
    for name in &names {
        let pn = f.numbers().get_opt(name).await.unwrap();
        assert!(pn.is_some(), "PhoneNumber {name} was deleted");
        assert_ne!(
            phase(&pn.unwrap()),
            Some(NumberPhase::Lost),
            "{name} held, not Lost"
        );
    }
    let c = f.claims().get("d").await.unwrap();
    assert_eq!(claim_condition(&c, "Ready").unwrap().1, "ClassNotReady");
    let world = f.sim.sim.world();
    assert_eq!((world.purchases(), world.releases()), (3, 0));
}

/// Failure 4, malformed: numbers without their leading `+` are an invalid list, which changes
/// no state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_malformed_numbers_is_invalid_and_changes_nothing() {
    let Some(env) = env() else { return };
    let (f, _) = one_line(env, "h-malformed").await;
    let message = list_refused(&f, FaultAction::MalformedNumbers, "InvalidResponse").await;
    assert!(message.contains("not E.164"), "{message}");
    still_bound(&f).await;
}

/// Failure 5: a purchase answer naming another number was recorded under the number asked
/// for, and the number actually bought was never tracked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_answer_for_another_number_is_not_recorded_and_that_number_is_tracked() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "h-mismatch", |_| {}, json!({})).await;
    faults(
        &f,
        vec![FaultRule::on(
            Op::Purchase,
            FaultAction::MismatchedPurchase,
            Some(1),
        )],
    );
    f.claim("line", json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    let c = f.wait_bound("line", T).await;
    let bound = c.status.unwrap().number.unwrap();
    let owned: Vec<(String, String)> = f
        .sim
        .sim
        .world()
        .records()
        .map(|r| (r.phone_number.clone(), r.id.clone()))
        .collect();
    assert_eq!(owned.len(), 2, "{owned:?}");
    // Every number the account holds has a PhoneNumber; the substitute one is bound to no claim
    // and only observed (the answer could have been wrong: it is never bought on its word).
    for (number, id) in &owned {
        let pn = f
            .wait_number(&phone_number_name(number), T, |p| {
                p.status.as_ref().and_then(|s| s.id.as_deref()) == Some(id.as_str())
            })
            .await;
        if number != &bound {
            assert_eq!(pn.spec.claim_ref, None);
            assert_eq!(pn.spec.management_policy, ManagementPolicy::ObserveOnly);
        }
    }
    let mismatch = events(&f).await.into_iter().any(|e| {
        e.reason.as_deref() == Some("PurchaseMismatch")
            && e.regarding
                .as_ref()
                .is_some_and(|r| r.kind.as_deref() == Some("PhoneNumber"))
    });
    assert!(mismatch, "a PurchaseMismatch Warning");
}

/// A purchase answer naming a number that was *not* bought: the operator tracks what the answer
/// names, but never buys it on the strength of that answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_answer_naming_a_number_never_bought_buys_nothing_more() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "h-misreport", |_| {}, json!({})).await;
    faults(
        &f,
        vec![FaultRule::on(
            Op::Purchase,
            FaultAction::MisreportedPurchase,
            Some(1),
        )],
    );
    f.claim("line", json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    f.wait_bound("line", T).await;
    let tracked = f
        .class_numbers()
        .await
        .into_iter()
        .find(|n| n.spec.claim_ref.is_none())
        .expect("a PhoneNumber for the number the answer named");
    // Two sync intervals: nothing buys the named number.
    tokio::time::sleep(SETTLE).await;
    assert_eq!(f.sim.sim.world().purchases(), 1, "only the asked number");
    assert!(
        f.sim
            .sim
            .world()
            .records()
            .all(|r| r.phone_number != tracked.spec.number),
        "the number the answer named was bought"
    );
    let tracked = f
        .numbers()
        .get(&tracked.metadata.name.unwrap())
        .await
        .unwrap();
    assert_eq!(
        tracked.spec.management_policy,
        ManagementPolicy::ObserveOnly
    );
}

/// Failure 6: one number listed under two ids switched `status.id` to the twin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_number_under_two_ids_is_an_invalid_list_and_the_id_stays() {
    let Some(env) = env() else { return };
    let (f, c) = one_line(env, "h-twins").await;
    let id = c.status.unwrap().number_id.unwrap();
    let message = list_refused(&f, FaultAction::DuplicateIds, "InvalidResponse").await;
    assert!(message.contains("listed twice"), "{message}");
    let pn = still_bound(&f).await;
    assert_eq!(pn.status.unwrap().id.as_deref(), Some(id.as_str()));
}

/// Failure 8: an error body that echoes the `Authorization` header put the key into the
/// class's Ready message, Events and logs; a 3 MB message made the status write fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_that_echoes_the_key_is_cut_and_scrubbed_before_anyone_sees_it() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "h-echo", |_| {}, json!({})).await;
    f.wait_class(T, |c| {
        class_condition(c, "Ready").is_some_and(|r| r.0 == "True")
    })
    .await;
    faults(
        &f,
        vec![FaultRule::on(
            Op::List,
            FaultAction::EchoAuthorization { bytes: 3 << 20 },
            None,
        )],
    );
    let class = f
        .wait_class(T, |c| {
            class_condition(c, "Ready").is_some_and(|r| r.0 == "False")
        })
        .await;
    let (_, reason, message) = class_condition(&class, "Ready").unwrap();
    assert_eq!(reason, "InvalidResponse");
    assert!(!message.contains(TOKEN), "{message}");
    assert!(message.contains("[redacted]"), "{message}");
    assert!(message.len() < 600, "{} bytes", message.len());
    let notes: Vec<String> = events(&f)
        .await
        .into_iter()
        .filter_map(|e| e.note)
        .collect();
    assert!(notes.iter().all(|n| !n.contains(TOKEN)));
}

/// Failure 9: redirects were followed, and another host's empty list was taken for the
/// account's numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_another_hosts_answer_is_never_used() {
    let Some(env) = env() else { return };
    let (f, _) = one_line(env, "h-redirect").await;
    // Another host that answers every request with an empty account, without asking for a key.
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", other.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(|| async { axum::Json(json!({"success": true, "numbers": [], "count": 0})) });
    let server = tokio::spawn(async move { axum::serve(other, app).await });
    let location = format!("{origin}/api/phone-numbers/purchase?teamId=team_demo");
    let message = list_refused(&f, FaultAction::Redirect { location }, "InvalidResponse").await;
    assert!(
        message.contains("redirect") && message.contains(&origin),
        "{message}"
    );
    still_bound(&f).await;
    server.abort();
}

/// Failure 7 at the operator's level: a list without end leaves the class not ready, the
/// numbers as they were, and the operator serving other classes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_list_is_refused_and_the_numbers_stay_as_they_were() {
    let Some(env) = env() else { return };
    let (f, _) = one_line(env, "h-endless").await;
    let started = Instant::now();
    let message = list_refused(&f, FaultAction::EndlessList, "InvalidResponse").await;
    assert!(message.contains("1000000000000"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(30));
    still_bound(&f).await;
}

/// A release whose answer failed (HTTP 500 every time) leaves its intent recorded; lists that
/// then come back empty are no proof that the release happened: the PhoneNumber stays and keeps
/// tracking the number, which is released once Talkturo answers. (Before the fix, the
/// PhoneNumber went on the first empty list and the number stayed owned with nothing tracking
/// it: chaos_replicas seed 586349075010373293.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_release_then_an_empty_list_keeps_tracking_the_number() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "relempty",
        |c| c.release_enabled = true,
        json!({"reclaimPolicy": "Release"}),
    )
    .await;
    f.claim("line", json!({"countryCode": "US"})).await;
    f.wait_claim("line", T, ready).await;
    let name = numbers_of(&f, &["line"])
        .await
        .remove(0)
        .metadata
        .name
        .unwrap();
    let refused = FaultRule::on(
        Op::Release,
        FaultAction::Status {
            status: 500,
            retry_after_secs: None,
        },
        None,
    );
    faults(&f, vec![refused.clone()]);
    f.claims()
        .delete("line", &DeleteParams::default())
        .await
        .unwrap();
    let started = Instant::now();
    while f.sim.sim.calls(Op::Release) == 0 {
        assert!(started.elapsed() < T, "no release was sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let empty = FaultRule::on(Op::List, FaultAction::EmptyList, None);
    faults(&f, vec![refused, empty]);
    tokio::time::sleep(SETTLE).await;
    assert!(
        f.numbers().get_opt(&name).await.unwrap().is_some(),
        "the PhoneNumber went while the account still owns its number"
    );
    assert_eq!(f.sim.sim.world().records().count(), 1, "still owned");
    faults(&f, Vec::new());
    let started = Instant::now();
    while let Some(pn) = f.numbers().get_opt(&name).await.unwrap() {
        assert!(
            started.elapsed() < T,
            "not released once Talkturo answered: {:?}",
            pn.status
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let world = f.sim.sim.world();
    assert_eq!((world.releases(), world.records().count()), (1, 0));
}

/// Another account's list (two numbers of its own) on every call, from before the first
/// purchase on: the first is taken for the truth (nothing is tracked yet), so its numbers are
/// "known" when the next lacks the number just bought. That number is held (the class's
/// `SuspectList`), never marked Lost, and is Bound again once the real list is back. (Before
/// the fix it was one of three known numbers missing, marked Lost with a Warning, while the
/// account held it: chaos_replicas seed 787531085734462533.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_of_another_account_from_the_start_never_mark_the_number_bought_lost() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "h-foreign", |_| {}, json!({})).await;
    f.wait_class(T, |c| {
        class_condition(c, "Ready").is_some_and(|r| r.0 == "True")
    })
    .await;
    faults(
        &f,
        vec![FaultRule::on(Op::List, FaultAction::ForeignList, None)],
    );
    f.claim("line", json!({"countryCode": "US"})).await;
    let class = f
        .wait_class(T, |c| {
            class_condition(c, "SuspectList").is_some_and(|r| r.0 == "True")
        })
        .await;
    let message = class_condition(&class, "SuspectList").unwrap().2.to_owned();
    assert!(message.contains("lacks 1 number"), "{message}");
    tokio::time::sleep(SETTLE).await;
    let pn = numbers_of(&f, &["line"]).await.remove(0);
    assert_ne!(phase(&pn), Some(NumberPhase::Lost), "held, not Lost");
    assert!(pn.status.as_ref().unwrap().id.is_some(), "still tracked");
    let lost: Vec<String> = events(&f)
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("NumberLost"))
        .filter_map(|e| e.note)
        .filter(|n| n.contains(&pn.spec.number))
        .collect();
    assert!(lost.is_empty(), "{lost:?}");
    faults(&f, Vec::new());
    f.wait_claim("line", T, ready).await;
    let world = f.sim.sim.world();
    assert_eq!((world.purchases(), world.releases()), (1, 0));
}
