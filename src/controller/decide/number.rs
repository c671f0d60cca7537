//! What a PhoneNumber needs, from the account's list: the number plan. The account list is the
//! source of truth. A managed PhoneNumber never sent to Talkturo is bought when the list does
//! not show it; a number the list shows is adopted and mirrored; an owned number the list lacks
//! is `Lost` (never bought again); a purchase whose outcome is unknown is settled by later lists
//! (present: adopt; absent from two: buy the same exact number again).

use std::time::Duration;

use jiff::Timestamp;

use super::conditions::{self, Desired};
use super::events::{Note, action, reason};
use super::number_status::{ClaimLink, MANAGED, failed, merge, mirror, not_synced, synced};
use super::requeue;
use super::snapshot::Snapshot;
use super::time::{between, time_ceil};
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberStatus};
use crate::controller::Config;
use crate::talkturo::{NumberRecord, NumberStatus};

/// What to do with a PhoneNumber after looking at the account list.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Write this status (when it differs) and look again after `requeue`.
    Settle {
        status: Box<PhoneNumberStatus>,
        requeue: Duration,
        event: Option<Note>,
    },
    /// Buy the number now: the account's list does not show it.
    Buy,
}

/// What the plan is decided on.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    pub snapshot: &'a Snapshot,
    pub link: ClaimLink,
    /// The class's `syncInterval`.
    pub sync: Duration,
    /// The plan limit stands: no purchase now.
    pub purchase_blocked: bool,
    pub cfg: &'a Config,
    pub now: Timestamp,
}

impl Seen<'_> {
    /// How long a number that is waiting on something no list announces (the plan limit, a
    /// person) waits before it is looked at again.
    fn slow(&self) -> Duration {
        self.sync.saturating_mul(requeue::SETTLED_INTERVALS)
    }
}

/// Before any plan: what stops a number from being decided on at all.
#[derive(Debug, PartialEq, Eq)]
pub enum Hold {
    /// A suspect list lacks this number among many (the class says so): nothing is decided and
    /// nothing written until later lists confirm its absence or show it; look again after this.
    Suspect(Duration),
    /// An owned number gone from the account that is not wanted any more (deleting, or released
    /// by this operator): the object goes too, without reporting the number lost.
    Gone { deleting: bool },
}

/// Whether `pn` is held back from the plan (see [`Hold`]).
pub fn hold(pn: &PhoneNumber, snapshot: &Snapshot, sync: Duration) -> Option<Hold> {
    let owned = pn.status.as_ref().is_some_and(|s| s.id.is_some());
    let in_account = snapshot.records.contains_key(&pn.spec.number);
    let deleting = pn.metadata.deletion_timestamp.is_some();
    // Only a number this operator released goes without a trace: one that merely vanished may
    // still be billed, so it stays, Lost, until an admin deletes its PhoneNumber. A released
    // one may still be seen here before its deletion is (an onExpiry release keeps its claim),
    // or with only its intent recorded (the process stopped between the release and its status
    // write): it is deleted again, never reported lost, whatever a hold says.
    // A release Talkturo confirmed is gone whatever a list says; one only intended (its answer
    // lost or failed) is gone only by a list that is not held: an empty or foreign list lacks it
    // too, and then the number would be owned with nothing tracking it.
    let confirmed = pn.status.as_ref().is_some_and(release_confirmed);
    if owned && !in_account && confirmed {
        return Some(Hold::Gone { deleting });
    }
    // Held: not even a deleted PhoneNumber lets its number go while the account may hold it.
    if snapshot.unconfirmed.contains(&pn.spec.number) {
        return Some(Hold::Suspect(sync));
    }
    let released = pn.status.as_ref().is_some_and(released_by_us);
    (owned && !in_account && (released || deleting)).then_some(Hold::Gone { deleting })
}

/// The status of a number while its class's account list is held (`snapshot.hold`): `Synced`
/// False with the hold's reason; nothing else changes. `missing`: the list lacks this number
/// (else it is only kept from buying, releasing and assigning while the hold stands).
pub fn held(
    pn: &PhoneNumber,
    snapshot: &Snapshot,
    missing: bool,
    now: Timestamp,
) -> PhoneNumberStatus {
    let reason = snapshot
        .hold
        .as_ref()
        .map_or(reasons::SUSPECT_LIST, super::hold::reason);
    let why = if missing {
        format!(
            "the account list of class {} lacks {} along with too many other numbers at once (or after the account changed): it is held, not marked Lost, released or bought again, until the class's hold is confirmed (see the class's Ready condition)",
            pn.spec.class_name, pn.spec.number
        )
    } else {
        format!(
            "the account list of class {} is held (see the class's Ready condition): nothing is bought, released or assigned for {} until the hold ends",
            pn.spec.class_name, pn.spec.number
        )
    };
    not_synced(pn, reason, why, now)
}

