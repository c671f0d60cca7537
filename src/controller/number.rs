//! PhoneNumber reconciler: buys exactly one number with the crash-safe protocol (DESIGN §2) and
//! mirrors the account's list into status (§3).
//!
//! The account list is the source of truth. A managed PhoneNumber never sent to Talkturo is
//! bought when the account's current list does not show it: the purchase is of the exact number,
//! which the team can own only once, so a purchase a crashed process already made answers 409
//! "already owned" and the number is adopted from the next list, never bought twice. Everything
//! else that decides on a number without `status.id` (adopting it, dropping it while deleting)
//! waits for a list sent after the object existed. A purchase whose outcome is unknown is settled
//! by later lists (present → adopt, absent twice → buy the same exact number again), never
//! retried blindly.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;

use super::account::{Account, Snapshot};
use super::conditions::{self, Desired};
use super::reclaim::{self, Reclaimed};
use super::trial;
use super::{
    Context, Error, NUMBER_FINALIZER, OFFER_ANNOTATION, now_time, parse_duration, time_ceil,
};
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{
    ManagementPolicy, NumberPhase, NumberPurchase, PhoneNumber, PhoneNumberClass,
    PhoneNumberStatus, ReclaimPolicy, TrialExpiryAction,
};
use crate::talkturo::{NumberRecord, NumberStatus, Outcome};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Condition types this controller owns on a PhoneNumber.
const MANAGED: &[&str] = &[types::READY, types::SYNCED, types::PURCHASE_OUTCOME_UNKNOWN];

/// Whether the claim a PhoneNumber points at exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimLink {
    Unbound,
    Present,
    Missing,
}

/// What to do with a PhoneNumber after looking at the account list.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Write this status (when it differs) and look again after `requeue`.
    Settle {
        status: Box<PhoneNumberStatus>,
        requeue: Duration,
        event: Option<Note>,
    },
    /// Buy the number now: the account's list does not show it.
    Buy,
}

/// An Event to publish.
#[derive(Debug, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

pub async fn reconcile(pn: Arc<PhoneNumber>, ctx: Arc<Context>) -> Result<Action, Error> {
    let now = Timestamp::now();
    let Some(class) = ctx.classes.get(&ObjectRef::new(&pn.spec.class_name)) else {
        let status = not_synced(
            &pn,
            reasons::CLASS_NOT_FOUND,
            format!("PhoneNumberClass {} does not exist", pn.spec.class_name),
            now,
        );
        apply_status(&ctx, &pn, status).await?;
        return Ok(Action::requeue(Duration::from_secs(30)));
    };
    let Some(account) = ctx.accounts.get(&pn.spec.class_name) else {
        let class_ready = class
            .status
            .as_ref()
            .is_some_and(|s| conditions::is_true(&s.conditions, types::READY));
        if class_ready || class.status.is_none() {
            // This process has not built the class's account yet (it just started): one class
            // reconcile away. Nothing has changed for the number, so nothing is written.
            return Ok(Action::requeue(Duration::from_millis(500)));
        }
        let ready = conditions::find(
            class.status.as_ref().map_or(&[][..], |s| &s.conditions),
            types::READY,
        );
        let why = ready.map_or_else(
            || "the class has not been reconciled yet".to_owned(),
            |c| format!("class {} is not ready: {}", pn.spec.class_name, c.message),
        );
        // The class's own reason (its Secret is missing, the key is refused, ...), not a claim
        // that the class does not exist.
        let reason = ready.map_or(reasons::CLASS_NOT_READY, |c| class_reason(&c.reason));
        let status = not_synced(&pn, reason, why, now);
        apply_status(&ctx, &pn, status).await?;
        return Ok(Action::requeue(Duration::from_secs(5)));
    };
    let managed = pn.spec.management_policy == ManagementPolicy::Managed;
    let deleting = pn.metadata.deletion_timestamp.is_some();
    if managed && !deleting && !pn.finalizers().iter().any(|f| f == NUMBER_FINALIZER) {
        add_finalizer(&ctx, &pn).await?;
    }
    let seen = pn
        .status
        .as_ref()
        .and_then(|s| s.purchase.as_ref())
        .and_then(|p| p.last_attempt_time.as_ref())
        .map(|t| t.0);
    if account.unseen_attempt(&pn.spec.number, uid_of(&pn), seen) {
        // Our own purchase is not in this (cached) object yet: wait for the watch to catch up
        // rather than decide on stale state.
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let sync = parse_duration(&class.spec.sync_interval, Duration::from_secs(60));
    let fresher_than = required_freshness(&pn, &ctx.config, sync, now);
    if fresher_than > now {
        return Ok(requeue_at(fresher_than, now));
    }
    let mut snapshot = match account.snapshot(fresher_than).await {
        Ok(s) => s,
        Err(e) => return Err(sync_failed(&ctx, &pn, e, now).await),
    };
    // A number this process bought and the list does not show: decide only on a list that
    // can show it (at most two more lists: one after the purchase, one after the grace).
    // A number never bought that an old list shows: adopt it only from a list sent since the
    // object existed.
    while let Some(after) = absence_undecided(&pn, &snapshot, &ctx.config)
        .or_else(|| presence_undecided(&pn, &snapshot))
    {
        if after > now {
            return Ok(requeue_at(after, now));
        }
        snapshot = match account.snapshot(after).await {
            Ok(s) => s,
            Err(e) => return Err(sync_failed(&ctx, &pn, e, now).await),
        };
    }
    if snapshot.unconfirmed.contains(&pn.spec.number) {
        // A suspect list lacks this number among many (the class says so): nothing is decided
        // about it, and nothing written, until later lists confirm its absence or show it.
        return Ok(Action::requeue(sync));
    }
    let link = claim_link(&pn, &ctx);
    let owned = pn.status.as_ref().is_some_and(|s| s.id.is_some());
    let in_account = snapshot.records.contains_key(&pn.spec.number);
    // Only a number this operator released goes without a trace: one that merely vanished may
    // still be billed, so it stays, Lost, until an admin deletes its PhoneNumber. A released
    // one may still be seen here before its deletion is (an onExpiry release keeps its claim),
    // or with only its intent recorded (the process stopped, or the API server was away,
    // between the release and its status write): it is deleted again, never reported lost.
    if owned && !in_account && (deleting || pn.status.as_ref().is_some_and(released_by_us)) {
        // Gone from the account (released by us, or vanished) and not wanted any more: the
        // object goes too, without reporting the number as lost.
        if deleting {
            return remove_finalizer(&ctx, &pn, "the number is no longer in the account").await;
        }
        reclaim::delete_number(&ctx, &pn.name_any(), "deleting a released PhoneNumber").await?;
        return Ok(Action::await_change());
    }
    let plan = plan(
        &pn,
        &class,
        &snapshot,
        link,
        now,
        &ctx.config,
        account
            .purchase_blocked(now, ctx.config.plan_limit_recheck)
            .is_some(),
    );
    let (mut status, requeue, note) = match plan {
        Plan::Buy if deleting => return remove_finalizer(&ctx, &pn, "nothing was bought").await,
        Plan::Buy => {
            // Gates fail closed: a first purchase may decide on an older list, but not while the
            // account's latest list failed (Talkturo or the credentials may be failing).
            if let Some(e) = account.list_failing() {
                return Err(sync_failed(&ctx, &pn, e, now).await);
            }
            buy(&ctx, &pn, &class, &account, now).await?
        }
        Plan::Settle {
            status,
            requeue,
            event,
        } => (*status, requeue, event),
    };
    if let Some(n) = note {
        let kind = if n.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        ctx.event(pn.as_ref(), kind, n.reason, "Sync", n.message)
            .await;
    }
    let mut requeue = requeue;
    if let Some(wake) = trial_expiry(&ctx, &pn, &class, &mut status, now).await {
        requeue = requeue.min(wake);
    }
    if !deleting
        && status.is_trial == Some(true)
        && class.spec.trial.on_expiry == TrialExpiryAction::Release
        && trial::stage(&status, trial::warn_before(&class), now) == Some(trial::Stage::Expired)
        && reclaim::releasable(&pn, &status, now)
    {
        // onExpiry Release: the trial number goes, whatever its claim.
        let why = reclaim::Why::TrialExpired;
        let released = reclaim::release_now(&ctx, &pn, &account, (&mut status, why), now).await;
        if let Some(next) = keep_status(&ctx, &pn, &status, released).await? {
            return Ok(next);
        }
    }
    if !deleting {
        let assigned = super::assign::reconcile(&ctx, &pn, &account, link, &mut status, now).await;
        keep_status(&ctx, &pn, &status, assigned).await?;
        if link == ClaimLink::Missing && reclaim::wants_release(&pn, &status, true, false, now) {
            let why = reclaim::Why::ReclaimPolicy;
            let released = reclaim::release_now(&ctx, &pn, &account, (&mut status, why), now).await;
            if let Some(next) = keep_status(&ctx, &pn, &status, released).await? {
                return Ok(next);
            }
        }
    }
    if deleting {
        return finalize(&ctx, &pn, &account, status, now).await;
    }
    apply_status(&ctx, &pn, status.clone()).await?;
    Ok(Action::requeue(requeue))
}

/// The object's uid (empty for an object not from the API server, which none of ours is).
fn uid_of(pn: &PhoneNumber) -> &str {
    pn.metadata.uid.as_deref().unwrap_or_default()
}

/// Whether the status says this operator released the number, or was about to (its intent
/// recorded): then its absence from the account is the release's, not a number lost. Pure.
fn released_by_us(status: &PhoneNumberStatus) -> bool {
    conditions::find(&status.conditions, types::READY)
        .is_some_and(|c| c.reason == reasons::RELEASED || c.reason == reasons::RELEASING)
}

/// The reason constant matching a class's `Ready` reason (a closed set), else `ClassNotReady`.
fn class_reason(reason: &str) -> &'static str {
    [
        reasons::SECRET_NOT_FOUND,
        reasons::SECRET_KEY_MISSING,
        reasons::UNAUTHORIZED,
        reasons::FORBIDDEN,
        reasons::UNREACHABLE,
        reasons::INVALID_RESPONSE,
        reasons::INVALID_SPEC,
        reasons::INSECURE_URL,
    ]
    .into_iter()
    .find(|r| *r == reason)
    .unwrap_or(reasons::CLASS_NOT_READY)
}

