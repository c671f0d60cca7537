//! A claim's status: bound (mirroring its PhoneNumber), waiting, or lost; and the conditions
//! the tenancy policies add to a bound claim.

use jiff::Timestamp;
use kube::ResourceExt;

use super::conditions::{self, Desired};
use super::events::{Note, action, reason};
use super::pending::Pending;
use super::time::now_time;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{
    ClaimPhase, NumberPhase, PhoneNumber, PhoneNumberClaim, PhoneNumberClaimStatus,
    PhoneNumberStatus, PurchaseProgress,
};

/// Condition types the claim controller owns (others, such as `ConfigMap`, are set on their
/// own).
pub const MANAGED: &[&str] = &[
    types::READY,
    types::BOUND,
    types::ASSIGNED,
    types::TRIAL_EXPIRING,
];

/// Merges `desired` into `status`'s conditions, owning `managed`.
pub fn merge(
    claim: &PhoneNumberClaim,
    status: &mut PhoneNumberClaimStatus,
    desired: &[Desired],
    managed: &[&str],
    now: Timestamp,
) {
    status.conditions = conditions::merge(
        &status.conditions,
        desired,
        managed,
        claim.metadata.generation,
        &now_time(now),
    );
}

/// The reason a condition of `type_` on the claim has now.
pub fn reason_now(claim: &PhoneNumberClaim, type_: &str) -> Option<String> {
    claim
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, type_))
        .map(|c| c.reason.clone())
}

/// `conditions` with `desired` merged in, the claim controller owning [`MANAGED`].
fn managed(
    claim: &PhoneNumberClaim,
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    desired: &[Desired],
    now: Timestamp,
) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    conditions::merge(
        conditions,
        desired,
        MANAGED,
        claim.metadata.generation,
        &now_time(now),
    )
}

/// The claim's `Bound` condition for its PhoneNumber.
fn bound_condition(pn: &PhoneNumber, owned: bool) -> Desired {
    if owned {
        return Desired::new(
            types::BOUND,
            true,
            reasons::BOUND,
            format!(
                "bound to PhoneNumber {} ({})",
                pn.name_any(),
                pn.spec.number
            ),
        );
    }
    Desired::new(
        types::BOUND,
        false,
        reasons::PURCHASING,
        format!("buying {} (PhoneNumber {})", pn.spec.number, pn.name_any()),
    )
}

/// The claim's `Ready` condition from its PhoneNumber, before the assignment is considered.
fn ready_condition(pn: &PhoneNumber, st: &PhoneNumberStatus) -> Desired {
    let number = &pn.spec.number;
    let owned = st.id.is_some();
    let active = st.provider_status.as_deref() == Some("active");
    match (st.phase == Some(NumberPhase::Lost), owned, active) {
        (true, _, _) => Desired::new(
            types::READY,
            false,
            reasons::LOST,
            format!("{number} is no longer in the Talkturo account"),
        ),
        (_, true, true) => Desired::new(
            types::READY,
            true,
            reasons::ACTIVE,
            format!("{number} is active"),
        ),
        (_, true, false) => Desired::new(
            types::READY,
            false,
            reasons::PROVIDER_STATUS,
            format!(
                "Talkturo reports {number} as {}",
                st.provider_status.clone().unwrap_or_default()
            ),
        ),
        (_, false, _) => Desired::new(
            types::READY,
            false,
            reasons::PURCHASING,
            format!("buying {number}"),
        ),
    }
}

/// The claim's `Assigned` condition: as the PhoneNumber reports it, once the PhoneNumber wants
/// the assistant the claim names.
fn assigned_condition(
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    st: &PhoneNumberStatus,
) -> Option<Desired> {
    let wanted = claim.spec.assistant_id.as_deref()?;
    let reported = conditions::find(&st.conditions, types::ASSIGNED)
        .filter(|_| pn.spec.assistant_id.as_deref() == Some(wanted));
    Some(match reported {
        None => Desired::new(
            types::ASSIGNED,
            false,
            reasons::ASSIGNING,
            format!("assigning the number to assistant {wanted}"),
        ),
        Some(c) => Desired::new(
            types::ASSIGNED,
            c.status == "True",
            condition_reason(&c.reason),
            c.message.clone(),
        ),
    })
}

