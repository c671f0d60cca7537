//! Campaigns as `GET /api/crm/campaigns` answers them (contract §2.10, §6). Only what the
//! operator decides on is read: a campaign's id and name (to say which one), its assistant,
//! its caller ID (`from_number`) and its status. The page's `campaigns` and `count` are
//! required: a page without them must never read as "no campaign uses this number".

use serde::Deserialize;

use super::{cut, is_e164, is_valid_id, lenient_string};

/// One campaign.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Campaign {
    pub id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub assistant_id: Option<String>,
    /// The caller ID; a campaign without one dials from no number of ours.
    #[serde(default, deserialize_with = "lenient_string")]
    pub from_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
}

/// The statuses of a campaign that will never dial again, or has not been scheduled to.
const IDLE: [&str; 3] = ["draft", "completed", "cancelled"];

impl Campaign {
    /// Whether the campaign may dial from its number now or later (`scheduled`, `running`,
    /// `paused`). A status the contract does not name, or none, counts as dialling: a number is
    /// never released on a guess.
    pub fn holds_its_number(&self) -> bool {
        self.status
            .as_deref()
            .is_none_or(|s| !IDLE.iter().any(|i| s.eq_ignore_ascii_case(i)))
    }

    /// The campaign as a message names it: `camp_1 ("Spring outreach", running)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {})",
            cut(&self.id, 40),
            cut(self.name.as_deref().unwrap_or(""), 80),
            cut(self.status.as_deref().unwrap_or("no status"), 20)
        )
    }

    /// Checks what the operator relies on: a usable id, and a caller ID that is E.164 when
    /// there is one (a campaign whose number cannot be read could be dialling from any).
    pub fn check(&self) -> Result<(), String> {
        if !is_valid_id(&self.id) {
            return Err(format!(
                "a campaign has an unusable id {:?}",
                cut(&self.id, 40)
            ));
        }
        match self.from_number.as_deref() {
            Some(n) if !is_e164(n) => Err(format!(
                "campaign {} has a from_number that is not E.164: {:?}",
                self.id,
                cut(n, 40)
            )),
            _ => Ok(()),
        }
    }
}

/// One page of the campaigns list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CampaignPage {
    pub campaigns: Vec<Campaign>,
    /// Every match before paging.
    pub count: u64,
}
