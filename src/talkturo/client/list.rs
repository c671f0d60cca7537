//! Reading the account's number list: every page, checked, bounded, and read again when it
//! changed while it was paged through (other than by this process's own purchases: see
//! [`super::paging`]).

use std::collections::HashSet;
use std::time::Instant;

use reqwest::Method;

use super::Client;
use super::paging::{Next, Paging};
use super::transport::{Call, decode_page};
use crate::talkturo::error::{Error, Operation};
use crate::talkturo::wire::{self, ListPage, NumberRecord};

/// What this process bought while a list paged, as the caller that buys keeps track of it
/// (`controller::account` does): by how much the account's count may grow without the list
/// being read again, and which of the records read may be new.
pub trait OwnPurchases: Send + Sync {
    /// A mark of this moment, to ask about what happened since.
    fn mark(&self) -> PurchaseMark;
    /// Purchases in flight at `mark` or sent since: by how much the count may have grown.
    fn grown_since(&self, mark: PurchaseMark) -> u64;
    /// The numbers whose purchase was sent since `mark` and may have taken effect (answered
    /// bought, or with an unknown outcome).
    fn added_since(&self, mark: PurchaseMark) -> HashSet<String>;
}

/// A moment in a caller's purchases: how many it had sent, and how many were in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurchaseMark {
    pub sent: u64,
    pub in_flight: u64,
}

/// A caller that buys nothing while it lists: the list must not change at all.
struct NotBuying;

impl OwnPurchases for NotBuying {
    fn mark(&self) -> PurchaseMark {
        PurchaseMark::default()
    }

    fn grown_since(&self, _: PurchaseMark) -> u64 {
        0
    }

    fn added_since(&self, _: PurchaseMark) -> HashSet<String> {
        HashSet::new()
    }
}

impl Client {
    /// `GET /api/phone-numbers/purchase?teamId=`: every number of the team, all pages, with
    /// nothing else changing the account meanwhile as far as this caller knows.
    pub async fn list(&self, team_id: &str) -> Result<Vec<NumberRecord>, Error> {
        self.list_while_buying(team_id, &NotBuying).await
    }

    /// `GET /api/phone-numbers/purchase?teamId=`: every number of the team, all pages, while
    /// this process may be buying (`own` counts its purchases since the list started).
    ///
    /// The list is the source of truth for what the account owns, so a partial answer is an
    /// error, never a shorter list: pages are read until `count` records arrived, and if the
    /// list changed while being read (count moved other than by our own purchases, an id for
    /// two numbers, a record skipped) it is read again. Every record is checked (E.164 number,
    /// usable id, one id per number). Reading is bounded: never more than the latest page's
    /// `count` plus one, [`ClientConfig::max_list_records`] and [`ClientConfig::max_list_time`];
    /// past them the list is an invalid response.
    pub async fn list_while_buying(
        &self,
        team_id: &str,
        own: &dyn OwnPurchases,
    ) -> Result<Vec<NumberRecord>, Error> {
        let deadline = Instant::now() + self.config.max_list_time;
        let mut unstable = String::new();
        for _ in 0..3 {
            match self.list_once(team_id, deadline, own).await? {
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
        own: &dyn OwnPurchases,
    ) -> Result<Result<Vec<NumberRecord>, String>, Error> {
        let mark = own.mark();
        let limit = self.config.page_size.max(1);
        let max = self.config.max_list_records;
        let mut paging = Paging::default();
        loop {
            if Instant::now() >= deadline {
                return Err(self.invalid(
                    Operation::List,
                    format!(
                        "the number list took longer than {:?} ({} records read)",
                        self.config.max_list_time, paging.offset
                    ),
                ));
            }
            let query = [
                ("teamId", team_id.to_owned()),
                ("limit", limit.to_string()),
                ("offset", paging.offset.to_string()),
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
            if let Some(c) = page.count.filter(|c| *c > max as u64) {
                return Err(self.invalid(
                    Operation::List,
                    format!("the list announces {c} numbers, more than the {max} this operator reads (--max-list-records)"),
                ));
            }
            let next = paging.take(page, limit, own.grown_since(mark));
            self.within_bound(paging.offset, paging.latest())?;
            match next {
                Ok(Next::More) => {}
                Ok(Next::Done) => break,
                Err(why) => return Ok(Err(why)),
            }
        }
        let all = match paging.finish(&own.added_since(mark)) {
            Ok(all) => all,
            Err(why) => return Ok(Err(why)),
        };
        wire::check_records(&all).map_err(|detail| self.invalid(Operation::List, detail))?;
        Ok(Ok(all))
    }

    /// Never past what the latest page announced (plus one), nor past the record limit.
    fn within_bound(&self, read: usize, announced: Option<u64>) -> Result<(), Error> {
        let max = self.config.max_list_records;
        let bound = announced.map_or(max as u64, |c| c.saturating_add(1).min(max as u64));
        if read as u64 <= bound {
            return Ok(());
        }
        let past = announced.map_or_else(
            || format!("the {max} this operator reads (--max-list-records)"),
            |c| format!("the {c} its pages announced"),
        );
        Err(self.invalid(
            Operation::List,
            format!("the list sent {read} records or more, past {past}"),
        ))
    }
}
