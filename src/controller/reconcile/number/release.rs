//! Releasing a number at Talkturo: when its trial expires under `onExpiry: Release`, when its
//! claim is gone under `reclaimPolicy: Release`, and when its PhoneNumber is deleted (the
//! finalizer). The intent (`Releasing`) is written before the call: a process that stops between
//! Talkturo's answer and the next write finds it and the number gone, and knows the release was
//! its own. A release Talkturo refuses keeps the number (`ReleaseFailed`).

use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::End;
use crate::api::v1alpha1::{
    ManagementPolicy, PhoneNumber, PhoneNumberClass, PhoneNumberStatus, ReclaimPolicy,
    TrialExpiryAction,
};
use crate::controller::account::Account;
use crate::controller::decide::campaign::{self, Hold};
use crate::controller::decide::number_status::ClaimLink;
use crate::controller::decide::reclaim::{self, ReleaseCheck, Why};
use crate::controller::decide::{requeue, time::parse_duration, trial};
use crate::controller::io;
use crate::controller::{Context, Error};
use crate::talkturo::Outcome;

/// What became of the number.
#[derive(Debug, PartialEq, Eq)]
enum Released {
    /// Kept in the account (a refused release, or not ours to release).
    Kept,
    /// Released at Talkturo; the PhoneNumber object is to go.
    Gone,
    /// The release may or may not have happened; the list settles it.
    Unsettled,
    /// Held back by a campaign dialling from the number (or campaigns that could not be read):
    /// looked at again after this long.
    Held(Duration),
}

