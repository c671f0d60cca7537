//! Brings a number's assignment to the one `decide::assign` wants, and records it in the status
//! this reconcile holds. An assignment counts only once the read-back shows it; one that keeps
//! not showing is `Assigned=False AssignmentUnverified`, tried again only after
//! `requeue::ASSIGNMENT_UNVERIFIED`. A move or unassignment that would take a live campaign's
//! caller ID off the campaign's assistant waits (`Assigned=False InUseByCampaign`), looked at
//! again once per sync interval.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{ManagementPolicy, PhoneNumber, PhoneNumberClass, PhoneNumberStatus};
use crate::controller::account::Account;
use crate::controller::decide::assign::{self, Step};
use crate::controller::decide::campaign::{self, Hold};
use crate::controller::decide::conditions::{self, Desired};
use crate::controller::decide::events::{Note, action, reason};
use crate::controller::decide::number_status::{self, ClaimLink, trusted};
use crate::controller::decide::{requeue, time::parse_duration};
use crate::controller::io;
use crate::controller::{Context, Error};
use crate::talkturo::{self, Outcome};

/// Brings the assignment to the desired one; when it waits on a campaign, when to look again.
pub(super) async fn reconcile(
    ctx: &Context,
    pn: &PhoneNumber,
    (class, account): (&PhoneNumberClass, &Account),
    link: ClaimLink,
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Result<Option<Duration>, Error> {
    let Some(id) = status.id.clone() else {
        return Ok(None);
    };
    if pn.spec.management_policy == ManagementPolicy::ObserveOnly || !trusted(status) {
        return Ok(None);
    }
    let desired = assign::desired(pn, link).map(str::to_owned);
    let observed = status.assigned_assistant_id.clone();
    let active = status.provider_status.as_deref() == Some("active");
    let step = assign::step(desired.as_deref(), observed.as_deref(), active);
    tracing::debug!(
        number = pn.spec.number,
        ?desired,
        ?observed,
        ?step,
        "assignment"
    );
    let every = parse_duration(&class.spec.sync_interval, requeue::DEFAULT_SYNC);
    let off = match &step {
        Step::Unassign { from } => Some((from.as_str(), None)),
        Step::Assign {
            to,
            from: Some(from),
        } => Some((from.as_str(), Some(to.as_str()))),
        _ => None,
    };
    if let Some(off) = off
        && let Some(held) = move_held(ctx, pn, account, off, (every, now)).await
    {
        number_status::merge(pn, status, &[held], &[types::ASSIGNED], now);
        return Ok(Some(every));
    }
    let condition = match step {
        Step::InSync | Step::WaitActive { .. } => assign::settled(&step, desired.as_deref()),
        Step::Unassign { from } => unassign(ctx, pn, account, (&from, &id), status, now).await?,
        Step::Assign { to, .. }
            if assign::backing_off(
                account.assignment_unverified_since(&pn.spec.number, &to),
                now,
            ) =>
        {
            // Keep the condition as it is; the back-off ends the wait.
            conditions::find(&status.conditions, types::ASSIGNED).map(|c| {
                Desired::new(
                    types::ASSIGNED,
                    false,
                    reasons::ASSIGNMENT_UNVERIFIED,
                    c.message.clone(),
                )
            })
        }
        Step::Assign { to, from } => {
            // In sync before, and moved since: someone changed it outside the operator.
            let drifted = pn
                .status
                .as_ref()
                .is_some_and(|s| s.assigned_assistant_id == desired && desired.is_some());
            Some(assign_to(ctx, pn, account, (&id, &to, from), drifted, status).await?)
        }
    };
    let wake = condition
        .as_ref()
        .filter(|c| campaign::is_hold_reason(c.reason))
        .map(|_| every);
    let desired: Vec<Desired> = condition.into_iter().collect();
    number_status::merge(pn, status, &desired, &[types::ASSIGNED], now);
    Ok(wake)
}

/// Whether a live campaign holds the number on `from` (taking it off would take the campaign's
/// caller ID away): the condition to show, a Warning when its reason is new. A number held
/// within the sync interval keeps its condition without a call.
async fn move_held(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    (from, to): (&str, Option<&str>),
    (every, now): (Duration, Timestamp),
) -> Option<Desired> {
    let number = &pn.spec.number;
    let previous = pn
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, types::ASSIGNED))
        .filter(|c| campaign::is_hold_reason(&c.reason));
    if let Some(c) = previous
        && account.campaign_wait(number, every, now).is_some()
    {
        let reason = if c.reason == reasons::IN_USE_BY_CAMPAIGN {
            reasons::IN_USE_BY_CAMPAIGN
        } else {
            reasons::CAMPAIGN_CHECK_FAILED
        };
        return Some(Desired::new(
            types::ASSIGNED,
            false,
            reason,
            c.message.clone(),
        ));
    }
    let hold = match account.campaign_using(number, Some(from)).await {
        Ok(None) => {
            account.campaign_cleared(number);
            return None;
        }
        Ok(Some(c)) => Hold::InUse(c.describe()),
        Err(e) => Hold::Unreadable(e.to_string()),
    };
    Some(hold_move(ctx, pn, account, (from, to), &hold, now).await)
}

