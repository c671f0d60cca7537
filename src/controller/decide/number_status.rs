//! A PhoneNumber's status from what the account shows: mirrored from its record, not synced,
//! failed, or the record's id in question.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::conditions::{self, Desired};
use super::time::now_time;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{NumberPhase, NumberPurchase, PhoneNumber, PhoneNumberStatus};
use crate::controller::OFFER_ANNOTATION;
use crate::talkturo::{NumberRecord, NumberStatus};

/// Condition types the PhoneNumber controller owns on a PhoneNumber.
pub const MANAGED: &[&str] = &[types::READY, types::SYNCED, types::PURCHASE_OUTCOME_UNKNOWN];

/// Merges `desired` into the status's own conditions, the PhoneNumber controller owning
/// `managed` of them.
pub fn merge(
    pn: &PhoneNumber,
    status: &mut PhoneNumberStatus,
    desired: &[Desired],
    managed: &[&str],
    now: Timestamp,
) {
    status.conditions = conditions::merge(
        &status.conditions,
        desired,
        managed,
        pn.metadata.generation,
        &now_time(now),
    );
}

/// Whether the PhoneNumber's claim exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimLink {
    Unbound,
    Present,
    Missing,
}

/// Whether the status can be acted on at Talkturo (assigned, released): the number is not Lost
/// and its record id is not in question.
pub fn trusted(status: &PhoneNumberStatus) -> bool {
    status.phase != Some(NumberPhase::Lost)
        && conditions::find(&status.conditions, types::SYNCED)
            .is_none_or(|c| c.reason != reasons::RECORD_MISMATCH)
}

/// Status mirrored from the account's record of the number.
pub fn mirror(
    pn: &PhoneNumber,
    r: &NumberRecord,
    link: ClaimLink,
    listed_at: Timestamp,
    now: Timestamp,
) -> PhoneNumberStatus {
    let st = pn.status.clone().unwrap_or_default();
    let offer = offer(pn);
    let mut status = PhoneNumberStatus {
        observed_generation: pn.metadata.generation,
        phase: None,
        claim: st.claim.clone(),
        conditions: st.conditions.clone(),
        id: Some(r.id.clone()),
        provider_id: r.provider_id.clone(),
        provider: r.provider.clone(),
        provider_status: Some(r.status.as_str().to_owned()),
        is_trial: Some(r.is_trial),
        // Whole seconds, as the API server stores a Time: what is compared is what was written
        // (sub-second precision would differ on every reconcile and rewrite the status).
        trial_expires_at: r.trial_expires_at.map(now_time),
        monthly_price: st.monthly_price.clone().or(offer.0),
        setup_price: st.setup_price.clone().or(offer.1),
        features: if st.features.is_empty() {
            offer.2
        } else {
            st.features.clone()
        },
        assigned_assistant_id: r.assistant_id.clone(),
        assigned_assistant_name: r.assistant_name.clone(),
        purchased_at: r.created_at.map(now_time).or(st.purchased_at.clone()),
        purchased_by: r
            .purchased_by_email
            .clone()
            .or(r.purchased_by_name.clone())
            .or(st.purchased_by.clone()),
        last_synced_at: st.last_synced_at.clone(),
        purchase: st.purchase.clone().map(|p| NumberPurchase {
            outcome_unknown_since: None,
            absent_listings: 0,
            last_listing_time: None,
            ..p
        }),
    };
    status.phase = Some(phase(r, link, now));
    let ready = ready(pn, r);
    merge(pn, &mut status, &[ready, synced(listed_at)], MANAGED, now);
    // lastSyncedAt moves only when what was observed changed, so a steady state writes nothing.
    if observed_changed(&st, &status) {
        status.last_synced_at = Some(now_time(listed_at));
    }
    status
}