/// Looks again at `at` (at least 100 ms from now).
fn requeue_at(at: Timestamp, now: Timestamp) -> Action {
    Action::requeue(
        at.duration_since(now)
            .unsigned_abs()
            .max(Duration::from_millis(100)),
    )
}

/// A step that failed after this reconcile may have bought the number: the status so far (the
/// record id, the attempt) is written before the error is returned, so nothing the account now
/// holds goes unrecorded (and the next reconcile does not wait on an attempt the object never
/// shows).
async fn keep_status<T>(
    ctx: &Context,
    pn: &PhoneNumber,
    status: &PhoneNumberStatus,
    result: Result<T, Error>,
) -> Result<T, Error> {
    if result.is_err() {
        apply_status(ctx, pn, status.clone()).await?;
    }
    result
}

/// A failed list: recorded in the status (`Synced` false), and the reconcile's error.
async fn sync_failed(
    ctx: &Context,
    pn: &PhoneNumber,
    e: Arc<crate::talkturo::Error>,
    now: Timestamp,
) -> Error {
    let status = not_synced(
        pn,
        reasons::SYNC_FAILED,
        format!("cannot read the account's numbers: {e}"),
        now,
    );
    match apply_status(ctx, pn, status).await {
        Ok(()) => Error::Talkturo(e),
        Err(write) => write,
    }
}

