//! Assigning a PhoneNumber to its assistant (DESIGN §1.2, `assistantId`): one number has at
//! most one assistant. The desired assistant is the PhoneNumber's `spec.assistantId` (copied from
//! its claim), or none once the claim is gone; the observed one comes from the account list.
//! A move unassigns first (the API refuses to take a number from another assistant); an
//! assignment changed outside the operator is corrected back, with a Warning Event.
//!
//! Exactly one number moves: the assistant GET lists every active number that is unassigned
//! *or* on that assistant (contract §2.6), so the set sent back with the replace-the-set PATCH
//! is the records whose `assistant_id` is that assistant, minus (or plus) ours, never the whole
//! answer. An assignment counts only once the read-back shows our number carrying that
//! assistant's id; one that keeps not showing is `Assigned=False AssignmentUnverified` and is
//! tried again only after [`UNVERIFIED_RETRY`].

use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::events::EventType;

use super::account::Account;
use super::conditions::{self, Desired};
use super::number::ClaimLink;
use super::{Context, Error, now_time};
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{ManagementPolicy, PhoneNumber, PhoneNumberStatus};
use crate::talkturo::{self, NumberRecord, Outcome};

/// How long after an assignment Talkturo accepted but did not show the operator tries again.
pub const UNVERIFIED_RETRY: Duration = Duration::from_secs(600);

/// The ids an assistant holds, from its GET: the records carrying its id, not the unassigned
/// ones the same answer lists. Pure.
pub fn held_by(records: &[NumberRecord], assistant: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.assistant_id.as_deref() == Some(assistant))
        .map(|r| r.id.clone())
        .collect()
}

/// Whether an assignment whose read-back did not show it at `since` is still waiting out its
/// back-off at `now`. Pure.
pub fn backing_off(since: Option<Timestamp>, now: Timestamp) -> bool {
    since.is_some_and(|s| now.duration_since(s).unsigned_abs() < UNVERIFIED_RETRY)
}

/// What the assignment needs next. Pure.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do; the assignment is as desired.
    InSync,
    /// Take the number away from `from`.
    Unassign { from: String },
    /// Give the number to `to`, taking it from `from` first.
    Assign { to: String, from: Option<String> },
    /// The number is not active yet: it cannot be assigned.
    WaitActive { to: String },
}

pub fn step(desired: Option<&str>, observed: Option<&str>, active: bool) -> Step {
    match (desired, observed) {
        (d, o) if d == o => Step::InSync,
        (None, Some(o)) => Step::Unassign { from: o.to_owned() },
        (Some(d), _) if !active => Step::WaitActive { to: d.to_owned() },
        (Some(d), o) => Step::Assign {
            to: d.to_owned(),
            from: o.map(str::to_owned),
        },
        (None, None) => Step::InSync,
    }
}

/// The assistant a PhoneNumber should have: its spec's, unless its claim is gone.
pub fn desired(pn: &PhoneNumber, link: ClaimLink) -> Option<&str> {
    match link {
        ClaimLink::Missing => None,
        _ => pn.spec.assistant_id.as_deref(),
    }
}

