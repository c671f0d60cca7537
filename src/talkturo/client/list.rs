//! Reading the account's number list: every page, checked, bounded, and read again when it
//! changed while it was paged through.

use std::collections::HashSet;
use std::time::Instant;

use reqwest::Method;

use super::Client;
use super::transport::{Call, decode_page};
use crate::talkturo::error::{Error, Operation};
use crate::talkturo::wire::{self, ListPage, NumberRecord};

impl Client {
    /// `GET /api/phone-numbers/purchase?teamId=`: every number of the team, all pages.
    ///
    /// The list is the source of truth for what the account owns, so a partial answer is an
    /// error, never a shorter list: pages are read until `count` records arrived, and if the
    /// list changed while being read (count moved, duplicates) it is read again. Every record
    /// is checked (E.164 number, usable id, one id per number). Reading is bounded: never more
    /// than the first page's `count` plus one, [`ClientConfig::max_list_records`] and
    /// [`ClientConfig::max_list_time`]; past them the list is an invalid response.
    pub async fn list(&self, team_id: &str) -> Result<Vec<NumberRecord>, Error> {
        let deadline = Instant::now() + self.config.max_list_time;
        let mut unstable = String::new();
        for _ in 0..3 {
            match self.list_once(team_id, deadline).await? {
                Ok(all) => return Ok(all),
                Err(why) => unstable = why,
            }
            tracing::debug!(team_id, why = %unstable, "number list changed while paging; reading it again");
        }
        Err(self.invalid(
            Operation::List,
            format!("the number list kept changing while it was paged through ({unstable})"),
        ))
    }

    /// One read of every page: the records, or (inner `Err`) why the pages did not add up to
    /// one consistent list, to read it again.
    pub(super) async fn list_once(
        &self,
        team_id: &str,
        deadline: Instant,
    ) -> Result<Result<Vec<NumberRecord>, String>, Error> {
        let limit = self.config.page_size.max(1);
        let max = self.config.max_list_records;
        let mut all: Vec<NumberRecord> = Vec::new();
        let mut ids = std::collections::HashSet::new();
        let mut announced: Option<u64> = None;
        loop {
            if Instant::now() >= deadline {
                return Err(self.invalid(
                    Operation::List,
                    format!(
                        "the number list took longer than {:?} ({} records read)",
                        self.config.max_list_time,
                        all.len()
                    ),
                ));
            }
            let query = [
                ("teamId", team_id.to_owned()),
                ("limit", limit.to_string()),
                ("offset", all.len().to_string()),
            ];
            let page: ListPage = self
                .call(
                    Call {
                        op: Operation::List,
                        method: Method::GET,
                        path: &["phone-numbers", "purchase"],
                        query: &query,
                        body: None,
                    },
                    decode_page,
                )
                .await?;
            let got = page.numbers.len();
            if let Some(c) = page.count.filter(|c| *c > max as u64) {
                return Err(self.invalid(
                    Operation::List,
                    format!("the list announces {c} numbers, more than the {max} this operator reads (--max-list-records)"),
                ));
            }
            if all.is_empty() {
                announced = page.count;
            }
            if let Some(why) = unstable(&page, announced, &mut ids, all.len()) {
                return Ok(Err(why));
            }
            all.extend(page.numbers);
            self.within_bound(all.len(), announced)?;
            let more = match announced {
                Some(total) => (all.len() as u64) < total && got > 0,
                None => got >= limit,
            };
            if !more {
                break;
            }
        }
        if let Some(total) = announced.filter(|t| *t != all.len() as u64) {
            return Ok(Err(format!(
                "count says {total}, {} records came",
                all.len()
            )));
        }
        wire::check_records(&all).map_err(|detail| self.invalid(Operation::List, detail))?;
        Ok(Ok(all))
    }

    /// Never past what the first page announced (plus one), nor past the record limit.
    fn within_bound(&self, read: usize, announced: Option<u64>) -> Result<(), Error> {
        let max = self.config.max_list_records;
        let bound = announced.map_or(max as u64, |c| c.saturating_add(1).min(max as u64));
        if read as u64 <= bound {
            return Ok(());
        }
        let past = announced.map_or_else(
            || format!("the {max} this operator reads (--max-list-records)"),
            |c| format!("the {c} its first page announced"),
        );
        Err(self.invalid(
            Operation::List,
            format!("the list sent {read} records or more, past {past}"),
        ))
    }
}

/// Why a page shows the list changed while it was paged through (the count moved, an id came
/// twice), if it does; `offset` is how many records came before it.
fn unstable(
    page: &ListPage,
    announced: Option<u64>,
    ids: &mut HashSet<String>,
    offset: usize,
) -> Option<String> {
    if announced != page.count {
        return Some(format!(
            "count moved from {announced:?} to {:?}",
            page.count
        ));
    }
    page.numbers
        .iter()
        .find(|r| !ids.insert(r.id.clone()))
        .map(|r| {
            format!(
                "id {} came twice (offset {offset} ignored?)",
                wire::cut(&r.id, 40)
            )
        })
}
