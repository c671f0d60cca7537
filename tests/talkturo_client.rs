//! The Talkturo client against the simulator on a loopback port: every contract call, and every
//! failure classified the way the purchase protocol relies on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use secrecy::SecretString;
use talkturo_operator::talkturo::{
    Client, ClientConfig, Error, NumberStatus, Outcome, SearchFilters,
};
use talkturo_sim::config::{RecordCase, SimConfig};
use talkturo_sim::{FaultAction, FaultRule, LostMode, Op, SimServer};

#[path = "talkturo_client/campaigns.rs"]
mod campaigns;

const TEAM: &str = "team_demo";

async fn sim(configure: impl FnOnce(&mut SimConfig)) -> SimServer {
    let mut c = SimConfig {
        activation_delay_ms: 0,
        ..SimConfig::default()
    };
    configure(&mut c);
    SimServer::start(c).await.unwrap()
}

fn client(s: &SimServer) -> Client {
    client_with(s, "tk_demo_token", |_| {})
}

fn client_with(s: &SimServer, token: &str, configure: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut c = ClientConfig::new(s.base_url(), SecretString::from(token.to_owned()));
    c.timeout = Duration::from_secs(3);
    configure(&mut c);
    Client::new(c).unwrap()
}

fn us_415() -> SearchFilters {
    SearchFilters {
        country_code: "US".into(),
        area_code: Some("415".into()),
        number_type: Some("local".into()),
        limit: Some(5),
    }
}

async fn first_offer(c: &Client) -> String {
    c.search(&us_415()).await.unwrap().numbers[0]
        .phone_number
        .clone()
}

#[tokio::test]
async fn search_purchase_and_list_round_trip() {
    let s = sim(|_| {}).await;
    let c = client(&s);
    let found = c.search(&us_415()).await.unwrap();
    assert_eq!(found.numbers.len(), 5);
    assert_eq!(found.provider.as_deref(), Some("telnyx"));
    let offer = &found.numbers[0];
    assert!(offer.phone_number.starts_with("+1415"));
    assert!(offer.monthly_price.is_some() && offer.setup_price.is_some());

    let bought = c.purchase(&offer.phone_number, TEAM).await.unwrap();
    assert_eq!(bought.phone_number.phone_number, offer.phone_number);
    assert!(bought.phone_number.id.starts_with("pn_"));
    assert!(bought.phone_number.provider_id.is_some());
    assert_eq!(bought.phone_number.status, NumberStatus::Purchasing);
    let el = bought.eligibility.unwrap();
    assert_eq!(
        (el.current_count, el.max_allowed, el.has_subscription),
        (Some(1), Some(100), Some(true))
    );

    let listed = c.list(TEAM).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, bought.phone_number.id);
    assert_eq!(
        listed[0].status,
        NumberStatus::Active,
        "activation delay is 0"
    );
    assert_eq!(s.sim.world().purchases(), 1);
}

#[tokio::test]
async fn the_list_is_read_across_pages() {
    let s = sim(|c| c.list_limit_cap = 3).await;
    let c = client_with(&s, "tk_demo_token", |c| c.page_size = 3);
    let offers = c
        .search(&SearchFilters {
            limit: Some(8),
            ..us_415()
        })
        .await
        .unwrap()
        .numbers;
    for o in &offers {
        c.purchase(&o.phone_number, TEAM).await.unwrap();
    }
    s.sim.reset_counters();
    let listed = c.list(TEAM).await.unwrap();
    assert_eq!(listed.len(), 8);
    assert_eq!(s.sim.calls(Op::List), 3, "8 records at 3 a page");
}