/// `onExpiry: Release`: an expired trial number goes, whatever its claim.
pub(super) async fn on_trial_expiry(
    ctx: &Context,
    pn: &PhoneNumber,
    (class, account): (&PhoneNumberClass, &Account),
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Result<Option<End>, Error> {
    let check = ReleaseCheck {
        pn,
        status,
        claim_gone: false,
        deleting: false,
        now,
    };
    let due = status.is_trial == Some(true)
        && class.spec.trial.on_expiry == TrialExpiryAction::Release
        && trial::stage(status, trial::warn_before(class), now) == Some(trial::Stage::Expired)
        && check.releasable();
    if !due {
        return Ok(None);
    }
    release_now(ctx, pn, (class, account), status, Why::TrialExpired, now).await
}

/// `reclaimPolicy: Release`: a number whose claim is gone goes.
pub(super) async fn on_claim_gone(
    ctx: &Context,
    pn: &PhoneNumber,
    (class, account): (&PhoneNumberClass, &Account),
    link: ClaimLink,
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Result<Option<End>, Error> {
    let check = ReleaseCheck {
        pn,
        status,
        claim_gone: link == ClaimLink::Missing,
        deleting: false,
        now,
    };
    if !check.wants_release() {
        return Ok(None);
    }
    release_now(ctx, pn, (class, account), status, Why::ReclaimPolicy, now).await
}

/// Releases the number and says how the reconcile ends: `Some` when it is done with the object
/// (released and deleted, or to look again once the outcome settles), `None` when the number
/// was kept and the reconcile carries on.
async fn release_now(
    ctx: &Context,
    pn: &PhoneNumber,
    (class, account): (&PhoneNumberClass, &Account),
    status: &mut PhoneNumberStatus,
    why: Why,
    now: Timestamp,
) -> Result<Option<End>, Error> {
    Ok(
        match release(ctx, pn, (class, account), status, why, now).await? {
            // The status first: a number bought in this same reconcile (its claim went while it was
            // being bought) is recorded as ours before the object goes, so the deletion's reconcile
            // sees an owned number that left the account, not an unrecorded purchase.
            Released::Gone => Some(End::delete("deleting a released PhoneNumber")),
            Released::Unsettled => Some(End::write(Action::requeue(settle_wait(ctx)))),
            Released::Held(wait) => Some(End::write(Action::requeue(wait))),
            Released::Kept => None,
        },
    )
}

fn settle_wait(ctx: &Context) -> std::time::Duration {
    ctx.config.purchase_grace.max(ctx.config.fast_sync)
}

/// A PhoneNumber being deleted: the object goes once no purchase is unsettled and, for an owned
/// number, its reclaim policy was applied. `Release` releases it at Talkturo first; a refused
/// release keeps the object (and the number) with `ReleaseFailed`, retried after
/// [`requeue::RELEASE_RETRY`]. `Retain` keeps the number in the account, unmanaged from then on.
pub(super) async fn finalize(
    ctx: &Context,
    pn: &PhoneNumber,
    (class, account): (&PhoneNumberClass, &Account),
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Result<End, Error> {
    let unsettled = status
        .purchase
        .as_ref()
        .is_some_and(|p| p.outcome_unknown_since.is_some());
    if unsettled {
        return Ok(End::write(Action::requeue(settle_wait(ctx))));
    }
    if status.id.is_none() || pn.spec.management_policy != ManagementPolicy::Managed {
        return Ok(End::remove_finalizer("nothing of ours to reclaim"));
    }
    if pn.spec.reclaim_policy != ReclaimPolicy::Release {
        ctx.publish(pn, reclaim::kept(pn)).await;
        return Ok(End::remove_finalizer("deleted; number retained"));
    }
    let check = ReleaseCheck {
        pn,
        status,
        claim_gone: false,
        deleting: true,
        now,
    };
    if !check.wants_release() {
        // Refused recently: keep the number and the object; try again later.
        return Ok(End::quiet(Action::requeue(requeue::RELEASE_RETRY)));
    }
    Ok(
        match release(ctx, pn, (class, account), status, Why::ReclaimPolicy, now).await? {
            Released::Gone => End::remove_finalizer("released"),
            Released::Held(wait) => End::write(Action::requeue(wait)),
            Released::Kept => End::write(Action::requeue(requeue::RELEASE_RETRY)),
            Released::Unsettled => End::quiet(Action::requeue(settle_wait(ctx))),
        },
    )
}

/// Releases the number at Talkturo, its intent written first; records the answer in `status`.
/// A number a live campaign dials from is held back, and so is one whose campaigns cannot be
/// read: a released number may never come back.
async fn release(
    ctx: &Context,
    pn: &PhoneNumber,
    (class, account): (&PhoneNumberClass, &Account),
    status: &mut PhoneNumberStatus,
    why: Why,
    now: Timestamp,
) -> Result<Released, Error> {
    let Some(id) = status.id.clone() else {
        return Ok(Released::Kept);
    };
    let number = &pn.spec.number;
    let every = parse_duration(&class.spec.sync_interval, requeue::DEFAULT_SYNC);
    if let Some(wait) = account.campaign_wait(number, every, now) {
        campaign::release_still_held(pn, status, now);
        return Ok(Released::Held(wait));
    }
    let hold = match account.campaign_using(number, None).await {
        Ok(None) => None,
        Ok(Some(c)) => Some(Hold::InUse(c.describe())),
        Err(e) => Some(Hold::Unreadable(e.to_string())),
    };
    if let Some(hold) = hold {
        return Ok(held(ctx, pn, account, status, &hold, (every, now)).await);
    }
    account.campaign_cleared(number);
    reclaim::releasing(pn, status, why, now);
    // If this write fails, nothing is released.
    io::status::number(ctx, pn, status.clone()).await?;
    match io::talkturo::release(account, number, &id).await {
        Ok(()) => {
            let note = reclaim::released(pn, status, &id, why, now);
            ctx.publish(pn, note).await;
            Ok(Released::Gone)
        }
        // The contract's answer for a number a campaign dials from.
        Err(e) if e.status() == Some(409) => {
            let hold = Hold::Refused(e.to_string());
            Ok(held(ctx, pn, account, status, &hold, (every, now)).await)
        }
        Err(e) if e.outcome() == Outcome::Definite => {
            if let Some(note) = reclaim::release_refused(pn, status, &e.to_string(), now) {
                ctx.publish(pn, note).await;
            }
            Ok(Released::Kept)
        }
        Err(e) if e.outcome() == Outcome::Unknown => {
            ctx.publish(pn, reclaim::release_unknown(pn, &e.to_string()))
                .await;
            Ok(Released::Unsettled)
        }
        Err(e) => Err(Error::talkturo("releasing the number")(e)),
    }
}

/// A release held back by a campaign: the status says why (a Warning when the reason is new),
/// and the number is looked at again after `every` (the class's sync interval).
async fn held(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    status: &mut PhoneNumberStatus,
    hold: &Hold,
    (every, now): (Duration, Timestamp),
) -> Released {
    if let Some(note) = campaign::release_held(pn, status, hold, now) {
        ctx.publish(pn, note).await;
    }
    account.campaign_held(&pn.spec.number, now);
    Released::Held(every)
}
