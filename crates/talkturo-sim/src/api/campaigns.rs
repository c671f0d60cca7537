//! `GET /api/crm/campaigns`: the team's campaigns, filtered and paged as the contract says
//! (§2.10, §6): `count` is every match before paging, `limit` defaults to 50 and is at most 100.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::serve_op;
use crate::Sim;
use crate::faults::{FaultAction, Op};
use crate::state::{ApiError, CampaignFilter, CampaignStatus};

/// The query, taken as text so that a malformed filter is the contract's `400`, not a framework
/// rejection.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CampaignQuery {
    team_id: Option<String>,
    status: Option<String>,
    assistant_id: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn bad_filter(message: String) -> ApiError {
    ApiError::new(400, "invalid_filter", message)
}

/// A non-negative integer query parameter (`min` and up), or the contract's `400`.
fn count_param(name: &str, text: Option<&str>, min: usize) -> Result<Option<usize>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    match text.parse::<usize>() {
        Ok(n) if n >= min => Ok(Some(n)),
        _ => Err(bad_filter(format!(
            "{name} must be an integer of at least {min}, not {text:?}"
        ))),
    }
}

pub(super) async fn campaigns(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<CampaignQuery>,
) -> Response {
    serve_op(sim, Op::Campaigns, headers, move |world, account, _now, hostile| {
        let team = q
            .team_id
            .ok_or_else(|| ApiError::new(400, "missing_team_id", "teamId is required"))?;
        let status = match q.status.as_deref() {
            None => None,
            Some(s) => Some(CampaignStatus::parse(s).ok_or_else(|| {
                bad_filter(format!(
                    "status must be one of draft, scheduled, running, paused, completed, cancelled; not {s:?}"
                ))
            })?),
        };
        let limit = count_param("limit", q.limit.as_deref(), 1)?;
        let offset = count_param("offset", q.offset.as_deref(), 0)?.unwrap_or(0);
        let filter = CampaignFilter {
            status,
            assistant_id: q.assistant_id.as_deref(),
        };
        let (page, count, limit) = world.campaigns(account, &team, filter, (limit, offset))?;
        if hostile == Some(&FaultAction::EmptyList) {
            // A list that hides every campaign: only Talkturo's own 409 stands behind it.
            return Ok(json!({"success": true, "campaigns": [], "count": 0, "limit": limit, "offset": offset}));
        }
        Ok(json!({"success": true, "campaigns": page, "count": count, "limit": limit, "offset": offset}))
    })
    .await
}
