//! What this process is buying, as a list paging meanwhile needs to know it: purchases do not
//! wait for a list, and a list is not read again because of them (`talkturo::client::paging`).
//! Releases still wait: a record removed while a list pages makes it skip another.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;

use super::{Account, lock};
use crate::talkturo::{self, Outcome, OwnPurchases, PurchaseMark};

/// Purchases sent, in flight, and the numbers they may have added (answered bought, or with an
/// unknown outcome), in the order they were sent.
#[derive(Debug, Default)]
pub(super) struct Buying {
    sent: u64,
    in_flight: u64,
    added: VecDeque<Added>,
}

/// A purchase that may have added its number.
#[derive(Debug)]
struct Added {
    /// Its place among the purchases sent.
    seq: u64,
    number: String,
    /// When it was answered.
    at: Timestamp,
    /// Answered bought (else its outcome is unknown).
    bought: bool,
}

/// How long a purchase that may have added a number is remembered for lists: longer than a list
/// may take (`ClientConfig::max_list_time`).
const ADDED_MEMORY: Duration = Duration::from_secs(600);

/// One purchase call in flight; answered with [`PurchaseInFlight::answered`].
pub struct PurchaseInFlight<'a> {
    account: &'a Account,
    seq: u64,
    number: String,
}

impl Account {
    /// A purchase of `number` is being sent now. It does not wait for a list in progress.
    pub fn purchase_sent(&self, number: &str) -> PurchaseInFlight<'_> {
        let mut b = lock(&self.buying);
        b.sent += 1;
        b.in_flight += 1;
        PurchaseInFlight {
            account: self,
            seq: b.sent,
            number: number.to_owned(),
        }
    }

    /// The numbers this process's purchases were answered bought before `t` (in the last
    /// [`ADDED_MEMORY`]): a list sent at `t` must show them, whether or not their PhoneNumbers
    /// say so yet (the answer is written at the end of the reconcile that bought it, which may
    /// be waiting for this very list).
    pub(super) fn bought_before(&self, t: Timestamp) -> Vec<String> {
        lock(&self.buying)
            .added
            .iter()
            .filter(|a| a.bought && a.at < t)
            .map(|a| a.number.clone())
            .collect()
    }

    /// Held while a release is in flight: a list waits for those in flight, and new ones wait
    /// for the list.
    pub async fn releasing(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.releases.read().await
    }
}

impl PurchaseInFlight<'_> {
    /// The purchase's answer: one that may have added the number is remembered for the lists
    /// paging meanwhile.
    pub fn answered<T>(self, result: &Result<T, talkturo::Error>) {
        let added = match result {
            Ok(_) => true,
            Err(e) => e.outcome() == Outcome::Unknown,
        };
        if added {
            let now = Timestamp::now();
            let mut b = lock(&self.account.buying);
            while b
                .added
                .front()
                .is_some_and(|a| now.duration_since(a.at).unsigned_abs() > ADDED_MEMORY)
            {
                b.added.pop_front();
            }
            b.added.push_back(Added {
                seq: self.seq,
                number: self.number.clone(),
                at: now,
                bought: result.is_ok(),
            });
        }
    }
}

impl Drop for PurchaseInFlight<'_> {
    fn drop(&mut self) {
        let mut b = lock(&self.account.buying);
        b.in_flight = b.in_flight.saturating_sub(1);
    }
}

impl OwnPurchases for Account {
    fn mark(&self) -> PurchaseMark {
        let b = lock(&self.buying);
        PurchaseMark {
            sent: b.sent,
            in_flight: b.in_flight,
        }
    }

    fn grown_since(&self, mark: PurchaseMark) -> u64 {
        let b = lock(&self.buying);
        b.sent.saturating_sub(mark.sent) + mark.in_flight
    }

    fn added_since(&self, mark: PurchaseMark) -> HashSet<String> {
        let b = lock(&self.buying);
        b.added
            .iter()
            .rev()
            .take_while(|a| a.seq > mark.sent)
            .map(|a| a.number.clone())
            .collect()
    }
}