/// Sets the `TrialExpiring` condition of a trial number (a Warning Event when the window opens and
/// at expiry); returns when the stage next changes, to requeue exactly then.
async fn trial_expiry(
    ctx: &Context,
    pn: &PhoneNumber,
    class: &PhoneNumberClass,
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Option<Duration> {
    let stage = trial::stage(status, trial::warn_before(class), now);
    let desired: Vec<Desired> = stage
        .map(|s| {
            let expires = status
                .trial_expires_at
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default();
            trial::condition(&pn.spec.number, s, &expires, class.spec.trial.on_expiry)
        })
        .into_iter()
        .collect();
    let before = conditions::find(&status.conditions, types::TRIAL_EXPIRING).cloned();
    status.conditions = conditions::merge(
        &status.conditions,
        &desired,
        &[types::TRIAL_EXPIRING],
        pn.metadata.generation,
        &now_time(now),
    );
    if let Some(d) = desired.first().filter(|d| d.status)
        && before.is_none_or(|b| b.reason != d.reason)
    {
        ctx.event(pn, EventType::Warning, d.reason, "Trial", d.message.clone())
            .await;
    }
    stage.and_then(|s| trial::wake(s, now))
}

/// How fresh the account list must be to decide about this number.
pub fn required_freshness(
    pn: &PhoneNumber,
    cfg: &super::Config,
    sync: Duration,
    now: Timestamp,
) -> Timestamp {
    if first_purchase(pn) {
        // Any list serves, however old (none at all is fetched): absent from it, the number is
        // bought, and a purchase that already took effect answers 409 and is adopted; present in
        // it, `presence_undecided` asks for a list sent since the object existed.
        return Timestamp::MIN;
    }
    let st = pn.status.clone().unwrap_or_default();
    let owned = st.id.is_some();
    let purchasing = !owned || st.provider_status.as_deref() == Some("purchasing");
    // A settled number takes a list up to 1.5 intervals old: the class lists once per interval
    // for all its numbers, and a number requeued just before that list must not send its own.
    let max_age = if purchasing {
        cfg.fast_sync
    } else {
        sync.saturating_add(sync / 2)
    };
    let mut t = now
        .saturating_sub(SignedDuration::try_from(max_age).unwrap_or_default())
        .unwrap_or(now);
    if !owned && let Some(created) = created_bound(pn) {
        // Adopting, or letting a deleted object go as never bought: only a list sent after the
        // object existed shows a number a previous incarnation bought for it and crashed.
        t = t.max(created);
    }
    let p = st.purchase.unwrap_or_default();
    let grace = SignedDuration::try_from(cfg.purchase_grace).unwrap_or_default();
    if let Some(since) = p.outcome_unknown_since.as_ref() {
        // Settling an unknown outcome: a list sent a grace period after the attempt, and newer
        // than the last one counted.
        t = t.max(since.0.saturating_add(grace).unwrap_or(since.0));
        if let Some(last) = p.last_listing_time.as_ref() {
            t = t.max(
                last.0
                    .saturating_add(SignedDuration::from_millis(1))
                    .unwrap_or(last.0),
            );
        }
    }
    // (A list older than our own purchase cannot show the number: `reconcile` asks for a newer
    // one when the number is missing from it; any list that shows it serves.)
    t
}

/// A managed, live PhoneNumber with no record and no purchase sent yet (as far as its status
/// shows): the only case decided on whatever list the account last made.
fn first_purchase(pn: &PhoneNumber) -> bool {
    let st = pn.status.as_ref();
    pn.spec.management_policy == ManagementPolicy::Managed
        && pn.metadata.deletion_timestamp.is_none()
        && st.is_none_or(|s| s.id.is_none())
        && st
            .and_then(|s| s.purchase.as_ref())
            .is_none_or(|p| p.attempts == 0 && p.outcome_unknown_since.is_none())
}

/// The earliest start of a list that was certainly sent after the object existed: the API server
/// keeps whole seconds, so the second after the one of its creation timestamp.
fn created_bound(pn: &PhoneNumber) -> Option<Timestamp> {
    let created = pn.metadata.creation_timestamp.as_ref()?.0;
    Some(
        created
            .saturating_add(SignedDuration::from_secs(1))
            .unwrap_or(created),
    )
}

/// For a number with no record that `snapshot` shows although it was sent before the object
/// existed (a list `first_purchase` accepted), the time a list must have been sent after before
/// it is adopted: the number may have been released since. `None`: the snapshot decides. Pure.
pub fn presence_undecided(pn: &PhoneNumber, snapshot: &Snapshot) -> Option<Timestamp> {
    if pn.status.as_ref().is_some_and(|s| s.id.is_some())
        || !snapshot.records.contains_key(&pn.spec.number)
    {
        return None;
    }
    created_bound(pn).filter(|t| snapshot.started_at < *t)
}

/// For a number this process bought, when the purchase came back: a list sent before cannot
/// show it.
fn attempt_time(pn: &PhoneNumber) -> Option<Timestamp> {
    let st = pn.status.as_ref()?;
    st.id.as_ref()?;
    Some(st.purchase.as_ref()?.last_attempt_time.as_ref()?.0)
}

/// For a number this process bought that `snapshot` does not show, the time a list must have
/// been sent after before its absence decides anything: the purchase (an older list cannot show
/// it), then the purchase plus the grace period the account list may lag by (before that, its
/// absence is not Lost, not released and forgotten). `None`: the snapshot decides. Pure.
pub fn absence_undecided(
    pn: &PhoneNumber,
    snapshot: &Snapshot,
    cfg: &super::Config,
) -> Option<Timestamp> {
    if snapshot.records.contains_key(&pn.spec.number) {
        return None;
    }
    let attempt = attempt_time(pn)?;
    let grace = SignedDuration::try_from(cfg.purchase_grace).unwrap_or_default();
    let settled = attempt.saturating_add(grace).unwrap_or(attempt);
    [attempt, settled]
        .into_iter()
        .find(|t| snapshot.started_at < *t)
}

/// Decides what to do, from the object, the account's list and the time. Pure.
pub fn plan(
    pn: &PhoneNumber,
    class: &PhoneNumberClass,
    snapshot: &Snapshot,
    link: ClaimLink,
    now: Timestamp,
    cfg: &super::Config,
    purchase_blocked: bool,
) -> Plan {
    let st = pn.status.clone().unwrap_or_default();
    let sync = parse_duration(&class.spec.sync_interval, Duration::from_secs(60));
    let slow = sync.saturating_mul(5);
    if let Some(record) = snapshot.records.get(&pn.spec.number) {
        if let Some(known) = st.id.as_ref().filter(|k| **k != record.id) {
            return record_mismatch(pn, &st, known, &record.id, now, slow);
        }
        let adopted = st.id.is_none();
        let status = mirror(pn, record, link, snapshot.started_at, now);
        let requeue = if record.status == NumberStatus::Purchasing {
            cfg.fast_sync
        } else {
            slow
        };
        let event = adopted.then(|| Note {
            warning: false,
            reason: "Adopted",
            message: format!(
                "{} is owned by the account (record {}); adopted, not bought again",
                pn.spec.number, record.id
            ),
        });
        return Plan::Settle {
            status: Box::new(status),
            requeue,
            event,
        };
    }
    // The number is not in the account.
    if st.id.is_some() {
        let mut status = st.clone();
        status.phase = Some(NumberPhase::Lost);
        status.conditions = conditions::merge(
            &st.conditions,
            &[
                Desired::new(
                    types::READY,
                    false,
                    reasons::LOST,
                    format!("{} is no longer in the Talkturo account", pn.spec.number),
                ),
                synced(now),
            ],
            MANAGED,
            pn.metadata.generation,
            &now_time(now),
        );
        let event = (st.phase != Some(NumberPhase::Lost)).then(|| Note {
            warning: true,
            reason: "NumberLost",
            message: format!(
                "{} (record {}) disappeared from the Talkturo account",
                pn.spec.number,
                st.id.clone().unwrap_or_default()
            ),
        });
        return Plan::Settle {
            status: Box::new(status),
            requeue: slow,
            event,
        };
    }
    if pn.spec.management_policy == ManagementPolicy::ObserveOnly {
        let mut status = st.clone();
        status.phase = Some(NumberPhase::Lost);
        status.conditions = conditions::merge(
            &st.conditions,
            &[
                Desired::new(
                    types::READY,
                    false,
                    reasons::LOST,
                    "not in the Talkturo account (ObserveOnly: never bought)",
                ),
                synced(now),
            ],
            MANAGED,
            pn.metadata.generation,
            &now_time(now),
        );
        return Plan::Settle {
            status: Box::new(status),
            requeue: slow,
            event: None,
        };
    }
    if st.phase == Some(NumberPhase::Failed) {
        return Plan::Settle {
            status: Box::new(st),
            requeue: slow,
            event: None,
        };
    }
    let mut p = st.purchase.clone().unwrap_or_default();
    if let Some(since) = p.outcome_unknown_since.clone() {
        // Absent from a list sent after the attempt and after the last list counted.
        if snapshot.started_at >= since.0
            && p.last_listing_time
                .as_ref()
                .is_none_or(|t| snapshot.started_at > t.0)
        {
            p.absent_listings += 1;
            p.last_listing_time = Some(time_ceil(snapshot.started_at));
        }
        if p.absent_listings >= 2 {
            if p.failure_reason.as_deref() == Some(reasons::PURCHASE_MISMATCH) {
                // The answer was about another number and the lists never showed this one: it
                // was not bought. Not bought again either (the service may answer the same).
                let mut status = failed(
                    pn,
                    reasons::PURCHASE_MISMATCH,
                    p.failure_message.clone().unwrap_or_default(),
                    None,
                    now,
                );
                if let Some(q) = status.purchase.as_mut() {
                    q.outcome_unknown_since = None;
                    q.absent_listings = p.absent_listings;
                    q.last_listing_time = p.last_listing_time.clone();
                }
                return Plan::Settle {
                    status: Box::new(status),
                    requeue: slow,
                    event: None,
                };
            }
            return Plan::Buy;
        }
        let unsettled_for = now.duration_since(since.0).unsigned_abs();
        let alert = unsettled_for >= cfg.outcome_alert_after;
        let mut status = st.clone();
        status.purchase = Some(p.clone());
        status.phase = Some(NumberPhase::Purchasing);
        let mut desired = vec![
            Desired::new(
                types::READY,
                false,
                reasons::PURCHASING,
                "the outcome of the purchase is being settled from the account list",
            ),
            synced(now),
        ];
        if alert {
            desired.push(Desired::new(
                types::PURCHASE_OUTCOME_UNKNOWN,
                true,
                reasons::PURCHASE_OUTCOME_UNKNOWN,
                format!("a purchase of {} was sent {}s ago and the account list has not settled it; check the Talkturo dashboard", pn.spec.number, unsettled_for.as_secs()),
            ));
        }
        status.conditions = conditions::merge(
            &st.conditions,
            &desired,
            MANAGED,
            pn.metadata.generation,
            &now_time(now),
        );
        let event = (alert
            && !conditions::is_true(&st.conditions, types::PURCHASE_OUTCOME_UNKNOWN))
        .then(|| Note {
            warning: true,
            reason: "PurchaseOutcomeUnknown",
            message: format!(
                "the purchase of {} could not be settled for {}s; a human should check the account",
                pn.spec.number,
                unsettled_for.as_secs()
            ),
        });
        return Plan::Settle {
            status: Box::new(status),
            requeue: cfg.purchase_grace.max(cfg.fast_sync),
            event,
        };
    }
    if purchase_blocked {
        return Plan::Settle {
            status: Box::new(failed(
                pn,
                reasons::PLAN_LIMIT_REACHED,
                "the account's plan limit is reached; not buying".into(),
                None,
                now,
            )),
            requeue: slow,
            event: None,
        };
    }
    Plan::Buy
}

/// The account lists the number under another id than the one recorded: the recorded id is
/// kept (a release or assignment by the listed id could act on another record), the status says
/// so, and an admin decides. Pure.
fn record_mismatch(
    pn: &PhoneNumber,
    st: &PhoneNumberStatus,
    known: &str,
    listed: &str,
    now: Timestamp,
    requeue: Duration,
) -> Plan {
    let message = format!(
        "the account lists {} under record {listed}, but it was recorded as {known}; the record is kept and nothing is assigned or released until an admin checks the account",
        pn.spec.number
    );
    let mut status = st.clone();
    status.conditions = conditions::merge(
        &st.conditions,
        &[Desired::new(
            types::SYNCED,
            false,
            reasons::RECORD_MISMATCH,
            message.clone(),
        )],
        &[],
        pn.metadata.generation,
        &now_time(now),
    );
    let already = conditions::find(&st.conditions, types::SYNCED)
        .is_some_and(|c| c.reason == reasons::RECORD_MISMATCH);
    Plan::Settle {
        status: Box::new(status),
        requeue,
        event: (!already).then_some(Note {
            warning: true,
            reason: reasons::RECORD_MISMATCH,
            message,
        }),
    }
}

/// Whether the status can be acted on at Talkturo (assigned, released): the number is not Lost
/// and its record id is not in question.
pub fn trusted(status: &PhoneNumberStatus) -> bool {
    status.phase != Some(NumberPhase::Lost)
        && conditions::find(&status.conditions, types::SYNCED)
            .is_none_or(|c| c.reason != reasons::RECORD_MISMATCH)
}

/// Status mirrored from the account's record of the number.
fn mirror(
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
        conditions: Vec::new(),
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
    status.phase = Some(match (&r.status, link) {
        (NumberStatus::Suspended, _)
            if r.is_trial && r.trial_expires_at.is_some_and(|t| t <= now) =>
        {
            NumberPhase::Expired
        }
        (_, ClaimLink::Present) => NumberPhase::Bound,
        (_, ClaimLink::Missing) => NumberPhase::Released,
        (_, ClaimLink::Unbound) => NumberPhase::Available,
    });
    let ready = match &r.status {
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
    };
    status.conditions = conditions::merge(
        &st.conditions,
        &[ready, synced(listed_at)],
        MANAGED,
        pn.metadata.generation,
        &now_time(now),
    );
    // lastSyncedAt moves only when what was observed changed, so a steady state writes nothing.
    let mut before = st.clone();
    before.last_synced_at = None;
    before.conditions.clear();
    let mut after = status.clone();
    after.last_synced_at = None;
    after.conditions.clear();
    if before != after {
        status.last_synced_at = Some(now_time(listed_at));
    }
    status
}

fn synced(_at: Timestamp) -> Desired {
    Desired::new(
        types::SYNCED,
        true,
        reasons::SYNCED,
        "status mirrors the Talkturo account list",
    )
}

/// The offered prices and features recorded on the object when the claim chose it.
fn offer(pn: &PhoneNumber) -> (Option<String>, Option<String>, Vec<String>) {
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

fn not_synced(
    pn: &PhoneNumber,
    reason: &'static str,
    message: String,
    now: Timestamp,
) -> PhoneNumberStatus {
    let mut st = pn.status.clone().unwrap_or_default();
    st.conditions = conditions::merge(
        &st.conditions,
        &[Desired::new(types::SYNCED, false, reason, message)],
        &[],
        pn.metadata.generation,
        &now_time(now),
    );
    st
}

fn failed(
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
    }
    p.failure_reason = Some(reason.to_owned());
    p.failure_message = Some(message.clone());
    st.purchase = Some(p);
    st.phase = Some(NumberPhase::Failed);
    st.observed_generation = pn.metadata.generation;
    st.conditions = conditions::merge(
        &st.conditions,
        &[Desired::new(types::READY, false, reason, message)],
        MANAGED,
        pn.metadata.generation,
        &now_time(now),
    );
    st
}

/// The one purchase call, and the status its outcome leads to.
async fn buy(
    ctx: &Context,
    pn: &PhoneNumber,
    class_obj: &PhoneNumberClass,
    account: &Account,
    now: Timestamp,
) -> Result<(PhoneNumberStatus, Duration, Option<Note>), Error> {
    let class = &pn.spec.class_name;
    let number = &pn.spec.number;
    tracing::info!(number, class, "buying");
    let attempt_at = time_ceil(now);
    account.note_attempt(number, uid_of(pn), attempt_at.0);
    let result = account.client.purchase(number, &account.key.team_id).await;
    // Recorded as the time the call came back, not the time it was first sent: the client may
    // have retried it (after a 429's Retry-After), and what a later list must show is judged
    // from when the purchase can last have taken effect.
    let returned = Timestamp::now();
    let attempt_at = time_ceil(returned).max(attempt_at);
    let attempted = |mut st: PhoneNumberStatus, unknown: bool| {
        let mut p = st.purchase.clone().unwrap_or_default();
        p.attempts += 1;
        p.last_attempt_time = Some(attempt_at.clone());
        p.outcome_unknown_since = unknown.then(|| attempt_at.clone());
        p.absent_listings = 0;
        p.last_listing_time = None;
        st.purchase = Some(p);
        st
    };
    let grace = ctx.config.purchase_grace;
    match result {
        Ok(bought) => {
            ctx.metrics.purchase(class, "bought");
            if let Some(e) = bought.eligibility.clone() {
                account.record_eligibility(e, now);
            }
            // The cached searches still list this number; claims skip it as taken, and search
            // again once most of the cached offers are bought (search_for_more).
            account.purchase_completed(number);
            let link = claim_link(pn, ctx);
            let mut base = pn.clone();
            base.status = Some(attempted(pn.status.clone().unwrap_or_default(), false));
            let mut status = mirror(&base, &bought.phone_number, link, now, now);
            let mut requeue = ctx.config.fast_sync;
            if bought.phone_number.status != NumberStatus::Active {
                // Talkturo answers `purchasing`; the account list shows when it is active. One
                // list sent after the purchase came back (shared with every other reconcile
                // waiting for one) usually does, so the status is written once, not twice. If
                // it does not show the number yet, or fails, the purchase's own record is
                // written and the usual sync takes over.
                if let Ok(listed) = account.snapshot(returned).await
                    && listed.records.contains_key(number)
                {
                    base.status = Some(status.clone());
                    let at = Timestamp::now();
                    if let Plan::Settle {
                        status: settled,
                        requeue: next,
                        ..
                    } = plan(&base, class_obj, &listed, link, at, &ctx.config, false)
                    {
                        status = *settled;
                        requeue = next;
                    }
                }
            }
            let note = Note {
                warning: false,
                reason: "Purchased",
                message: format!("bought {number} (record {})", bought.phone_number.id),
            };
            Ok((status, requeue, Some(note)))
        }
        Err(e) if e.status() == Some(409) => {
            // Already owned by the team: adopt it from the list (settled like an unknown outcome).
            ctx.metrics.purchase(class, "already_owned");
            let st = attempted(pn.status.clone().unwrap_or_default(), true);
            let note = Note {
                warning: false,
                reason: "AlreadyOwned",
                message: format!(
                    "{number} is already owned by the team; adopting it from the account list"
                ),
            };
            Ok((st, grace, Some(note)))
        }
        Err(crate::talkturo::Error::PurchaseMismatch { answered, id, .. }) => {
            // Success for another number: nothing is known of the asked one (the list settles
            // it, and it is not bought again if absent), and the number the answer names may
            // now be billed to the team, so it gets a PhoneNumber of its own.
            ctx.metrics.purchase(class, "mismatch");
            let offer = account.cached_offer(&answered);
            let tracked = track_answered(ctx, class_obj, &answered, offer).await;
            let mut st = attempted(pn.status.clone().unwrap_or_default(), true);
            let message = format!(
                "Talkturo answered the purchase of {number} with a record of {answered} (id {id}); {number} is settled from the account list and not bought again; {tracked}"
            );
            if let Some(p) = st.purchase.as_mut() {
                p.failure_reason = Some(reasons::PURCHASE_MISMATCH.to_owned());
                p.failure_message = Some(message.clone());
            }
            st.phase = Some(NumberPhase::Purchasing);
            st.conditions = conditions::merge(
                &st.conditions,
                &[Desired::new(
                    types::READY,
                    false,
                    reasons::PURCHASE_MISMATCH,
                    message.clone(),
                )],
                MANAGED,
                pn.metadata.generation,
                &now_time(now),
            );
            let note = Note {
                warning: true,
                reason: reasons::PURCHASE_MISMATCH,
                message,
            };
            Ok((st, grace, Some(note)))
        }
        Err(e) if e.outcome() == Outcome::Definite => {
            let limit = e.status() == Some(403);
            ctx.metrics
                .purchase(class, if limit { "plan_limit" } else { "refused" });
            if limit {
                account.record_limit_reached(Timestamp::now());
            } else {
                account.forget_searches();
            }
            let reason = if limit {
                reasons::PLAN_LIMIT_REACHED
            } else {
                reasons::PURCHASE_FAILED
            };
            let message = format!("Talkturo refused the purchase of {number}: {e}");
            let note = Note {
                warning: true,
                reason,
                message: message.clone(),
            };
            Ok((
                failed(pn, reason, message, Some(&attempt_at), now),
                Duration::from_secs(300),
                Some(note),
            ))
        }
        Err(e) if e.outcome() == Outcome::Unknown => {
            ctx.metrics.purchase(class, "unknown");
            let mut st = attempted(pn.status.clone().unwrap_or_default(), true);
            st.phase = Some(NumberPhase::Purchasing);
            st.conditions = conditions::merge(
                &st.conditions,
                &[Desired::new(
                    types::READY,
                    false,
                    reasons::PURCHASING,
                    format!(
                        "the purchase may or may not have taken effect ({e}); settling it from the account list"
                    ),
                )],
                MANAGED,
                pn.metadata.generation,
                &now_time(now),
            );
            // Not a Warning yet: most unknown outcomes settle within seconds. The Warning
            // (`PurchaseOutcomeUnknown`) is for one still unsettled after --outcome-alert-secs.
            let note = Note {
                warning: false,
                reason: "PurchaseUnsettled",
                message: format!("purchase of {number}: {e}; the account list will settle it"),
            };
            Ok((st, grace, Some(note)))
        }
        Err(e) => {
            // Transient: the purchase did not take effect; try again later.
            ctx.metrics.purchase(class, "transient");
            account.forget_attempt(number);
            Err(Error::Talkturo(Arc::new(e)))
        }
    }
}

/// Gives a number a purchase answer named (instead of the one asked for) a PhoneNumber of its
/// own, bound to no claim, so it is never billed untracked. `ObserveOnly`: the answer may be
/// wrong, and a managed PhoneNumber absent from the account would be bought on the strength of
/// it; this one only mirrors the account, and an admin decides what becomes of the number.
/// Says what became of it, for the Warning.
async fn track_answered(
    ctx: &Context,
    class: &PhoneNumberClass,
    answered: &str,
    offer: Option<crate::talkturo::AvailableNumber>,
) -> String {
    if !crate::talkturo::wire::is_e164(answered) {
        return format!(
            "{answered:?} is not an E.164 number, so no PhoneNumber can track it; check the account in the Talkturo dashboard"
        );
    }
    let name = crate::api::v1alpha1::phone_number_name(answered);
    let pn = PhoneNumber {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            labels: Some([(super::CLASS_LABEL.to_owned(), class.name_any())].into()),
            // Its price, when a recent search offered it: the budget counts it (else the price
            // is unknown and the budget fails closed).
            annotations: offer.map(|o| {
                [(
                    OFFER_ANNOTATION.to_owned(),
                    super::claim::offer_annotation(&o),
                )]
                .into()
            }),
            ..Default::default()
        },
        spec: crate::api::v1alpha1::PhoneNumberSpec {
            number: answered.to_owned(),
            class_name: class.name_any(),
            claim_ref: None,
            assistant_id: None,
            reclaim_policy: ReclaimPolicy::Retain,
            management_policy: ManagementPolicy::ObserveOnly,
        },
        status: None,
    };
    let api: Api<PhoneNumber> = Api::all(ctx.client.clone());
    match api.create(&kube::api::PostParams::default(), &pn).await {
        Ok(_) => format!(
            "PhoneNumber {name} now tracks {answered} (ObserveOnly, bound to no claim: an admin decides whether to keep or release it)"
        ),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            format!("PhoneNumber {name} already tracks {answered}")
        }
        Err(e) => {
            tracing::warn!(number = answered, error = %e, "cannot create a PhoneNumber for a number a purchase answer named");
            format!("creating PhoneNumber {name} for it failed ({e}); check the account")
        }
    }
}

