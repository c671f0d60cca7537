//! The simulator against the Talkturo API contract, row by row, written from the
//! contract's text and spoken to in raw HTTP (not through the operator's client, which reads the
//! same contract and could share a misreading): endpoints, bodies, status codes, list
//! semantics, casing. Where the two disagree, the simulator changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talkturo_sim::config::{AccountConfig, RecordCase, SimConfig, TeamConfig};
use talkturo_sim::{FaultAction, FaultRule, Op, SimServer};

#[path = "conformance/campaigns.rs"]
mod campaigns;

const TOKEN: &str = "tk_demo_token";
const TEAM: &str = "team_demo";
const SALES: &str = "asst_demo_sales";
const SUPPORT: &str = "asst_demo_support";

struct Api {
    sim: SimServer,
    http: reqwest::Client,
}

async fn api(configure: impl FnOnce(&mut SimConfig)) -> Api {
    let mut c = SimConfig {
        activation_delay_ms: 0,
        release_enabled: true,
        ..SimConfig::default()
    };
    let other = AccountConfig {
        slug: "other".into(),
        account_id: "acct_other".into(),
        tokens: vec!["tk_other".into()],
        teams: vec![TeamConfig {
            id: "team_other".into(),
            ..TeamConfig::default()
        }],
        assistants: vec![],
    };
    c.accounts.push(other);
    configure(&mut c);
    // reqwest is built without a TLS provider of its own (the operator installs ring's).
    let _ = rustls::crypto::ring::default_provider().install_default();
    Api {
        sim: SimServer::start(c).await.unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(TOKEN, method, path, body).await
    }

    async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn search(&self, filters: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/phone-numbers/search",
            Some(json!({ "filters": filters })),
        )
        .await
    }

    async fn offer(&self, area: &str) -> String {
        let (_, v) = self
            .search(json!({"countryCode": "US", "areaCode": area}))
            .await;
        v["numbers"][0]["phoneNumber"].as_str().unwrap().to_owned()
    }

    async fn purchase(&self, number: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/phone-numbers/purchase",
            Some(json!({"phoneNumber": number, "teamId": TEAM})),
        )
        .await
    }

    /// Buys the first offer of `area`; its record id.
    async fn bought(&self, area: &str) -> String {
        let (s, v) = self.purchase(&self.offer(area).await).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["phoneNumber"]["id"].as_str().unwrap().to_owned()
    }

    async fn list(&self) -> Value {
        let (s, v) = self
            .call(
                Method::GET,
                &format!("/api/phone-numbers/purchase?teamId={TEAM}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn assistant(&self, assistant: &str) -> (StatusCode, Value) {
        self.call(
            Method::GET,
            &format!("/api/assistants/{assistant}/telephony/phone-numbers"),
            None,
        )
        .await
    }

    async fn assign(&self, assistant: &str, ids: &[&str]) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/api/assistants/{assistant}/telephony/assign-phone-numbers"),
            Some(json!({"accountSlug": "demo", "phoneNumberIds": ids})),
        )
        .await
    }

    async fn set(&self, assistant: &str, ids: &[&str]) -> (StatusCode, Value) {
        self.call(
            Method::PATCH,
            &format!("/api/assistants/{assistant}/telephony/phone-numbers"),
            Some(json!({ "phoneNumberIds": ids })),
        )
        .await
    }

    /// The assistant id each listed record carries, by record id.
    async fn assignments(&self) -> std::collections::BTreeMap<String, Option<String>> {
        self.list().await["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_owned(),
                    r["assistant_id"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }
}

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

// ---- search ----

#[tokio::test]
async fn search_answers_offers_with_the_documented_fields_and_a_count_of_them() {
    let a = api(|_| {}).await;
    let (s, v) = a
        .search(json!({"countryCode": "US", "areaCode": "415", "numberType": "local", "limit": 5}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["provider"], json!("telnyx"));
    let numbers = v["numbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 5);
    assert_eq!(v["count"], json!(5), "count is the number of items");
    for n in numbers {
        let e164 = n["phoneNumber"].as_str().unwrap();
        assert!(e164.starts_with("+1415"), "{e164}");
        for price in ["monthlyPrice", "setupPrice"] {
            let p: rust_decimal::Decimal = n[price].as_str().unwrap().parse().unwrap();
            assert!(p >= rust_decimal::Decimal::ZERO);
        }
        assert!(n["features"].as_array().unwrap().contains(&json!("voice")));
    }
    // Default limit 20 (and no more, whatever is asked).
    let (_, v) = a.search(json!({"countryCode": "US", "limit": 500})).await;
    assert_eq!(v["numbers"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn search_answers_400_for_bad_filters_and_buys_nothing() {
    let a = api(|_| {}).await;
    for bad in [
        json!({"filters": {}}),
        json!({}),
        json!({"filters": {"countryCode": "USA"}}),
        json!({"filters": {"countryCode": "US", "areaCode": "41"}}),
        json!({"filters": {"countryCode": "US", "numberType": "mobile"}}),
    ] {
        let (s, v) = a
            .call(Method::POST, "/api/phone-numbers/search", Some(bad.clone()))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    assert_eq!(a.sim.sim.world().purchases(), 0);
}

#[tokio::test]
async fn a_bought_number_leaves_search_and_area_codes_apply_to_us_and_ca_only() {
    let a = api(|_| {}).await;
    let n = a.offer("415").await;
    a.purchase(&n).await;
    let (_, v) = a
        .search(json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    assert!(!v.to_string().contains(&n));
    let (s, gb) = a
        .search(json!({"countryCode": "GB", "areaCode": "415"}))
        .await;
    assert_eq!(s, StatusCode::OK, "ignored outside US/CA");
    assert!(!gb["numbers"].as_array().unwrap().is_empty());
}

// ---- purchase ----

#[tokio::test]
async fn purchase_answers_the_record_and_the_eligibility_of_the_contract() {
    let a = api(|_| {}).await;
    let n = a.offer("415").await;
    let (s, v) = a.purchase(&n).await;
    assert_eq!(s, StatusCode::OK, "no 201: creates answer 200");
    assert_eq!(v["success"], json!(true));
    let r = &v["phoneNumber"];
    for key in [
        "id",
        "phone_number",
        "provider",
        "provider_id",
        "status",
        "is_trial",
        "trial_expires_at",
    ] {
        assert!(r.get(key).is_some(), "record lacks {key}: {r}");
    }
    assert_eq!(r["phone_number"], json!(n));
    assert_eq!(r["status"], json!("purchasing"));
    assert_eq!(r["is_trial"], json!(false));
    assert_eq!(r["trial_expires_at"], Value::Null);
    let e = &v["eligibility"];
    assert_eq!(
        (
            &e["currentCount"],
            &e["maxAllowed"],
            &e["hasSubscription"],
            &e["planName"]
        ),
        (&json!(1), &json!(100), &json!(true), &json!("Growth"))
    );
}

#[tokio::test]
async fn purchase_failures_answer_the_contracts_status_codes() {
    let a = api(|c| c.accounts[0].teams[0].max_numbers = 1).await;
    // 400: invalid body or number.
    for bad in [
        json!({"teamId": TEAM}),
        json!({"phoneNumber": "+14155550101"}),
        json!({"phoneNumber": "14155550101", "teamId": TEAM}),
    ] {
        let (s, _) = a
            .call(
                Method::POST,
                "/api/phone-numbers/purchase",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    // 403: another account's team.
    let n = a.offer("415").await;
    let (s, _) = a
        .call(
            Method::POST,
            "/api/phone-numbers/purchase",
            Some(json!({"phoneNumber": n, "teamId": "team_other"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // 409: already owned by this team.
    assert_eq!(a.purchase(&n).await.0, StatusCode::OK);
    assert_eq!(a.purchase(&n).await.0, StatusCode::CONFLICT);
    // 403: plan limit (1 number).
    let second = a.offer("212").await;
    let (s, v) = a.purchase(&second).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["success"], json!(false));
    assert!(v["message"].as_str().unwrap().contains("plan limit"));
    // 404 or 410: no longer available (never offered, or owned by another team).
    let (s, _) = a.purchase("+14155550000").await;
    assert!(matches!(s.as_u16(), 404 | 410), "{s}");
    let (s, _) = a
        .call_as(
            "tk_other",
            Method::POST,
            "/api/phone-numbers/purchase",
            Some(json!({"phoneNumber": n, "teamId": "team_other"})),
        )
        .await;
    assert!(matches!(s.as_u16(), 404 | 410), "{s}");
    // 402: insufficient funds, from the fault injector (the simulator keeps no money).
    a.sim.sim.set_faults(vec![FaultRule::on(
        Op::Purchase,
        FaultAction::Status {
            status: 402,
            retry_after_secs: None,
        },
        Some(1),
    )]);
    assert_eq!(a.purchase(&second).await.0, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(a.sim.sim.world().purchases(), 1);
}

#[tokio::test]
async fn a_free_account_gets_one_trial_number_valid_for_the_configured_days() {
    let a = api(|c| {
        c.accounts[0].teams[0].subscribed = false;
        c.trial_duration_secs = 5 * 24 * 3600;
    })
    .await;
    let (s, v) = a.purchase(&a.offer("415").await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["phoneNumber"]["is_trial"], json!(true));
    let bought: jiff::Timestamp = a.sim.sim.world().now();
    let expires: jiff::Timestamp = v["phoneNumber"]["trial_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let days = expires.duration_since(bought).as_secs_f64() / 86_400.0;
    assert!((4.99..=5.01).contains(&days), "{days}");
    assert_eq!(
        a.purchase(&a.offer("212").await).await.0,
        StatusCode::FORBIDDEN
    );
    // Expired: suspended and unassigned, not deleted.
    let id = v["phoneNumber"]["id"].as_str().unwrap().to_owned();
    assert_eq!(a.assign(SALES, &[&id]).await.0, StatusCode::OK);
    a.sim
        .sim
        .world()
        .advance(jiff::SignedDuration::from_hours(5 * 24 + 1));
    let listed = a.list().await;
    let r = &listed["numbers"][0];
    assert_eq!(
        (&r["status"], &r["assistant_id"]),
        (&json!("suspended"), &Value::Null)
    );
}

// ---- list ----

#[tokio::test]
async fn list_answers_every_record_field_of_the_contract_and_the_total_count() {
    let a = api(|_| {}).await;
    let id = a.bought("415").await;
    a.bought("212").await;
    a.assign(SALES, &[&id]).await;
    let v = a.list().await;
    assert_eq!(v["success"], json!(true));
    assert_eq!(v["count"], json!(2));
    let r = v["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(id))
        .unwrap()
        .clone();
    for key in [
        "id",
        "phone_number",
        "provider",
        "status",
        "is_trial",
        "trial_expires_at",
        "assistant_id",
        "assistant_name",
        "purchased_by_email",
        "purchased_by_name",
        "created_at",
    ] {
        assert!(r.get(key).is_some(), "record lacks {key}: {r}");
    }
    assert_eq!(r["status"], json!("active"), "activation delay 0");
    assert_eq!(
        (&r["assistant_id"], &r["assistant_name"]),
        (&json!(SALES), &json!("Sales Agent"))
    );
    let created: Result<jiff::Timestamp, _> = r["created_at"].as_str().unwrap().parse();
    assert!(created.is_ok(), "ISO 8601");
}

#[tokio::test]
async fn list_pages_with_limit_and_offset_echoed_and_count_the_total() {
    let a = api(|_| {}).await;
    for area in ["415", "212", "646", "310", "512"] {
        a.bought(area).await;
    }
    let (s, v) = a
        .call(
            Method::GET,
            &format!("/api/phone-numbers/purchase?teamId={TEAM}&limit=2&offset=4"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (&v["limit"], &v["offset"], &v["count"]),
        (&json!(2), &json!(4), &json!(5))
    );
    assert_eq!(v["numbers"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn list_answers_403_for_another_accounts_team_and_401_without_a_token() {
    let a = api(|_| {}).await;
    let (s, _) = a
        .call(
            Method::GET,
            "/api/phone-numbers/purchase?teamId=team_other",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = a
        .call_as(
            "wrong",
            Method::GET,
            "/api/phone-numbers/purchase?teamId=team_demo",
            None,
        )
        .await;
    assert_eq!(
        (s, v),
        (StatusCode::UNAUTHORIZED, json!({"error": "Unauthorized"}))
    );
}

#[tokio::test]
async fn records_are_served_in_camel_case_when_configured() {
    let a = api(|c| c.record_case = RecordCase::Camel).await;
    a.bought("415").await;
    let r = &a.list().await["numbers"][0];
    for key in [
        "phoneNumber",
        "isTrial",
        "trialExpiresAt",
        "assistantId",
        "createdAt",
    ] {
        assert!(r.get(key).is_some(), "{key}: {r}");
    }
    assert!(r.get("phone_number").is_none());
}

// ---- assign ----

#[tokio::test]
async fn assign_adds_numbers_and_answers_400_404_409_as_the_contract_says() {
    let a = api(|c| c.activation_delay_ms = 60_000).await;
    let purchasing = a.bought("415").await;
    // 400: not active.
    assert_eq!(
        a.assign(SALES, &[&purchasing]).await.0,
        StatusCode::BAD_REQUEST
    );
    a.sim
        .sim
        .world()
        .advance(jiff::SignedDuration::from_secs(61));
    let (s, v) = a.assign(SALES, &[&purchasing]).await;
    assert_eq!((s, &v["success"]), (StatusCode::OK, &json!(true)));
    // 404: unknown assistant.
    assert_eq!(
        a.assign("asst_nobody", &[&purchasing]).await.0,
        StatusCode::NOT_FOUND
    );
    // 409: assigned to another assistant.
    assert_eq!(
        a.assign(SUPPORT, &[&purchasing]).await.0,
        StatusCode::CONFLICT
    );
    // Additive: a second number joins the first.
    let second = a.bought("212").await;
    a.sim
        .sim
        .world()
        .advance(jiff::SignedDuration::from_secs(61));
    a.assign(SALES, &[&second]).await;
    let held = a.assignments().await;
    assert_eq!(held[&purchasing].as_deref(), Some(SALES));
    assert_eq!(held[&second].as_deref(), Some(SALES));
}

// ---- numbers assignable to an assistant ----

#[tokio::test]
async fn the_assistant_get_lists_active_numbers_unassigned_or_on_that_assistant() {
    let a = api(|c| c.activation_delay_ms = 60_000).await;
    let on_sales = a.bought("415").await;
    let on_support = a.bought("212").await;
    let free = a.bought("646").await;
    a.sim
        .sim
        .world()
        .advance(jiff::SignedDuration::from_secs(61));
    let purchasing = a.bought("310").await;
    a.assign(SALES, &[&on_sales]).await;
    a.assign(SUPPORT, &[&on_support]).await;
    let (s, v) = a.assistant(SALES).await;
    assert_eq!((s, &v["success"]), (StatusCode::OK, &json!(true)));
    let mut want = vec![on_sales.clone(), free.clone()];
    want.sort();
    assert_eq!(
        ids(&v),
        want,
        "not {on_support} (another's), not {purchasing} (not active)"
    );
    // The assistant's own set is the records carrying its id.
    let own: Vec<&Value> = v["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["assistant_id"] == json!(SALES))
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["id"], json!(on_sales));
    assert_eq!(a.assistant("asst_nobody").await.0, StatusCode::NOT_FOUND);
}

// ---- set an assistant's numbers ----

#[tokio::test]
async fn set_replaces_the_assistants_whole_set_and_answers_400_404_409() {
    let a = api(|_| {}).await;
    let one = a.bought("415").await;
    let two = a.bought("212").await;
    let three = a.bought("646").await;
    a.assign(SALES, &[&one, &two]).await;
    // Sent → assigned; left out → unassigned from it.
    let (s, v) = a.set(SALES, &[&two, &three]).await;
    assert_eq!((s, &v["success"]), (StatusCode::OK, &json!(true)));
    let held = a.assignments().await;
    assert_eq!(
        (
            held[&one].as_deref(),
            held[&two].as_deref(),
            held[&three].as_deref()
        ),
        (None, Some(SALES), Some(SALES))
    );
    // The empty set unassigns everything it held, and nothing else.
    a.assign(SUPPORT, &[&one]).await;
    a.set(SALES, &[]).await;
    let held = a.assignments().await;
    assert_eq!(
        (
            held[&one].as_deref(),
            held[&two].as_deref(),
            held[&three].as_deref()
        ),
        (Some(SUPPORT), None, None)
    );
    assert_eq!(a.set("asst_nobody", &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(a.set(SALES, &[&one]).await.0, StatusCode::CONFLICT);
    assert_eq!(
        a.set(SALES, &["pn_unknown"]).await.0,
        StatusCode::BAD_REQUEST
    );
}

// ---- release ----

#[tokio::test]
async fn release_removes_the_number_for_good_and_answers_404_for_unknown_ids() {
    let a = api(|_| {}).await;
    let n = a.offer("415").await;
    let (_, v) = a.purchase(&n).await;
    let id = v["phoneNumber"]["id"].as_str().unwrap().to_owned();
    let (s, v) = a
        .call(Method::DELETE, &format!("/api/phone-numbers/{id}"), None)
        .await;
    assert_eq!((s, &v["success"]), (StatusCode::OK, &json!(true)));
    assert_eq!(a.list().await["count"], json!(0));
    assert!(
        !a.search(json!({"countryCode": "US", "areaCode": "415"}))
            .await
            .1
            .to_string()
            .contains(&n),
        "a released number never comes back"
    );
    let (s, _) = a
        .call(Method::DELETE, &format!("/api/phone-numbers/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn release_answers_404_when_the_endpoint_is_absent() {
    let a = api(|c| c.release_enabled = false).await;
    let id = a.bought("415").await;
    let (s, _) = a
        .call(Method::DELETE, &format!("/api/phone-numbers/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(a.list().await["count"], json!(1));
}

// ---- transport rules ----

#[tokio::test]
async fn bodies_without_json_content_type_are_refused() {
    let a = api(|_| {}).await;
    let resp = a
        .http
        .post(format!("{}/api/phone-numbers/search", a.sim.base_url()))
        .bearer_auth(TOKEN)
        .body(r#"{"filters":{"countryCode":"US"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
