//! Trial numbers (DESIGN §3): the `TrialExpiring` condition turns True at exactly
//! `trialExpiresAt - warnBefore` (with a Warning Event), the number is looked at again at exactly
//! `trialExpiresAt`, and then the class's `onExpiry` runs: `Notify` only reports, `Release`
//! releases the trial number, `Replace` buys a paid replacement through the same purchase
//! protocol *before* expiry and moves the assistant and the claim's binding to it (see
//! [`replace`]). Nothing polls: the requeue is the next of those two instants.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;

use super::claim::{
    Provision, choose_and_record, create_number, desired_bound, progress_of, write_status,
};
use super::conditions::{self, Desired};
use super::reclaim::delete_number;
use super::{Context, Error, now_time, parse_duration};
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{
    ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClaim, PhoneNumberClass,
    PhoneNumberStatus, PurchaseProgress, ReclaimPolicy, TrialExpiryAction, phone_number_name,
};

/// Where a trial number stands against its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Before the warning window, which opens at `warn_at`.
    Early { warn_at: Timestamp },
    /// In the window: expires at `expires_at`.
    Expiring { expires_at: Timestamp },
    /// Past `trialExpiresAt`.
    Expired,
}

/// The class's warning lead time.
pub fn warn_before(class: &PhoneNumberClass) -> Duration {
    parse_duration(
        &class.spec.trial.warn_before,
        Duration::from_secs(24 * 3600),
    )
}

/// The trial stage of a number, or `None` for a paid one. Pure.
pub fn stage(status: &PhoneNumberStatus, warn_before: Duration, now: Timestamp) -> Option<Stage> {
    if status.is_trial != Some(true) {
        return None;
    }
    let expires_at = status.trial_expires_at.as_ref()?.0;
    let lead = SignedDuration::try_from(warn_before).unwrap_or(SignedDuration::MAX);
    let warn_at = expires_at.saturating_sub(lead).unwrap_or(Timestamp::MIN);
    Some(if now >= expires_at {
        Stage::Expired
    } else if now >= warn_at {
        Stage::Expiring { expires_at }
    } else {
        Stage::Early { warn_at }
    })
}

/// How long until the next instant the stage changes (exactly), if it will. Pure.
pub fn wake(stage: Stage, now: Timestamp) -> Option<Duration> {
    let at = match stage {
        Stage::Early { warn_at } => warn_at,
        Stage::Expiring { expires_at } => expires_at,
        Stage::Expired => return None,
    };
    // A whisker past the instant, so the reconcile it wakes sees the new stage.
    Some(at.duration_since(now).unsigned_abs() + Duration::from_millis(50))
}

/// The `TrialExpiring` condition for a stage. Pure.
pub fn condition(
    number: &str,
    stage: Stage,
    expires: &str,
    on_expiry: TrialExpiryAction,
) -> Desired {
    let then = match on_expiry {
        TrialExpiryAction::Notify => "it will then stop working (onExpiry Notify: nothing is done)",
        TrialExpiryAction::Release => "it will then be released (onExpiry Release)",
        TrialExpiryAction::Replace => {
            "a paid replacement is bought before then and takes over (onExpiry Replace)"
        }
    };
    match stage {
        Stage::Early { .. } => Desired::new(
            types::TRIAL_EXPIRING,
            false,
            reasons::TRIAL_ACTIVE,
            format!("trial number {number} expires at {expires}"),
        ),
        Stage::Expiring { .. } => Desired::new(
            types::TRIAL_EXPIRING,
            true,
            reasons::TRIAL_EXPIRING,
            format!("trial number {number} expires at {expires}; {then}"),
        ),
        Stage::Expired => Desired::new(
            types::TRIAL_EXPIRING,
            true,
            reasons::TRIAL_EXPIRED,
            format!("trial number {number} expired at {expires}"),
        ),
    }
}

/// What a bound claim does about its trial number under `onExpiry: Replace`.
pub(super) enum Replacement {
    /// Nothing to do (not a trial, not in the window, or not `Replace`).
    None,
    /// Carry on with the bound status, reporting this `TrialExpiring` condition and, when given,
    /// this provisioning progress.
    Report {
        condition: Desired,
        progress: Option<PurchaseProgress>,
    },
    /// A write was made; the watches bring the next step.
    Done(Action),
}

