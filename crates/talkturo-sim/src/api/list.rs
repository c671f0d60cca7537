//! `GET /api/phone-numbers/purchase`: the team's numbers, paged, and the ways a hostile answer
//! distorts the list (counts, pages, ids).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::serve_op;
use crate::Sim;
use crate::faults::{FaultAction, Op};
use crate::state::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    team_id: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// One page of `GET /api/phone-numbers/purchase`.
#[derive(serde::Serialize)]
struct ListPage<'a> {
    success: bool,
    numbers: Vec<crate::state::RecordJson<'a>>,
    count: usize,
    limit: usize,
    offset: usize,
}

pub(super) async fn list(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    serve_op(sim, Op::List, headers, move |world, account, _now, hostile| {
        let team = q
            .team_id
            .ok_or_else(|| ApiError::new(400, "missing_team_id", "teamId is required"))?;
        let endless = hostile == Some(&FaultAction::EndlessList);
        let offset = if endless { 0 } else { q.offset.unwrap_or(0) };
        let (page, count, limit) = world.list(account, &team, q.limit, offset)?;
        if let Some(action) = hostile.filter(|a| is_list_distortion(a)) {
            let numbers: Vec<Value> = page
                .iter()
                .map(|r| serde_json::to_value(world.record_json(r)).unwrap_or(Value::Null))
                .collect();
            let (numbers, count) = distort_list(action, numbers, count);
            let page = json!({"success": true, "numbers": numbers, "count": count, "limit": limit, "offset": offset});
            return serde_json::value::to_raw_value(&page)
                .map_err(|e| ApiError::new(500, "internal_error", e.to_string()));
        }
        // Serialized here, straight from the records (a page can hold 10,000 of them), so that
        // no copy of the page outlives the world's lock.
        let numbers: Vec<_> = page.iter().map(|r| world.record_json(r)).collect();
        let page = ListPage {
            success: true,
            numbers,
            count,
            limit,
            offset,
        };
        serde_json::value::to_raw_value(&page)
            .map_err(|e| ApiError::new(500, "internal_error", e.to_string()))
    })
    .await
}

fn is_list_distortion(a: &FaultAction) -> bool {
    matches!(
        a,
        FaultAction::EmptyList
            | FaultAction::ForeignList
            | FaultAction::MalformedNumbers
            | FaultAction::DuplicateIds
            | FaultAction::EndlessList
    )
}

/// A list page as a hostile answer has it: its records and `count`.
fn distort_list(action: &FaultAction, mut numbers: Vec<Value>, count: usize) -> (Vec<Value>, u64) {
    let number_key = |r: &Value| {
        if r.get("phoneNumber").is_some() {
            "phoneNumber"
        } else {
            "phone_number"
        }
    };
    match action {
        FaultAction::EmptyList => (Vec::new(), 0),
        FaultAction::ForeignList => {
            let foreign: Vec<Value> = (1..=2)
                .map(|i| {
                    json!({"id": format!("pn_foreign_{i}"), "phone_number": format!("+1555010000{i}"),
                        "status": "active", "provider": "twilio", "is_trial": false})
                })
                .collect();
            (foreign, 2)
        }
        FaultAction::MalformedNumbers => {
            for r in &mut numbers {
                let key = number_key(r);
                if let Some(n) = r[key]
                    .as_str()
                    .map(|n| n.trim_start_matches('+').to_owned())
                {
                    r[key] = json!(n);
                }
            }
            (numbers, count as u64)
        }
        FaultAction::DuplicateIds => {
            if let Some(first) = numbers.first().cloned() {
                let mut twin = first;
                let id = format!("{}_twin", twin["id"].as_str().unwrap_or("pn"));
                twin["id"] = json!(id);
                numbers.push(twin);
            }
            let n = numbers.len() as u64;
            (numbers, n.max(count as u64))
        }
        FaultAction::EndlessList => (numbers, 1_000_000_000_000),
        _ => (numbers, count as u64),
    }
}
