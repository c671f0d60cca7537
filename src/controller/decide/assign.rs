//! Assigning a PhoneNumber to its assistant: one number has at most one assistant. The desired
//! assistant is the PhoneNumber's `spec.assistantId` (copied from its claim), or none once the
//! claim is gone; the observed one comes from the account list. A move unassigns first (the API
//! refuses to take a number from another assistant); an assignment changed outside the operator
//! is corrected back, with a Warning Event.
//!
//! Exactly one number moves: the assistant GET lists every active number that is unassigned
//! *or* on that assistant, so the set sent back with the replace-the-set PATCH is the records
//! whose `assistant_id` is that assistant, minus (or plus) ours, never the whole answer. An
//! assignment counts only once the read-back shows our number carrying that assistant's id.

use jiff::Timestamp;

use super::conditions::Desired;
use super::number_status::ClaimLink;
use super::requeue;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::PhoneNumber;
use crate::talkturo::NumberRecord;

/// The ids an assistant holds, from its GET: the records carrying its id, not the unassigned
/// ones the same answer lists.
pub fn held_by(records: &[NumberRecord], assistant: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.assistant_id.as_deref() == Some(assistant))
        .map(|r| r.id.clone())
        .collect()
}

/// Whether an assignment whose read-back did not show it at `since` is still waiting out its
/// back-off at `now`.
pub fn backing_off(since: Option<Timestamp>, now: Timestamp) -> bool {
    since.is_some_and(|s| now.duration_since(s).unsigned_abs() < requeue::ASSIGNMENT_UNVERIFIED)
}

/// What the assignment needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do; the assignment is as desired.
    InSync,
    /// Take the number away from `from`.
    Unassign { from: String },
    /// Give the number to `to`, taking it from `from` first.
    Assign { to: String, from: Option<String> },
    /// The number is not active yet: it cannot be assigned.
    WaitActive { to: String },
}

/// The step from the desired and observed assistants.
pub fn step(desired: Option<&str>, observed: Option<&str>, active: bool) -> Step {
    match (desired, observed) {
        (d, o) if d == o => Step::InSync,
        (None, Some(o)) => Step::Unassign { from: o.to_owned() },
        (Some(d), _) if !active => Step::WaitActive { to: d.to_owned() },
        (Some(d), o) => Step::Assign {
            to: d.to_owned(),
            from: o.map(str::to_owned),
        },
        (None, None) => Step::InSync,
    }
}

/// The assistant a PhoneNumber should have: its spec's, unless its claim is gone.
pub fn desired(pn: &PhoneNumber, link: ClaimLink) -> Option<&str> {
    match link {
        ClaimLink::Missing => None,
        _ => pn.spec.assistant_id.as_deref(),
    }
}

/// `Assigned` for a step that needs no call.
pub fn settled(step: &Step, desired: Option<&str>) -> Option<Desired> {
    match step {
        Step::InSync => desired.map(|a| {
            Desired::new(
                types::ASSIGNED,
                true,
                reasons::ASSIGNED,
                format!("assigned to assistant {a}"),
            )
        }),
        Step::WaitActive { to } => Some(Desired::new(
            types::ASSIGNED,
            false,
            reasons::NUMBER_NOT_ACTIVE,
            format!("waiting for the number to be active before assigning it to {to}"),
        )),
        _ => None,
    }
}

/// `Assigned` once the read-back shows the number on `to`.
pub fn verified(to: &str) -> Desired {
    Desired::new(
        types::ASSIGNED,
        true,
        reasons::ASSIGNED,
        format!("assigned to assistant {to}"),
    )
}

/// `Assigned` False when Talkturo accepted the assignment but the read-back does not show it.
pub fn unverified(number: &str, to: &str) -> Desired {
    Desired::new(
        types::ASSIGNED,
        false,
        reasons::ASSIGNMENT_UNVERIFIED,
        format!(
            "Talkturo accepted assigning {number} to assistant {to}, but reading the assistant's numbers back does not show it there; trying again in {} minutes",
            requeue::ASSIGNMENT_UNVERIFIED.as_secs() / 60
        ),
    )
}

/// `Assigned` False for an assignment Talkturo refused (its HTTP status and what it said).
pub fn refused(number: &str, to: &str, status: Option<u16>, error: &str) -> Desired {
    let (reason, message) = match status {
        Some(404) => (
            reasons::ASSISTANT_NOT_FOUND,
            format!("assistant {to} does not exist in the account: {error}"),
        ),
        Some(400) => (
            reasons::NUMBER_NOT_ACTIVE,
            format!("Talkturo refused to assign {number}: {error}"),
        ),
        _ => (
            reasons::ASSIGNMENT_FAILED,
            format!("assigning {number} to {to} failed: {error}"),
        ),
    };
    Desired::new(types::ASSIGNED, false, reason, message)
}

/// The ids to send back when taking `id` off `assistant`: those it holds (its GET), without
/// `id`, plus the numbers the account list shows on it in another status than active (the GET
/// lists active numbers only, and a PATCH without them would take them away). `None`: the
/// assistant does not hold `id`, so no call is needed.
pub fn keep_without(
    held: &[NumberRecord],
    listed: &[&NumberRecord],
    assistant: &str,
    id: &str,
) -> Option<Vec<String>> {
    let mut keep = held_by(held, assistant);
    if !keep.iter().any(|h| h == id) {
        return None;
    }
    keep.retain(|h| h != id);
    for r in listed {
        if r.assistant_id.as_deref() == Some(assistant)
            && r.status != crate::talkturo::NumberStatus::Active
            && !keep.contains(&r.id)
            && r.id != id
        {
            keep.push(r.id.clone());
        }
    }
    Some(keep)
}

#[cfg(test)]
mod tests;