/// Whether Talkturo confirmed this operator's release of the number (`Released`): its absence
/// from any list is expected.
pub fn release_confirmed(status: &PhoneNumberStatus) -> bool {
    conditions::find(&status.conditions, types::READY)
        .is_some_and(|c| c.reason == reasons::RELEASED)
}

/// Whether the status says this operator released the number, or was about to (its intent
/// recorded): then its absence from the account is the release's, not a number lost.
pub fn released_by_us(status: &PhoneNumberStatus) -> bool {
    conditions::find(&status.conditions, types::READY)
        .is_some_and(|c| c.reason == reasons::RELEASED || c.reason == reasons::RELEASING)
}

/// The reason constant matching a class's `Ready` reason (a closed set), else `ClassNotReady`.
pub fn class_reason(reason: &str) -> &'static str {
    [
        reasons::SECRET_NOT_FOUND,
        reasons::SECRET_KEY_MISSING,
        reasons::UNAUTHORIZED,
        reasons::FORBIDDEN,
        reasons::UNREACHABLE,
        reasons::INVALID_RESPONSE,
        reasons::INVALID_SPEC,
        reasons::INSECURE_URL,
        reasons::SECRET_NOT_MARKED,
        reasons::SUSPECT_LIST,
        reasons::ACCOUNT_CHANGED,
    ]
    .into_iter()
    .find(|r| *r == reason)
    .unwrap_or(reasons::CLASS_NOT_READY)
}

/// Decides what to do, from the object, the account's list and the time.
pub fn plan(pn: &PhoneNumber, seen: &Seen) -> Plan {
    let st = pn.status.clone().unwrap_or_default();
    if let Some(record) = seen.snapshot.records.get(&pn.spec.number) {
        return listed(pn, &st, record, seen);
    }
    if st.id.is_some() {
        return lost(pn, &st, seen);
    }
    if pn.spec.management_policy == ManagementPolicy::ObserveOnly {
        let status = absent(
            pn,
            &st,
            "not in the Talkturo account (ObserveOnly: never bought)",
            seen.now,
        );
        return settle(status, seen.slow(), None);
    }
    if st.phase == Some(NumberPhase::Failed) {
        // Failed is settled: no purchase of it is in doubt (an object an earlier version left
        // with an unknown outcome beside it would otherwise wait on it for ever).
        let mut st = st;
        if let Some(p) = st.purchase.as_mut() {
            p.outcome_unknown_since = None;
        }
        return settle(st, seen.slow(), None);
    }
    if st
        .purchase
        .as_ref()
        .is_some_and(|p| p.outcome_unknown_since.is_some())
    {
        return unsettled(pn, &st, seen);
    }
    if seen.purchase_blocked {
        let why = "the account's plan limit is reached; not buying".to_owned();
        let status = failed(pn, reasons::PLAN_LIMIT_REACHED, why, None, seen.now);
        return settle(status, seen.slow(), None);
    }
    Plan::Buy
}

fn settle(status: PhoneNumberStatus, requeue: Duration, event: Option<Note>) -> Plan {
    Plan::Settle {
        status: Box::new(status),
        requeue,
        event,
    }
}

/// The list shows the number: mirrored (adopted when it had no record), unless the list names
/// another record than the one recorded.
fn listed(pn: &PhoneNumber, st: &PhoneNumberStatus, record: &NumberRecord, seen: &Seen) -> Plan {
    if let Some(known) = st.id.as_ref().filter(|k| **k != record.id) {
        return record_mismatch(pn, st, known, &record.id, seen);
    }
    let status = mirror(pn, record, seen.link, seen.snapshot.started_at, seen.now);
    // Purchasing: looked at again at the next quick list. Otherwise settled: the list wakes it
    // when its record changes or goes, the claim's and its own changes do, and a trial's expiry
    // sets its own timer.
    let requeue = if record.status == NumberStatus::Purchasing {
        seen.cfg.fast_sync
    } else {
        requeue::NO_TIMER
    };
    let event = st.id.is_none().then(|| {
        Note::normal(
            reason::ADOPTED,
            action::SYNC,
            format!(
                "{} is owned by the account (record {}); adopted, not bought again",
                pn.spec.number, record.id
            ),
        )
    });
    settle(status, requeue, event)
}

/// `Lost`, with why.
fn absent(
    pn: &PhoneNumber,
    st: &PhoneNumberStatus,
    why: &str,
    now: Timestamp,
) -> PhoneNumberStatus {
    let mut status = st.clone();
    status.phase = Some(NumberPhase::Lost);
    merge(
        pn,
        &mut status,
        &[
            Desired::new(types::READY, false, reasons::LOST, why),
            synced(now),
        ],
        MANAGED,
        now,
    );
    status
}

