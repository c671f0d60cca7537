//! The Talkturo API routes. Every operation goes through [`serve_op`], which applies faults,
//! authentication, counting and lost answers the same way for all of them.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::{FaultAction, LostMode, Op};
use super::state::{ApiError, World};
use super::{Sim, lock};

mod campaigns;
mod list;
use campaigns::campaigns;
use list::list;

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/phone-numbers/search", post(search))
        .route("/api/phone-numbers/purchase", post(purchase).get(list))
        .route("/api/phone-numbers/{id}", delete(release))
        .route(
            "/api/assistants/{id}/telephony/assign-phone-numbers",
            post(assign),
        )
        .route(
            "/api/assistants/{id}/telephony/phone-numbers",
            get(assistant_numbers).patch(set_assistant_numbers),
        )
        .route("/api/crm/campaigns", get(campaigns))
}

/// Runs one API operation: latency, injected rejections, bearer auth, the operation itself on
/// the world, then lost or garbled answers; counts the call and its answer.
async fn serve_op<F, R>(sim: Arc<Sim>, op: Op, headers: HeaderMap, f: F) -> Response
where
    F: FnOnce(&mut World, &str, Timestamp, Option<&FaultAction>) -> Result<R, ApiError>,
    R: serde::Serialize,
{
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    sim.count_call(op, agent);
    let plan = lock(&sim.faults).plan(op);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let (response, label) = if let Some(action) = &plan.instead {
        hostile_answer(action, &headers)
    } else if let Some((status, retry_after)) = plan.reject {
        let err = ApiError::new(status, "injected", format!("injected fault: HTTP {status}"));
        let mut r = error_response(&err);
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        (r, status.to_string())
    } else {
        let result = {
            let mut world = lock(&sim.world);
            let now = world.now();
            world.tick(now);
            match bearer(&headers).and_then(|t| world.authenticate(t)) {
                None => Err(None),
                Some(account) => f(&mut world, &account, now, plan.after.as_ref()).map_err(Some),
            }
        };
        match (result, plan.after) {
            (Err(None), _) => (
                (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "Unauthorized"})),
                )
                    .into_response(),
                "401".into(),
            ),
            (Err(Some(e)), _) => (error_response(&e), e.status.to_string()),
            (
                Ok(_),
                Some(FaultAction::LostResponse {
                    mode: LostMode::ServerError,
                }),
            ) => {
                let e = ApiError::new(500, "internal_error", "internal server error");
                (error_response(&e), "lost".into())
            }
            (
                Ok(_),
                Some(FaultAction::LostResponse {
                    mode: LostMode::Drop,
                }),
            ) => (cut_off_body(), "lost".into()),
            (
                Ok(body),
                Some(FaultAction::LostResponse {
                    mode: LostMode::Hang,
                }),
            ) => {
                sim.count_response(op, "lost".into());
                tokio::time::sleep(Duration::from_secs(600)).await;
                return axum::Json(body).into_response();
            }
            (Ok(_), Some(FaultAction::Malformed)) => {
                let r = (
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"success\": true, \"numbers\": [{\"id\": ",
                )
                    .into_response();
                (r, "malformed".into())
            }
            (Ok(body), _) => (axum::Json(body).into_response(), "200".into()),
        }
    };
    sim.count_response(op, label);
    response
}

/// An answer a hostile server or proxy gives instead of handling the request.
fn hostile_answer(action: &FaultAction, headers: &HeaderMap) -> (Response, String) {
    match action {
        FaultAction::Redirect { location } => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            (r, "302".into())
        }
        FaultAction::EchoAuthorization { bytes } => {
            let auth = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let body = json!({
                "success": false,
                "message": format!("bad request; received headers: Authorization: {auth}; {}", "x".repeat(*bytes)),
                "error": "bad_request",
            });
            (
                (StatusCode::BAD_REQUEST, axum::Json(body)).into_response(),
                "400".into(),
            )
        }
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            "500".into(),
        ),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn error_response(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({"success": false, "message": e.message, "error": e.code})),
    )
        .into_response()
}

/// A 200 whose body stops half-way: the connection is cut after the request took effect.
fn cut_off_body() -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(
            b"{\"success\": true, \"phoneNumber\": {",
        )),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected: connection lost",
        )),
    ];
    let mut r = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("4096"));
    r
}

/// Parses a JSON request body, insisting on `Content-Type: application/json` as the docs ask.
fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(ApiError::new(
            400,
            "invalid_content_type",
            "Content-Type must be application/json",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, "invalid_body", format!("invalid request body: {e}")))
}

