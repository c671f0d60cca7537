//! Reading the team's campaigns that may dial from a number (contract §2.10, §6): every page of
//! the `scheduled`, `running` and `paused` ones, checked and bounded like the number list. The
//! answer decides whether a number may be released, so a partial or unreadable list is an
//! error, never "no campaign".

use std::collections::BTreeSet;

use reqwest::Method;

use super::Client;
use crate::talkturo::error::{Error, Operation};
use crate::talkturo::wire::{Campaign, CampaignPage};

/// Most campaigns read in one status; a list announcing or sending more is an invalid answer.
pub const MAX_CAMPAIGNS: usize = 10_000;
/// Campaigns asked for per page: the contract's largest page.
const PAGE: usize = 100;
/// The statuses in which a campaign dials, or will, from its number.
const LIVE: [&str; 3] = ["scheduled", "running", "paused"];

impl Client {
    /// The team's campaigns that may dial from a number now or later. A campaign answered in
    /// an idle status (`draft`, `completed`, `cancelled`: a server ignoring the filter) is left
    /// out; one in a status the contract does not name is kept.
    ///
    /// A status whose campaigns span several pages is read twice and must give the same
    /// campaigns both times: a campaign that ends between two pages shifts the rest, and the
    /// one behind it would go unread.
    pub async fn live_campaigns(&self, team_id: &str) -> Result<Vec<Campaign>, Error> {
        let mut live: Vec<Campaign> = Vec::new();
        for status in LIVE {
            let mut found = self.campaigns_in(team_id, status).await?;
            if found.1 > 1 {
                let mut agreed = false;
                for _ in 0..3 {
                    let again = self.campaigns_in(team_id, status).await?;
                    agreed = ids(&again.0) == ids(&found.0);
                    found = again;
                    if agreed {
                        break;
                    }
                }
                if !agreed {
                    return Err(self.invalid(
                        Operation::Campaigns,
                        format!(
                            "the {status} campaigns kept changing while they were paged through"
                        ),
                    ));
                }
            }
            let known = ids(&live);
            live.extend(
                found
                    .0
                    .into_iter()
                    .filter(|c| c.holds_its_number() && !known.contains(&c.id)),
            );
        }
        Ok(live)
    }

    /// Every page of the campaigns in `status`, each checked, and how many pages it took.
    async fn campaigns_in(
        &self,
        team_id: &str,
        status: &str,
    ) -> Result<(Vec<Campaign>, usize), Error> {
        let mut all: Vec<Campaign> = Vec::new();
        let mut announced: Option<u64> = None;
        let mut pages = 0;
        loop {
            pages += 1;
            let query = [
                ("teamId", team_id.to_owned()),
                ("status", status.to_owned()),
                ("limit", PAGE.to_string()),
                ("offset", all.len().to_string()),
            ];
            let page: CampaignPage = self
                .typed(
                    Operation::Campaigns,
                    Method::GET,
                    &["crm", "campaigns"],
                    &query,
                    None,
                )
                .await?;
            let problem = page_problem(&page, status, all.len(), announced)
                .or_else(|| page.campaigns.iter().find_map(|c| c.check().err()));
            if let Some(detail) = problem {
                return Err(self.invalid(Operation::Campaigns, detail));
            }
            announced = Some(page.count);
            all.extend(page.campaigns);
            if all.len() as u64 >= page.count {
                return Ok((all, pages));
            }
        }
    }
}

/// What is wrong with a page that follows `before` campaigns, if anything: more than it may
/// hold, a count that moved, or pages that do not add up to the count.
fn page_problem(
    page: &CampaignPage,
    status: &str,
    before: usize,
    announced: Option<u64>,
) -> Option<String> {
    let read = (before + page.campaigns.len()) as u64;
    let count = page.count;
    if count > MAX_CAMPAIGNS as u64 {
        Some(format!(
            "the campaigns list announces {count} {status} campaigns, more than the {MAX_CAMPAIGNS} this operator reads"
        ))
    } else if page.campaigns.len() > PAGE {
        Some(format!(
            "a page of at most {PAGE} campaigns held {}",
            page.campaigns.len()
        ))
    } else if let Some(a) = announced.filter(|a| *a != count) {
        Some(format!(
            "the count of {status} campaigns moved from {a} to {count} while paging"
        ))
    } else if page.campaigns.is_empty() && read < count {
        Some(format!(
            "the {status} campaigns ended after {read} of the {count} announced"
        ))
    } else if read > count {
        Some(format!(
            "{read} {status} campaigns were sent, more than the {count} announced"
        ))
    } else {
        None
    }
}

fn ids(campaigns: &[Campaign]) -> BTreeSet<String> {
    campaigns.iter().map(|c| c.id.clone()).collect()
}
