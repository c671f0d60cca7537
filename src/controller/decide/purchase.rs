//! What a purchase call's answer leaves in the PhoneNumber's status. The call itself is made by
//! the reconcile (`reconcile::number::buy`); every answer is recorded before anything else, so a
//! number the account now holds is never forgotten.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::Desired;
use super::events::{Note, action, reason};
use super::number_status::{ClaimLink, MANAGED, failed, merge, mirror};
use super::requeue;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{NumberPhase, PhoneNumber, PhoneNumberStatus};
use crate::talkturo::NumberRecord;

/// The status a purchase's answer leads to, when to look again, and the Event.
#[derive(Debug, PartialEq)]
pub struct Answered {
    pub status: PhoneNumberStatus,
    pub requeue: Duration,
    pub note: Option<Note>,
}

/// The status with the attempt counted at `at` (the time the call came back); `unknown` starts
/// settling its outcome from the account list.
pub fn attempted(pn: &PhoneNumber, at: &Time, unknown: bool) -> PhoneNumberStatus {
    let mut st = pn.status.clone().unwrap_or_default();
    let mut p = st.purchase.clone().unwrap_or_default();
    p.attempts += 1;
    p.last_attempt_time = Some(at.clone());
    p.outcome_unknown_since = unknown.then(|| at.clone());
    p.absent_listings = 0;
    p.last_listing_time = None;
    st.purchase = Some(p);
    st
}

/// Bought: the record the answer carries, mirrored (the account list then shows it active).
pub fn bought(
    pn: &PhoneNumber,
    record: &NumberRecord,
    link: ClaimLink,
    at: &Time,
    now: Timestamp,
) -> (PhoneNumber, Answered) {
    let mut base = pn.clone();
    base.status = Some(attempted(pn, at, false));
    let status = mirror(&base, record, link, now, now);
    let note = Note::normal(
        reason::PURCHASED,
        action::SYNC,
        format!("bought {} (record {})", pn.spec.number, record.id),
    );
    (
        base,
        Answered {
            status,
            requeue: Duration::ZERO,
            note: Some(note),
        },
    )
}

/// "Already owned by the team": adopted from the list, settled like an unknown outcome.
pub fn already_owned(pn: &PhoneNumber, at: &Time, grace: Duration) -> Answered {
    let note = Note::normal(
        reason::ALREADY_OWNED,
        action::SYNC,
        format!(
            "{} is already owned by the team; adopting it from the account list",
            pn.spec.number
        ),
    );
    Answered {
        status: attempted(pn, at, true),
        requeue: grace,
        note: Some(note),
    }
}

/// A success for another number (`answered`, record `id`): nothing is known of the asked one
/// (the list settles it, and it is not bought again if absent); `tracked` says what became of
/// the answered number.
pub fn mismatch(
    pn: &PhoneNumber,
    (answered, id): (&str, &str),
    tracked: &str,
    at: &Time,
    now: Timestamp,
) -> PhoneNumberStatus {
    let number = &pn.spec.number;
    let mut st = attempted(pn, at, true);
    let message = format!(
        "Talkturo answered the purchase of {number} with a record of {answered} (id {id}); {number} is settled from the account list and not bought again; {tracked}"
    );
    if let Some(p) = st.purchase.as_mut() {
        p.failure_reason = Some(reasons::PURCHASE_MISMATCH.to_owned());
        p.failure_message = Some(message.clone());
    }
    settling(pn, st, (reasons::PURCHASE_MISMATCH, message), now)
}

/// `Purchasing`, `Ready` False for `reason`: the outcome is settled from the account list.
fn settling(
    pn: &PhoneNumber,
    mut st: PhoneNumberStatus,
    (reason, message): (&'static str, String),
    now: Timestamp,
) -> PhoneNumberStatus {
    st.phase = Some(NumberPhase::Purchasing);
    merge(
        pn,
        &mut st,
        &[Desired::new(types::READY, false, reason, message)],
        MANAGED,
        now,
    );
    st
}

/// The Warning of a mismatched answer: the message its status records.
pub fn mismatch_note(status: &PhoneNumberStatus) -> Note {
    let message = status
        .purchase
        .as_ref()
        .and_then(|p| p.failure_message.clone())
        .unwrap_or_default();
    Note::warning(reasons::PURCHASE_MISMATCH, action::SYNC, message)
}

/// Refused for good (`limit`: for the plan's number limit): `Failed`, nothing bought.
pub fn refused(pn: &PhoneNumber, limit: bool, error: &str, at: &Time, now: Timestamp) -> Answered {
    let reason = if limit {
        reasons::PLAN_LIMIT_REACHED
    } else {
        reasons::PURCHASE_FAILED
    };
    let message = format!(
        "Talkturo refused the purchase of {}: {error}",
        pn.spec.number
    );
    Answered {
        status: failed(pn, reason, message.clone(), Some(at), now),
        requeue: requeue::REFUSED,
        note: Some(Note::warning(reason, action::SYNC, message)),
    }
}

/// The outcome is unknown (the call may or may not have taken effect): settled from the list.
/// Not a Warning yet: most settle within seconds; the Warning is for one still unsettled after
/// `--outcome-alert-secs`.
pub fn unknown(
    pn: &PhoneNumber,
    error: &str,
    at: &Time,
    grace: Duration,
    now: Timestamp,
) -> Answered {
    let why = format!(
        "the purchase may or may not have taken effect ({error}); settling it from the account list"
    );
    let st = settling(pn, attempted(pn, at, true), (reasons::PURCHASING, why), now);
    let note = Note::normal(
        reason::PURCHASE_UNSETTLED,
        action::SYNC,
        format!(
            "purchase of {}: {error}; the account list will settle it",
            pn.spec.number
        ),
    );
    Answered {
        status: st,
        requeue: grace,
        note: Some(note),
    }
}

#[cfg(test)]
mod tests;
