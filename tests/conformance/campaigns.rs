//! The `campaigns` row of the contract (§6) and §4 item 22: the list, its filters and paging,
//! and the `409`s that keep a campaign's caller ID in place.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Api, SALES, SUPPORT, TEAM, api};

impl Api {
    /// Creates a campaign through the admin API: its status code and body.
    async fn campaign(&self, name: &str, from: &str, status: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}/admin/campaigns", self.sim.base_url()))
            .json(&json!({"teamId": TEAM, "assistantId": SALES, "name": name,
                "fromNumber": from, "status": status}))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn set_campaign(&self, id: &str, status: &str) {
        let resp = self
            .http
            .patch(format!("{}/admin/campaigns/{id}", self.sim.base_url()))
            .json(&json!({ "status": status }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    async fn campaigns(&self, query: &str) -> (StatusCode, Value) {
        self.call(Method::GET, &format!("/api/crm/campaigns?{query}"), None)
            .await
    }

    /// A number bought and assigned to [`SALES`]: its number and record id.
    async fn on_sales(&self, area: &str) -> (String, String) {
        let number = self.offer(area).await;
        let (_, v) = self.purchase(&number).await;
        let id = v["phoneNumber"]["id"].as_str().unwrap().to_owned();
        assert_eq!(self.assign(SALES, &[&id]).await.0, StatusCode::OK);
        (number, id)
    }
}

fn names(v: &Value) -> Vec<&str> {
    v["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn campaigns_answer_the_documented_fields_count_limit_and_offset() {
    let a = api(|_| {}).await;
    let (number, _) = a.on_sales("415").await;
    let (s, created) = a.campaign("Spring outreach", &number, "running").await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let (s, v) = a.campaigns(&format!("teamId={TEAM}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["success"], &v["count"], &v["limit"], &v["offset"]),
        (&json!(true), &json!(1), &json!(50), &json!(0))
    );
    let c = &v["campaigns"][0];
    for field in [
        "id",
        "team_id",
        "assistant_id",
        "name",
        "description",
        "from_number",
        "status",
        "call_window_start",
        "call_window_end",
        "call_window_timezone",
        "max_concurrent_calls",
        "total_contacts",
        "contacts_called",
        "contacts_completed",
        "contacts_answered",
        "created_at",
        "updated_at",
    ] {
        assert!(c.get(field).is_some(), "campaign lacks {field}: {c}");
    }
    assert_eq!(
        (&c["from_number"], &c["status"], &c["assistant_id"]),
        (&json!(number), &json!("running"), &json!(SALES))
    );
    assert!(c["id"].as_str().unwrap().starts_with("camp_"));
}

#[tokio::test]
async fn campaigns_page_at_most_100_and_count_every_match() {
    let a = api(|_| {}).await;
    let (number, _) = a.on_sales("415").await;
    for i in 0..120 {
        assert_eq!(
            a.campaign(&format!("c{i:03}"), &number, "completed")
                .await
                .0,
            StatusCode::CREATED
        );
    }
    let (_, v) = a.campaigns(&format!("teamId={TEAM}&limit=500")).await;
    assert_eq!((&v["count"], &v["limit"]), (&json!(120), &json!(100)));
    assert_eq!(names(&v).len(), 100);
    let (_, v) = a
        .campaigns(&format!("teamId={TEAM}&limit=30&offset=100"))
        .await;
    assert_eq!((&v["count"], &v["offset"]), (&json!(120), &json!(100)));
    assert_eq!(names(&v).first(), Some(&"c100"));
    assert_eq!(names(&v).len(), 20);
}

#[tokio::test]
async fn campaigns_filter_by_status_and_assistant_and_refuse_bad_filters() {
    let a = api(|_| {}).await;
    let (number, _) = a.on_sales("415").await;
    a.campaign("live", &number, "running").await;
    a.campaign("done", &number, "completed").await;
    let (_, v) = a.campaigns(&format!("teamId={TEAM}&status=running")).await;
    assert_eq!((names(&v), &v["count"]), (vec!["live"], &json!(1)));
    let (_, v) = a
        .campaigns(&format!("teamId={TEAM}&assistantId={SUPPORT}"))
        .await;
    assert_eq!(v["count"], json!(0));
    for bad in ["status=finished", "limit=0", "limit=ten", "offset=-1"] {
        let (s, v) = a.campaigns(&format!("teamId={TEAM}&{bad}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["success"], json!(false));
    }
    assert_eq!(a.campaigns("").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.campaigns("teamId=team_other").await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = a
        .call_as(
            "tk_wrong",
            Method::GET,
            &format!("/api/crm/campaigns?teamId={TEAM}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_campaigns_from_number_must_be_active_and_on_its_assistant() {
    let a = api(|_| {}).await;
    let unassigned = a.offer("212").await;
    a.purchase(&unassigned).await;
    let (s, v) = a.campaign("nope", &unassigned, "running").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = a.campaign("nope", "+14155550000", "running").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_number_a_live_campaign_dials_from_is_not_released_until_it_completes() {
    let a = api(|_| {}).await;
    let (number, id) = a.on_sales("415").await;
    let path = format!("/api/phone-numbers/{id}");
    let release = || a.call(Method::DELETE, &path, None);
    let (_, c) = a.campaign("Spring outreach", &number, "scheduled").await;
    let camp = c["id"].as_str().unwrap().to_owned();
    for status in ["scheduled", "running", "paused"] {
        a.set_campaign(&camp, status).await;
        let (s, v) = release().await;
        assert_eq!(s, StatusCode::CONFLICT, "{status}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains(&camp) && message.contains("Spring outreach"),
            "{message}"
        );
    }
    assert_eq!(a.list().await["count"], json!(1));
    a.set_campaign(&camp, "completed").await;
    assert_eq!(release().await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_live_campaigns_number_is_not_taken_off_its_assistant() {
    let a = api(|_| {}).await;
    let (number, id) = a.on_sales("415").await;
    let (_, other) = a.on_sales("212").await;
    let (_, c) = a.campaign("Spring outreach", &number, "running").await;
    let (s, v) = a.set(SALES, &[]).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains(c["id"].as_str().unwrap())
    );
    assert_eq!(a.assignments().await[&id].as_deref(), Some(SALES));
    // Another number of the same assistant still comes off.
    assert_eq!(a.set(SALES, &[&id]).await.0, StatusCode::OK);
    assert_eq!(a.assignments().await[&other], None);
    a.set_campaign(c["id"].as_str().unwrap(), "cancelled").await;
    assert_eq!(a.set(SALES, &[]).await.0, StatusCode::OK);
}
