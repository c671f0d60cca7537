//! The account's list: one call serves every reconcile that asks for a list at least as fresh,
//! concurrent askers share it, a failed list is remembered, and a list that suddenly lacks many
//! numbers is judged suspect (`decide::snapshot::suspect`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;

use super::{
    ATTEMPT_MEMORY, Account, Held, Known, LIST_PACING, ListResult, Snapshot, Waiting, lock,
};
use crate::api::v1alpha1::phone_number_name;
use crate::controller::decide::snapshot::{Expected, judge};
use crate::talkturo::{self, NumberRecord};

impl Account {
    /// Which numbers a new list lacks without it being decided yet, and the hold on them (see
    /// `decide::snapshot::judge`).
    pub(super) fn judge(
        &self,
        previous: Option<&Snapshot>,
        records: &BTreeMap<String, NumberRecord>,
        numbers: &[Known],
        started_at: Timestamp,
    ) -> (BTreeSet<String>, Option<Held>) {
        // Only the class's numbers: one an earlier list showed that no PhoneNumber names (a
        // number of the account no claim uses, or another account's that a wrong answer
        // listed) is nothing the class holds, and holding it would stop the class for nothing.
        let named: BTreeSet<&String> = numbers.iter().map(|k| &k.number).collect();
        let mut known: BTreeSet<String> = previous
            .map(|p| {
                p.records
                    .keys()
                    .chain(&p.unconfirmed)
                    .filter(|n| named.contains(n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut tracked: BTreeSet<String> = numbers
            .iter()
            .filter(|k| k.owned && k.bought.is_none_or(|b| b < started_at))
            .map(|k| k.number.clone())
            .chain(self.bought_before(started_at))
            .collect();
        known.extend(tracked.iter().cloned());
        // Absences that are expected: Lost numbers, and numbers released by this operator (by
        // this process, or recorded so by any).
        let released = lock(&self.released);
        let expected: BTreeSet<&String> = numbers
            .iter()
            .filter(|k| k.lost || k.released)
            .map(|k| &k.number)
            .collect();
        known.retain(|n| !released.contains_key(n) && !expected.contains(n));
        tracked.retain(|n| known.contains(n));
        drop(released);
        let policy = *lock(&self.hold_policy);
        let mut a = lock(&self.absences);
        let held = judge(
            &mut a,
            Expected { known, tracked },
            records,
            started_at,
            &policy,
        );
        (a.pending.clone(), held)
    }

    /// The latest snapshot, whatever its age.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        lock(&self.snapshot).clone()
    }

    /// A snapshot of the account's numbers taken no earlier than `fresher_than`.
    ///
    /// Reuses the current one when it is fresh enough; otherwise one caller lists and every
    /// concurrent caller waits for that same list (coalescing). A failed list is remembered, so
    /// callers asking for the same freshness get the same error without another call.
    pub async fn snapshot(&self, fresher_than: Timestamp) -> ListResult {
        if let Some(s) = self.fresh(fresher_than) {
            return s;
        }
        // Pacing under contention: once a caller finds another already waiting for (or making)
        // a list, lists start at least LIST_PACING apart until they have been quiet for twice
        // that. A burst of purchases (each waiting for a list sent after it, to see the number
        // active) then shares a few lists instead of making one each, while demands
        // that come one at a time (a single claim's lists) are never delayed.
        if self.waiting.fetch_add(1, Ordering::SeqCst) > 0 {
            self.paced.store(true, Ordering::SeqCst);
        }
        let _waiting = Waiting(&self.waiting);
        let _guard = self.refresh.lock().await;
        if let Some(s) = self.fresh(fresher_than) {
            return s;
        }
        let last = *lock(&self.last_list_start);
        if let Some(since) = last.map(|l| Timestamp::now().duration_since(l).unsigned_abs()) {
            if since >= 2 * LIST_PACING {
                self.paced.store(false, Ordering::SeqCst);
            } else if since < LIST_PACING && self.paced.load(Ordering::SeqCst) {
                tokio::time::sleep(LIST_PACING - since).await;
            }
        }
        // Releases in flight end first (their effect is then in this list), and none starts
        // while it pages. Purchases go on: the list tolerates the count growing by them.
        let no_releases = self.releases.write().await;
        let started_at = Timestamp::now();
        *lock(&self.last_list_start) = Some(started_at);
        let listed = self.client.list_while_buying(&self.key.team_id, self).await;
        drop(no_releases);
        match listed {
            Ok(records) => {
                let records: BTreeMap<String, NumberRecord> = records
                    .into_iter()
                    .map(|r| (r.phone_number.clone(), r))
                    .collect();
                let previous = self.current();
                let numbers = self.known.as_ref().map(|f| f()).unwrap_or_default();
                let (unconfirmed, hold) =
                    self.judge(previous.as_deref(), &records, &numbers, started_at);
                let lost = numbers
                    .iter()
                    .filter(|k| k.lost && !records.contains_key(&k.number))
                    .count();
                tracing::debug!(
                    team_id = self.key.team_id,
                    %started_at,
                    listed = records.len(),
                    known = numbers.len(),
                    held = unconfirmed.len(),
                    "account listed"
                );
                if !unconfirmed.is_empty() {
                    tracing::warn!(
                        team_id = self.key.team_id,
                        listed = records.len(),
                        missing = unconfirmed.len(),
                        changed = hold.is_some_and(|h| h.changed),
                        "the account list lacks numbers the class holds, too many at once or after the account changed; nothing about them changes until the hold is confirmed"
                    );
                }
                let new = Arc::new(Snapshot {
                    started_at,
                    records,
                    unconfirmed,
                    hold,
                });
                let old = lock(&self.snapshot).replace(new.clone());
                self.notify_changes(old.as_deref(), &new);
                *lock(&self.last_error) = None;
                // Numbers not confirmed gone, and Lost ones, still count against the plan.
                let count = new.records.len() + new.unconfirmed.len() + lost;
                self.observe_count(count as u64, started_at);
                drop(old);
                crate::memory::release_free();
                Ok(new)
            }
            Err(e) => {
                let e = Arc::new(e);
                *lock(&self.last_error) = Some((started_at, e.clone()));
                Err(e)
            }
        }
    }

    /// The error of the account's latest list, when it failed (a list that succeeds clears it).
    pub fn list_failing(&self) -> Option<Arc<talkturo::Error>> {
        lock(&self.last_error).as_ref().map(|(_, e)| e.clone())
    }

    fn fresh(&self, fresher_than: Timestamp) -> Option<ListResult> {
        if let Some(s) = lock(&self.snapshot)
            .as_ref()
            .filter(|s| s.started_at >= fresher_than)
        {
            return Some(Ok(s.clone()));
        }
        lock(&self.last_error)
            .as_ref()
            .filter(|(at, _)| *at >= fresher_than)
            .map(|(_, e)| Err(e.clone()))
    }

    /// Applies a change this process just made at Talkturo (e.g. an assignment) to the shared
    /// view, so that reconciles reading the current snapshot do not redo it.
    pub fn write_through(&self, number: &str, change: impl FnOnce(&mut NumberRecord)) {
        let mut guard = lock(&self.snapshot);
        if let Some(current) = guard.as_ref() {
            let mut records = current.records.clone();
            if let Some(r) = records.get_mut(number) {
                change(r);
                *guard = Some(Arc::new(Snapshot {
                    started_at: current.started_at,
                    records,
                    unconfirmed: current.unconfirmed.clone(),
                    hold: current.hold,
                }));
            }
        }
    }

    /// Removes a number this process just released from the shared view (later lists that lack
    /// it are not suspect for it).
    pub fn forget_record(&self, number: &str) {
        let mut released = lock(&self.released);
        released.retain(|_, t| Timestamp::now().duration_since(*t).unsigned_abs() < ATTEMPT_MEMORY);
        released.insert(number.to_owned(), Timestamp::now());
        drop(released);
        let mut guard = lock(&self.snapshot);
        if let Some(current) = guard.as_ref().filter(|c| c.records.contains_key(number)) {
            let mut records = current.records.clone();
            records.remove(number);
            *guard = Some(Arc::new(Snapshot {
                started_at: current.started_at,
                records,
                unconfirmed: current.unconfirmed.clone(),
                hold: current.hold,
            }));
        }
    }

    /// Wakes the PhoneNumbers whose record appeared, changed or disappeared, and those a hold
    /// took or let go.
    fn notify_changes(&self, old: Option<&Snapshot>, new: &Snapshot) {
        let (empty, none) = (BTreeMap::new(), BTreeSet::new());
        let (held, old) = old.map_or((&none, &empty), |s| (&s.unconfirmed, &s.records));
        let changed = new
            .records
            .iter()
            .filter(|(n, r)| old.get(*n) != Some(r))
            .map(|(n, _)| n);
        let gone = old.keys().filter(|n| !new.records.contains_key(*n));
        let hold = new.unconfirmed.symmetric_difference(held);
        for number in changed.chain(gone).chain(hold) {
            let _ = self
                .changed
                .unbounded_send(ObjectRef::new(&phone_number_name(number)));
        }
    }

    /// A lower number count than when the limit was hit means room was made, if the list was
    /// started after the refusal came back (an older list may predate the numbers that filled
    /// the plan).
    pub(super) fn observe_count(&self, count: u64, listed_at: Timestamp) {
        let mut p = lock(&self.plan);
        if p.limit_reached
            .is_some_and(|(at_count, since)| since <= listed_at && count < at_count)
        {
            p.limit_reached = None;
        }
    }
}
