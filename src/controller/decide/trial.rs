//! Trial numbers: the `TrialExpiring` condition turns True at exactly
//! `trialExpiresAt - warnBefore`, the number is looked at again at exactly `trialExpiresAt`, and
//! then the class's `onExpiry` runs: `Notify` only reports, `Release` releases the trial number,
//! `Replace` buys a paid replacement through the same purchase protocol *before* expiry and moves
//! the assistant and the claim's binding to it ([`replacement`]). Nothing polls: the requeue is
//! the next of those two instants.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use kube::ResourceExt;

use super::conditions::{self, Desired};
use super::events::{Note, action, reason};
use super::pending::Pending;
use super::requeue;
use super::time::parse_duration;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{
    ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClaim, PhoneNumberClass,
    PhoneNumberStatus, PurchaseProgress, ReclaimPolicy, TrialExpiryAction,
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
    parse_duration(&class.spec.trial.warn_before, requeue::DEFAULT_WARN_BEFORE)
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
    Some(at.duration_since(now).unsigned_abs() + requeue::PAST_THE_INSTANT)
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

/// The next step of `onExpiry: Replace` for a claim bound to a trial number: in the warning
/// window, buy a paid replacement through the same protocol (intent recorded in
/// `status.purchase.candidate`, then the PhoneNumber, which its controller buys); once it is
/// active, assign the claim's assistant to it, then let go of the trial number and bind the claim
/// to the replacement. Falls back to `Notify` with a reason when it cannot be done.
#[derive(Debug, PartialEq)]
pub enum ReplaceStep {
    /// Nothing to do (not a trial, not in the window, or not `Replace`).
    None,
    /// Carry on with the bound status, reporting this `TrialExpiring` condition and, when given,
    /// this provisioning progress.
    Report {
        condition: Desired,
        progress: Option<PurchaseProgress>,
    },
    /// Choose and record a replacement, exactly as a new claim would.
    Start,
    /// Intent recorded, PhoneNumber not created yet (a crash between the two writes): create it.
    Create { number: String },
    /// The replacement was taken by someone else or refused: forget it (recording `progress`),
    /// deleting its PhoneNumber when it is ours; `blocked` says why no paid number can be bought.
    Drop {
        progress: PurchaseProgress,
        delete: Option<String>,
        blocked: Option<String>,
    },
    /// The assistant answers on the replacement before it leaves the trial number.
    Assign { assistant: String },
    /// Let go of the trial number (unbound and unassigned; deleted, so released, under
    /// `reclaimPolicy: Release` when `release`) and bind the claim to the replacement.
    Switch { release: bool },
}

/// What the replacement step looks at.
#[derive(Clone, Copy, Debug)]
pub struct Replacing<'a> {
    pub claim: &'a PhoneNumberClaim,
    /// The trial number and its class.
    pub pn: &'a PhoneNumber,
    pub class: &'a PhoneNumberClass,
    /// The recorded replacement's PhoneNumber, when the cache has it.
    pub next: Option<&'a PhoneNumber>,
    /// The assistant the replacement may be given (the claim's, if its namespace may name it).
    pub assistant: Option<&'a str>,
    pub now: Timestamp,
}

fn expiry(st: &PhoneNumberStatus) -> String {
    st.trial_expires_at
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default()
}

fn report(
    reason: &'static str,
    message: String,
    progress: Option<PurchaseProgress>,
) -> ReplaceStep {
    ReplaceStep::Report {
        condition: Desired::new(types::TRIAL_EXPIRING, true, reason, message),
        progress,
    }
}

/// The replacement the claim recorded: a candidate other than the trial number itself.
pub fn recorded_replacement(claim: &PhoneNumberClaim, pn: &PhoneNumber) -> Option<String> {
    super::claim::progress_of(claim)
        .candidate
        .filter(|c| *c != pn.spec.number)
}

/// The next step of the replacement.
pub fn replacement(r: &Replacing) -> ReplaceStep {
    let st = r.pn.status.clone().unwrap_or_default();
    let due = st.id.is_some()
        && r.class.spec.trial.on_expiry == TrialExpiryAction::Replace
        && matches!(
            stage(&st, warn_before(r.class), r.now),
            Some(Stage::Expiring { .. } | Stage::Expired)
        );
    if !due {
        return ReplaceStep::None;
    }
    let number = &r.pn.spec.number;
    let progress = super::claim::progress_of(r.claim);
    if let Some(why) = &progress.replacement_blocked {
        let message = format!("trial number {number} expires at {}; {why}", expiry(&st));
        return report(reasons::NO_SUBSCRIPTION, message, None);
    }
    if r.claim.spec.number.is_some() || r.claim.spec.phone_number_name.is_some() {
        let message = format!(
            "trial number {number} expires at {}; the claim asks for this exact number, so onExpiry Replace falls back to Notify",
            expiry(&st)
        );
        return report(reasons::REPLACEMENT_NOT_POSSIBLE, message, None);
    }
    let Some(candidate) = recorded_replacement(r.claim, r.pn) else {
        return ReplaceStep::Start;
    };
    let Some(next) = r.next else {
        return ReplaceStep::Create { number: candidate };
    };
    let ours = next.spec.claim_ref.as_ref().is_some_and(|c| {
        c.name == r.claim.name_any() && Some(&c.namespace) == r.claim.namespace().as_ref()
    });
    let next_st = next.status.clone().unwrap_or_default();
    if !ours || (next_st.phase == Some(NumberPhase::Failed) && next_st.id.is_none()) {
        return dropped(progress, next, &candidate, ours, r.now);
    }
    if next_st.id.is_none() || next_st.provider_status.as_deref() != Some("active") {
        let message = format!("buying {candidate} to replace trial number {number}");
        return report(reasons::REPLACING, message, None);
    }
    if let Some(assistant) = r.assistant {
        if next.spec.assistant_id.as_deref() != Some(assistant) {
            return ReplaceStep::Assign {
                assistant: assistant.to_owned(),
            };
        }
        if !conditions::is_true(&next_st.conditions, types::ASSIGNED) {
            let message = format!("assigning replacement {candidate} to assistant {assistant}");
            return report(reasons::REPLACING, message, None);
        }
    }
    ReplaceStep::Switch {
        release: r.pn.spec.reclaim_policy == ReclaimPolicy::Release
            && r.pn.spec.management_policy == ManagementPolicy::Managed,
    }
}