#[tokio::test]
async fn assign_read_back_replace_and_release() {
    let s = sim(|c| c.release_enabled = true).await;
    let c = client(&s);
    let n = c
        .purchase(&first_offer(&c).await, TEAM)
        .await
        .unwrap()
        .phone_number;
    c.assign("asst_demo_sales", "demo", std::slice::from_ref(&n.id))
        .await
        .unwrap();
    let held = c.assistant_numbers("asst_demo_sales").await.unwrap();
    assert_eq!(
        held.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [n.id.as_str()]
    );
    assert_eq!(held[0].assistant_name.as_deref(), Some("Sales Agent"));

    c.set_assistant_numbers("asst_demo_sales", &[])
        .await
        .unwrap();
    // Unassigned, it is still listed: the GET holds every active number that is unassigned or
    // on this assistant (contract §2.6), and none carries the assistant's id any more.
    let after = c.assistant_numbers("asst_demo_sales").await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, n.id);
    assert_eq!(after[0].assistant_id, None);

    c.release(&n.id).await.unwrap();
    assert!(c.list(TEAM).await.unwrap().is_empty());
    let again = c.release(&n.id).await.unwrap_err();
    assert_eq!(
        (again.status(), again.outcome()),
        (Some(404), Outcome::Definite)
    );
}

#[tokio::test]
async fn release_without_the_endpoint_is_a_definite_404_and_keeps_the_number() {
    let s = sim(|_| {}).await;
    let c = client(&s);
    let n = c
        .purchase(&first_offer(&c).await, TEAM)
        .await
        .unwrap()
        .phone_number;
    let e = c.release(&n.id).await.unwrap_err();
    assert_eq!((e.status(), e.outcome()), (Some(404), Outcome::Definite));
    assert_eq!(c.list(TEAM).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_a_definite_401() {
    let s = sim(|_| {}).await;
    let e = client_with(&s, "tk_wrong", |_| {})
        .list(TEAM)
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.outcome()), (Some(401), Outcome::Definite));
    assert!(e.to_string().contains("Unauthorized"), "{e}");
    assert!(
        !format!("{e:?}").contains("tk_wrong"),
        "the token must never appear in errors"
    );
    assert_eq!(
        s.sim.calls(Op::List),
        1,
        "a definite failure is not retried"
    );
}

#[tokio::test]
async fn the_plan_limit_is_a_definite_403_with_its_message() {
    let s = sim(|c| c.accounts[0].teams[0].max_numbers = 1).await;
    let c = client(&s);
    let offers = c.search(&us_415()).await.unwrap().numbers;
    c.purchase(&offers[0].phone_number, TEAM).await.unwrap();
    let e = c.purchase(&offers[1].phone_number, TEAM).await.unwrap_err();
    assert_eq!((e.status(), e.outcome()), (Some(403), Outcome::Definite));
    assert!(e.to_string().contains("plan limit"), "{e}");
    assert_eq!(s.sim.world().purchases(), 1);
}

#[tokio::test]
async fn a_number_gone_is_404_or_410_and_an_owned_one_409() {
    let s = sim(|c| {
        c.accounts[0].teams.push(talkturo_sim::config::TeamConfig {
            id: "team_other".into(),
            ..Default::default()
        })
    })
    .await;
    let c = client(&s);
    let offers = c.search(&us_415()).await.unwrap().numbers;

    s.sim.world().withdraw(&offers[0].phone_number);
    let e = c.purchase(&offers[0].phone_number, TEAM).await.unwrap_err();
    assert_eq!((e.status(), e.outcome()), (Some(404), Outcome::Definite));

    c.purchase(&offers[1].phone_number, "team_other")
        .await
        .unwrap();
    let e = c.purchase(&offers[1].phone_number, TEAM).await.unwrap_err();
    assert_eq!((e.status(), e.outcome()), (Some(410), Outcome::Definite));

    c.purchase(&offers[2].phone_number, TEAM).await.unwrap();
    let e = c.purchase(&offers[2].phone_number, TEAM).await.unwrap_err();
    assert_eq!((e.status(), e.outcome()), (Some(409), Outcome::Definite));
    assert!(e.to_string().contains("already exists"), "{e}");
}

