//! `Client::live_campaigns`: every page of the campaigns that may dial, and answers that must
//! never read as "no campaign uses this number".

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use talkturo_operator::talkturo::{Client, ClientConfig, Error};
use talkturo_sim::state::{CampaignStatus, NewCampaign};
use talkturo_sim::{Op, SimServer};

use super::{TEAM, client, first_offer, sim};

/// Buys a number, gives it to the demo's sales assistant, and starts `n` campaigns per status
/// on it; the number.
async fn with_campaigns(s: &SimServer, n: usize, statuses: &[CampaignStatus]) -> String {
    let c = client(s);
    let number = first_offer(&c).await;
    let id = c.purchase(&number, TEAM).await.unwrap().phone_number.id;
    c.assign("asst_demo_sales", "demo", &[id]).await.unwrap();
    let mut world = s.sim.world();
    let now = world.now();
    for status in statuses {
        for i in 0..n {
            let new = NewCampaign {
                team_id: TEAM.into(),
                assistant_id: "asst_demo_sales".into(),
                name: format!("{status:?} {i}"),
                from_number: number.clone(),
                status: *status,
            };
            world.create_campaign(new, now).unwrap();
        }
    }
    number
}

#[tokio::test]
async fn live_campaigns_are_read_across_pages_and_idle_ones_left_out() {
    let s = sim(|_| {}).await;
    let number = with_campaigns(
        &s,
        130,
        &[CampaignStatus::Running, CampaignStatus::Completed],
    )
    .await;
    with_campaigns(&s, 1, &[CampaignStatus::Paused, CampaignStatus::Draft]).await;
    s.sim.reset_counters();
    let live = client(&s).live_campaigns(TEAM).await.unwrap();
    assert_eq!(live.len(), 131, "130 running and 1 paused");
    assert!(
        live.iter()
            .any(|c| c.from_number.as_deref() == Some(&*number))
    );
    assert!(live.iter().all(|c| c.holds_its_number()));
    // scheduled: 1 page; running: 2 pages, read twice; paused: 1 page.
    assert_eq!(s.sim.calls(Op::Campaigns), 6);
}

/// A server answering every campaigns request with `body`.
async fn canned(body: Value) -> Client {
    let app = axum::Router::new().route(
        "/api/crm/campaigns",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut c = ClientConfig::new(
        format!("http://{addr}"),
        SecretString::from("tk".to_owned()),
    );
    c.timeout = Duration::from_secs(3);
    c.max_retries = 0;
    Client::new(c).unwrap()
}

fn campaign(from: &str, status: &str) -> Value {
    json!({"id": "camp_1", "name": "Spring", "assistant_id": "asst_1", "from_number": from, "status": status})
}

#[tokio::test]
async fn answers_that_could_hide_a_campaign_are_invalid() {
    let cases = [
        (
            "no campaigns key",
            json!({"success": true, "data": [], "count": 0}),
        ),
        ("no count", json!({"success": true, "campaigns": []})),
        (
            "a number that is not E.164",
            json!({"success": true, "campaigns": [campaign("4155550100", "running")], "count": 1}),
        ),
        (
            "fewer than announced",
            json!({"success": true, "campaigns": [], "count": 3}),
        ),
        (
            "more than announced",
            json!({"success": true, "campaigns": [campaign("+14155550100", "running")], "count": 0}),
        ),
        (
            "a count past the bound",
            json!({"success": true, "campaigns": [], "count": 10_000_000}),
        ),
        ("success false", json!({"success": false, "message": "no"})),
    ];
    for (what, body) in cases {
        match canned(body).await.live_campaigns(TEAM).await {
            Err(Error::InvalidResponse { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_status_the_contract_does_not_name_counts_as_dialling() {
    let c = canned(json!({"success": true, "count": 1,
        "campaigns": [campaign("+14155550100", "warming_up")]}))
    .await;
    let live = c.live_campaigns(TEAM).await.unwrap();
    // Each of the three statuses answered the same campaign: it is kept once.
    assert_eq!(live.len(), 1);
    let c = canned(json!({"success": true, "count": 1,
        "campaigns": [campaign("+14155550100", "completed")]}))
    .await;
    assert!(c.live_campaigns(TEAM).await.unwrap().is_empty());
}