/// `onExpiry: Replace` for a claim bound to `pn` (DESIGN §3): in the warning window, buy a paid
/// replacement through the same protocol (intent recorded in `status.purchase.candidate`, then
/// the PhoneNumber, which its controller buys); once it is active, assign the claim's assistant
/// to it, then let go of the trial number (unbound and unassigned; deleted, so released at
/// Talkturo, under `reclaimPolicy: Release`) and bind the claim to the replacement. Falls back to
/// `Notify` with a reason when it cannot be done.
pub(super) async fn replace(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    ns: &str,
    now: Timestamp,
) -> Result<Replacement, Error> {
    let Some(class) = ctx.classes.get(&ObjectRef::new(&pn.spec.class_name)) else {
        return Ok(Replacement::None);
    };
    let st = pn.status.clone().unwrap_or_default();
    let due = st.id.is_some()
        && class.spec.trial.on_expiry == TrialExpiryAction::Replace
        && matches!(
            stage(&st, warn_before(&class), now),
            Some(Stage::Expiring { .. } | Stage::Expired)
        );
    if !due {
        return Ok(Replacement::None);
    }
    let number = &pn.spec.number;
    let mut progress = progress_of(claim);
    let report = |reason, message: String, progress| Replacement::Report {
        condition: Desired::new(types::TRIAL_EXPIRING, true, reason, message),
        progress,
    };
    if let Some(why) = &progress.replacement_blocked {
        return Ok(report(
            reasons::NO_SUBSCRIPTION,
            format!("trial number {number} expires at {}; {why}", expiry(&st)),
            None,
        ));
    }
    if claim.spec.number.is_some() || claim.spec.phone_number_name.is_some() {
        return Ok(report(
            reasons::REPLACEMENT_NOT_POSSIBLE,
            format!(
                "trial number {number} expires at {}; the claim asks for this exact number, so \
                 onExpiry Replace falls back to Notify",
                expiry(&st)
            ),
            None,
        ));
    }
    let candidate = progress.candidate.clone().filter(|c| c != number);
    let Some(candidate) = candidate else {
        // Start: choose and record the replacement exactly as a new claim would.
        let outcome = choose_and_record(ctx, claim, ns, &class, now, |pick, p| {
            let mut status = desired_bound(claim, pn, now);
            status.purchase = Some(p);
            status.conditions = conditions::merge(
                &status.conditions,
                &[Desired::new(
                    types::TRIAL_EXPIRING,
                    true,
                    reasons::REPLACING,
                    format!(
                        "buying {} to replace trial number {number}",
                        pick.phone_number
                    ),
                )],
                &[],
                claim.metadata.generation,
                &now_time(now),
            );
            status
        })
        .await?;
        return Ok(match outcome {
            Provision::Progress => {
                ctx.event(
                    claim,
                    EventType::Normal,
                    reasons::REPLACING,
                    "Trial",
                    format!(
                        "trial number {number} expires at {}: buying a paid replacement",
                        expiry(&st)
                    ),
                )
                .await;
                Replacement::Done(Action::requeue(Duration::from_secs(30)))
            }
            Provision::Wait(after) => Replacement::Done(Action::requeue(after)),
            Provision::Pending(p) if p.reason == reasons::PLAN_LIMIT_REACHED => {
                progress.replacement_blocked = Some(format!(
                    "no paid replacement can be bought ({}); onExpiry Replace falls back to Notify",
                    p.message
                ));
                blocked_event(ctx, claim, number, &p.message).await;
                report(reasons::NO_SUBSCRIPTION, p.message, Some(progress))
            }
            Provision::Pending(p) => report(
                reasons::REPLACING,
                format!(
                    "cannot buy a replacement for trial number {number} yet: {}",
                    p.message
                ),
                None,
            ),
        });
    };
    let Some(next) = ctx
        .numbers
        .get(&ObjectRef::new(&phone_number_name(&candidate)))
    else {
        // Intent recorded, PhoneNumber not created yet (a crash between the two writes).
        create_number(ctx, claim, ns, &class, &candidate, None).await?;
        return Ok(Replacement::Done(Action::requeue(Duration::from_secs(30))));
    };
    let ours = next.spec.claim_ref.as_ref().is_some_and(|r| {
        r.name == claim.name_any() && Some(&r.namespace) == claim.namespace().as_ref()
    });
    let next_st = next.status.clone().unwrap_or_default();
    if !ours || (next_st.phase == Some(NumberPhase::Failed) && next_st.id.is_none()) {
        // Taken by someone else, or refused: drop it. A plan limit means no paid subscription.
        let failure = next_st.purchase.clone().unwrap_or_default();
        let limit = failure.failure_reason.as_deref() == Some(reasons::PLAN_LIMIT_REACHED);
        progress.candidate = None;
        progress.started_at = None;
        let message = failure
            .failure_message
            .unwrap_or_else(|| format!("{candidate} is bound to another claim"));
        if limit {
            progress.replacement_blocked = Some(format!(
                "Talkturo refused the paid replacement ({message}); the account needs a paid \
                 subscription. onExpiry Replace falls back to Notify"
            ));
            blocked_event(ctx, claim, number, &message).await;
        } else {
            progress.attempts += 1;
            progress.last_failure_time = Some(now_time(now));
            progress.last_failure_reason = Some(message);
        }
        let mut status = desired_bound(claim, pn, now);
        status.purchase = Some(progress);
        write_status(ctx, claim, status, claim.resource_version()).await?;
        if ours {
            delete_number(ctx, &next.name_any(), "deleting a refused replacement").await?;
        }
        return Ok(Replacement::Done(Action::requeue(Duration::from_secs(1))));
    }
    let active = next_st.id.is_some() && next_st.provider_status.as_deref() == Some("active");
    if !active {
        return Ok(report(
            reasons::REPLACING,
            format!("buying {candidate} to replace trial number {number}"),
            None,
        ));
    }
    // 1. The assistant answers on the replacement before it leaves the trial number.
    let allowed = super::claim::allowed_assistant(ctx, claim, &next.spec.class_name);
    if let Some(assistant) = allowed.as_deref() {
        if next.spec.assistant_id.as_deref() != Some(assistant) {
            let patch = json!({"spec": {"assistantId": assistant}});
            ctx.patch_number(&next, &patch, "assigning the replacement")
                .await?;
            return Ok(Replacement::Done(Action::requeue(Duration::from_secs(30))));
        }
        if !conditions::is_true(&next_st.conditions, types::ASSIGNED) {
            return Ok(report(
                reasons::REPLACING,
                format!("assigning replacement {candidate} to assistant {assistant}"),
                None,
            ));
        }
    }
    // 2. Let go of the trial number: unbound and unassigned (kept, reclaimPolicy Retain), or
    //    deleted, which releases it at Talkturo (reclaimPolicy Release). If this process stops
    //    here, the claim finds its replacement by claimRef on the next reconcile.
    let release = pn.spec.reclaim_policy == ReclaimPolicy::Release
        && pn.spec.management_policy == ManagementPolicy::Managed;
    let patch = json!({"spec": {"claimRef": null, "assistantId": null}});
    ctx.patch_number(pn, &patch, "unbinding the trial number")
        .await?;
    if release {
        delete_number(ctx, &pn.name_any(), "deleting the replaced trial number").await?;
    }
    // 3. The claim's binding moves to the replacement.
    let mut status = desired_bound(claim, &next, now);
    if let Some(p) = status.purchase.as_mut() {
        p.candidate = None;
        p.started_at = None;
    }
    write_status(ctx, claim, status, None).await?;
    let kept = if release {
        "released (reclaimPolicy Release)"
    } else {
        "kept, unbound (reclaimPolicy Retain)"
    };
    ctx.event(
        claim,
        EventType::Normal,
        reasons::REPLACED,
        "Trial",
        format!(
            "trial number {number} replaced by paid number {candidate}; the trial number is {kept}"
        ),
    )
    .await;
    Ok(Replacement::Done(Action::requeue(Duration::from_secs(1))))
}

