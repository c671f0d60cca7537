//! Brings a number's assignment to the one `decide::assign` wants, and records it in the status
//! this reconcile holds. An assignment counts only once the read-back shows it; one that keeps
//! not showing is `Assigned=False AssignmentUnverified`, tried again only after
//! `requeue::ASSIGNMENT_UNVERIFIED`.

use jiff::Timestamp;

use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{ManagementPolicy, PhoneNumber, PhoneNumberStatus};
use crate::controller::account::Account;
use crate::controller::decide::assign::{self, Step};
use crate::controller::decide::conditions::{self, Desired};
use crate::controller::decide::events::{Note, action, reason};
use crate::controller::decide::number_status::{self, ClaimLink, trusted};
use crate::controller::io;
use crate::controller::{Context, Error};
use crate::talkturo::{self, Outcome};

pub(super) async fn reconcile(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    link: ClaimLink,
    status: &mut PhoneNumberStatus,
    now: Timestamp,
) -> Result<(), Error> {
    let Some(id) = status.id.clone() else {
        return Ok(());
    };
    if pn.spec.management_policy == ManagementPolicy::ObserveOnly || !trusted(status) {
        return Ok(());
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
    let condition = match step {
        Step::InSync | Step::WaitActive { .. } => assign::settled(&step, desired.as_deref()),
        Step::Unassign { from } => {
            unassign(ctx, pn, account, &from, &id, status).await?;
            None
        }
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
    let desired: Vec<Desired> = condition.into_iter().collect();
    number_status::merge(pn, status, &desired, &[types::ASSIGNED], now);
    Ok(())
}

async fn unassign(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    from: &str,
    id: &str,
    status: &mut PhoneNumberStatus,
) -> Result<(), Error> {
    io::talkturo::unassign(account, from, id)
        .await
        .map_err(Error::talkturo("unassigning the number"))?;
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
    Ok(())
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
        if let Err(e) = io::talkturo::unassign(account, other, id).await {
            return refused(ctx, pn, to, e).await;
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
