//! A number a campaign dials from (contract §2.10, §4 item 22): never released, and never taken
//! off the campaign's assistant, while a `scheduled`, `running` or `paused` campaign uses it as
//! its caller ID. What the operator found becomes a condition that names the campaign and one
//! Warning; the number is looked at again once per sync interval, not in a loop.

use super::conditions::{self, Desired};
use super::events::{Note, action};
use super::number_status;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberStatus};

/// Why a release or a move of a number is held back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    /// The team's campaigns show one dialling from the number (described: id, name, status).
    InUse(String),
    /// Talkturo refused the change with `409` (what it said).
    Refused(String),
    /// The team's campaigns could not be read (the error), so no campaign can be ruled out.
    Unreadable(String),
}

impl Hold {
    pub fn reason(&self) -> &'static str {
        match self {
            Hold::InUse(_) | Hold::Refused(_) => reasons::IN_USE_BY_CAMPAIGN,
            Hold::Unreadable(_) => reasons::CAMPAIGN_CHECK_FAILED,
        }
    }

    /// Why, as a message says it after "is not released" or "stays on assistant X".
    fn why(&self) -> String {
        match self {
            Hold::InUse(c) => format!("campaign {c} dials from it"),
            Hold::Refused(e) => format!("Talkturo says a campaign dials from it: {e}"),
            Hold::Unreadable(e) => format!(
                "the team's campaigns could not be read to rule out one dialling from it: {e}"
            ),
        }
    }
}

/// A release held back: `ReleaseFailed` and `Ready` say why and when it is tried again (the
/// number is kept, and still billed). A Warning when the reason is new.
pub fn release_held(
    pn: &PhoneNumber,
    status: &mut PhoneNumberStatus,
    hold: &Hold,
    now: jiff::Timestamp,
) -> Option<Note> {
    let number = &pn.spec.number;
    let message = format!(
        "{number} is not released: {}; it is kept (and still billed) and released once no scheduled, running or paused campaign uses it, checked every sync interval",
        hold.why()
    );
    let before = conditions::find(&status.conditions, types::RELEASE_FAILED)
        .filter(|c| c.status == "True")
        .map(|c| c.reason.clone());
    let desired = [
        Desired::new(types::RELEASE_FAILED, true, hold.reason(), message.clone()),
        Desired::new(types::READY, false, hold.reason(), message.clone()),
    ];
    number_status::merge(pn, status, &desired, &[], now);
    (before.as_deref() != Some(hold.reason()))
        .then(|| Note::warning(hold.reason(), action::RECLAIM, message))
}

/// A release still held back (looked at within the interval): `Ready` says so again, as
/// `ReleaseFailed` does (the plan recomputes `Ready` on every reconcile).
pub fn release_still_held(pn: &PhoneNumber, status: &mut PhoneNumberStatus, now: jiff::Timestamp) {
    let Some(held) = conditions::find(&status.conditions, types::RELEASE_FAILED)
        .filter(|c| c.status == "True" && is_hold_reason(&c.reason))
        .cloned()
    else {
        return;
    };
    let reason = if held.reason == reasons::IN_USE_BY_CAMPAIGN {
        reasons::IN_USE_BY_CAMPAIGN
    } else {
        reasons::CAMPAIGN_CHECK_FAILED
    };
    let ready = Desired::new(types::READY, false, reason, held.message);
    number_status::merge(pn, status, &[ready], &[], now);
}

/// A move off `from` held back: `Assigned` False says why; the number stays on `from`.
pub fn move_held(number: &str, from: &str, to: Option<&str>, hold: &Hold) -> Desired {
    let then = match to {
        Some(to) => format!("it moves to assistant {to}"),
        None => "it is unassigned".to_owned(),
    };
    Desired::new(
        types::ASSIGNED,
        false,
        hold.reason(),
        format!(
            "{number} stays on assistant {from}: {}; {then} once no scheduled, running or paused campaign uses it, checked every sync interval",
            hold.why()
        ),
    )
}

/// Whether a `ReleaseFailed` condition was set by a campaign hold (looked at again every sync
/// interval), not by a release Talkturo refused (looked at again after an hour).
pub fn is_hold_reason(reason: &str) -> bool {
    reason == reasons::IN_USE_BY_CAMPAIGN || reason == reasons::CAMPAIGN_CHECK_FAILED
}

#[cfg(test)]
mod tests;
