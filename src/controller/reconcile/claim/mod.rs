//! PhoneNumberClaim reconciler: finds or buys exactly one number for a claim and binds it.
//!
//! Observe (the claim, its PhoneNumber, its class, from the caches) → decide (`decide::claim`,
//! `decide::gates`, `decide::choose`, `decide::budget`, `decide::claim_status`) → act: the
//! decision is an [`Act`], which [`act`] carries out: its Events, then the reconcile's one status
//! write, then what must follow that write (the PhoneNumber of a recorded intent, the deletion of
//! a refused one).
//!
//! Dynamic provisioning records its intent before any money is spent: the chosen candidate is
//! written to `status.purchase.candidate` with the claim's `resourceVersion` as a precondition,
//! then the PhoneNumber `tel-<digits>` is created with `claimRef` set. Only the PhoneNumber
//! controller buys. The object's name is derived from the number, so two claims can never both
//! own it: the loser drops the candidate and tries the next.

mod bound;
mod choose;
mod provision;
mod trial;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::api::v1alpha1::{
    PhoneNumber, PhoneNumberClaim, PhoneNumberClaimStatus, phone_number_name,
};
use crate::controller::decide::claim::{binds, lost_binding, progress_of, young};
use crate::controller::decide::claim_status::{desired_lost, desired_pending, pending_note};
use crate::controller::decide::events::Note;
use crate::controller::decide::gates::Stop;
use crate::controller::decide::pending::Pending;
use crate::controller::io::{self, objects::NewNumber};
use crate::controller::{Context, Error};

pub use choose::Ledgers;

/// What a claim reconcile carries out, in order: Events, the one status write, what follows it.
pub(super) struct Act<'a> {
    pub notes: Vec<Note>,
    /// The status to write, and the resourceVersion it must be written at (if any).
    pub write: Option<(PhoneNumberClaimStatus, Option<String>)>,
    pub then: Then<'a>,
    pub action: Action,
}

/// What must follow the status write.
pub(super) enum Then<'a> {
    Nothing,
    /// The intent is recorded: hold the purchase in the budget ledgers, then create its
    /// PhoneNumber (its controller buys). A write refused for a stale claim creates nothing.
    Create {
        number: Box<NewNumberOwned>,
        ledgers: Option<Ledgers<'a>>,
    },
    /// Delete a PhoneNumber the claim has let go of.
    Delete {
        name: String,
        step: &'static str,
    },
}

/// A PhoneNumber to create, owned (see [`NewNumber`]).
pub(super) struct NewNumberOwned {
    pub number: String,
    pub class: String,
    pub claim_ref: crate::api::v1alpha1::ClaimRef,
    pub assistant: Option<String>,
    pub reclaim_policy: crate::api::v1alpha1::ReclaimPolicy,
    pub offer: Option<crate::talkturo::AvailableNumber>,
}

impl<'a> Act<'a> {
    /// Look again after `after`, doing nothing.
    pub fn requeue(after: Duration) -> Self {
        Self::with(None, Action::requeue(after))
    }

    /// Write `status` (at `precondition`, when given), then look again after `action`.
    pub fn with(write: Option<(PhoneNumberClaimStatus, Option<String>)>, action: Action) -> Self {
        Act {
            notes: Vec::new(),
            write,
            then: Then::Nothing,
            action,
        }
    }

    /// A claim waiting: its status says why (with a Warning when the reason is new); a claim
    /// created moments ago waits on a transient condition without writing it.
    pub fn pending(claim: &PhoneNumberClaim, p: Pending, now: Timestamp) -> Self {
        if p.transient && young(claim, now) {
            tracing::debug!(claim = %claim.name_any(), reason = p.reason, message = %p.message, "waiting");
            return Self::requeue(p.requeue);
        }
        let purchase = claim.status.as_ref().and_then(|s| s.purchase.clone());
        let status = desired_pending(claim, &p, purchase, now);
        let mut act = Self::with(Some((status, None)), Action::requeue(p.requeue));
        act.notes.extend(pending_note(claim, &p));
        act
    }

    /// A gate stopped the claim.
    pub fn stopped(claim: &PhoneNumberClaim, stop: Stop, now: Timestamp) -> Self {
        match stop {
            Stop::Wait(after) => Self::requeue(after),
            Stop::Pending(p) => Self::pending(claim, p, now),
        }
    }
}

pub async fn reconcile(claim: Arc<PhoneNumberClaim>, ctx: Arc<Context>) -> Result<Action, Error> {
    let now = Timestamp::now();
    let ns = claim
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    if claim.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let decided = if let Some(pn) = bound_number(&claim, &ctx).await? {
        bound::decide(&ctx, &claim, &pn, &ns, now).await?
    } else if let Some((reason, why)) = lost(&claim, &ctx, now).await? {
        let (status, note) = desired_lost(&claim, reason, &why, now);
        // Only on the claim as observed: a stale cache (e.g. a refused purchase's PhoneNumber
        // deleted after the claim let go of it) must not mark it Lost.
        let mut act = Act::with(
            Some((status, claim.resource_version())),
            Action::await_change(),
        );
        act.notes.extend(note);
        act
    } else if let Some(pn) = bound_elsewhere(&claim, &ctx, &ns).await? {
        bound::decide(&ctx, &claim, &pn, &ns, now).await?
    } else {
        provision::decide(&ctx, &claim, &ns, now).await?
    };
    act(&ctx, &claim, decided).await
}