/// `Assigned=False` for a move a campaign holds back, with a Warning when the reason is new.
async fn hold_move(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    (from, to): (&str, Option<&str>),
    hold: &Hold,
    now: Timestamp,
) -> Desired {
    let condition = campaign::move_held(&pn.spec.number, from, to, hold);
    if previous_reason(pn).as_deref() != Some(condition.reason) {
        let note = Note::warning(condition.reason, action::ASSIGN, condition.message.clone());
        ctx.publish(pn, note).await;
    }
    account.campaign_held(&pn.spec.number, now);
    condition
}

/// Takes the number off `from`; Talkturo's `409` (a campaign dials from it) holds it there.
async fn unassign(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    (from, id): (&str, &str),
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Result<Option<Desired>, Error> {
    match io::talkturo::unassign(account, from, id).await {
        Ok(()) => {}
        Err(e) if e.status() == Some(409) => {
            let hold = Hold::Refused(e.to_string());
            return Ok(Some(
                hold_move(ctx, pn, account, (from, None), &hold, now).await,
            ));
        }
        Err(e) => return Err(Error::talkturo("unassigning the number")(e)),
    }
    account.write_through(&pn.spec.number, |r| {
        r.assistant_id = None;
        r.assistant_name = None;
    });
    status.assigned_assistant_id = None;
    status.assigned_assistant_name = None;
    let message = format!("{} unassigned from assistant {from}", pn.spec.number);
    ctx.publish(
        pn,
        Note::normal(reason::UNASSIGNED, action::ASSIGN, message),
    )
    .await;
    Ok(None)
}

/// Moves the number to `to` (off `from` first) and verifies it by reading back.
async fn assign_to(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    (id, to, from): (&str, &str, Option<String>),
    drifted: bool,
    status: &mut PhoneNumberStatus,
) -> Result<Desired, Error> {
    let number = &pn.spec.number;
    if drifted {
        ctx.metrics.drift_corrected(&pn.spec.class_name);
    }
    if let Some(other) = from.as_deref() {
        if drifted {
            let message = format!(
                "{number} was moved to assistant {other} outside the operator; moving it back to {to}"
            );
            ctx.publish(
                pn,
                Note::warning(reason::ASSIGNMENT_DRIFT, action::ASSIGN, message),
            )
            .await;
        }
        match io::talkturo::unassign(account, other, id).await {
            Ok(()) => {}
            Err(e) if e.status() == Some(409) => {
                let hold = Hold::Refused(e.to_string());
                let now = Timestamp::now();
                return Ok(hold_move(ctx, pn, account, (other, Some(to)), &hold, now).await);
            }
            Err(e) => return refused(ctx, pn, to, e).await,
        }
    }
    let shown = match io::talkturo::assign(account, to, id)
        .await
        .map_err(Error::talkturo("reading the assistant's numbers back"))?
    {
        Ok(shown) => shown,
        Err(e) => return refused(ctx, pn, to, e).await,
    };
    let Some(record) = shown else {
        let condition = assign::unverified(number, to);
        account.assignment_unverified(number, to, Timestamp::now());
        let already = previous_reason(pn).as_deref() == Some(reasons::ASSIGNMENT_UNVERIFIED);
        if !already {
            let note = Note::warning(condition.reason, action::ASSIGN, condition.message.clone());
            ctx.publish(pn, note).await;
        }
        return Ok(condition);
    };
    let name = record.assistant_name.clone();
    account.assignment_verified(number);
    account.write_through(number, |r| {
        r.assistant_id = Some(to.to_owned());
        r.assistant_name = name.clone();
    });
    status.assigned_assistant_id = Some(to.to_owned());
    status.assigned_assistant_name = name;
    let message = format!("{number} assigned to assistant {to}");
    ctx.publish(pn, Note::normal(reason::ASSIGNED, action::ASSIGN, message))
        .await;
    Ok(assign::verified(to))
}

fn previous_reason(pn: &PhoneNumber) -> Option<String> {
    pn.status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, types::ASSIGNED))
        .map(|c| c.reason.clone())
}

/// A refused assignment becomes a condition (and a Warning when its reason is new); a transient
/// failure is the reconcile's error, retried.
async fn refused(
    ctx: &Context,
    pn: &PhoneNumber,
    to: &str,
    e: talkturo::Error,
) -> Result<Desired, Error> {
    if e.outcome() != Outcome::Definite {
        return Err(Error::talkturo("assigning the number")(e));
    }
    let condition = assign::refused(&pn.spec.number, to, e.status(), &e.to_string());
    if previous_reason(pn).as_deref() != Some(condition.reason) {
        let note = Note::warning(condition.reason, action::ASSIGN, condition.message.clone());
        ctx.publish(pn, note).await;
    }
    Ok(condition)
}