/// An owned number the list lacks: `Lost` (a Warning the first time), never bought again.
fn lost(pn: &PhoneNumber, st: &PhoneNumberStatus, seen: &Seen) -> Plan {
    let why = format!("{} is no longer in the Talkturo account", pn.spec.number);
    let status = absent(pn, st, &why, seen.now);
    let event = (st.phase != Some(NumberPhase::Lost)).then(|| {
        Note::warning(
            reason::NUMBER_LOST,
            action::SYNC,
            format!(
                "{} (record {}) disappeared from the Talkturo account",
                pn.spec.number,
                st.id.clone().unwrap_or_default()
            ),
        )
    });
    // A list that shows it again wakes it.
    settle(status, requeue::NO_TIMER, event)
}

/// A purchase whose outcome is unknown, absent from this list: counted when the list was sent
/// after the attempt and after the last list counted. Absent from two, it is bought again (or,
/// after an answer about another number, failed); until then it is `Purchasing`, raised for a
/// human once unsettled for `outcome_alert_after`.
fn unsettled(pn: &PhoneNumber, st: &PhoneNumberStatus, seen: &Seen) -> Plan {
    let mut p = st.purchase.clone().unwrap_or_default();
    let Some(since) = p.outcome_unknown_since.clone() else {
        return Plan::Buy;
    };
    let at = seen.snapshot.started_at;
    if at >= since.0 && p.last_listing_time.as_ref().is_none_or(|t| at > t.0) {
        p.absent_listings += 1;
        p.last_listing_time = Some(time_ceil(at));
    }
    if p.absent_listings >= 2 && p.failure_reason.as_deref() == Some(reasons::PURCHASE_MISMATCH) {
        // The answer was about another number and the lists never showed this one: it was not
        // bought. Not bought again either (the service may answer the same).
        let why = p.failure_message.clone().unwrap_or_default();
        let mut status = failed(pn, reasons::PURCHASE_MISMATCH, why, None, seen.now);
        if let Some(q) = status.purchase.as_mut() {
            q.outcome_unknown_since = None;
            q.absent_listings = p.absent_listings;
            q.last_listing_time = p.last_listing_time.clone();
        }
        return settle(status, seen.slow(), None);
    }
    if p.absent_listings >= 2 {
        return Plan::Buy;
    }
    let unsettled_for = between(since.0, seen.now);
    let alert = unsettled_for >= seen.cfg.outcome_alert_after;
    let mut status = st.clone();
    status.purchase = Some(p);
    status.phase = Some(NumberPhase::Purchasing);
    merge(
        pn,
        &mut status,
        &settling(pn, alert, unsettled_for, seen.now),
        MANAGED,
        seen.now,
    );
    let event = (alert && !conditions::is_true(&st.conditions, types::PURCHASE_OUTCOME_UNKNOWN))
        .then(|| {
            Note::warning(
                reason::PURCHASE_OUTCOME_UNKNOWN,
                action::SYNC,
                format!(
                    "the purchase of {} could not be settled for {}s; a human should check the account",
                    pn.spec.number,
                    unsettled_for.as_secs()
                ),
            )
        });
    settle(
        status,
        seen.cfg.purchase_grace.max(seen.cfg.fast_sync),
        event,
    )
}

/// The conditions of a purchase being settled, with the alert when it is overdue.
fn settling(
    pn: &PhoneNumber,
    alert: bool,
    unsettled_for: Duration,
    now: Timestamp,
) -> Vec<Desired> {
    let mut desired = vec![
        Desired::new(
            types::READY,
            false,
            reasons::PURCHASING,
            "the outcome of the purchase is being settled from the account list",
        ),
        synced(now),
    ];
    if alert {
        desired.push(Desired::new(
            types::PURCHASE_OUTCOME_UNKNOWN,
            true,
            reasons::PURCHASE_OUTCOME_UNKNOWN,
            format!(
                "a purchase of {} was sent {}s ago and the account list has not settled it; check the Talkturo dashboard",
                pn.spec.number,
                unsettled_for.as_secs()
            ),
        ));
    }
    desired
}

/// The account lists the number under another id than the one recorded: the recorded id is
/// kept (a release or assignment by the listed id could act on another record), the status says
/// so, and an admin decides.
fn record_mismatch(
    pn: &PhoneNumber,
    st: &PhoneNumberStatus,
    known: &str,
    listed: &str,
    seen: &Seen,
) -> Plan {
    let message = format!(
        "the account lists {} under record {listed}, but it was recorded as {known}; the record is kept and nothing is assigned or released until an admin checks the account",
        pn.spec.number
    );
    let mut status = st.clone();
    merge(
        pn,
        &mut status,
        &[Desired::new(
            types::SYNCED,
            false,
            reasons::RECORD_MISMATCH,
            message.clone(),
        )],
        &[],
        seen.now,
    );
    let already = conditions::find(&st.conditions, types::SYNCED)
        .is_some_and(|c| c.reason == reasons::RECORD_MISMATCH);
    let event = (!already).then(|| Note::warning(reasons::RECORD_MISMATCH, action::SYNC, message));
    settle(status, seen.slow(), event)
}

#[cfg(test)]
mod tests;