fn expiry(st: &PhoneNumberStatus) -> String {
    st.trial_expires_at
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default()
}

async fn blocked_event(ctx: &Context, claim: &PhoneNumberClaim, number: &str, why: &str) {
    ctx.event(
        claim,
        EventType::Warning,
        reasons::NO_SUBSCRIPTION,
        "Trial",
        format!(
            "cannot replace trial number {number} with a paid one ({why}); onExpiry Replace falls \
             back to Notify"
        ),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn trial(expires: &str) -> PhoneNumberStatus {
        PhoneNumberStatus {
            is_trial: Some(true),
            trial_expires_at: Some(Time(ts(expires))),
            ..Default::default()
        }
    }

    #[test]
    fn paid_numbers_have_no_stage() {
        let st = PhoneNumberStatus {
            is_trial: Some(false),
            ..Default::default()
        };
        assert_eq!(
            stage(&st, Duration::from_secs(60), ts("2026-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn the_window_opens_exactly_warn_before_the_expiry() {
        let st = trial("2026-01-02T00:00:00Z");
        let day = Duration::from_secs(24 * 3600);
        let before = stage(&st, day, ts("2025-12-31T23:59:59Z"));
        assert_eq!(
            before,
            Some(Stage::Early {
                warn_at: ts("2026-01-01T00:00:00Z")
            })
        );
        assert_eq!(
            wake(before.unwrap(), ts("2025-12-31T23:59:59Z")),
            Some(Duration::from_millis(1050))
        );
        let at = stage(&st, day, ts("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(
            at,
            Stage::Expiring {
                expires_at: ts("2026-01-02T00:00:00Z")
            }
        );
        assert_eq!(
            wake(at, ts("2026-01-01T00:00:00Z")),
            Some(day + Duration::from_millis(50))
        );
        assert_eq!(
            stage(&st, day, ts("2026-01-02T00:00:00Z")),
            Some(Stage::Expired)
        );
        assert_eq!(wake(Stage::Expired, ts("2026-01-02T00:00:00Z")), None);
    }

    #[test]
    fn the_early_wake_is_the_window_start() {
        let st = trial("2026-01-02T00:00:00Z");
        let s = stage(&st, Duration::from_secs(3600), ts("2026-01-01T12:00:00Z")).unwrap();
        assert_eq!(
            wake(s, ts("2026-01-01T12:00:00Z")),
            Some(Duration::from_secs(11 * 3600) + Duration::from_millis(50))
        );
    }
}