#[tokio::test]
async fn a_429_with_retry_after_makes_the_client_wait_then_succeed() {
    let s = sim(|_| {}).await;
    let c = client(&s);
    s.sim.set_faults(vec![FaultRule::on(
        Op::List,
        FaultAction::Status {
            status: 429,
            retry_after_secs: Some(1),
        },
        Some(1),
    )]);
    let started = Instant::now();
    c.list(TEAM).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(s.sim.calls(Op::List), 2);

    // A purchase refused with 429 never reached the service, so it is safe to repeat.
    s.sim.set_faults(vec![FaultRule::on(
        Op::Purchase,
        FaultAction::Status {
            status: 429,
            retry_after_secs: Some(0),
        },
        Some(1),
    )]);
    c.purchase(&first_offer(&c).await, TEAM).await.unwrap();
    assert_eq!(s.sim.calls(Op::Purchase), 2);
}

#[tokio::test]
async fn a_5xx_is_transient_and_retried_for_reads_but_unknown_and_not_repeated_for_purchase() {
    let s = sim(|_| {}).await;
    let c = client_with(&s, "tk_demo_token", |c| c.max_retries = 2);
    s.sim.set_faults(vec![FaultRule::on(
        Op::Search,
        FaultAction::Status {
            status: 503,
            retry_after_secs: None,
        },
        Some(1),
    )]);
    c.search(&us_415()).await.unwrap();
    assert_eq!(s.sim.calls(Op::Search), 2);

    s.sim.set_faults(vec![FaultRule::on(
        Op::List,
        FaultAction::Status {
            status: 500,
            retry_after_secs: None,
        },
        None,
    )]);
    let e = c.list(TEAM).await.unwrap_err();
    assert_eq!((e.status(), e.outcome()), (Some(500), Outcome::Transient));
    assert_eq!(s.sim.calls(Op::List), 3, "one call and two retries");

    s.sim.set_faults(vec![FaultRule::on(
        Op::Purchase,
        FaultAction::Status {
            status: 502,
            retry_after_secs: None,
        },
        None,
    )]);
    let e = c.purchase(&first_offer(&c).await, TEAM).await.unwrap_err();
    assert_eq!((e.status(), e.outcome()), (Some(502), Outcome::Unknown));
    assert_eq!(
        s.sim.calls(Op::Purchase),
        1,
        "an unknown outcome is never repeated blindly"
    );
}

#[tokio::test]
async fn a_purchase_timeout_is_an_unknown_outcome_settled_by_the_list() {
    let s = sim(|_| {}).await;
    let c = client_with(&s, "tk_demo_token", |c| {
        c.timeout = Duration::from_millis(500)
    });
    let number = first_offer(&c).await;
    s.sim.set_faults(vec![FaultRule::on(
        Op::Purchase,
        FaultAction::LostResponse {
            mode: LostMode::Hang,
        },
        Some(1),
    )]);
    let e = c.purchase(&number, TEAM).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert_eq!(e.outcome(), Outcome::Unknown);
    assert_eq!(s.sim.calls(Op::Purchase), 1);
    let owned = c.list(TEAM).await.unwrap();
    assert_eq!(
        owned
            .iter()
            .map(|r| r.phone_number.as_str())
            .collect::<Vec<_>>(),
        [number.as_str()]
    );
}

