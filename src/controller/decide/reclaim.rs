//! Reclaiming a number whose claim is gone (or whose PhoneNumber is deleted), per its
//! `reclaimPolicy`: `Retain` keeps it (`Released`, bindable again once an admin clears
//! `claimRef`); `Release` releases it at Talkturo and then removes the PhoneNumber. A release the
//! API refuses keeps the number, with a `ReleaseFailed` condition, tried again after
//! [`requeue::RELEASE_RETRY`]. Only `Managed` numbers are ever released.

use jiff::Timestamp;

use super::campaign;
use super::conditions::{self, Desired};
use super::events::{Note, action, reason};
use super::number_status::{self, trusted};
use super::requeue;
use super::time::between;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{ManagementPolicy, PhoneNumber, PhoneNumberStatus, ReclaimPolicy};

/// What a release decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct ReleaseCheck<'a> {
    pub pn: &'a PhoneNumber,
    /// The status as this reconcile has it so far.
    pub status: &'a PhoneNumberStatus,
    /// The PhoneNumber's claim is gone.
    pub claim_gone: bool,
    /// The PhoneNumber is being deleted.
    pub deleting: bool,
    pub now: Timestamp,
}

impl ReleaseCheck<'_> {
    /// Whether the number is to be released now under its reclaim policy.
    pub fn wants_release(&self) -> bool {
        self.pn.spec.reclaim_policy == ReclaimPolicy::Release
            && (self.claim_gone || self.deleting)
            && self.releasable()
    }

    /// Whether the operator may release this number now, for whatever reason: it manages it,
    /// owns it, its record is not in question, and Talkturo has not refused to release it
    /// within [`requeue::RELEASE_RETRY`].
    pub fn releasable(&self) -> bool {
        // A campaign's hold is looked at again every sync interval (the account's memory paces
        // it); a refused release after an hour.
        let refused_recently = conditions::find(&self.status.conditions, types::RELEASE_FAILED)
            .is_some_and(|c| {
                c.status == "True"
                    && !campaign::is_hold_reason(&c.reason)
                    && between(c.last_transition_time.0, self.now) < requeue::RELEASE_RETRY
            });
        self.pn.spec.management_policy == ManagementPolicy::Managed
            && self.status.id.is_some()
            && trusted(self.status)
            && !refused_recently
    }
}

/// Why the operator releases a number, as its Event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The claim or the PhoneNumber went, under `reclaimPolicy: Release`.
    ReclaimPolicy,
    /// The trial expired, under the class's `onExpiry: Release`.
    TrialExpired,
}

impl Why {
    pub fn because(self) -> &'static str {
        match self {
            Why::ReclaimPolicy => "as reclaimPolicy Release asks",
            Why::TrialExpired => "because its trial expired (onExpiry Release)",
        }
    }
}

/// The intent, recorded before the release is sent: a process that stops between Talkturo's
/// answer and the next status write finds `Releasing` and the number gone, and knows the release
/// was its own (not a number lost).
pub fn releasing(pn: &PhoneNumber, status: &mut PhoneNumberStatus, why: Why, now: Timestamp) {
    let message = format!(
        "releasing {} at Talkturo, {}",
        pn.spec.number,
        why.because()
    );
    number_status::merge(
        pn,
        status,
        &[Desired::new(
            types::READY,
            false,
            reasons::RELEASING,
            message,
        )],
        &[],
        now,
    );
}

/// Released at Talkturo: the status says so, and the Event.
pub fn released(
    pn: &PhoneNumber,
    status: &mut PhoneNumberStatus,
    id: &str,
    why: Why,
    now: Timestamp,
) -> Note {
    let number = &pn.spec.number;
    let message = format!("{number} was released at Talkturo");
    number_status::merge(
        pn,
        status,
        &[Desired::new(
            types::READY,
            false,
            reasons::RELEASED,
            message,
        )],
        &[],
        now,
    );
    Note::normal(
        reasons::RELEASED,
        action::RECLAIM,
        format!(
            "released {number} (record {id}) at Talkturo, {}",
            why.because()
        ),
    )
}

/// Talkturo refused the release: the number is kept (and still billed); `ReleaseFailed`, and
/// `Ready` no longer says Releasing (its absence from a later list would be a loss, not this
/// release). A Warning the first time.
pub fn release_refused(
    pn: &PhoneNumber,
    status: &mut PhoneNumberStatus,
    error: &str,
    now: Timestamp,
) -> Option<Note> {
    let message = format!(
        "Talkturo did not release {}; the number is kept and still billed: {error}",
        pn.spec.number
    );
    let already = conditions::find(&status.conditions, types::RELEASE_FAILED)
        .is_some_and(|c| c.status == "True" && c.reason == reasons::RELEASE_FAILED);
    number_status::merge(
        pn,
        status,
        &[
            Desired::new(
                types::RELEASE_FAILED,
                true,
                reasons::RELEASE_FAILED,
                message.clone(),
            ),
            Desired::new(
                types::READY,
                false,
                reasons::RELEASE_FAILED,
                message.clone(),
            ),
        ],
        &[],
        now,
    );
    (!already).then(|| Note::warning(reasons::RELEASE_FAILED, action::RECLAIM, message))
}

/// The release's outcome is unknown: the list settles it.
pub fn release_unknown(pn: &PhoneNumber, error: &str) -> Note {
    Note::warning(
        reason::RELEASE_OUTCOME_UNKNOWN,
        action::RECLAIM,
        format!(
            "release of {}: {error}; the account list will settle it",
            pn.spec.number
        ),
    )
}

/// A deleted PhoneNumber whose number stays in the account (reclaimPolicy Retain).
pub fn kept(pn: &PhoneNumber) -> Note {
    Note::warning(
        reason::NUMBER_KEPT,
        action::DELETE,
        format!(
            "{} stays in the Talkturo account (reclaimPolicy Retain); without its PhoneNumber it is unmanaged",
            pn.spec.number
        ),
    )
}

#[cfg(test)]
mod tests;