/// Whether the PhoneNumber's claim exists (matching uid when the reference has one).
fn claim_link(pn: &PhoneNumber, ctx: &Context) -> ClaimLink {
    let Some(r) = pn.spec.claim_ref.as_ref() else {
        return ClaimLink::Unbound;
    };
    match ctx
        .claims
        .get(&ObjectRef::new(&r.name).within(&r.namespace))
    {
        Some(c) if r.uid.is_none() || c.metadata.uid == r.uid => ClaimLink::Present,
        _ => ClaimLink::Missing,
    }
}

pub(super) async fn apply_status(
    ctx: &Context,
    pn: &PhoneNumber,
    mut status: PhoneNumberStatus,
) -> Result<(), Error> {
    status.claim = pn
        .spec
        .claim_ref
        .as_ref()
        .map(|r| format!("{}/{}", r.namespace, r.name));
    if pn.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api = Api::all(ctx.client.clone());
    ctx.apply_status(api, pn, &status, None, "writing PhoneNumber status")
        .await
}

async fn add_finalizer(ctx: &Context, pn: &PhoneNumber) -> Result<(), Error> {
    let mut finalizers = pn.finalizers().to_vec();
    finalizers.push(NUMBER_FINALIZER.to_owned());
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": pn.resource_version()}});
    ctx.patch_number(pn, &patch, "adding the finalizer").await
}

