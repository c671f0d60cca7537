//! The test-only admin API under `/admin`: read state and counters, set faults, advance the
//! clock, and change the world behind the operator's back (suspend, remove, import numbers).
//! It has no authentication; the simulator binds to loopback by default.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::RecordCase;
use super::faults::FaultRule;
use super::state::{ApiError, CampaignStatus, NewCampaign, NumberStatus};
use super::{Sim, lock};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/admin/state", get(state))
        .route("/admin/counters", get(counters).delete(reset_counters))
        .route(
            "/admin/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route("/admin/clock/advance", post(advance))
        .route("/admin/numbers", post(import))
        .route("/admin/numbers/copies", post(seed_copies))
        .route("/admin/numbers/restore", post(restore))
        .route("/admin/numbers/{number}", delete(vanish))
        .route("/admin/numbers/{number}/status", put(set_status))
        .route("/admin/inventory/withdraw", post(withdraw))
        .route("/admin/teams/{id}", patch(patch_team))
        .route("/admin/assistants", post(add_assistant))
        .route("/admin/settings", patch(settings))
        .route("/admin/campaigns", post(create_campaign))
        .route("/admin/campaigns/{id}", patch(patch_campaign))
}

/// An admin request the world refused, with its status and message.
fn refused(e: ApiError) -> Response {
    (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(json!({"message": e.message})),
    )
        .into_response()
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": what}))).into_response()
}

async fn state(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let world = sim.world();
    let records: Vec<Value> = world
        .records()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["assistant_name"] = json!(
                r.assistant_id
                    .as_deref()
                    .and_then(|a| world.assistant_name(a))
            );
            v
        })
        .collect();
    Json(
        json!({"now": world.now(), "purchases": world.purchases(), "releases": world.releases(), "numbers": records}),
    )
}

async fn counters(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let w = sim.world().purchases();
    Json(
        json!({"operations": sim.counters(), "purchases": w, "faultsInjected": sim.faults_injected()}),
    )
}

async fn reset_counters(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.reset_counters();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct FaultsBody {
    rules: Vec<FaultRule>,
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"rules": lock(&sim.faults).rules()}))
}

async fn put_faults(State(sim): State<Arc<Sim>>, Json(b): Json<FaultsBody>) -> StatusCode {
    sim.set_faults(b.rules);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.set_faults(Vec::new());
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: i64,
}