/// Carries out `act`: its Events, then the one status write, then what follows it.
async fn act(ctx: &Context, claim: &PhoneNumberClaim, act: Act<'_>) -> Result<Action, Error> {
    ctx.publish_all(claim, act.notes).await;
    if let Some((status, precondition)) = act.write {
        match io::status::claim(ctx, claim, status, precondition).await {
            Ok(()) => {}
            // A stale copy: the intent is not recorded, so nothing is created.
            Err(e) if e.is_conflict() && matches!(act.then, Then::Create { .. }) => {
                return Ok(act.action);
            }
            Err(e) => return Err(e),
        }
    }
    match act.then {
        Then::Nothing => {}
        Then::Create { number, ledgers } => {
            if let Some(l) = ledgers {
                l.hold(
                    &number.number,
                    number.offer.as_ref().and_then(|o| o.monthly_price),
                );
            }
            create(ctx, claim, &number).await?;
        }
        Then::Delete { name, step } => io::objects::delete(ctx, &name, step).await?,
    }
    Ok(act.action)
}

/// Creates the PhoneNumber of a recorded intent.
async fn create(ctx: &Context, claim: &PhoneNumberClaim, n: &NewNumberOwned) -> Result<(), Error> {
    let new = NewNumber {
        number: &n.number,
        class: &n.class,
        claim_ref: Some(n.claim_ref.clone()),
        assistant: n.assistant.clone(),
        reclaim_policy: n.reclaim_policy,
        offer: n.offer.as_ref(),
    };
    if io::objects::create(ctx, &new, "creating the PhoneNumber").await? {
        let claim = format!("{}/{}", n.claim_ref.namespace, claim.name_any());
        tracing::info!(
            claim,
            number = n.number,
            "recorded intent; PhoneNumber created"
        );
    }
    Ok(())
}

/// The PhoneNumber whose `claimRef` points at this claim (the one its status names looked for
/// past this replica's cache with active-active replicas: `io::fresh`; one it does not name is
/// looked for there only by a claim that has not chosen one, `bound_elsewhere`).
async fn bound_number(
    claim: &PhoneNumberClaim,
    ctx: &Context,
) -> Result<Option<Arc<PhoneNumber>>, Error> {
    // The recorded candidate or static target first: one lookup instead of a scan.
    let hint = claim.status.as_ref().and_then(|s| {
        s.phone_number_name.clone().or_else(|| {
            s.purchase
                .as_ref()
                .and_then(|p| p.candidate.as_deref().map(phone_number_name))
        })
    });
    if let Some(hint) = hint
        && let Some(pn) = ctx.number_named(&hint).await?
        && binds(&pn, claim)
    {
        return Ok(Some(pn));
    }
    let ns = claim.namespace().unwrap_or_default();
    Ok(ctx
        .numbers_by_claim
        .numbers_of(&ns, &claim.name_any())
        .iter()
        .filter_map(|name| ctx.numbers.get(&ObjectRef::new(name)))
        .find(|pn| binds(pn, claim)))
}

/// With active-active replicas, a PhoneNumber bound to `claim` that this replica does not cache
/// (an admin's binding in another class), looked for in the API server before the claim may buy:
/// only for a claim that names no PhoneNumber and has recorded no candidate.
async fn bound_elsewhere(
    claim: &PhoneNumberClaim,
    ctx: &Context,
    ns: &str,
) -> Result<Option<Arc<PhoneNumber>>, Error> {
    let named = claim.spec.phone_number_name.is_some() || progress_of(claim).candidate.is_some();
    if ctx.shards.is_none() || named {
        return Ok(None);
    }
    let fresh = ctx.numbers_claiming(ns, &claim.name_any()).await?;
    Ok(fresh.into_iter().find(|pn| binds(pn, claim)))
}

/// Why the claim's PhoneNumber is no longer its own (a claim that names its PhoneNumber binds
/// it again instead).
async fn lost(
    claim: &PhoneNumberClaim,
    ctx: &Context,
    now: Timestamp,
) -> Result<Option<(&'static str, String)>, Error> {
    if claim.spec.phone_number_name.is_some() {
        return Ok(None);
    }
    let Some(name) = claim
        .status
        .as_ref()
        .and_then(|s| s.phone_number_name.as_deref())
    else {
        return Ok(None);
    };
    let named = ctx.number_named(name).await?;
    Ok(lost_binding(claim, named.as_deref(), now))
}

/// The PhoneNumbers' claims: the one a PhoneNumber is bound to, for the watch.
pub fn for_number(pn: &PhoneNumber) -> Option<ObjectRef<PhoneNumberClaim>> {
    pn.spec
        .claim_ref
        .as_ref()
        .map(|r| ObjectRef::new(&r.name).within(&r.namespace))
}
