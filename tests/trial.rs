//! Trial numbers against the real API server and the simulator: `TrialExpiring` in the window,
//! and the class's `onExpiry` (`Replace`, its fallback to `Notify`, `Release`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, claim_condition, condition, start_operator};
use talkturo_operator::api::v1alpha1::{ClaimPhase, PhoneNumberClaim};
use talkturo_sim::{Op, SimConfig};

const T: Duration = Duration::from_secs(40);
const SALES: &str = "asst_demo_sales";

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

/// A free team (its one number is a trial) whose trials last `secs`.
fn free_team(secs: u64) -> impl FnOnce(&mut SimConfig) {
    move |c| {
        c.trial_duration_secs = secs;
        c.release_enabled = true;
        for a in &mut c.accounts {
            for t in &mut a.teams {
                t.subscribed = false;
            }
        }
    }
}

fn trial_expiring(reason: &'static str) -> impl Fn(&PhoneNumberClaim) -> bool {
    move |c| claim_condition(c, "TrialExpiring").is_some_and(|t| t.0 == "True" && t.1 == reason)
}

async fn bound_trial(f: &Fixture, assistant: Option<&str>) -> PhoneNumberClaim {
    f.claim(
        "line",
        json!({"countryCode": "US", "assistantId": assistant}),
    )
    .await;
    let c = f.wait_bound("line", T).await;
    let s = c.status.clone().unwrap();
    assert_eq!(s.is_trial, Some(true), "a free team's number is a trial");
    assert!(s.trial_expires_at.is_some());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_buys_a_paid_number_before_expiry_and_moves_the_assistant_and_the_claim() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "replace",
        free_team(30),
        json!({"trial": {"warnBefore": "24s", "onExpiry": "Replace"}}),
    )
    .await;
    let trial = bound_trial(&f, Some(SALES)).await;
    let trial_pn = trial
        .status
        .as_ref()
        .unwrap()
        .phone_number_name
        .clone()
        .unwrap();
    let trial_id = trial.status.as_ref().unwrap().number_id.clone().unwrap();
    let (_, reason, _) = claim_condition(&trial, "TrialExpiring").unwrap();
    assert_eq!(reason, "TrialActive", "before the window");
    // The team subscribes; the window opens 6 s after the purchase.
    f.sim.sim.world().team_mut("team_demo").unwrap().subscribed = true;

    let c = f
        .wait_claim("line", T, |c| {
            let s = c.status.as_ref().unwrap();
            s.is_trial == Some(false)
                && s.assistant_id.as_deref() == Some(SALES)
                && claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
        })
        .await;
    let s = c.status.unwrap();
    let paid_id = s.number_id.clone().unwrap();
    assert_ne!(paid_id, trial_id);
    assert!(
        claim_condition(&c_again(&f).await, "TrialExpiring").is_none(),
        "a paid number has no trial condition"
    );
    assert_eq!(f.held(SALES).await, vec![paid_id], "the assistant moved");
    assert_eq!(
        f.sim.sim.world().purchases(),
        2,
        "exactly one extra purchase"
    );
    assert_eq!(f.sim.sim.calls(Op::Purchase), 2);

    // The trial number: warned about, then kept unbound and unassigned (reclaimPolicy Retain).
    let old = f
        .wait_number(&trial_pn, T, |n| {
            n.spec.claim_ref.is_none()
                && n.status
                    .as_ref()
                    .is_some_and(|s| s.assigned_assistant_id.is_none())
        })
        .await;
    let (status, reason, _) =
        condition(&old.status.as_ref().unwrap().conditions, "TrialExpiring").unwrap();
    assert_eq!((status, reason), ("True", "TrialExpiring"));
    assert!(
        f.event_reasons("PhoneNumber", &trial_pn)
            .await
            .contains(&"TrialExpiring".to_owned())
    );
    let claim_events = f.event_reasons("PhoneNumberClaim", "line").await;
    for r in ["Replacing", "Replaced"] {
        assert!(
            claim_events.contains(&r.to_owned()),
            "{r}: {claim_events:?}"
        );
    }
}

/// A class that no longer accepts the claim's namespace buys no replacement for its trial
/// number: the tenant gate stands before every purchase, a replacement's too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_replacement_is_bought_for_a_namespace_the_class_no_longer_accepts() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "replace-refused",
        free_team(30),
        json!({"trial": {"warnBefore": "24s", "onExpiry": "Replace"}}),
    )
    .await;
    bound_trial(&f, None).await;
    // The platform team takes the namespace off the class; the team could pay for a number.
    f.patch_class(json!({"allowedNamespaces": {"matchLabels": {"telephony-never": "on"}}}))
        .await;
    f.sim.sim.world().team_mut("team_demo").unwrap().subscribed = true;
    let c = f
        .wait_claim("line", T, |c| {
            trial_expiring("Replacing")(c)
                && claim_condition(c, "TrialExpiring")
                    .is_some_and(|t| t.2.contains("does not accept"))
        })
        .await;
    assert_eq!(
        claim_condition(&c, "ClassAllowed").map(|r| r.1),
        Some("ClassNotAllowed"),
        "the claim says why"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        f.sim.sim.world().purchases(),
        1,
        "only the trial number was bought"
    );
    assert_eq!(f.sim.sim.calls(Op::Purchase), 1);
}