/// Whether two statuses differ in what was observed (not in conditions or `lastSyncedAt`).
fn observed_changed(before: &PhoneNumberStatus, after: &PhoneNumberStatus) -> bool {
    let strip = |s: &PhoneNumberStatus| PhoneNumberStatus {
        last_synced_at: None,
        conditions: Vec::new(),
        ..s.clone()
    };
    strip(before) != strip(after)
}

/// The phase a record shows, with the claim's presence.
fn phase(r: &NumberRecord, link: ClaimLink, now: Timestamp) -> NumberPhase {
    match (&r.status, link) {
        (NumberStatus::Suspended, _)
            if r.is_trial && r.trial_expires_at.is_some_and(|t| t <= now) =>
        {
            NumberPhase::Expired
        }
        (_, ClaimLink::Present) => NumberPhase::Bound,
        (_, ClaimLink::Missing) => NumberPhase::Released,
        (_, ClaimLink::Unbound) => NumberPhase::Available,
    }
}

/// `Ready` from the record's provider status.
fn ready(pn: &PhoneNumber, r: &NumberRecord) -> Desired {
    match &r.status {
        NumberStatus::Active => Desired::new(
            types::READY,
            true,
            reasons::ACTIVE,
            format!("{} is active", pn.spec.number),
        ),
        NumberStatus::Purchasing => Desired::new(
            types::READY,
            false,
            reasons::PURCHASING,
            "Talkturo is provisioning the number",
        ),
        other => Desired::new(
            types::READY,
            false,
            reasons::PROVIDER_STATUS,
            format!("Talkturo reports the number as {:?}", other.as_str()),
        ),
    }
}

pub fn synced(_at: Timestamp) -> Desired {
    Desired::new(
        types::SYNCED,
        true,
        reasons::SYNCED,
        "status mirrors the Talkturo account list",
    )
}

/// The offered prices and features recorded on the object when the claim chose it.
pub fn offer(pn: &PhoneNumber) -> (Option<String>, Option<String>, Vec<String>) {
    let Some(v) = pn
        .annotations()
        .get(OFFER_ANNOTATION)
        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
    else {
        return (None, None, Vec::new());
    };
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let features = v
        .get("features")
        .and_then(|f| serde_json::from_value(f.clone()).ok())
        .unwrap_or_default();
    (s("monthlyPrice"), s("setupPrice"), features)
}

/// The status with `Synced` false, for why.
pub fn not_synced(
    pn: &PhoneNumber,
    reason: &'static str,
    message: String,
    now: Timestamp,
) -> PhoneNumberStatus {
    let mut st = pn.status.clone().unwrap_or_default();
    merge(
        pn,
        &mut st,
        &[Desired::new(types::SYNCED, false, reason, message)],
        &[],
        now,
    );
    st
}

/// A purchase that failed for good: `Failed`, the failure recorded (with the attempt, when one was
/// sent at `attempt`).
pub fn failed(
    pn: &PhoneNumber,
    reason: &'static str,
    message: String,
    attempt: Option<&Time>,
    now: Timestamp,
) -> PhoneNumberStatus {
    let mut st = pn.status.clone().unwrap_or_default();
    let mut p = st.purchase.clone().unwrap_or_default();
    if let Some(at) = attempt {
        // The same instant the in-memory attempt note holds (see Account::unseen_attempt).
        p.attempts += 1;
        p.last_attempt_time = Some(at.clone());
        // A definite answer to this attempt settles the purchase: an earlier attempt of unknown
        // outcome was settled as not taken (this one is sent only then).
        p.outcome_unknown_since = None;
        p.absent_listings = 0;
        p.last_listing_time = None;
    }
    p.failure_reason = Some(reason.to_owned());
    p.failure_message = Some(message.clone());
    st.purchase = Some(p);
    st.phase = Some(NumberPhase::Failed);
    st.observed_generation = pn.metadata.generation;
    merge(
        pn,
        &mut st,
        &[Desired::new(types::READY, false, reason, message)],
        MANAGED,
        now,
    );
    st
}
