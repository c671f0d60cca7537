//! What a claim does next, from its status and the objects the cache holds: which class it
//! uses, whether its binding is lost, whether an existing PhoneNumber can be bound, what a
//! refused purchase leaves, and what becomes of a recorded candidate.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;

use super::pending::Pending;
use super::requeue;
use super::time::{after, between, now_time};
use crate::api::DEFAULT_CLASS_ANNOTATION;
use crate::api::conditions::reasons;
use crate::api::v1alpha1::{
    ClaimRef, ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClaim, PhoneNumberClass,
    PurchaseProgress,
};

/// Created less than `QUIET_WAIT` ago.
pub fn young(claim: &PhoneNumberClaim, now: Timestamp) -> bool {
    claim
        .metadata
        .creation_timestamp
        .as_ref()
        .is_some_and(|c| between(c.0, now) < requeue::QUIET_WAIT)
}

/// The claim's recorded provisioning progress (empty before the first attempt).
pub fn progress_of(claim: &PhoneNumberClaim) -> PurchaseProgress {
    claim
        .status
        .as_ref()
        .and_then(|s| s.purchase.clone())
        .unwrap_or_default()
}

/// Whether `pn`'s `claimRef` points at this claim (by uid when it has one).
pub fn binds(pn: &PhoneNumber, claim: &PhoneNumberClaim) -> bool {
    pn.spec.claim_ref.as_ref().is_some_and(|r| {
        Some(&r.namespace) == claim.namespace().as_ref()
            && r.name == claim.name_any()
            && (r.uid.is_none() || r.uid == claim.metadata.uid)
    })
}

/// The claim's reference, as its PhoneNumber records it.
pub fn claim_ref(claim: &PhoneNumberClaim) -> ClaimRef {
    ClaimRef {
        namespace: claim.namespace().unwrap_or_default(),
        name: claim.name_any(),
        uid: claim.metadata.uid.clone(),
    }
}

/// Whether `class` is annotated as the default class.
pub fn is_default(class: &PhoneNumberClass) -> bool {
    class
        .annotations()
        .get(DEFAULT_CLASS_ANNOTATION)
        .is_some_and(|v| v == "true")
}

/// The class a claim uses: its `className`, or the one default class.
pub fn resolve_class(
    claim: &PhoneNumberClaim,
    classes: &[Arc<PhoneNumberClass>],
) -> Result<Arc<PhoneNumberClass>, Pending> {
    if let Some(name) = &claim.spec.class_name {
        return classes
            .iter()
            .find(|c| &c.name_any() == name)
            .cloned()
            .ok_or_else(|| {
                Pending::new(
                    reasons::CLASS_NOT_FOUND,
                    format!("PhoneNumberClass {name} does not exist"),
                    requeue::WAITING,
                )
            });
    }
    let defaults: Vec<_> = classes.iter().filter(|c| is_default(c)).collect();
    match defaults.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Pending::new(
            reasons::NO_DEFAULT_CLASS,
            format!(
                "no className given and no PhoneNumberClass is annotated {DEFAULT_CLASS_ANNOTATION}=true"
            ),
            requeue::WAITING,
        )),
        many => Err(Pending::new(
            reasons::MULTIPLE_DEFAULT_CLASSES,
            format!(
                "no className given and {} classes are marked default ({}); mark exactly one",
                many.len(),
                many.iter()
                    .map(|c| c.name_any())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            requeue::WAITING,
        )),
    }
}

/// Why the PhoneNumber this claim was bound to (or buying) is no longer its own, if so: it was
/// deleted (`named` is `None`), or its `claimRef` now names someone else. A claim in that state
/// does not provision again by itself: that would buy a second number nobody asked for.
pub fn lost_binding(
    claim: &PhoneNumberClaim,
    named: Option<&PhoneNumber>,
    now: Timestamp,
) -> Option<(&'static str, String)> {
    let status = claim.status.as_ref()?;
    let name = status.phone_number_name.as_deref()?;
    let expired = status.is_trial == Some(true)
        && status.trial_expires_at.as_ref().is_some_and(|t| t.0 <= now);
    match named {
        None if expired => Some((
            reasons::TRIAL_EXPIRED,
            format!(
                "trial number {} expired and its PhoneNumber {name} is gone (onExpiry Release); \
                 delete and re-create the claim for a new number",
                status.number.as_deref().unwrap_or_default()
            ),
        )),
        None => Some((
            reasons::PHONE_NUMBER_DELETED,
            format!(
                "PhoneNumber {name} was deleted; this claim buys no other number by itself: \
                 delete and re-create the claim for a new one"
            ),
        )),
        Some(pn) if pn.spec.claim_ref.is_some() => Some((
            reasons::PHONE_NUMBER_DELETED,
            format!(
                "PhoneNumber {name} is now bound to another claim; delete and re-create this \
                 claim for a new number"
            ),
        )),
        // Unbound again (e.g. an admin cleared claimRef): provisioning may bind it back.
        Some(_) => None,
    }
}