async fn advance(State(sim): State<Arc<Sim>>, Json(b): Json<AdvanceBody>) -> Json<Value> {
    let mut world = sim.world();
    world.advance(SignedDuration::from_secs(b.seconds));
    let now = world.now();
    world.tick(now);
    Json(json!({"now": now}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportBody {
    team_id: String,
    phone_number: String,
    assistant_id: Option<String>,
}

async fn import(State(sim): State<Arc<Sim>>, Json(b): Json<ImportBody>) -> Response {
    let mut world = sim.world();
    let now = world.now();
    match world.import(&b.team_id, &b.phone_number, b.assistant_id, now) {
        Ok(r) => (StatusCode::CREATED, Json(world.record_json(&r))).into_response(),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
struct CopiesBody {
    /// A number some team owns: the record copied.
    from: String,
    /// The numbers the copies get (at most a few thousand a request: the body limit is 2 MB).
    numbers: Vec<String>,
}

#[derive(Deserialize)]
struct RestoreBody {
    /// Records as `GET /admin/state` lists them (`numbers`).
    numbers: Vec<crate::state::Record>,
}

/// `POST /admin/numbers/restore`: records put back as they were (the upgrade test's account).
async fn restore(State(sim): State<Arc<Sim>>, Json(b): Json<RestoreBody>) -> Response {
    let count = b.numbers.len();
    match sim.world().restore(b.numbers) {
        Ok(()) => (StatusCode::CREATED, Json(json!({"restored": count}))).into_response(),
        Err(e) => refused(e),
    }
}

/// `POST /admin/numbers/copies`: many owned numbers at once, copies of one record (the scale
/// benchmark's fill). Answers the copies' ids and provider ids, in the order asked.
async fn seed_copies(State(sim): State<Arc<Sim>>, Json(b): Json<CopiesBody>) -> Response {
    let mut world = sim.world();
    match world.seed_copies(&b.from, &b.numbers) {
        Ok(records) => {
            let copies: Vec<Value> = records
                .iter()
                .map(|r| json!({"phoneNumber": r.phone_number, "id": r.id, "providerId": r.provider_id}))
                .collect();
            (StatusCode::CREATED, Json(json!({"copies": copies}))).into_response()
        }
        Err(e) => refused(e),
    }
}

async fn vanish(State(sim): State<Arc<Sim>>, Path(number): Path<String>) -> Response {
    match sim.world().vanish(&number) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(format!("{number} is not owned by any team")),
    }
}

#[derive(Deserialize)]
struct StatusBody {
    status: NumberStatus,
}

async fn set_status(
    State(sim): State<Arc<Sim>>,
    Path(number): Path<String>,
    Json(b): Json<StatusBody>,
) -> Response {
    match sim.world().set_status(&number, b.status) {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(format!("{number} is not owned by any team")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WithdrawBody {
    phone_number: String,
}

async fn withdraw(State(sim): State<Arc<Sim>>, Json(b): Json<WithdrawBody>) -> StatusCode {
    sim.world().withdraw(&b.phone_number);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamPatch {
    plan_name: Option<String>,
    subscribed: Option<bool>,
    max_numbers: Option<u32>,
}

async fn patch_team(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(b): Json<TeamPatch>,
) -> Response {
    let mut world = sim.world();
    let Some(team) = world.team_mut(&id) else {
        return not_found(format!("team {id} not found"));
    };
    if let Some(p) = b.plan_name {
        team.plan_name = p;
    }
    if let Some(s) = b.subscribed {
        team.subscribed = s;
    }
    if let Some(m) = b.max_numbers {
        team.max_numbers = m;
    }
    Json(json!(team)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssistantBody {
    account_slug: String,
    id: String,
    name: String,
}

async fn add_assistant(State(sim): State<Arc<Sim>>, Json(b): Json<AssistantBody>) -> StatusCode {
    sim.world().add_assistant(&b.account_slug, &b.id, &b.name);
    StatusCode::CREATED
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SettingsPatch {
    record_case: Option<RecordCase>,
    release_enabled: Option<bool>,
    activation_delay_ms: Option<u64>,
    trial_duration_secs: Option<u64>,
}

async fn settings(State(sim): State<Arc<Sim>>, Json(b): Json<SettingsPatch>) -> Json<Value> {
    let mut world = sim.world();
    let c = world.config_mut();
    if let Some(v) = b.record_case {
        c.record_case = v;
    }
    if let Some(v) = b.release_enabled {
        c.release_enabled = v;
    }
    if let Some(v) = b.activation_delay_ms {
        c.activation_delay_ms = v;
    }
    if let Some(v) = b.trial_duration_secs {
        c.trial_duration_secs = v;
    }
    Json(json!(c))
}

/// `POST /admin/campaigns`: a campaign dialling from one of the team's numbers (the public
/// create body is not documented, so campaigns are made here).
async fn create_campaign(State(sim): State<Arc<Sim>>, Json(b): Json<NewCampaign>) -> Response {
    let mut world = sim.world();
    let now = world.now();
    match world.create_campaign(b, now) {
        Ok(c) => (StatusCode::CREATED, Json(json!(c))).into_response(),
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
struct CampaignPatch {
    status: CampaignStatus,
}

/// `PATCH /admin/campaigns/{id}` `{status}`: the campaign runs, pauses, completes.
async fn patch_campaign(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(b): Json<CampaignPatch>,
) -> Response {
    let mut world = sim.world();
    let now = world.now();
    match world.set_campaign_status(&id, b.status, now) {
        Some(c) => Json(json!(c)).into_response(),
        None => not_found(format!("campaign {id} not found")),
    }
}