#[tokio::test]
async fn a_lost_purchase_response_is_an_unknown_outcome_and_the_list_shows_the_number_owned() {
    for mode in [LostMode::Drop, LostMode::ServerError] {
        let s = sim(|_| {}).await;
        let c = client(&s);
        let number = first_offer(&c).await;
        s.sim.set_faults(vec![FaultRule::on(
            Op::Purchase,
            FaultAction::LostResponse { mode },
            Some(1),
        )]);
        let e = c.purchase(&number, TEAM).await.unwrap_err();
        assert_eq!(e.outcome(), Outcome::Unknown, "{mode:?}: {e:?}");
        assert_eq!(s.sim.calls(Op::Purchase), 1, "{mode:?}");
        assert_eq!(
            s.sim.world().purchases(),
            1,
            "{mode:?}: the purchase took effect"
        );
        let owned = c.list(TEAM).await.unwrap();
        assert_eq!(owned.len(), 1, "{mode:?}");
        assert_eq!(owned[0].phone_number, number);
        // Buying it again is refused as already owned: the caller adopts it.
        assert_eq!(
            c.purchase(&number, TEAM).await.unwrap_err().status(),
            Some(409)
        );
    }
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response() {
    let s = sim(|_| {}).await;
    let c = client_with(&s, "tk_demo_token", |c| c.max_retries = 0);
    s.sim
        .set_faults(vec![FaultRule::on(Op::List, FaultAction::Malformed, None)]);
    let e = c.list(TEAM).await.unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    assert_eq!(e.kind(), "invalid_response");
}

#[tokio::test]
async fn camel_case_records_decode_like_snake_case_ones() {
    let s = sim(|c| c.record_case = RecordCase::Camel).await;
    let c = client(&s);
    let bought = c
        .purchase(&first_offer(&c).await, TEAM)
        .await
        .unwrap()
        .phone_number;
    c.assign(
        "asst_demo_support",
        "demo",
        std::slice::from_ref(&bought.id),
    )
    .await
    .unwrap();
    let listed = c.list(TEAM).await.unwrap();
    assert_eq!(listed[0].phone_number, bought.phone_number);
    assert_eq!(listed[0].assistant_id.as_deref(), Some("asst_demo_support"));
    assert_eq!(listed[0].assistant_name.as_deref(), Some("Support Agent"));
    assert!(listed[0].provider_id.is_some() && listed[0].created_at.is_some());
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = ClientConfig::new(format!("http://{addr}"), SecretString::from("t"));
    cfg.max_retries = 1;
    let e = Client::new(cfg)
        .unwrap()
        .purchase("+14155550101", TEAM)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    assert_eq!(e.outcome(), Outcome::Transient);
}

#[tokio::test]
async fn every_call_is_counted_by_operation_and_outcome() {
    let s = sim(|_| {}).await;
    let metrics = std::sync::Arc::new(talkturo_operator::talkturo::ClientMetrics::default());
    let c = client(&s).with_metrics(metrics.clone());
    c.list(TEAM).await.unwrap();
    c.list("team_nope").await.unwrap_err();
    assert_eq!(metrics.calls("list", "ok"), 1);
    assert_eq!(metrics.calls("list", "http_4xx"), 1);
}

/// Failure 7: a list that claims 10^12 records and ignores `offset` grew the operator without
/// bound. The first page's count is checked against the record limit; a page repeated (offset
/// ignored) is caught at once; a limit raised past any sense still ends within its bounds.
#[tokio::test]
async fn an_endless_list_is_refused_within_a_few_pages() {
    let s = sim(|c| c.list_limit_cap = 3).await;
    let c = client_with(&s, "tk_demo_token", |c| c.page_size = 3);
    for o in c
        .search(&SearchFilters {
            limit: Some(8),
            ..us_415()
        })
        .await
        .unwrap()
        .numbers
    {
        c.purchase(&o.phone_number, TEAM).await.unwrap();
    }
    s.sim.set_faults(vec![FaultRule::on(
        Op::List,
        FaultAction::EndlessList,
        None,
    )]);
    s.sim.reset_counters();
    let e = tokio::time::timeout(Duration::from_secs(10), c.list(TEAM))
        .await
        .expect("bounded")
        .unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e}");
    assert!(e.to_string().contains("1000000000000"), "{e}");
    assert_eq!(
        s.sim.calls(Op::List),
        1,
        "the announced count alone refuses it"
    );

    // With the record limit raised past the announced count, the repeated page is caught.
    let lax = client_with(&s, "tk_demo_token", |c| {
        c.page_size = 3;
        c.max_list_records = usize::MAX;
    });
    s.sim.reset_counters();
    let e = tokio::time::timeout(Duration::from_secs(10), lax.list(TEAM))
        .await
        .expect("bounded")
        .unwrap_err();
    assert!(e.to_string().contains("came twice"), "{e}");
    assert!(
        s.sim.calls(Op::List) <= 6,
        "{} pages",
        s.sim.calls(Op::List)
    );

    // A list that honours offset but never ends (more records than the limit) stops at it.
    s.sim.set_faults(vec![]);
    let small = client_with(&s, "tk_demo_token", |c| {
        c.page_size = 3;
        c.max_list_records = 5;
    });
    let e = small.list(TEAM).await.unwrap_err();
    assert!(e.to_string().contains("more than the 5"), "{e}");
}