async fn c_again(f: &Fixture) -> PhoneNumberClaim {
    f.claims().get("line").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_without_a_subscription_falls_back_to_notify_with_a_reason() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "nosub",
        free_team(30),
        json!({"trial": {"warnBefore": "26s", "onExpiry": "Replace"}}),
    )
    .await;
    let trial = bound_trial(&f, None).await;
    let c = f
        .wait_claim("line", T, trial_expiring("NoSubscription"))
        .await;
    let (_, _, message) = claim_condition(&c, "TrialExpiring").unwrap();
    assert!(message.contains("Notify"), "{message}");
    let s = c.status.as_ref().unwrap();
    assert_eq!(
        s.phase,
        Some(ClaimPhase::Bound),
        "still bound to the trial number"
    );
    assert_eq!(s.number_id, trial.status.unwrap().number_id);
    assert!(
        f.event_reasons("PhoneNumberClaim", "line")
            .await
            .contains(&"NoSubscription".to_owned())
    );
    assert_eq!(f.sim.sim.world().purchases(), 1, "nothing else was bought");
    // Tried once, not in a loop.
    let calls = f.sim.sim.calls(Op::Purchase);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(f.sim.sim.calls(Op::Purchase), calls);
    assert!(calls <= 2, "{calls} purchase calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_warns_in_the_window_and_reports_the_expiry() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "notify",
        free_team(12),
        json!({"trial": {"warnBefore": "8s"}}),
    )
    .await;
    let trial = bound_trial(&f, None).await;
    let pn = trial.status.unwrap().phone_number_name.unwrap();
    f.wait_claim("line", T, trial_expiring("TrialExpiring"))
        .await;
    f.wait_claim("line", T, trial_expiring("TrialExpired"))
        .await;
    let reasons = f.event_reasons("PhoneNumber", &pn).await;
    for r in ["TrialExpiring", "TrialExpired"] {
        assert!(reasons.contains(&r.to_owned()), "{r}: {reasons:?}");
    }
    assert_eq!(f.sim.sim.world().purchases(), 1);
    assert_eq!(f.sim.sim.calls(Op::Release), 0, "Notify releases nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_on_expiry_releases_the_trial_number() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "trialrel",
        free_team(10),
        json!({"trial": {"warnBefore": "5s", "onExpiry": "Release"}}),
    )
    .await;
    let trial = bound_trial(&f, None).await;
    let pn = trial.status.unwrap().phone_number_name.unwrap();
    f.wait_number_gone(&pn, T).await;
    assert_eq!(f.sim.sim.calls(Op::Release), 1);
    assert_eq!(
        f.sim.sim.world().records().count(),
        0,
        "released at Talkturo"
    );
    let c = f
        .wait_claim("line", T, |c| {
            c.status
                .as_ref()
                .is_some_and(|s| s.phase == Some(ClaimPhase::Lost))
        })
        .await;
    let (_, reason, message) = claim_condition(&c, "Ready").unwrap();
    assert_eq!(reason, "TrialExpired", "{message}");
    assert_eq!(f.sim.sim.world().purchases(), 1, "no new number bought");
    // Only true alarms: the expiry is reported as such, never as a lost number.
    let on_number = f.events("PhoneNumber", &pn).await;
    let on_claim = f.events("PhoneNumberClaim", "line").await;
    eprintln!("PhoneNumber events: {on_number:?}\nclaim events: {on_claim:?}");
    for (type_, reason, note) in on_number.iter().chain(&on_claim) {
        assert_ne!(reason, "NumberLost", "{type_} {reason}: {note}");
    }
    assert!(
        on_number.iter().any(|(_, r, _)| r == "TrialExpired"),
        "{on_number:?}"
    );
    assert!(
        on_claim.iter().any(|(_, r, _)| r == "TrialExpired"),
        "{on_claim:?}"
    );
}

/// The claim's ConfigMap follows a replaced trial number: it holds the paid number and its id
/// (written before the trial number is let go), and its condition says what was written. It
/// used to keep the released trial number while the condition named the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_map_follows_a_replaced_trial_number() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "replace-cm",
        free_team(30),
        json!({"trial": {"warnBefore": "24s", "onExpiry": "Replace"}}),
    )
    .await;
    f.claim(
        "line",
        json!({"countryCode": "US", "configMapName": "phone"}),
    )
    .await;
    let trial = f.wait_bound("line", T).await;
    let trial_number = trial.status.unwrap().number.unwrap();
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(f.client.clone(), &f.ns);
    let holds = |cm: &k8s_openapi::api::core::v1::ConfigMap, key: &str| {
        cm.data.as_ref().and_then(|d| d.get(key)).cloned()
    };
    support::operator::wait(&cms, "phone", T, |cm| {
        holds(cm, "PHONE_NUMBER").as_deref() == Some(trial_number.as_str())
    })
    .await;
    f.sim.sim.world().team_mut("team_demo").unwrap().subscribed = true;
    let c = f
        .wait_claim("line", T, |c| {
            c.status.as_ref().unwrap().is_trial == Some(false)
                && claim_condition(c, "ConfigMap").is_some_and(|r| r.0 == "True")
        })
        .await;
    let s = c.status.clone().unwrap();
    let (paid, paid_id) = (s.number.unwrap(), s.number_id.unwrap());
    assert_ne!(paid, trial_number);
    let cm = cms.get("phone").await.unwrap();
    assert_eq!(
        holds(&cm, "PHONE_NUMBER"),
        Some(paid.clone()),
        "the ConfigMap follows"
    );
    assert_eq!(holds(&cm, "PHONE_NUMBER_ID"), Some(paid_id.clone()));
    let (_, reason, message) = claim_condition(&c, "ConfigMap").unwrap();
    assert_eq!(reason, "ConfigMapWritten");
    assert!(message.contains(&paid), "{message}");
    assert_eq!(
        s.config_map_number_id,
        Some(paid_id),
        "what was written is recorded"
    );
}