/// A replacement taken by someone else, or refused: forgotten. A plan limit means the account
/// has no paid subscription: the replacement is blocked (falling back to Notify).
fn dropped(
    mut progress: PurchaseProgress,
    next: &PhoneNumber,
    candidate: &str,
    ours: bool,
    now: Timestamp,
) -> ReplaceStep {
    let failure = next
        .status
        .as_ref()
        .and_then(|s| s.purchase.clone())
        .unwrap_or_default();
    let limit = failure.failure_reason.as_deref() == Some(reasons::PLAN_LIMIT_REACHED);
    progress.candidate = None;
    progress.started_at = None;
    let message = failure
        .failure_message
        .unwrap_or_else(|| format!("{candidate} is bound to another claim"));
    let mut blocked = None;
    if limit {
        progress.replacement_blocked = Some(format!(
            "Talkturo refused the paid replacement ({message}); the account needs a paid subscription. onExpiry Replace falls back to Notify"
        ));
        blocked = Some(message);
    } else {
        progress.attempts += 1;
        progress.last_failure_time = Some(super::time::now_time(now));
        progress.last_failure_reason = Some(message);
    }
    ReplaceStep::Drop {
        progress,
        delete: ours.then(|| next.name_any()),
        blocked,
    }
}

/// What a replacement that could not be started reports: a plan limit blocks it for good
/// (with the Warning's reason); anything else is reported while it waits.
pub fn not_started(
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    p: &Pending,
) -> (ReplaceStep, Option<String>) {
    let number = &pn.spec.number;
    if p.reason == reasons::PLAN_LIMIT_REACHED {
        let mut progress = super::claim::progress_of(claim);
        progress.replacement_blocked = Some(format!(
            "no paid replacement can be bought ({}); onExpiry Replace falls back to Notify",
            p.message
        ));
        return (
            report(reasons::NO_SUBSCRIPTION, p.message.clone(), Some(progress)),
            Some(p.message.clone()),
        );
    }
    let message = format!(
        "cannot buy a replacement for trial number {number} yet: {}",
        p.message
    );
    (report(reasons::REPLACING, message, None), None)
}

/// The Warning when no paid replacement can be bought.
pub fn blocked_note(number: &str, why: &str) -> Note {
    Note::warning(
        reasons::NO_SUBSCRIPTION,
        action::TRIAL,
        format!(
            "cannot replace trial number {number} with a paid one ({why}); onExpiry Replace falls back to Notify"
        ),
    )
}

/// The Event when a replacement is being bought.
pub fn started_note(pn: &PhoneNumber) -> Note {
    let st = pn.status.clone().unwrap_or_default();
    Note::normal(
        reasons::REPLACING,
        action::TRIAL,
        format!(
            "trial number {} expires at {}: buying a paid replacement",
            pn.spec.number,
            expiry(&st)
        ),
    )
}

/// The Event when the replacement took over.
pub fn replaced_note(number: &str, candidate: &str, release: bool) -> Note {
    let kept = if release {
        "released (reclaimPolicy Release)"
    } else {
        "kept, unbound (reclaimPolicy Retain)"
    };
    Note::normal(
        reasons::REPLACED,
        action::TRIAL,
        format!(
            "trial number {number} replaced by paid number {candidate}; the trial number is {kept}"
        ),
    )
}

/// `TrialExpiring` while a replacement waits for the workloads reading the claim's ConfigMap
/// (written with the replacement already) to roll it out.
pub fn awaiting_rollout(number: &str, candidate: &str, rolling: &[String]) -> Desired {
    Desired::new(
        types::TRIAL_EXPIRING,
        true,
        reasons::REPLACING,
        format!(
            "{candidate} replaces trial number {number}; the ConfigMap holds it, and {number} is let go once {} rolled it out",
            rolling.join(", ")
        ),
    )
}

/// The Warning when the workloads did not roll out within the timeout: the trial number goes
/// anyway (pods still running with it dial from a number no longer ours).
pub fn rollout_timeout_note(number: &str, rolling: &[String], timeout: Duration) -> Note {
    Note::warning(
        reason::ROLLOUT_TIMEOUT,
        action::TRIAL,
        format!(
            "{} did not roll out the replacement within {} s (--rollout-timeout-secs); trial number {number} is let go anyway, and pods still running with it dial from a number no longer this team's",
            rolling.join(", "),
            timeout.as_secs()
        ),
    )
}

/// The Warning when a trial number's `TrialExpiring` turns True (the window opens, it expires).
pub fn expiring_note(d: &Desired) -> Note {
    Note::warning(d.reason, action::TRIAL, d.message.clone())
}

#[cfg(test)]
mod tests;