/// Failure 9: redirects were followed and another host's answer taken for the account's.
#[tokio::test]
async fn a_redirect_is_an_error_naming_the_target_origin_and_is_not_followed() {
    let s = sim(|_| {}).await;
    let other = sim(|_| {}).await;
    s.sim.set_faults(vec![FaultRule::on(
        Op::List,
        FaultAction::Redirect {
            location: format!(
                "{}/api/phone-numbers/purchase?teamId=team_demo&k=secret",
                other.base_url()
            ),
        },
        None,
    )]);
    let e = client(&s).list(TEAM).await.unwrap_err();
    assert!(matches!(e, Error::Redirect { status: 302, .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&other.base_url()) && !text.contains("secret"),
        "{text}"
    );
    assert_eq!(e.outcome(), Outcome::Definite);
    assert_eq!(other.sim.calls(Op::List), 0, "not followed");
}

/// Failure 8: an error body echoing the `Authorization` header put the key into messages; a
/// 3 MB message made status writes fail.
#[tokio::test]
async fn error_text_is_cut_and_scrubbed_of_the_key() {
    let s = sim(|_| {}).await;
    s.sim.set_faults(vec![FaultRule::on(
        Op::Search,
        FaultAction::EchoAuthorization { bytes: 3 << 20 },
        None,
    )]);
    let e = client(&s).search(&us_415()).await.unwrap_err();
    let text = e.to_string();
    assert!(!text.contains("tk_demo_token"), "{text}");
    assert!(text.contains("Bearer [redacted]"), "{text}");
    assert!(text.len() < 400, "{} bytes", text.len());
    assert_eq!(e.status(), Some(400));
}

/// Failure 5: a purchase answer naming another number than the one asked for.
#[tokio::test]
async fn a_purchase_answer_for_another_number_is_a_mismatch_of_unknown_outcome() {
    let s = sim(|_| {}).await;
    let c = client(&s);
    let asked = first_offer(&c).await;
    s.sim.set_faults(vec![FaultRule::on(
        Op::Purchase,
        FaultAction::MismatchedPurchase,
        Some(1),
    )]);
    let e = c.purchase(&asked, TEAM).await.unwrap_err();
    let Error::PurchaseMismatch {
        asked: a, answered, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(a, &asked);
    assert_ne!(answered, &asked);
    assert_eq!(e.outcome(), Outcome::Unknown);
    let listed = c.list(TEAM).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        &listed[0].phone_number, answered,
        "the other number was bought"
    );
}

/// Failures 4 and 6: malformed numbers and one number under two ids are invalid lists.
#[tokio::test]
async fn lists_with_malformed_numbers_or_twin_ids_are_invalid() {
    let s = sim(|_| {}).await;
    let c = client(&s);
    c.purchase(&first_offer(&c).await, TEAM).await.unwrap();
    for (action, says) in [
        (FaultAction::MalformedNumbers, "not E.164"),
        (FaultAction::DuplicateIds, "listed twice"),
    ] {
        s.sim
            .set_faults(vec![FaultRule::on(Op::List, action, None)]);
        let e = c.list(TEAM).await.unwrap_err();
        assert!(matches!(e, Error::InvalidResponse { .. }), "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
    // An empty list is a valid answer at this layer (the operator judges it against what the
    // account held before).
    s.sim
        .set_faults(vec![FaultRule::on(Op::List, FaultAction::EmptyList, None)]);
    assert!(c.list(TEAM).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_service_is_reported_with_its_cause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(ClientConfig::new(
        format!("http://127.0.0.1:{port}"),
        SecretString::from("tk_demo_token"),
    ))
    .unwrap();
    let e = c.list(TEAM).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    assert!(e.to_string().contains("Connection refused"), "{e}");
}
