//! The campaign guard against the real API server and the simulator: a number a scheduled,
//! running or paused campaign dials from is not released (claim deleted under `Release`, trial
//! released on expiry) and not taken off the campaign's assistant; the reason names the
//! campaign, one Warning says so, and the number is released or moved once the campaign ends.
//! Campaigns are read only when a release or a move is due.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, assigned_to, claim_condition, condition, start_operator};
use talkturo_operator::api::v1alpha1::PhoneNumber;
use talkturo_sim::state::{CampaignStatus, NewCampaign};
use talkturo_sim::{FaultAction, FaultRule, Op, SimConfig};

const T: Duration = Duration::from_secs(40);
const SALES: &str = "asst_demo_sales";
const SUPPORT: &str = "asst_demo_support";

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

fn releasing(c: &mut SimConfig) {
    c.release_enabled = true;
}

/// A claim bound and assigned to [`SALES`]: its number and PhoneNumber's name.
async fn on_sales(f: &Fixture, claim: &str) -> (String, String) {
    f.claim(claim, json!({"countryCode": "US", "assistantId": SALES}))
        .await;
    let c = f.wait_claim(claim, T, assigned_to(Some(SALES))).await;
    let s = c.status.unwrap();
    (s.number.unwrap(), s.phone_number_name.unwrap())
}

/// Starts a campaign of [`SALES`] dialling from `number`: its id.
fn start_campaign(f: &Fixture, number: &str, status: CampaignStatus) -> String {
    let mut world = f.sim.sim.world();
    let now = world.now();
    let new = NewCampaign {
        team_id: "team_demo".into(),
        assistant_id: SALES.into(),
        name: "Spring outreach".into(),
        from_number: number.into(),
        status,
    };
    world.create_campaign(new, now).unwrap().id
}

fn end_campaign(f: &Fixture, id: &str) {
    let mut world = f.sim.sim.world();
    let now = world.now();
    world
        .set_campaign_status(id, CampaignStatus::Completed, now)
        .unwrap();
}

fn owned(f: &Fixture, number: &str) -> bool {
    f.sim
        .sim
        .world()
        .records()
        .any(|r| r.phone_number == number)
}

/// A PhoneNumber's condition.
fn number_condition<'a>(pn: &'a PhoneNumber, type_: &str) -> Option<(&'a str, &'a str, &'a str)> {
    condition(&pn.status.as_ref()?.conditions, type_)
}

fn held_by_campaign(pn: &PhoneNumber) -> bool {
    number_condition(pn, "ReleaseFailed").is_some_and(|c| c.0 == "True" && c.1 == "InUseByCampaign")
}

