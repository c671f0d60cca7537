//! The campaign guard of one account: whether a live campaign dials from a number about to be
//! released or moved off its assistant. Campaigns are read only when a release or a move is
//! due, one read answering every reconcile of the account for [`FRESH`]; a number held back is
//! looked at again once per sync interval, however often it is reconciled meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::{Account, lock};
use crate::talkturo::{self, Campaign};

/// How long one read of the campaigns answers for every reconcile of the account: long enough
/// for a burst of releases to share it, short enough that a campaign started since is seen by
/// the next release due (and Talkturo's own `409` stands behind it).
const FRESH: Duration = Duration::from_secs(2);

/// The latest read of the live campaigns, and the numbers held back by one.
#[derive(Default)]
pub(super) struct Campaigns {
    read: tokio::sync::Mutex<Option<(Instant, Arc<Vec<Campaign>>)>>,
    /// Numbers whose release or move a campaign (or an unreadable list) held back, and when.
    held: Mutex<HashMap<String, Timestamp>>,
}

impl Account {
    /// The live campaign dialling from `number`, if any; with `assistant`, only one of that
    /// assistant (taking the number off another assistant does not touch it). A campaign that
    /// names no assistant counts for every one.
    pub async fn campaign_using(
        &self,
        number: &str,
        assistant: Option<&str>,
    ) -> Result<Option<Campaign>, talkturo::Error> {
        let live = self.live_campaigns().await?;
        Ok(live
            .iter()
            .find(|c| {
                c.from_number.as_deref() == Some(number)
                    && assistant.is_none_or(|a| c.assistant_id.as_deref().is_none_or(|on| on == a))
            })
            .cloned())
    }

    async fn live_campaigns(&self) -> Result<Arc<Vec<Campaign>>, talkturo::Error> {
        let mut read = self.campaigns.read.lock().await;
        if let Some((_, live)) = read.as_ref().filter(|(at, _)| at.elapsed() < FRESH) {
            return Ok(live.clone());
        }
        let live = Arc::new(self.client.live_campaigns(&self.key.team_id).await?);
        *read = Some((Instant::now(), live.clone()));
        Ok(live)
    }

    /// How long `number`, held back by a campaign within `every`, waits before it is looked at
    /// again; `None` when it is due (never held, or held longer ago).
    pub fn campaign_wait(&self, number: &str, every: Duration, now: Timestamp) -> Option<Duration> {
        let since = *lock(&self.campaigns.held).get(number)?;
        let waited = now.duration_since(since).unsigned_abs();
        every.checked_sub(waited).filter(|w| !w.is_zero())
    }

    /// Notes that a campaign held back `number` at `now`.
    pub fn campaign_held(&self, number: &str, now: Timestamp) {
        lock(&self.campaigns.held).insert(number.to_owned(), now);
    }

    /// Forgets a hold once no campaign uses `number`.
    pub fn campaign_cleared(&self, number: &str) {
        lock(&self.campaigns.held).remove(number);
    }
}