/// Who holds a number, as the claim's owner may read it: another namespace's objects are never
/// named (tenants share a class, not their names).
pub fn holder(r: &ClaimRef, claim: &PhoneNumberClaim) -> String {
    if Some(&r.namespace) == claim.namespace().as_ref() {
        format!("claim {}", r.name)
    } else {
        "a claim in another namespace".to_owned()
    }
}

/// What binding an existing PhoneNumber (static binding, or an exact number someone already
/// has) comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Bind {
    /// Ours already (a cache that lagged behind): the bound path takes it from here.
    Ours,
    /// Free: set its `claimRef` to this claim.
    Take,
    /// Not this claim's to take, and why.
    Refused(Pending),
}

/// Whether `pn` may be bound to the claim; `class` is the class the claim resolved to (a claim
/// that names its PhoneNumber has none).
pub fn bind_existing(
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    class: Option<&PhoneNumberClass>,
) -> Bind {
    let refuse =
        |reason, message: String| Bind::Refused(Pending::new(reason, message, requeue::WAITING));
    let name = pn.name_any();
    if let Some(r) = &pn.spec.claim_ref {
        if binds(pn, claim) {
            return Bind::Ours;
        }
        let holder = holder(r, claim);
        return refuse(
            reasons::NUMBER_TAKEN,
            format!(
                "PhoneNumber {name} ({}) is bound to {holder}",
                pn.spec.number
            ),
        );
    }
    if pn.spec.management_policy == ManagementPolicy::ObserveOnly {
        // An imported number (a company line) is nobody's to take: only an admin gives it to a
        // claim, by setting its claimRef.
        return refuse(
            reasons::PHONE_NUMBER_UNAVAILABLE,
            format!(
                "PhoneNumber {name} is ObserveOnly (imported); it binds only to a claim an admin names in its spec.claimRef"
            ),
        );
    }
    if let Some(class) = class.filter(|c| c.name_any() != pn.spec.class_name) {
        return refuse(
            reasons::PHONE_NUMBER_UNAVAILABLE,
            format!(
                "PhoneNumber {name} belongs to class {}, not {}",
                pn.spec.class_name,
                class.name_any()
            ),
        );
    }
    let unusable = pn
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .filter(|p| matches!(p, NumberPhase::Failed | NumberPhase::Lost));
    match unusable {
        Some(phase) => refuse(
            reasons::PHONE_NUMBER_UNAVAILABLE,
            format!("PhoneNumber {name} is {phase:?}"),
        ),
        None => Bind::Take,
    }
}

/// Whether the PhoneNumber bound to the claim is a purchase Talkturo refused (nothing bought).
pub fn refused(pn: &PhoneNumber) -> bool {
    pn.status
        .as_ref()
        .is_some_and(|s| s.phase == Some(NumberPhase::Failed) && s.id.is_none())
}

/// What a refused purchase leaves on the claim: its progress, and the wait to report (with a
/// Warning when `warn`); `None` when the claim had already let go of that number.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub progress: PurchaseProgress,
    pub pending: Option<Pending>,
    pub warn: bool,
}

/// The retry back-off after `attempts` refused purchases: `base` doubling, at most `max`.
pub fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    base.saturating_mul(1u32 << attempts.saturating_sub(1).clamp(0, 16))
        .min(max)
}