async fn warnings(f: &Fixture, kind: &str, name: &str, reason: &str) -> usize {
    f.events(kind, name)
        .await
        .iter()
        .filter(|(t, r, _)| t == "Warning" && r == reason)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_number_a_running_campaign_dials_from_is_released_only_once_it_completes() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "camp-release",
        releasing,
        json!({"reclaimPolicy": "Release"}),
    )
    .await;
    let (number, pn) = on_sales(&f, "line").await;
    let campaign = start_campaign(&f, &number, CampaignStatus::Running);
    // Nothing is due: two intervals read no campaign.
    f.sim.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        f.sim.sim.calls(Op::Campaigns),
        0,
        "campaigns read only when due"
    );

    f.claims()
        .delete("line", &Default::default())
        .await
        .unwrap();
    let n = f.wait_number(&pn, T, held_by_campaign).await;
    let (_, _, message) = number_condition(&n, "ReleaseFailed").unwrap();
    assert!(
        message.contains(&campaign) && message.contains("Spring outreach"),
        "{message}"
    );
    let (_, ready, _) = number_condition(&n, "Ready").unwrap();
    assert_eq!(ready, "InUseByCampaign");
    assert_eq!(
        n.status.as_ref().unwrap().assigned_assistant_id.as_deref(),
        Some(SALES),
        "the campaign's number stays on its assistant"
    );
    // Two more intervals (5 s): looked at again once per interval (3 reads each: scheduled,
    // running, paused), never released, one Warning.
    f.sim.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(11)).await;
    let reads = f.sim.sim.calls(Op::Campaigns);
    assert!(
        (3..=9).contains(&reads),
        "{reads} campaign reads in 2 intervals"
    );
    assert_eq!(f.sim.sim.calls(Op::Release), 0);
    assert!(owned(&f, &number));
    assert_eq!(warnings(&f, "PhoneNumber", &pn, "InUseByCampaign").await, 1);

    end_campaign(&f, &campaign);
    f.wait_number_gone(&pn, T).await;
    assert!(!owned(&f, &number), "released once the campaign completed");
    assert_eq!(f.sim.sim.calls(Op::Release), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaigns_list_that_hides_the_campaign_still_releases_nothing() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "camp-409",
        releasing,
        json!({"reclaimPolicy": "Release"}),
    )
    .await;
    let (number, pn) = on_sales(&f, "line").await;
    let campaign = start_campaign(&f, &number, CampaignStatus::Paused);
    f.sim.sim.set_faults(vec![FaultRule::on(
        Op::Campaigns,
        FaultAction::EmptyList,
        None,
    )]);
    f.claims()
        .delete("line", &Default::default())
        .await
        .unwrap();
    // Talkturo's 409 is handled as the campaign's hold, with the message it gave.
    let n = f.wait_number(&pn, T, held_by_campaign).await;
    let (_, _, message) = number_condition(&n, "ReleaseFailed").unwrap();
    assert!(message.contains(&campaign), "{message}");
    f.sim.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(11)).await;
    let tries = f.sim.sim.calls(Op::Release);
    assert!(
        (1..=3).contains(&tries),
        "{tries} releases in 2 intervals: once per interval, not in a loop"
    );
    assert!(owned(&f, &number));
    assert_eq!(warnings(&f, "PhoneNumber", &pn, "InUseByCampaign").await, 1);
    end_campaign(&f, &campaign);
    f.wait_number_gone(&pn, T).await;
    assert!(!owned(&f, &number));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaigns_number_is_not_moved_off_its_assistant_until_it_completes() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "camp-move", releasing, json!({})).await;
    let (number, pn) = on_sales(&f, "line").await;
    let campaign = start_campaign(&f, &number, CampaignStatus::Scheduled);
    f.set_assistant("line", Some(SUPPORT)).await;
    let c = f
        .wait_claim("line", T, |c| {
            claim_condition(c, "Assigned").is_some_and(|a| a.1 == "InUseByCampaign")
        })
        .await;
    let (_, _, message) = claim_condition(&c, "Assigned").unwrap();
    assert!(
        message.contains(&campaign) && message.contains(SUPPORT),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    let id = c.status.unwrap().number_id.unwrap();
    assert_eq!(
        f.held(SALES).await,
        vec![id.clone()],
        "still on the campaign's assistant"
    );
    assert_eq!(warnings(&f, "PhoneNumber", &pn, "InUseByCampaign").await, 1);
    end_campaign(&f, &campaign);
    f.wait_claim("line", T, assigned_to(Some(SUPPORT))).await;
    assert_eq!(f.held(SUPPORT).await, vec![id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_trial_a_campaign_dials_from_is_released_only_once_it_completes() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "camp-trial",
        |c| {
            c.release_enabled = true;
            c.trial_duration_secs = 10;
            for a in &mut c.accounts {
                for t in &mut a.teams {
                    t.subscribed = false;
                }
            }
        },
        json!({"trial": {"warnBefore": "5s", "onExpiry": "Release"}}),
    )
    .await;
    let (number, pn) = on_sales(&f, "line").await;
    let campaign = start_campaign(&f, &number, CampaignStatus::Running);
    let n = f.wait_number(&pn, T, held_by_campaign).await;
    let (_, _, message) = number_condition(&n, "ReleaseFailed").unwrap();
    assert!(message.contains(&campaign), "{message}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        owned(&f, &number),
        "the expired trial is kept while the campaign runs"
    );
    assert_eq!(f.sim.sim.calls(Op::Release), 0);
    end_campaign(&f, &campaign);
    f.wait_number_gone(&pn, T).await;
    assert!(!owned(&f, &number));
}
