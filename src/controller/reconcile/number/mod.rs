//! PhoneNumber reconciler: buys exactly one number with the crash-safe protocol and mirrors the
//! account's list into status.
//!
//! Observe (the class, its account, a list fresh enough: `decide::freshness`) → decide
//! (`decide::number::plan`) → act: the purchase ([`buy`]), the trial's expiry, the assignment
//! ([`assign`]), a release ([`release`]) or the finalizer, each changing the status this
//! reconcile holds; then [`finish`] writes it, once, and does what must follow the write. The
//! one other status write is a release's intent, which the protocol requires before the call.

mod assign;
mod buy;
mod class;
mod release;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{ManagementPolicy, PhoneNumber, PhoneNumberClass, PhoneNumberStatus};
use crate::controller::account::{Account, Snapshot};
use crate::controller::decide::conditions::{self, Desired};
use crate::controller::decide::number::{self as decide, Hold, Plan, Seen};
use crate::controller::decide::number_status::{self, ClaimLink, not_synced};
use crate::controller::decide::{freshness, requeue, time::parse_duration, trial};
use crate::controller::io;
use crate::controller::{Context, Error, NUMBER_FINALIZER};

/// How a number reconcile ends, after its status is settled.
pub(super) struct End {
    /// Whether the status is written.
    pub write: bool,
    pub then: Then,
    pub action: Action,
}