async fn remove_finalizer(ctx: &Context, pn: &PhoneNumber, why: &str) -> Result<Action, Error> {
    if !pn.finalizers().iter().any(|f| f == NUMBER_FINALIZER) {
        return Ok(Action::await_change());
    }
    tracing::info!(
        number = pn.spec.number,
        why,
        "releasing the PhoneNumber object"
    );
    let finalizers: Vec<&String> = pn
        .finalizers()
        .iter()
        .filter(|f| *f != NUMBER_FINALIZER)
        .collect();
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": pn.resource_version()}});
    ctx.patch_number(pn, &patch, "removing the finalizer")
        .await?;
    Ok(Action::await_change())
}

/// A PhoneNumber being deleted: the object goes once no purchase is unsettled and, for an owned
/// number, its reclaim policy was applied. `Release` releases it at Talkturo first; a refused
/// release keeps the object (and the number) with `ReleaseFailed`, retried hourly. `Retain` keeps
/// the number in the account, unmanaged from then on.
async fn finalize(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    mut status: PhoneNumberStatus,
    now: Timestamp,
) -> Result<Action, Error> {
    let unsettled = status
        .purchase
        .as_ref()
        .is_some_and(|p| p.outcome_unknown_since.is_some());
    if unsettled {
        apply_status(ctx, pn, status).await?;
        return Ok(Action::requeue(
            ctx.config.purchase_grace.max(ctx.config.fast_sync),
        ));
    }
    if status.id.is_none() || pn.spec.management_policy != ManagementPolicy::Managed {
        return remove_finalizer(ctx, pn, "nothing of ours to reclaim").await;
    }
    if pn.spec.reclaim_policy == ReclaimPolicy::Release {
        if !reclaim::wants_release(pn, &status, false, true, now) {
            // Refused recently: keep the number and the object; try again later.
            return Ok(Action::requeue(Duration::from_secs(3600)));
        }
        return match reclaim::release(
            ctx,
            pn,
            account,
            (&mut status, reclaim::Why::ReclaimPolicy),
            now,
        )
        .await?
        {
            Reclaimed::Released => remove_finalizer(ctx, pn, "released").await,
            Reclaimed::Kept => {
                apply_status(ctx, pn, status).await?;
                Ok(Action::requeue(Duration::from_secs(3600)))
            }
            Reclaimed::Unsettled => Ok(Action::requeue(
                ctx.config.purchase_grace.max(ctx.config.fast_sync),
            )),
        };
    }
    ctx.event(pn, EventType::Warning, "NumberKept", "Delete", format!("{} stays in the Talkturo account (reclaimPolicy Retain); without its PhoneNumber it is unmanaged", pn.spec.number)).await;
    remove_finalizer(ctx, pn, "deleted; number retained").await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    use super::*;
    use crate::api::v1alpha1::{ClaimRef, PhoneNumberClassSpec, PhoneNumberSpec, ReclaimPolicy};

    #[test]
    fn only_a_release_recorded_or_intended_explains_an_absent_number() {
        let with_ready = |reason: &str| PhoneNumberStatus {
            conditions: vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: "Ready".into(),
                status: "False".into(),
                reason: reason.into(),
                message: String::new(),
                last_transition_time: Time(Timestamp::UNIX_EPOCH),
                observed_generation: None,
            }],
            ..Default::default()
        };
        for (reason, ours) in [
            // Talkturo confirmed the release.
            ("Released", true),
            // The intent was recorded; the process stopped (or the API server was away) before
            // the outcome was: the absence is the release's.
            ("Releasing", true),
            // A refused release keeps the number: its absence would be a loss.
            ("ReleaseFailed", false),
            ("Active", false),
            ("Lost", false),
        ] {
            assert_eq!(released_by_us(&with_ready(reason)), ours, "{reason}");
        }
        assert!(!released_by_us(&PhoneNumberStatus::default()), "no status");
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn number(status: Option<PhoneNumberStatus>) -> PhoneNumber {
        PhoneNumber {
            metadata: ObjectMeta {
                name: Some("tel-14155550101".into()),
                generation: Some(1),
                creation_timestamp: Some(Time(ts("2026-01-01T00:00:00Z"))),
                ..Default::default()
            },
            spec: PhoneNumberSpec {
                number: "+14155550101".into(),
                class_name: "standard".into(),
                claim_ref: Some(ClaimRef {
                    namespace: "app".into(),
                    name: "line".into(),
                    uid: None,
                }),
                assistant_id: None,
                reclaim_policy: ReclaimPolicy::Retain,
                management_policy: ManagementPolicy::Managed,
            },
            status,
        }
    }

    fn class() -> PhoneNumberClass {
        let spec: PhoneNumberClassSpec = serde_json::from_value(serde_json::json!({
            "apiBaseUrl": "http://x", "teamId": "t", "accountSlug": "a", "apiKeySecretRef": {"namespace": "n", "name": "s"}, "syncInterval": "60s"
        }))
        .unwrap();
        PhoneNumberClass::new("standard", spec)
    }

    fn record(status: NumberStatus) -> NumberRecord {
        // Sub-second timestamps, as the service sends them.
        serde_json::from_value::<NumberRecord>(serde_json::json!({"id": "pn_1", "phone_number": "+14155550101", "provider_id": "tx_1",
            "created_at": "2025-12-31T23:59:58.123456789Z", "is_trial": true, "trial_expires_at": "2026-01-05T23:59:58.5Z"}))
            .map(|mut r| {
                r.status = status;
                r
            })
            .unwrap()
    }

    fn snapshot(at: &str, records: Vec<NumberRecord>) -> Snapshot {
        snapshot_at(ts(at), records)
    }

    fn snapshot_at(started_at: Timestamp, records: Vec<NumberRecord>) -> Snapshot {
        Snapshot::new(
            started_at,
            records
                .into_iter()
                .map(|r| (r.phone_number.clone(), r))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn cfg() -> crate::controller::Config {
        crate::controller::Config::default()
    }

    fn unknown_since(at: &str, absent: i32, last: Option<&str>) -> Option<PhoneNumberStatus> {
        Some(PhoneNumberStatus {
            purchase: Some(NumberPurchase {
                attempts: 1,
                last_attempt_time: Some(Time(ts(at))),
                outcome_unknown_since: Some(Time(ts(at))),
                absent_listings: absent,
                last_listing_time: last.map(|l| Time(ts(l))),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn settled(p: Plan) -> (PhoneNumberStatus, Duration, Option<Note>) {
        match p {
            Plan::Settle {
                status,
                requeue,
                event,
            } => (*status, requeue, event),
            Plan::Buy => panic!("expected Settle, got Buy"),
        }
    }

    const NOW: &str = "2026-01-01T00:01:00Z";

    #[test]
    fn a_number_absent_from_a_list_sent_after_it_was_created_is_bought() {
        let p = plan(
            &number(None),
            &class(),
            &snapshot("2026-01-01T00:00:30Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        );
        assert_eq!(p, Plan::Buy);
    }

    #[test]
    fn a_number_already_in_the_account_is_adopted_not_bought() {
        let (st, _, ev) = settled(plan(
            &number(None),
            &class(),
            &snapshot(NOW, vec![record(NumberStatus::Active)]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(st.id.as_deref(), Some("pn_1"));
        assert_eq!(st.phase, Some(NumberPhase::Bound));
        assert_eq!(ev.map(|e| e.reason), Some("Adopted"));
    }

    #[test]
    fn an_unknown_outcome_is_bought_again_only_after_two_lists_without_it() {
        let pn = number(unknown_since("2026-01-01T00:00:10Z", 0, None));
        let (st, _, _) = settled(plan(
            &pn,
            &class(),
            &snapshot("2026-01-01T00:00:20Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        let p = st.purchase.clone().unwrap();
        assert_eq!(p.absent_listings, 1);
        // The same list again does not count twice.
        let pn = number(Some(st));
        let (st, _, _) = settled(plan(
            &pn,
            &class(),
            &snapshot("2026-01-01T00:00:20Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(st.purchase.as_ref().unwrap().absent_listings, 1);
        // A newer list without it: buy the same exact number again.
        let pn = number(Some(st));
        assert_eq!(
            plan(
                &pn,
                &class(),
                &snapshot("2026-01-01T00:00:25Z", vec![]),
                ClaimLink::Present,
                ts(NOW),
                &cfg(),
                false
            ),
            Plan::Buy
        );
    }

    #[test]
    fn after_a_mismatched_answer_an_absent_number_fails_and_is_not_bought_again() {
        let mut st = unknown_since("2026-01-01T00:00:10Z", 1, Some("2026-01-01T00:00:20Z"));
        if let Some(p) = st.as_mut().and_then(|s| s.purchase.as_mut()) {
            p.failure_reason = Some(reasons::PURCHASE_MISMATCH.to_owned());
            p.failure_message = Some("answered with another number".into());
        }
        let (st, _, _) = settled(plan(
            &number(st),
            &class(),
            &snapshot("2026-01-01T00:00:25Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(st.phase, Some(NumberPhase::Failed));
        let p = st.purchase.unwrap();
        assert_eq!(p.outcome_unknown_since, None, "settled: deletable");
        assert_eq!(
            p.failure_reason.as_deref(),
            Some(reasons::PURCHASE_MISMATCH)
        );
    }

    #[test]
    fn a_number_listed_under_another_id_keeps_its_recorded_id_and_says_so() {
        let owned = PhoneNumberStatus {
            id: Some("pn_0".into()),
            phase: Some(NumberPhase::Bound),
            ..Default::default()
        };
        let (st, _, ev) = settled(plan(
            &number(Some(owned)),
            &class(),
            &snapshot(NOW, vec![record(NumberStatus::Active)]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(st.id.as_deref(), Some("pn_0"));
        let synced = conditions::find(&st.conditions, types::SYNCED).unwrap();
        assert_eq!(
            (synced.status.as_str(), synced.reason.as_str()),
            ("False", reasons::RECORD_MISMATCH)
        );
        assert_eq!(ev.map(|e| e.reason), Some(reasons::RECORD_MISMATCH));
        assert!(
            !trusted(&st),
            "neither assigned nor released until an admin checks"
        );
    }

    #[test]
    fn a_list_sent_before_the_attempt_does_not_count_as_absence() {
        let pn = number(unknown_since(
            "2026-01-01T00:00:10Z",
            1,
            Some("2026-01-01T00:00:11Z"),
        ));
        let (st, _, _) = settled(plan(
            &pn,
            &class(),
            &snapshot("2026-01-01T00:00:09Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(st.purchase.unwrap().absent_listings, 1);
    }

    #[test]
    fn an_outcome_unsettled_for_too_long_is_raised_to_a_human() {
        let pn = number(unknown_since("2026-01-01T00:00:00Z", 0, None));
        let late = ts("2026-01-01T00:20:00Z");
        let (st, _, ev) = settled(plan(
            &pn,
            &class(),
            &snapshot("2026-01-01T00:00:01Z", vec![]),
            ClaimLink::Present,
            late,
            &cfg(),
            false,
        ));
        assert!(conditions::is_true(
            &st.conditions,
            types::PURCHASE_OUTCOME_UNKNOWN
        ));
        assert_eq!(
            ev.map(|e| (e.warning, e.reason)),
            Some((true, "PurchaseOutcomeUnknown"))
        );
    }

    #[test]
    fn an_owned_number_missing_from_the_list_is_lost_with_a_warning_once() {
        let pn = number(Some(PhoneNumberStatus {
            id: Some("pn_1".into()),
            phase: Some(NumberPhase::Bound),
            ..Default::default()
        }));
        let (st, _, ev) = settled(plan(
            &pn,
            &class(),
            &snapshot(NOW, vec![]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(st.phase, Some(NumberPhase::Lost));
        assert_eq!(
            ev.map(|e| (e.warning, e.reason)),
            Some((true, "NumberLost"))
        );
        let (_, _, again) = settled(plan(
            &number(Some(st)),
            &class(),
            &snapshot(NOW, vec![]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(again, None);
    }

    #[test]
    fn observe_only_numbers_and_a_reached_plan_limit_never_buy() {
        let mut pn = number(None);
        pn.spec.management_policy = ManagementPolicy::ObserveOnly;
        let (st, _, _) = settled(plan(
            &pn,
            &class(),
            &snapshot(NOW, vec![]),
            ClaimLink::Unbound,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(st.phase, Some(NumberPhase::Lost));
        let (st, _, _) = settled(plan(
            &number(None),
            &class(),
            &snapshot(NOW, vec![]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            true,
        ));
        assert_eq!(st.phase, Some(NumberPhase::Failed));
        assert_eq!(
            st.purchase.unwrap().failure_reason.as_deref(),
            Some(reasons::PLAN_LIMIT_REACHED)
        );
    }

    #[test]
    fn the_phase_follows_the_claim_and_the_provider_status() {
        for (link, phase) in [
            (ClaimLink::Present, NumberPhase::Bound),
            (ClaimLink::Missing, NumberPhase::Released),
            (ClaimLink::Unbound, NumberPhase::Available),
        ] {
            let (st, _, _) = settled(plan(
                &number(None),
                &class(),
                &snapshot(NOW, vec![record(NumberStatus::Active)]),
                link,
                ts(NOW),
                &cfg(),
                false,
            ));
            assert_eq!(st.phase, Some(phase));
        }
        let (st, requeue, _) = settled(plan(
            &number(None),
            &class(),
            &snapshot(NOW, vec![record(NumberStatus::Purchasing)]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(
            conditions::find(&st.conditions, types::READY).map(|c| c.reason.as_str()),
            Some(reasons::PURCHASING)
        );
        assert_eq!(requeue, cfg().fast_sync);
        let (st, _, _) = settled(plan(
            &number(None),
            &class(),
            &snapshot(NOW, vec![record(NumberStatus::Suspended)]),
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        assert_eq!(
            conditions::find(&st.conditions, types::READY)
                .map(|c| (c.status.as_str(), c.reason.as_str())),
            Some(("False", reasons::PROVIDER_STATUS))
        );
    }

    #[test]
    fn mirroring_the_same_record_again_changes_nothing() {
        let snap = snapshot(NOW, vec![record(NumberStatus::Active)]);
        let (first, _, _) = settled(plan(
            &number(None),
            &class(),
            &snap,
            ClaimLink::Present,
            ts(NOW),
            &cfg(),
            false,
        ));
        // What the API server stores and the cache then holds.
        let stored: PhoneNumberStatus =
            serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
        assert_eq!(first, stored, "the status survives storage unchanged");
        let later = snapshot("2026-01-01T00:05:00Z", vec![record(NumberStatus::Active)]);
        let (second, _, _) = settled(plan(
            &number(Some(stored)),
            &class(),
            &later,
            ClaimLink::Present,
            ts("2026-01-01T00:05:00Z"),
            &cfg(),
            false,
        ));
        assert_eq!(first, second, "a steady state must not write");
    }

    #[test]
    fn a_first_purchase_takes_any_list_and_everything_else_one_sent_after_creation() {
        let c = cfg();
        let sync = Duration::from_secs(60);
        let created_plus_1 = ts("2026-01-01T00:00:01Z");
        // Never sent to Talkturo: whatever list the account has (a purchase already made answers
        // 409 and is adopted).
        assert_eq!(
            required_freshness(&number(None), &c, sync, ts(NOW)),
            Timestamp::MIN
        );
        // Deleting, or ObserveOnly: deciding it was never bought takes a list sent after the
        // object existed (the second after its whole-second creation timestamp).
        let mut deleting = number(None);
        deleting.metadata.deletion_timestamp = Some(Time(ts("2026-01-01T00:00:00Z")));
        let mut observed = number(None);
        observed.spec.management_policy = ManagementPolicy::ObserveOnly;
        for pn in [&deleting, &observed] {
            assert_eq!(
                required_freshness(pn, &c, sync, ts(NOW)),
                ts(NOW) - SignedDuration::try_from(c.fast_sync).unwrap()
            );
            assert_eq!(
                required_freshness(pn, &c, sync, ts("2026-01-01T00:00:01Z")),
                created_plus_1,
                "a list older than the object cannot show what was bought for it"
            );
        }
        // Refused before (Failed, one attempt): not a first purchase either.
        let failed = number(Some(PhoneNumberStatus {
            purchase: Some(NumberPurchase {
                attempts: 1,
                ..Default::default()
            }),
            ..Default::default()
        }));
        assert_eq!(
            required_freshness(&failed, &c, sync, ts("2026-01-01T00:00:01Z")),
            created_plus_1
        );
        let pn = number(unknown_since("2026-01-01T00:00:50Z", 0, None));
        let t = required_freshness(&pn, &c, sync, ts("2026-01-01T00:00:51Z"));
        assert_eq!(
            t,
            ts("2026-01-01T00:00:50Z") + SignedDuration::try_from(c.purchase_grace).unwrap(),
            "a grace period after the attempt, even if that is in the future"
        );
    }

    #[test]
    fn a_number_never_bought_is_adopted_only_from_a_list_sent_after_its_object_existed() {
        let pn = number(None);
        let shown_before = snapshot("2026-01-01T00:00:00.5Z", vec![record(NumberStatus::Active)]);
        assert_eq!(
            presence_undecided(&pn, &shown_before),
            Some(ts("2026-01-01T00:00:01Z")),
            "a list from before the object may show a number released since"
        );
        let shown_after = snapshot("2026-01-01T00:00:01Z", vec![record(NumberStatus::Active)]);
        assert_eq!(presence_undecided(&pn, &shown_after), None);
        assert_eq!(
            presence_undecided(&pn, &snapshot("2025-12-31T00:00:00Z", vec![])),
            None,
            "absent: bought (a purchase that took effect before answers 409)"
        );
        let owned = number(Some(PhoneNumberStatus {
            id: Some("pn_1".into()),
            ..Default::default()
        }));
        assert_eq!(presence_undecided(&owned, &shown_before), None);
    }

    #[test]
    fn just_bought_any_list_showing_it_serves_and_absence_waits_for_a_later_list_and_the_grace() {
        let attempt = "2026-01-01T00:00:59Z";
        let st = PhoneNumberStatus {
            id: Some("pn_1".into()),
            provider_status: Some("purchasing".into()),
            purchase: Some(NumberPurchase {
                last_attempt_time: Some(Time(ts(attempt))),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pn = number(Some(st));
        let t = required_freshness(&pn, &cfg(), Duration::from_secs(60), ts(NOW));
        assert_eq!(
            t,
            ts(NOW) - SignedDuration::try_from(cfg().fast_sync).unwrap(),
            "purchasing: fast sync, not one list per reconcile until the grace is over"
        );
        let grace = SignedDuration::try_from(cfg().purchase_grace).unwrap();
        let before = ts(attempt) - SignedDuration::from_millis(500);
        let within = ts(attempt) + SignedDuration::from_millis(500);
        let after = ts(attempt) + grace;
        // A list that shows it serves, however old (the one sent right after the purchase).
        let shown = snapshot_at(before, vec![record(NumberStatus::Active)]);
        assert_eq!(absence_undecided(&pn, &shown, &cfg()), None);
        // Missing: first a list sent after the purchase, then one after the grace.
        assert_eq!(
            absence_undecided(&pn, &snapshot_at(before, vec![]), &cfg()),
            Some(ts(attempt))
        );
        assert_eq!(
            absence_undecided(&pn, &snapshot_at(within, vec![]), &cfg()),
            Some(after)
        );
        assert_eq!(
            absence_undecided(&pn, &snapshot_at(after, vec![]), &cfg()),
            None
        );
        assert_eq!(
            absence_undecided(&number(None), &snapshot_at(before, vec![]), &cfg()),
            None,
            "nothing bought: absence is the normal case"
        );
    }

    #[test]
    fn a_settled_number_is_served_by_the_class_list_of_the_last_interval_and_a_half() {
        let mut st = PhoneNumberStatus {
            id: Some("pn_1".into()),
            provider_status: Some("active".into()),
            ..Default::default()
        };
        let t = required_freshness(
            &number(Some(st.clone())),
            &cfg(),
            Duration::from_secs(60),
            ts(NOW),
        );
        assert_eq!(t, ts(NOW) - SignedDuration::from_secs(90));
        st.provider_status = Some("purchasing".into());
        let t = required_freshness(&number(Some(st)), &cfg(), Duration::from_secs(60), ts(NOW));
        assert_eq!(
            t,
            ts(NOW) - SignedDuration::try_from(cfg().fast_sync).unwrap(),
            "purchasing: fast sync"
        );
    }
}