/// Brings the number's assignment to the desired one and records it in `status`.
pub async fn reconcile(
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
    if pn.spec.management_policy == ManagementPolicy::ObserveOnly || !super::number::trusted(status)
    {
        return Ok(());
    }
    let desired = desired(pn, link).map(str::to_owned);
    let observed = status.assigned_assistant_id.clone();
    let active = status.provider_status.as_deref() == Some("active");
    let previously_in_sync = pn
        .status
        .as_ref()
        .is_some_and(|s| s.assigned_assistant_id == desired && desired.is_some());
    let step = step(desired.as_deref(), observed.as_deref(), active);
    tracing::debug!(
        number = pn.spec.number,
        ?desired,
        ?observed,
        cached = ?pn.status.as_ref().and_then(|s| s.assigned_assistant_id.as_ref()),
        resource_version = ?pn.metadata.resource_version,
        ?step,
        "assignment"
    );
    let condition = match step {
        Step::InSync => desired.as_ref().map(|a| {
            Desired::new(
                types::ASSIGNED,
                true,
                reasons::ASSIGNED,
                format!("assigned to assistant {a}"),
            )
        }),
        Step::WaitActive { to } => Some(Desired::new(
            types::ASSIGNED,
            false,
            reasons::NUMBER_NOT_ACTIVE,
            format!("waiting for the number to be active before assigning it to {to}"),
        )),
        Step::Unassign { from } => {
            remove(account, &from, &id)
                .await
                .map_err(|e| Error::Talkturo(e.into()))?;
            account.write_through(&pn.spec.number, |r| {
                r.assistant_id = None;
                r.assistant_name = None;
            });
            status.assigned_assistant_id = None;
            status.assigned_assistant_name = None;
            ctx.event(
                pn,
                EventType::Normal,
                "Unassigned",
                "Assign",
                format!("{} unassigned from assistant {from}", pn.spec.number),
            )
            .await;
            None
        }
        Step::Assign { to, .. }
            if backing_off(
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
            Some(assign(ctx, pn, account, &id, &to, from, previously_in_sync, status).await?)
        }
    };
    let desired_conditions: Vec<Desired> = condition.into_iter().collect();
    status.conditions = conditions::merge(
        &status.conditions,
        &desired_conditions,
        &[types::ASSIGNED],
        pn.metadata.generation,
        &now_time(now),
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn assign(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    id: &str,
    to: &str,
    from: Option<String>,
    drifted: bool,
    status: &mut PhoneNumberStatus,
) -> Result<Desired, Error> {
    let number = &pn.spec.number;
    if drifted {
        ctx.metrics.drift_corrected(&pn.spec.class_name);
    }
    if drifted && let Some(other) = &from {
        ctx.event(pn, EventType::Warning, "AssignmentDrift", "Assign", format!("{number} was moved to assistant {other} outside the operator; moving it back to {to}")).await;
    }
    if let Some(other) = &from {
        match remove(account, other, id).await {
            Ok(()) => {}
            Err(e) => return failure(ctx, pn, to, e).await,
        }
    }
    let _changing = account.changing_assistant(to).await;
    if let Err(e) = account
        .client
        .assign(to, &account.key.account_slug, &[id.to_owned()])
        .await
    {
        return failure(ctx, pn, to, e).await;
    }
    // Verify by reading the assistant's numbers back (the API's semantics are not documented).
    let held = account
        .client
        .assistant_numbers(to)
        .await
        .map_err(|e| Error::Talkturo(e.into()))?;
    let Some(record) = held
        .iter()
        .find(|r| r.id == id && r.assistant_id.as_deref() == Some(to))
    else {
        let message = format!(
            "Talkturo accepted assigning {number} to assistant {to}, but reading the assistant's numbers back does not show it there; trying again in {} minutes",
            UNVERIFIED_RETRY.as_secs() / 60
        );
        let already = pn
            .status
            .as_ref()
            .and_then(|s| conditions::find(&s.conditions, types::ASSIGNED))
            .is_some_and(|c| c.reason == reasons::ASSIGNMENT_UNVERIFIED);
        account.assignment_unverified(number, to, Timestamp::now());
        if !already {
            ctx.event(
                pn,
                EventType::Warning,
                reasons::ASSIGNMENT_UNVERIFIED,
                "Assign",
                message.clone(),
            )
            .await;
        }
        return Ok(Desired::new(
            types::ASSIGNED,
            false,
            reasons::ASSIGNMENT_UNVERIFIED,
            message,
        ));
    };
    let name = record.assistant_name.clone();
    account.assignment_verified(number);
    account.write_through(number, |r| {
        r.assistant_id = Some(to.to_owned());
        r.assistant_name = name.clone();
    });
    status.assigned_assistant_id = Some(to.to_owned());
    status.assigned_assistant_name = name;
    ctx.event(
        pn,
        EventType::Normal,
        "Assigned",
        "Assign",
        format!("{number} assigned to assistant {to}"),
    )
    .await;
    Ok(Desired::new(
        types::ASSIGNED,
        true,
        reasons::ASSIGNED,
        format!("assigned to assistant {to}"),
    ))
}

/// A refused assignment becomes a condition (and an Event); a transient failure is retried.
async fn failure(
    ctx: &Context,
    pn: &PhoneNumber,
    to: &str,
    e: talkturo::Error,
) -> Result<Desired, Error> {
    if e.outcome() != Outcome::Definite {
        return Err(Error::Talkturo(e.into()));
    }
    let (reason, message) = match e.status() {
        Some(404) => (
            reasons::ASSISTANT_NOT_FOUND,
            format!("assistant {to} does not exist in the account: {e}"),
        ),
        Some(400) => (
            reasons::NUMBER_NOT_ACTIVE,
            format!("Talkturo refused to assign {}: {e}", pn.spec.number),
        ),
        _ => (
            reasons::ASSIGNMENT_FAILED,
            format!("assigning {} to {to} failed: {e}", pn.spec.number),
        ),
    };
    let already = pn
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, types::ASSIGNED))
        .is_some_and(|c| c.reason == reason);
    if !already {
        ctx.event(pn, EventType::Warning, reason, "Assign", message.clone())
            .await;
    }
    Ok(Desired::new(types::ASSIGNED, false, reason, message))
}

