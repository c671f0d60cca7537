//! The simulator's rules, as the operator relies on them: ownership is exclusive, search never
//! offers an owned number, trials expire, plans limit, and one number has one assistant.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use secrecy::SecretString;
use talkturo_operator::talkturo::{Client, ClientConfig, NumberStatus, SearchFilters};
use talkturo_sim::config::SimConfig;
use talkturo_sim::{NumberStatus as SimStatus, SimServer};

const TEAM: &str = "team_demo";

async fn start(configure: impl FnOnce(&mut SimConfig)) -> (SimServer, Client) {
    let mut c = SimConfig {
        activation_delay_ms: 0,
        ..SimConfig::default()
    };
    configure(&mut c);
    let s = SimServer::start(c).await.unwrap();
    let mut cc = ClientConfig::new(s.base_url(), SecretString::from("tk_demo_token"));
    cc.max_retries = 0;
    let client = Client::new(cc).unwrap();
    (s, client)
}

fn filters(country: &str, area: Option<&str>) -> SearchFilters {
    SearchFilters {
        country_code: country.into(),
        area_code: area.map(Into::into),
        number_type: None,
        limit: Some(20),
    }
}

async fn offers(c: &Client, country: &str, area: Option<&str>) -> Vec<String> {
    c.search(&filters(country, area))
        .await
        .unwrap()
        .numbers
        .into_iter()
        .map(|n| n.phone_number)
        .collect()
}

#[tokio::test]
async fn a_second_purchase_of_an_owned_number_answers_409() {
    let (_s, c) = start(|_| {}).await;
    let n = offers(&c, "US", Some("415")).await.remove(0);
    c.purchase(&n, TEAM).await.unwrap();
    assert_eq!(c.purchase(&n, TEAM).await.unwrap_err().status(), Some(409));
}

#[tokio::test]
async fn search_never_offers_an_owned_number() {
    let (_s, c) = start(|_| {}).await;
    let before = offers(&c, "US", Some("415")).await;
    for n in &before[..5] {
        c.purchase(n, TEAM).await.unwrap();
    }
    let after = offers(&c, "US", Some("415")).await;
    assert_eq!(after.len(), 20, "the pool still fills the page");
    assert!(
        before[..5].iter().all(|n| !after.contains(n)),
        "owned numbers were offered again"
    );
}

#[tokio::test]
async fn the_same_seed_serves_the_same_inventory() {
    let (_a, ca) = start(|c| c.seed = 11).await;
    let (_b, cb) = start(|c| c.seed = 11).await;
    let (_x, cx) = start(|c| c.seed = 12).await;
    let full = |c: Client| async move { c.search(&filters("US", Some("212"))).await.unwrap() };
    let (a, b, x) = (full(ca).await, full(cb).await, full(cx).await);
    assert_eq!(a, b);
    assert_ne!(a, x);
}

#[tokio::test]
async fn area_code_is_ignored_outside_us_and_ca_and_bad_filters_answer_400() {
    let (_s, c) = start(|_| {}).await;
    assert_eq!(
        offers(&c, "GB", Some("415")).await,
        offers(&c, "GB", None).await
    );
    assert_eq!(
        c.search(&filters("gb", None)).await.unwrap_err().status(),
        Some(400)
    );
    let bad_type = SearchFilters {
        number_type: Some("mobile".into()),
        ..filters("US", None)
    };
    assert_eq!(c.search(&bad_type).await.unwrap_err().status(), Some(400));
    let many = SearchFilters {
        limit: Some(500),
        ..filters("US", None)
    };
    assert_eq!(
        c.search(&many).await.unwrap().numbers.len(),
        20,
        "limit is capped at 20"
    );
}

