//! Campaigns: outbound runs that dial from one of the team's numbers as their caller ID
//! (contract §2.10, §4 item 22, §6). Created through the admin API only (the public create body
//! is not documented). While a campaign that uses a number is `scheduled`, `running` or
//! `paused`, releasing that number, or taking it off the campaign's assistant, answers `409`
//! naming the campaign.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{ApiError, NumberStatus, Result, World};

/// A campaign's status, as the contract lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Running,
    Paused,
    Completed,
    Cancelled,
}

impl CampaignStatus {
    /// The status named by a `status` filter, if it is one of the contract's.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    /// Whether a campaign in this status dials (or will dial) from its number, which must
    /// therefore stay.
    pub fn holds_its_number(self) -> bool {
        matches!(self, Self::Scheduled | Self::Running | Self::Paused)
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One campaign, with the fields §2.10 documents.
#[derive(Clone, Debug, Serialize)]
pub struct Campaign {
    pub id: String,
    pub team_id: String,
    pub assistant_id: String,
    pub company_id: Option<String>,
    pub name: String,
    pub description: String,
    pub from_number: String,
    pub status: CampaignStatus,
    pub call_window_start: String,
    pub call_window_end: String,
    pub call_window_timezone: String,
    pub max_concurrent_calls: u32,
    pub total_contacts: u32,
    pub contacts_called: u32,
    pub contacts_completed: u32,
    pub contacts_answered: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the admin API creates a campaign from.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCampaign {
    pub team_id: String,
    pub assistant_id: String,
    pub name: String,
    pub from_number: String,
    pub status: CampaignStatus,
}

/// A filter of the campaigns list.
#[derive(Clone, Copy, Debug, Default)]
pub struct CampaignFilter<'a> {
    pub status: Option<CampaignStatus>,
    pub assistant_id: Option<&'a str>,
}

/// Largest page of the campaigns list (the contract's "at most 100").
pub const CAMPAIGN_PAGE_MAX: usize = 100;
/// The page size when none is asked for.
pub const CAMPAIGN_PAGE_DEFAULT: usize = 50;

impl World {
    /// Creates a campaign: its `from_number` must be an active number of its team assigned to
    /// its assistant (400 otherwise; 404 for an unknown team).
    pub fn create_campaign(&mut self, new: NewCampaign, now: Timestamp) -> Result<Campaign> {
        let account = self
            .teams
            .get(&new.team_id)
            .map(|t| t.account.clone())
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "team_not_found",
                    format!("team {} not found", new.team_id),
                )
            })?;
        self.assistant(&account, &new.assistant_id)
            .map_err(|e| ApiError::new(400, "invalid_assistant", e.message))?;
        let usable = self.owned(&new.from_number).is_some_and(|r| {
            r.team_id == new.team_id
                && r.status == NumberStatus::Active
                && r.assistant_id.as_deref() == Some(new.assistant_id.as_str())
        });
        if !usable {
            return Err(ApiError::new(
                400,
                "invalid_from_number",
                format!(
                    "from_number {} must be an active number of team {} assigned to assistant {}",
                    new.from_number, new.team_id, new.assistant_id
                ),
            ));
        }
        let campaign = Campaign {
            id: format!("camp_{:05}", self.campaigns.len() + 1),
            team_id: new.team_id,
            assistant_id: new.assistant_id,
            company_id: None,
            name: new.name,
            description: String::new(),
            from_number: new.from_number,
            status: new.status,
            call_window_start: "09:00".into(),
            call_window_end: "17:00".into(),
            call_window_timezone: "America/New_York".into(),
            max_concurrent_calls: 1,
            total_contacts: 0,
            contacts_called: 0,
            contacts_completed: 0,
            contacts_answered: 0,
            created_at: now,
            updated_at: now,
        };
        self.campaigns.insert(campaign.id.clone(), campaign.clone());
        Ok(campaign)
    }

    /// Moves a campaign to `status` (it completes, is paused, cancelled); `None` if unknown.
    pub fn set_campaign_status(
        &mut self,
        id: &str,
        status: CampaignStatus,
        now: Timestamp,
    ) -> Option<Campaign> {
        let c = self.campaigns.get_mut(id)?;
        c.status = status;
        c.updated_at = now;
        Some(c.clone())
    }

    /// `GET /api/crm/campaigns`: one page of the team's campaigns matching `filter`, the count
    /// of every match, and the page size used (at most [`CAMPAIGN_PAGE_MAX`]).
    pub fn campaigns(
        &self,
        account: &str,
        team_id: &str,
        filter: CampaignFilter<'_>,
        (limit, offset): (Option<usize>, usize),
    ) -> Result<(Vec<&Campaign>, usize, usize)> {
        self.team_of(account, team_id)?;
        let limit = limit
            .unwrap_or(CAMPAIGN_PAGE_DEFAULT)
            .min(CAMPAIGN_PAGE_MAX);
        let matching = || {
            self.campaigns.values().filter(|c| {
                c.team_id == team_id
                    && filter.status.is_none_or(|s| c.status == s)
                    && filter.assistant_id.is_none_or(|a| c.assistant_id == a)
            })
        };
        Ok((
            matching().skip(offset).take(limit).collect(),
            matching().count(),
            limit,
        ))
    }

    /// The `409` for releasing `number` while a campaign dials from it.
    pub(super) fn in_use(&self, number: &str) -> Result<()> {
        self.refuse_if(number, |c| c.from_number == number)
    }

    /// The `409` for taking `number` off `assistant` while a campaign of that assistant dials
    /// from it.
    pub(super) fn in_use_by(&self, number: &str, assistant: &str) -> Result<()> {
        self.refuse_if(number, |c| {
            c.from_number == number && c.assistant_id == assistant
        })
    }

    fn refuse_if(&self, number: &str, uses: impl Fn(&Campaign) -> bool) -> Result<()> {
        let Some(c) = self
            .campaigns
            .values()
            .find(|c| c.status.holds_its_number() && uses(c))
        else {
            return Ok(());
        };
        Err(ApiError::new(
            409,
            "phone_number_in_use",
            format!(
                "phone number {number} is the caller ID of campaign {} ({:?}), which is {}",
                c.id,
                c.name,
                c.status.as_str()
            ),
        ))
    }
}