/// Takes `id` out of `assistant`'s set (the replace-the-set call is the only unassign).
async fn remove(account: &Account, assistant: &str, id: &str) -> Result<(), talkturo::Error> {
    let _changing = account.changing_assistant(assistant).await;
    let held = match account.client.assistant_numbers(assistant).await {
        Ok(h) => h,
        // The other assistant is gone: nothing holds the number there any more.
        Err(e) if e.status() == Some(404) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut keep = held_by(&held, assistant);
    if !keep.iter().any(|h| h == id) {
        // Not there (any more): nothing to take away, and no PATCH that could touch the others.
        return Ok(());
    }
    keep.retain(|h| h != id);
    // The GET lists active numbers only: numbers the account list shows on this assistant in
    // another status (suspended) are its too, and a replace-the-set PATCH without them would
    // take them away.
    if let Some(listed) = account.current() {
        for r in listed.records.values() {
            if r.assistant_id.as_deref() == Some(assistant)
                && r.status != crate::talkturo::NumberStatus::Active
                && !keep.contains(&r.id)
                && r.id != id
            {
                keep.push(r.id.clone());
            }
        }
    }
    account.client.set_assistant_numbers(assistant, &keep).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, number: &str, assistant: Option<&str>) -> NumberRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "phone_number": number, "status": "active", "assistant_id": assistant
        }))
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn an_assistant_holds_only_the_records_carrying_its_id() {
        // The GET lists unassigned active numbers too (contract §2.6): they are not its set.
        let answer = [
            record("pn_1", "+14155550101", Some("asst_a")),
            record("pn_2", "+14155550102", None),
            record("pn_3", "+14155550103", Some("asst_a")),
            record("pn_4", "+14155550104", None),
        ];
        assert_eq!(held_by(&answer, "asst_a"), ["pn_1", "pn_3"]);
        assert!(held_by(&answer, "asst_b").is_empty());
    }

    #[test]
    fn an_unverified_assignment_waits_out_its_back_off() {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap_or_default();
        let later = |secs| at + jiff::SignedDuration::from_secs(secs);
        assert!(!backing_off(None, at));
        assert!(backing_off(Some(at), later(60)));
        assert!(!backing_off(Some(at), later(601)));
    }

    #[test]
    fn the_next_step_follows_desired_observed_and_activity() {
        assert_eq!(step(Some("a"), Some("a"), true), Step::InSync);
        assert_eq!(step(None, None, false), Step::InSync);
        assert_eq!(
            step(Some("a"), None, false),
            Step::WaitActive { to: "a".into() }
        );
        assert_eq!(
            step(Some("a"), None, true),
            Step::Assign {
                to: "a".into(),
                from: None
            }
        );
        assert_eq!(
            step(Some("a"), Some("b"), true),
            Step::Assign {
                to: "a".into(),
                from: Some("b".into())
            }
        );
        assert_eq!(
            step(None, Some("b"), true),
            Step::Unassign { from: "b".into() }
        );
        assert_eq!(
            step(None, Some("b"), false),
            Step::Unassign { from: "b".into() },
            "unassigning needs no active number"
        );
    }
}
