//! How fresh the account's list must be before it decides anything about a number: a first
//! purchase takes any list; adopting, settling an unknown outcome, or taking a number's absence
//! as lost each wait for a list that can show what happened.

use std::time::Duration;

use jiff::Timestamp;

use super::snapshot::Snapshot;
use super::time::{after, before};
use crate::api::v1alpha1::{ManagementPolicy, PhoneNumber};
use crate::controller::Config;

/// How fresh the account list must be to decide about this number.
pub fn required_freshness(
    pn: &PhoneNumber,
    cfg: &Config,
    sync: Duration,
    now: Timestamp,
) -> Timestamp {
    if first_purchase(pn) {
        // Any list serves, however old (none at all is fetched): absent from it, the number is
        // bought, and a purchase that already took effect answers 409 and is adopted; present in
        // it, `presence_undecided` asks for a list sent since the object existed.
        return Timestamp::MIN;
    }
    let st = pn.status.clone().unwrap_or_default();
    let owned = st.id.is_some();
    let purchasing = !owned || st.provider_status.as_deref() == Some("purchasing");
    // A settled number takes a list up to 1.5 intervals old: the class lists once per interval
    // for all its numbers, and a number requeued just before that list must not send its own.
    let max_age = if purchasing {
        cfg.fast_sync
    } else {
        sync.saturating_add(sync / 2)
    };
    let mut t = before(now, max_age);
    if !owned && let Some(created) = created_bound(pn) {
        // Adopting, or letting a deleted object go as never bought: only a list sent after the
        // object existed shows a number a previous incarnation bought for it and crashed.
        t = t.max(created);
    }
    let p = st.purchase.unwrap_or_default();
    if let Some(since) = p.outcome_unknown_since.as_ref() {
        // Settling an unknown outcome: a list sent a grace period after the attempt, and newer
        // than the last one counted.
        t = t.max(after(since.0, cfg.purchase_grace));
        if let Some(last) = p.last_listing_time.as_ref() {
            t = t.max(after(last.0, Duration::from_millis(1)));
        }
    }
    // (A list older than our own purchase cannot show the number: `reconcile` asks for a newer
    // one when the number is missing from it; any list that shows it serves.)
    t
}

/// A managed, live PhoneNumber with no record and no purchase sent yet (as far as its status
/// shows): the only case decided on whatever list the account last made.
fn first_purchase(pn: &PhoneNumber) -> bool {
    let st = pn.status.as_ref();
    pn.spec.management_policy == ManagementPolicy::Managed
        && pn.metadata.deletion_timestamp.is_none()
        && st.is_none_or(|s| s.id.is_none())
        && st
            .and_then(|s| s.purchase.as_ref())
            .is_none_or(|p| p.attempts == 0 && p.outcome_unknown_since.is_none())
}

/// The earliest start of a list that was certainly sent after the object existed: the API server
/// keeps whole seconds, so the second after the one of its creation timestamp.
fn created_bound(pn: &PhoneNumber) -> Option<Timestamp> {
    let created = pn.metadata.creation_timestamp.as_ref()?.0;
    Some(after(created, Duration::from_secs(1)))
}

/// For a number with no record that `snapshot` shows although it was sent before the object
/// existed (a list `first_purchase` accepted), the time a list must have been sent after before
/// it is adopted: the number may have been released since. `None`: the snapshot decides.
pub fn presence_undecided(pn: &PhoneNumber, snapshot: &Snapshot) -> Option<Timestamp> {
    if pn.status.as_ref().is_some_and(|s| s.id.is_some())
        || !snapshot.records.contains_key(&pn.spec.number)
    {
        return None;
    }
    created_bound(pn).filter(|t| snapshot.started_at < *t)
}

/// For a number this process bought, when the purchase came back: a list sent before cannot
/// show it.
fn attempt_time(pn: &PhoneNumber) -> Option<Timestamp> {
    let st = pn.status.as_ref()?;
    st.id.as_ref()?;
    Some(st.purchase.as_ref()?.last_attempt_time.as_ref()?.0)
}

/// For a number this process bought that `snapshot` does not show, the time a list must have
/// been sent after before its absence decides anything: the purchase (an older list cannot show
/// it), then the purchase plus the grace period the account list may lag by (before that, its
/// absence is not Lost, not released and forgotten). `None`: the snapshot decides.
pub fn absence_undecided(pn: &PhoneNumber, snapshot: &Snapshot, cfg: &Config) -> Option<Timestamp> {
    if snapshot.records.contains_key(&pn.spec.number) {
        return None;
    }
    let attempt = attempt_time(pn)?;
    let settled = after(attempt, cfg.purchase_grace);
    [attempt, settled]
        .into_iter()
        .find(|t| snapshot.started_at < *t)
}