/// The refused purchase of `pn` as the claim records it: counted with a back-off when it was
/// the claim's candidate (or its exact number); let go of when the claim is bound to it.
pub fn refusal(
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    retry: (Duration, Duration),
    now: Timestamp,
) -> Refusal {
    let failure = pn.status.as_ref().and_then(|s| s.purchase.as_ref());
    let reason = failure
        .and_then(|f| f.failure_reason.clone())
        .unwrap_or_else(|| reasons::PURCHASE_FAILED.to_owned());
    let message = failure
        .and_then(|f| f.failure_message.clone())
        .unwrap_or_else(|| "the purchase was refused".into());
    let mut progress = progress_of(claim);
    let counted = progress.candidate.as_deref() == Some(pn.spec.number.as_str())
        || progress.candidate.is_none() && claim.spec.number.is_some();
    if counted {
        progress.attempts += 1;
        let wait = backoff(progress.attempts, retry.0, retry.1);
        progress.candidate = None;
        progress.started_at = None;
        progress.last_failure_time = Some(now_time(now));
        progress.last_failure_reason = Some(message.clone());
        progress.next_retry_time = Some(now_time(after(now, wait)));
        let pending = if reason == reasons::PLAN_LIMIT_REACHED {
            Pending::new(reasons::PLAN_LIMIT_REACHED, message, wait)
        } else {
            Pending::new(
                reasons::PURCHASE_FAILED,
                format!("{message}; next attempt in {}s", wait.as_secs()),
                wait,
            )
        };
        return Refusal {
            progress,
            pending: Some(pending),
            warn: true,
        };
    }
    let bound_to_it = claim
        .status
        .as_ref()
        .and_then(|s| s.phone_number_name.as_deref())
        == Some(pn.name_any().as_str());
    // Let go of it before it goes, or its deletion would read as a lost binding.
    let pending =
        bound_to_it.then(|| Pending::new(reasons::PURCHASING, message, requeue::NEXT_STEP));
    Refusal {
        progress,
        pending,
        warn: false,
    }
}

/// What the claim's recorded candidate comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Candidate {
    /// Its PhoneNumber is someone else's: drop it, saying why.
    Taken(String),
    /// Its PhoneNumber exists (ours), or this process just created it: the watch brings it.
    InProgress,
    /// No PhoneNumber yet (a crash between the intent and the creation): create it.
    Create,
}

/// The recorded candidate, from its PhoneNumber as the cache holds it (`just_created`: this
/// process created it moments ago).
pub fn candidate(
    claim: &PhoneNumberClaim,
    candidate: &str,
    pn: Option<&PhoneNumber>,
    just_created: bool,
) -> Candidate {
    match pn {
        Some(pn) => match pn.spec.claim_ref.as_ref() {
            Some(r)
                if r.name != claim.name_any()
                    || Some(&r.namespace) != claim.namespace().as_ref() =>
            {
                Candidate::Taken(format!("{candidate} was taken by {}", holder(r, claim)))
            }
            Some(_) => Candidate::InProgress,
            // Never one this claim created (it names the claim from its creation on): one
            // tracking a number a purchase answer named, an imported one, or one released by
            // its claim. Waiting for it to be bought for this claim would wait for ever.
            None => Candidate::Taken(format!(
                "{candidate} is already tracked by PhoneNumber {}, bound to no claim",
                pn.name_any()
            )),
        },
        None if just_created => Candidate::InProgress,
        None => Candidate::Create,
    }
}

/// Dropping a candidate someone else took: a claim for an exact number waits, saying so (`Err`);
/// any other forgets it and tries the next (`Ok`: its progress, and the wait to report).
pub fn drop_candidate(
    claim: &PhoneNumberClaim,
    why: String,
) -> Result<(PurchaseProgress, Pending), Pending> {
    if claim.spec.number.is_some() {
        return Err(Pending::new(reasons::NUMBER_TAKEN, why, requeue::WAITING));
    }
    let mut progress = progress_of(claim);
    progress.candidate = None;
    progress.started_at = None;
    Ok((
        progress,
        Pending::new(reasons::PURCHASING, why, requeue::NEXT_STEP),
    ))
}

/// The wait a claim reports while its intent is recorded and its PhoneNumber being bought.
pub fn purchasing(pick: &crate::talkturo::AvailableNumber) -> Pending {
    Pending::new(
        reasons::PURCHASING,
        format!(
            "buying {} (${}/month)",
            pick.phone_number,
            pick.monthly_price.map_or("?".into(), |p| p.to_string())
        ),
        requeue::AFTER_WRITE,
    )
}

#[cfg(test)]
mod tests;