/// A bound claim's status, mirroring its PhoneNumber.
pub fn desired_bound(
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    now: Timestamp,
) -> PhoneNumberClaimStatus {
    let prev = claim.status.clone().unwrap_or_default();
    let st = pn.status.clone().unwrap_or_default();
    let owned = st.id.is_some();
    let phase = match (owned, st.phase == Some(NumberPhase::Lost)) {
        (_, true) => ClaimPhase::Lost,
        (true, false) => ClaimPhase::Bound,
        (false, false) => ClaimPhase::Pending,
    };
    let assigned = assigned_condition(claim, pn, &st);
    let ready = match (ready_condition(pn, &st), &assigned) {
        (r, Some(a)) if r.status && !a.status => {
            Desired::new(types::READY, false, a.reason, a.message.clone())
        }
        (r, _) => r,
    };
    // A trial number's expiry, as its PhoneNumber reports it.
    let trial = conditions::find(&st.conditions, types::TRIAL_EXPIRING).map(|c| {
        Desired::new(
            types::TRIAL_EXPIRING,
            c.status == "True",
            condition_reason(&c.reason),
            c.message.clone(),
        )
    });
    let mut purchase = prev.purchase.clone();
    if owned
        && let Some(p) = purchase.as_mut()
        && p.candidate.as_deref().is_none_or(|c| c == pn.spec.number)
    {
        // Bought: the intent is fulfilled; failures stay as history. (Another candidate is a
        // trial number's replacement being bought.)
        p.candidate = None;
        p.next_retry_time = None;
    }
    let desired: Vec<Desired> = [
        Some(ready),
        Some(bound_condition(pn, owned)),
        assigned,
        trial,
    ]
    .into_iter()
    .flatten()
    .collect();
    PhoneNumberClaimStatus {
        observed_generation: claim.metadata.generation,
        phase: Some(phase),
        conditions: managed(claim, &prev.conditions, &desired, now),
        phone_number_name: Some(pn.name_any()),
        number: Some(pn.spec.number.clone()),
        number_id: st.id.clone(),
        provider_id: st.provider_id.clone(),
        is_trial: st.is_trial,
        trial_expires_at: st.trial_expires_at.clone(),
        monthly_price: st.monthly_price.clone(),
        setup_price: st.setup_price.clone(),
        assistant_id: st.assigned_assistant_id.clone(),
        config_map_name: prev.config_map_name.clone(),
        config_map_number_id: prev.config_map_number_id.clone(),
        class_name: Some(pn.spec.class_name.clone()),
        purchase,
    }
}

/// The reason constant matching a reason the PhoneNumber reported (reasons are closed sets).
fn condition_reason(reason: &str) -> &'static str {
    [
        reasons::ASSIGNED,
        reasons::ASSISTANT_NOT_FOUND,
        reasons::NUMBER_NOT_ACTIVE,
        reasons::ASSIGNMENT_FAILED,
        reasons::ASSIGNMENT_UNVERIFIED,
        reasons::IN_USE_BY_CAMPAIGN,
        reasons::CAMPAIGN_CHECK_FAILED,
        reasons::ASSIGNING,
        reasons::TRIAL_ACTIVE,
        reasons::TRIAL_EXPIRING,
        reasons::TRIAL_EXPIRED,
    ]
    .into_iter()
    .find(|r| *r == reason)
    .unwrap_or(reasons::ASSIGNMENT_FAILED)
}

/// A waiting claim's status.
pub fn desired_pending(
    claim: &PhoneNumberClaim,
    p: &Pending,
    purchase: Option<PurchaseProgress>,
    now: Timestamp,
) -> PhoneNumberClaimStatus {
    let prev = claim.status.clone().unwrap_or_default();
    let desired = [
        Desired::new(types::READY, false, p.reason, p.message.clone()),
        Desired::new(
            types::BOUND,
            false,
            reasons::NOT_BOUND,
            "no PhoneNumber is bound yet",
        ),
    ];
    PhoneNumberClaimStatus {
        observed_generation: claim.metadata.generation,
        phase: Some(ClaimPhase::Pending),
        conditions: managed(claim, &prev.conditions, &desired, now),
        purchase,
        ..Default::default()
    }
}

/// The Warning a waiting claim publishes: when the reason is new (and not just "purchasing").
pub fn pending_note(claim: &PhoneNumberClaim, p: &Pending) -> Option<Note> {
    let previous = reason_now(claim, types::READY);
    (previous.as_deref() != Some(p.reason) && p.reason != reasons::PURCHASING)
        .then(|| Note::warning(p.reason, action::PROVISION, p.message.clone()))
}

/// A claim whose PhoneNumber went away: `Lost`, its candidate forgotten (with a Warning the
/// first time).
pub fn desired_lost(
    claim: &PhoneNumberClaim,
    reason: &'static str,
    why: &str,
    now: Timestamp,
) -> (PhoneNumberClaimStatus, Option<Note>) {
    let prev = claim.status.clone().unwrap_or_default();
    let desired = [
        Desired::new(types::READY, false, reason, why),
        Desired::new(types::BOUND, false, reason, why),
    ];
    let mut purchase = prev.purchase.clone();
    if let Some(p) = purchase.as_mut() {
        p.candidate = None;
        p.started_at = None;
        p.next_retry_time = None;
    }
    let status = PhoneNumberClaimStatus {
        observed_generation: claim.metadata.generation,
        phase: Some(ClaimPhase::Lost),
        conditions: managed(claim, &prev.conditions, &desired, now),
        assistant_id: None,
        purchase,
        ..prev.clone()
    };
    let note =
        (prev.phase != Some(ClaimPhase::Lost)).then(|| Note::warning(reason, action::BIND, why));
    (status, note)
}

/// The Events of a bound claim's transitions: bound, and its number lost.
pub fn transition_notes(
    claim: &PhoneNumberClaim,
    status: &PhoneNumberClaimStatus,
    pn: &PhoneNumber,
) -> Vec<Note> {
    let before = claim.status.as_ref().and_then(|s| s.phase);
    let mut notes = Vec::new();
    if before != Some(ClaimPhase::Bound) && status.phase == Some(ClaimPhase::Bound) {
        notes.push(Note::normal(
            reason::BOUND,
            action::BIND,
            format!(
                "bound to PhoneNumber {} ({})",
                pn.name_any(),
                pn.spec.number
            ),
        ));
    }
    if status.phase == Some(ClaimPhase::Lost) && before != Some(ClaimPhase::Lost) {
        notes.push(Note::warning(
            reason::NUMBER_LOST,
            action::SYNC,
            format!("{} is no longer in the Talkturo account", pn.spec.number),
        ));
    }
    notes
}

#[cfg(test)]
mod tests;