#[derive(Deserialize)]
struct SearchBody {
    filters: Option<SearchFilters>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchFilters {
    country_code: Option<String>,
    area_code: Option<String>,
    number_type: Option<String>,
    limit: Option<usize>,
}

async fn search(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let h = headers.clone();
    serve_op(sim, Op::Search, headers, move |world, _account, _now, hostile| {
        let b: SearchBody = json_body(&h, &body)?;
        let f = b.filters.ok_or_else(|| ApiError::new(400, "missing_filters", "filters is required"))?;
        let country = f.country_code.ok_or_else(|| ApiError::new(400, "missing_country_code", "filters.countryCode is required"))?;
        let offers = world.search(&country, f.area_code.as_deref(), f.number_type.as_deref(), f.limit)?;
        let mut numbers: Vec<Value> = offers
            .iter()
            .map(|o| json!({"phoneNumber": o.phone_number, "monthlyPrice": o.monthly_price.to_string(), "setupPrice": o.setup_price.to_string(), "features": o.features}))
            .collect();
        if let Some(first) = numbers.first_mut() {
            match hostile {
                Some(FaultAction::UnpricedOffers) => {
                    first["monthlyPrice"] = json!("contact sales");
                    first["setupPrice"] = json!("contact sales");
                }
                Some(FaultAction::AbsurdPrices) => first["monthlyPrice"] = json!("99999999999.00"),
                _ => {}
            }
        }
        Ok(json!({"success": true, "count": numbers.len(), "numbers": numbers, "provider": "telnyx"}))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PurchaseBody {
    phone_number: Option<String>,
    team_id: Option<String>,
    connection_id: Option<String>,
}

async fn purchase(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let h = headers.clone();
    serve_op(sim, Op::Purchase, headers, move |world, account, now, hostile| {
        let b: PurchaseBody = json_body(&h, &body)?;
        let mut number = b.phone_number.ok_or_else(|| ApiError::new(400, "missing_phone_number", "phoneNumber is required"))?;
        if hostile == Some(&FaultAction::MismatchedPurchase)
            && let Some(other) = world.substitute(&number)
        {
            world.note_substitute(&other);
            number = other;
        }
        let team = b.team_id.ok_or_else(|| ApiError::new(400, "missing_team_id", "teamId is required"))?;
        let (mut record, eligibility) = world.purchase(account, &number, &team, b.connection_id, now)?;
        if hostile == Some(&FaultAction::MisreportedPurchase)
            && let Some(other) = world.substitute(&number)
        {
            // The asked number was bought; the answer names one still on offer.
            record.phone_number = other;
            record.id.push_str("_x");
        }
        Ok(json!({"success": true, "phoneNumber": world.record_json(&record), "eligibility": eligibility}))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignBody {
    account_slug: Option<String>,
    phone_number_ids: Option<Vec<String>>,
}

impl AssignBody {
    fn ids(&self) -> Result<Vec<String>, ApiError> {
        self.phone_number_ids.clone().ok_or_else(|| {
            ApiError::new(
                400,
                "missing_phone_number_ids",
                "phoneNumberIds is required",
            )
        })
    }
}

async fn assign(
    State(sim): State<Arc<Sim>>,
    Path(assistant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = headers.clone();
    serve_op(
        sim,
        Op::Assign,
        headers,
        move |world, account, _now, hostile| {
            let b: AssignBody = json_body(&h, &body)?;
            let ids = b.ids()?;
            let slug = b.account_slug.ok_or_else(|| {
                ApiError::new(400, "missing_account_slug", "accountSlug is required")
            })?;
            if hostile != Some(&FaultAction::IgnoredWrite) {
                world.assign(account, &assistant, &slug, &ids)?;
            }
            Ok(json!({"success": true}))
        },
    )
    .await
}

async fn assistant_numbers(
    State(sim): State<Arc<Sim>>,
    Path(assistant): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve_op(
        sim,
        Op::AssistantNumbers,
        headers,
        move |world, account, _now, _| {
            let held = world.assistant_numbers(account, &assistant)?;
            let numbers: Vec<_> = held.iter().map(|r| world.record_json(r)).collect();
            Ok(json!({"success": true, "numbers": numbers}))
        },
    )
    .await
}

async fn set_assistant_numbers(
    State(sim): State<Arc<Sim>>,
    Path(assistant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = headers.clone();
    serve_op(
        sim,
        Op::SetAssistantNumbers,
        headers,
        move |world, account, _now, hostile| {
            let b: AssignBody = json_body(&h, &body)?;
            let ids = b.ids()?;
            if hostile != Some(&FaultAction::IgnoredWrite) {
                world.set_assistant_numbers(account, &assistant, &ids)?;
            }
            Ok(json!({"success": true, "message": "Phone numbers updated"}))
        },
    )
    .await
}

async fn release(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve_op(sim, Op::Release, headers, move |world, account, _now, _| {
        world.release(account, &id)?;
        Ok(json!({"success": true, "message": "Phone number released"}))
    })
    .await
}
