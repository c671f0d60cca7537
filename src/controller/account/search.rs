//! Search results, shared: a burst of claims with the same criteria makes one search, and a claim
//! that found every offer taken searches again only once enough of them were bought.

use std::sync::Arc;
use std::time::Instant;

use super::{Account, SEARCH_TTL, lock};
use crate::talkturo::{self, AvailableNumber, SearchFilters};

/// Search results, when they were fetched, and how many of their offers this process has bought
/// since.
pub(super) struct CachedSearch {
    pub(super) at: Instant,
    pub(super) hits: Arc<Vec<AvailableNumber>>,
    pub(super) bought: usize,
}

impl CachedSearch {
    /// Whether a new search is worth a call while every offer here is taken. The carrier shows
    /// the cheapest offers it still has, so a new search brings one new offer per offer bought
    /// since this one; offers claims hold but have not bought yet come back. Searching after the
    /// first purchase brought about half a result of new offers (90 searches for a burst of
    /// 1,000 claims where 50 is the least); waiting for three quarters of them to be bought
    /// makes each search count. Offers that are never bought (a purchase refused, a claim
    /// deleted) hold no one up past the search TTL.
    pub(super) fn spent(&self) -> bool {
        self.bought >= (self.hits.len() * 3).div_ceil(4).max(1)
    }
}

impl Account {
    /// Search results for `filters`, reused for a few seconds so a burst of claims with the same
    /// criteria shares one search.
    pub async fn search(
        &self,
        filters: &SearchFilters,
    ) -> Result<Arc<Vec<AvailableNumber>>, talkturo::Error> {
        self.search_unless(filters, |_| false).await
    }

    /// Search results for a claim that found every cached offer taken: only purchases change
    /// what the carrier offers, so the cached results stay the answer (no call) until enough
    /// of their offers were bought for a new search to bring new ones ([`CachedSearch::spent`]).
    pub async fn search_for_more(
        &self,
        filters: &SearchFilters,
    ) -> Result<Arc<Vec<AvailableNumber>>, talkturo::Error> {
        self.search_unless(filters, CachedSearch::spent).await
    }

    async fn search_unless(
        &self,
        filters: &SearchFilters,
        stale: impl Fn(&CachedSearch) -> bool,
    ) -> Result<Arc<Vec<AvailableNumber>>, talkturo::Error> {
        let cached = || {
            lock(&self.searches)
                .get(filters)
                .filter(|c| c.at.elapsed() < SEARCH_TTL && !stale(c))
                .map(|c| c.hits.clone())
        };
        if let Some(hits) = cached() {
            return Ok(hits);
        }
        // Coalesce: whoever gets the filters' lock searches; the others then find its results.
        let gate = lock(&self.searching)
            .entry(filters.clone())
            .or_default()
            .clone();
        let _searching = gate.lock().await;
        if let Some(hits) = cached() {
            return Ok(hits);
        }
        let at = Instant::now();
        let hits = Arc::new(self.client.search(filters).await?.numbers);
        let mut searches = lock(&self.searches);
        searches.retain(|_, c| c.at.elapsed() < SEARCH_TTL);
        let fetched = CachedSearch {
            at,
            hits: hits.clone(),
            bought: 0,
        };
        searches.insert(filters.clone(), fetched);
        Ok(hits)
    }

    /// The offer of `number` in the cached search results, if a recent search showed it.
    pub fn cached_offer(&self, number: &str) -> Option<AvailableNumber> {
        lock(&self.searches)
            .values()
            .flat_map(|c| c.hits.iter())
            .find(|o| o.phone_number == number)
            .cloned()
    }

    /// Drops cached search results (after a number turned out not to be on offer).
    pub fn forget_searches(&self) {
        lock(&self.searches).clear();
    }

    /// Notes that `number` was bought: the cached searches that offered it are that much out
    /// of date.
    pub fn purchase_completed(&self, number: &str) {
        for cached in lock(&self.searches).values_mut() {
            if cached.hits.iter().any(|o| o.phone_number == number) {
                cached.bought += 1;
            }
        }
    }
}