#[tokio::test]
async fn a_trial_number_expires_after_the_configured_duration_suspended_and_unassigned() {
    let (s, c) = start(|c| {
        c.trial_duration_secs = 3600;
        c.accounts[0].teams[0].subscribed = false;
    })
    .await;
    let n = offers(&c, "US", None).await.remove(0);
    let bought = c.purchase(&n, TEAM).await.unwrap().phone_number;
    assert!(bought.is_trial);
    let expires = bought.trial_expires_at.unwrap();
    let created = c.list(TEAM).await.unwrap()[0].created_at.unwrap();
    assert_eq!(expires.duration_since(created).as_secs(), 3600);
    c.assign("asst_demo_sales", "demo", std::slice::from_ref(&bought.id))
        .await
        .unwrap();

    s.sim.world().advance(jiff::SignedDuration::from_secs(3599));
    let r = &c.list(TEAM).await.unwrap()[0];
    assert_eq!(
        (r.status.clone(), r.assistant_id.as_deref()),
        (NumberStatus::Active, Some("asst_demo_sales"))
    );

    s.sim.world().advance(jiff::SignedDuration::from_secs(2));
    let r = &c.list(TEAM).await.unwrap()[0];
    assert_eq!(r.status, NumberStatus::Suspended);
    assert_eq!(r.assistant_id, None);
    assert!(
        c.assistant_numbers("asst_demo_sales")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_plan_limit_is_enforced_and_a_free_account_gets_one_trial_number() {
    let (s, c) = start(|c| c.accounts[0].teams[0].max_numbers = 3).await;
    let ns = offers(&c, "US", None).await;
    for n in &ns[..3] {
        c.purchase(n, TEAM).await.unwrap();
    }
    assert_eq!(
        c.purchase(&ns[3], TEAM).await.unwrap_err().status(),
        Some(403)
    );
    s.sim.world().team_mut(TEAM).unwrap().max_numbers = 4;
    c.purchase(&ns[3], TEAM).await.unwrap();

    let (_s, free) = start(|c| c.accounts[0].teams[0].subscribed = false).await;
    let ns = offers(&free, "US", None).await;
    free.purchase(&ns[0], TEAM).await.unwrap();
    let e = free.purchase(&ns[1], TEAM).await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("one trial number"), "{e}");
}

#[tokio::test]
async fn assigning_a_number_that_is_not_active_answers_400() {
    let (s, c) = start(|c| c.activation_delay_ms = 60_000).await;
    let n = c
        .purchase(&offers(&c, "US", None).await[0], TEAM)
        .await
        .unwrap()
        .phone_number;
    let e = c
        .assign("asst_demo_sales", "demo", std::slice::from_ref(&n.id))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("purchasing"), "{e}");

    s.sim
        .world()
        .set_status(&n.phone_number, SimStatus::Suspended)
        .unwrap();
    assert_eq!(
        c.set_assistant_numbers("asst_demo_sales", std::slice::from_ref(&n.id))
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
}

#[tokio::test]
async fn assigning_a_number_held_by_another_assistant_answers_409() {
    let (_s, c) = start(|_| {}).await;
    let n = c
        .purchase(&offers(&c, "US", None).await[0], TEAM)
        .await
        .unwrap()
        .phone_number;
    c.assign("asst_demo_sales", "demo", std::slice::from_ref(&n.id))
        .await
        .unwrap();
    let ids = std::slice::from_ref(&n.id);
    assert_eq!(
        c.assign("asst_demo_support", "demo", ids)
            .await
            .unwrap_err()
            .status(),
        Some(409)
    );
    assert_eq!(
        c.set_assistant_numbers("asst_demo_support", ids)
            .await
            .unwrap_err()
            .status(),
        Some(409)
    );
    // Assigning it again to its own assistant is harmless.
    c.assign("asst_demo_sales", "demo", ids).await.unwrap();
    assert_eq!(
        c.assign("asst_nope", "demo", ids)
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
}

#[tokio::test]
async fn a_purchasing_number_turns_active_after_the_activation_delay() {
    let (_s, c) = start(|c| c.activation_delay_ms = 300).await;
    c.purchase(&offers(&c, "US", None).await[0], TEAM)
        .await
        .unwrap();
    assert_eq!(
        c.list(TEAM).await.unwrap()[0].status,
        NumberStatus::Purchasing
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(c.list(TEAM).await.unwrap()[0].status, NumberStatus::Active);
}

#[tokio::test]
async fn another_accounts_team_is_forbidden() {
    let (_s, c) = start(|c| {
        let mut other = c.accounts[0].clone();
        other.slug = "other".into();
        other.tokens = vec!["tk_other".into()];
        other.teams[0].id = "team_other".into();
        other.assistants.clear();
        c.accounts.push(other);
    })
    .await;
    assert_eq!(c.list("team_other").await.unwrap_err().status(), Some(403));
    let n = offers(&c, "US", None).await.remove(0);
    assert_eq!(
        c.purchase(&n, "team_other").await.unwrap_err().status(),
        Some(403)
    );
}

#[tokio::test]
async fn the_example_config_file_loads_and_serves_its_accounts() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/sim/config.example.yaml");
    let mut config = SimConfig::from_yaml(&std::fs::read_to_string(path).unwrap()).unwrap();
    config.activation_delay_ms = 0;
    assert_eq!(config.accounts.len(), 2);
    let s = SimServer::start(config).await.unwrap();
    let tinker = Client::new(ClientConfig::new(
        s.base_url(),
        SecretString::from("tk_tinker"),
    ))
    .unwrap();
    let n = tinker
        .search(&filters("US", None))
        .await
        .unwrap()
        .numbers
        .remove(0)
        .phone_number;
    assert!(
        tinker
            .purchase(&n, "team_tinker")
            .await
            .unwrap()
            .phone_number
            .is_trial,
        "a free account buys trial numbers"
    );
    assert_eq!(
        tinker.list("team_acme").await.unwrap_err().status(),
        Some(403),
        "another account's team"
    );
}