/// What follows the status write.
pub(super) enum Then {
    Nothing,
    /// Delete the PhoneNumber (released: it goes too).
    Delete(&'static str),
    /// Remove the finalizer: the object may go.
    RemoveFinalizer(&'static str),
}

impl End {
    pub fn write(action: Action) -> Self {
        End {
            write: true,
            then: Then::Nothing,
            action,
        }
    }

    pub fn quiet(action: Action) -> Self {
        End {
            write: false,
            then: Then::Nothing,
            action,
        }
    }

    pub fn remove_finalizer(why: &'static str) -> Self {
        End {
            write: false,
            then: Then::RemoveFinalizer(why),
            action: Action::await_change(),
        }
    }

    pub fn delete(step: &'static str) -> Self {
        End {
            write: true,
            then: Then::Delete(step),
            action: Action::await_change(),
        }
    }
}

pub async fn reconcile(pn: Arc<PhoneNumber>, ctx: Arc<Context>) -> Result<Action, Error> {
    let (class, account) = match class::class_and_account(&ctx, &pn, Timestamp::now()).await {
        Ok(found) => found,
        Err((status, action)) => {
            if let Some(status) = status {
                io::status::number(&ctx, &pn, *status).await?;
            }
            return Ok(action);
        }
    };
    // (After any wait for the account.)
    let now = Timestamp::now();
    let deleting = pn.metadata.deletion_timestamp.is_some();
    let managed = pn.spec.management_policy == ManagementPolicy::Managed;
    if managed && !deleting && !pn.finalizers().iter().any(|f| f == NUMBER_FINALIZER) {
        io::objects::add_finalizer(&ctx, &pn).await?;
    }
    let sync = parse_duration(&class.spec.sync_interval, requeue::DEFAULT_SYNC);
    let snapshot = match observe(&ctx, &pn, &account, sync, now).await {
        Observed::Snapshot(s) => s,
        Observed::Later(action) => return Ok(action),
        Observed::Failed(e) => return Err(sync_failed(&ctx, &pn, e, now).await),
    };
    if let Some(action) = held_back(&ctx, &pn, &snapshot, sync, now).await? {
        return Ok(action);
    }
    let link = claim_link(&pn, &ctx).await?;
    let seen = Seen {
        snapshot: &snapshot,
        link,
        sync,
        purchase_blocked: account
            .purchase_blocked(now, ctx.config.plan_limit_recheck)
            .is_some(),
        cfg: &ctx.config,
        now,
    };
    // While the class's list is held, nothing is bought, released or assigned (the account
    // may not be the one the numbers are in); numbers it shows are still mirrored.
    let held = snapshot.hold.is_some();
    let plan = decide::plan(&pn, &seen);
    buy::log_settling(&pn, &snapshot, &plan);
    let (mut status, requeue, note) = match plan {
        Plan::Buy if deleting => {
            io::objects::remove_finalizer(&ctx, &pn, "nothing was bought").await?;
            return Ok(Action::await_change());
        }
        Plan::Buy if held => {
            let status = decide::held(&pn, &snapshot, false, now);
            io::status::number(&ctx, &pn, status).await?;
            return Ok(Action::requeue(sync));
        }
        Plan::Buy => {
            // Gates fail closed: a first purchase may decide on an older list, but not while the
            // account's latest list failed (Talkturo or the credentials may be failing).
            if let Some(e) = account.list_failing() {
                return Err(sync_failed(&ctx, &pn, e, now).await);
            }
            let a = buy::buy(&ctx, &pn, (&class, &account), sync, now).await?;
            (a.status, a.requeue, a.note)
        }
        Plan::Settle {
            status,
            requeue,
            event,
        } => (*status, requeue, event),
    };
    if let Some(n) = note {
        ctx.publish(pn.as_ref(), n).await;
    }
    let wake = trial_expiry(&ctx, &pn, &class, &mut status, now).await;
    let requeue = wake.map_or(requeue, |w| requeue.min(w));
    let end = if held {
        Ok(Acted::Wake(None))
    } else {
        act(&ctx, &pn, (&class, &account), link, &mut status, now).await
    };
    let end = end.map(|acted| match acted {
        Acted::End(end) => end,
        Acted::Wake(wake) => End::write(look_again(wake.map_or(requeue, |w| requeue.min(w)))),
    });
    finish(&ctx, &pn, status, end).await
}

/// A number held back from the plan (`decide::number::hold`): held by its class's hold (its
/// status says so), or gone after a release or with its object being deleted.
async fn held_back(
    ctx: &Context,
    pn: &PhoneNumber,
    snapshot: &Snapshot,
    sync: Duration,
    now: Timestamp,
) -> Result<Option<Action>, Error> {
    match decide::hold(pn, snapshot, sync) {
        Some(Hold::Suspect(after)) => {
            let status = decide::held(pn, snapshot, true, now);
            io::status::number(ctx, pn, status).await?;
            Ok(Some(Action::requeue(after)))
        }
        Some(Hold::Gone { deleting: true }) => {
            let why = "the number is no longer in the account";
            io::objects::remove_finalizer(ctx, pn, why).await?;
            Ok(Some(Action::await_change()))
        }
        Some(Hold::Gone { deleting: false }) => {
            io::objects::delete(ctx, &pn.name_any(), "deleting a released PhoneNumber").await?;
            Ok(Some(Action::await_change()))
        }
        None => Ok(None),
    }
}

/// After the plan: a trial released on expiry, the release of a number whose claim is gone, the
/// assignment, or the finalizer of a deleted PhoneNumber. A number due for release is released
/// as it is: taking it off its assistant first changes nothing Talkturo keeps, and would take a
/// campaign's caller ID away while the release waits for the campaign.
async fn act(
    ctx: &Context,
    pn: &PhoneNumber,
    (class, account): (&PhoneNumberClass, &Account),
    link: ClaimLink,
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Result<Acted, Error> {
    if pn.metadata.deletion_timestamp.is_some() {
        return release::finalize(ctx, pn, (class, account), status, now)
            .await
            .map(Acted::End);
    }
    if let Some(end) = release::on_trial_expiry(ctx, pn, (class, account), status, now).await? {
        return Ok(Acted::End(end));
    }
    if let Some(end) = release::on_claim_gone(ctx, pn, (class, account), link, status, now).await? {
        return Ok(Acted::End(end));
    }
    let wake = assign::reconcile(ctx, pn, (class, account), link, status, now).await?;
    Ok(Acted::Wake(wake))
}

/// How [`act`] ends the reconcile: as it says, or with the status written and a look again at
/// the plan's time (or sooner, when a step has a wake of its own).
enum Acted {
    End(End),
    Wake(Option<Duration>),
}

/// The reconcile's one status write (also when a step failed after the number may have been
/// bought: the record id and the attempt are kept, so nothing the account now holds goes
/// unrecorded), then what follows it.
async fn finish(
    ctx: &Context,
    pn: &PhoneNumber,
    status: PhoneNumberStatus,
    end: Result<End, Error>,
) -> Result<Action, Error> {
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            io::status::number(ctx, pn, status).await?;
            return Err(e);
        }
    };
    if end.write {
        io::status::number(ctx, pn, status).await?;
    }
    match end.then {
        Then::Nothing => {}
        Then::Delete(step) => io::objects::delete(ctx, &pn.name_any(), step).await?,
        Then::RemoveFinalizer(why) => io::objects::remove_finalizer(ctx, pn, why).await?,
    }
    Ok(end.action)
}

/// A number whose class cannot serve it yet: the status to write (if any), and when to look again.
/// What observing the account came to.
enum Observed {
    Snapshot(Arc<Snapshot>),
    /// Not yet: look again then.
    Later(Action),
    Failed(Arc<crate::talkturo::Error>),
}

/// A list of the account fresh enough to decide about this number.
async fn observe(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    sync: Duration,
    now: Timestamp,
) -> Observed {
    let seen = pn
        .status
        .as_ref()
        .and_then(|s| s.purchase.as_ref())
        .and_then(|p| p.last_attempt_time.as_ref())
        .map(|t| t.0);
    if account.unseen_attempt(&pn.spec.number, uid_of(pn), seen) {
        // Our own purchase is not in this (cached) object yet: wait for the watch to catch up
        // rather than decide on stale state.
        return Observed::Later(Action::requeue(requeue::CACHE_CATCH_UP));
    }
    let mut fresher_than = freshness::required_freshness(pn, &ctx.config, sync, now);
    // A number this process bought and the list does not show: decide only on a list that can
    // show it (at most two more lists: one after the purchase, one after the grace). A number
    // never bought that an old list shows: adopt it only from a list sent since it existed.
    loop {
        if fresher_than > now {
            return Observed::Later(requeue_at(fresher_than, now));
        }
        let snapshot = match account.snapshot(fresher_than).await {
            Ok(s) => s,
            Err(e) => return Observed::Failed(e),
        };
        match freshness::absence_undecided(pn, &snapshot, &ctx.config)
            .or_else(|| freshness::presence_undecided(pn, &snapshot))
        {
            Some(after) => fresher_than = after,
            None => return Observed::Snapshot(snapshot),
        }
    }
}

/// The object's uid (empty for an object not from the API server, which none of ours is).
pub(super) fn uid_of(pn: &PhoneNumber) -> &str {
    pn.metadata.uid.as_deref().unwrap_or_default()
}

/// Looks again after `requeue`, or only when woken for [`requeue::NO_TIMER`].
fn look_again(requeue: Duration) -> Action {
    if requeue == requeue::NO_TIMER {
        Action::await_change()
    } else {
        Action::requeue(requeue)
    }
}

/// Looks again at `at` (at least [`requeue::MIN_WAIT`] from now).
fn requeue_at(at: Timestamp, now: Timestamp) -> Action {
    Action::requeue(at.duration_since(now).unsigned_abs().max(requeue::MIN_WAIT))
}

/// A failed list: recorded in the status (`Synced` false), and the reconcile's error.
async fn sync_failed(
    ctx: &Context,
    pn: &PhoneNumber,
    e: Arc<crate::talkturo::Error>,
    now: Timestamp,
) -> Error {
    let why = format!("cannot read the account's numbers: {e}");
    let status = not_synced(pn, reasons::SYNC_FAILED, why, now);
    match io::status::number(ctx, pn, status).await {
        Ok(()) => Error::Talkturo {
            step: "listing the account's numbers",
            source: e,
        },
        Err(write) => write,
    }
}

/// Sets the `TrialExpiring` condition of a trial number (a Warning Event when the window opens
/// and at expiry); returns when the stage next changes, to requeue exactly then.
async fn trial_expiry(
    ctx: &Context,
    pn: &PhoneNumber,
    class: &PhoneNumberClass,
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Option<Duration> {
    let stage = trial::stage(status, trial::warn_before(class), now);
    let expires = status
        .trial_expires_at
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    let desired: Vec<Desired> = stage
        .map(|s| trial::condition(&pn.spec.number, s, &expires, class.spec.trial.on_expiry))
        .into_iter()
        .collect();
    let before = conditions::find(&status.conditions, types::TRIAL_EXPIRING).cloned();
    number_status::merge(pn, status, &desired, &[types::TRIAL_EXPIRING], now);
    if let Some(d) = desired.first().filter(|d| d.status)
        && before.is_none_or(|b| b.reason != d.reason)
    {
        ctx.publish(pn, trial::expiring_note(d)).await;
    }
    stage.and_then(|s| trial::wake(s, now))
}

/// Whether the PhoneNumber's claim exists (matching uid when the reference has one).
async fn claim_link(pn: &PhoneNumber, ctx: &Context) -> Result<ClaimLink, Error> {
    let Some(r) = pn.spec.claim_ref.as_ref() else {
        return Ok(ClaimLink::Unbound);
    };
    // A claim missing from this replica's cache may be cached by another (`io::fresh`).
    Ok(match ctx.claim_named(&r.namespace, &r.name).await? {
        Some(c) if r.uid.is_none() || c.metadata.uid == r.uid => ClaimLink::Present,
        _ => ClaimLink::Missing,
    })
}
