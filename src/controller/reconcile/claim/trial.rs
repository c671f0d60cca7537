//! `onExpiry: Replace` for a bound claim: carries out the step `decide::trial::replacement`
//! decides (start the purchase of a paid replacement, create its PhoneNumber, drop it, put the
//! assistant on it, or switch the claim over to it).

use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::choose::choose;
use super::provision::{allowed_assistant, new_number, record_intent};
use super::{Act, Then};
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{
    PhoneNumber, PhoneNumberClaim, PhoneNumberClass, PurchaseProgress, phone_number_name,
};
use crate::controller::decide::claim_status::{self, desired_bound};
use crate::controller::decide::conditions::Desired;
use crate::controller::decide::gates::Stop;
use crate::controller::decide::requeue;
use crate::controller::decide::trial::{self as decide, ReplaceStep, Replacing};
use crate::controller::io;
use crate::controller::reconcile::workload;
use crate::controller::{Context, Error};

/// What a bound claim does about its trial number.
pub(super) enum Replacement<'a> {
    /// Nothing to do.
    None,
    /// Carry on with the bound status, reporting this `TrialExpiring` condition and, when given,
    /// this provisioning progress.
    Report {
        condition: Desired,
        progress: Option<Box<PurchaseProgress>>,
    },
    /// This is what the reconcile does.
    Done(Box<Act<'a>>),
}

pub(super) async fn replace<'a>(
    ctx: &'a Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    ns: &str,
    now: Timestamp,
) -> Result<Replacement<'a>, Error> {
    let Some(class) = ctx.classes.get(&ObjectRef::new(&pn.spec.class_name)) else {
        return Ok(Replacement::None);
    };
    let candidate = decide::recorded_replacement(claim, pn);
    let next = match &candidate {
        Some(c) => ctx.number_named(&phone_number_name(c)).await?,
        None => None,
    };
    let assistant = next
        .as_ref()
        .and_then(|n| allowed_assistant(ctx, claim, &n.spec.class_name));
    let step = decide::replacement(&Replacing {
        claim,
        pn,
        class: &class,
        next: next.as_deref(),
        assistant: assistant.as_deref(),
        now,
    });
    Ok(match step {
        ReplaceStep::None => Replacement::None,
        ReplaceStep::Report {
            condition,
            progress,
        } => Replacement::Report {
            condition,
            progress: progress.map(Box::new),
        },
        ReplaceStep::Start => start(ctx, claim, pn, &class, ns, now).await,
        ReplaceStep::Create { number } => {
            let mut act = Act::requeue(requeue::AFTER_WRITE);
            act.then = Then::Create {
                number: Box::new(new_number(ctx, claim, &class, &number, None)),
                ledgers: None,
            };
            Replacement::Done(Box::new(act))
        }
        ReplaceStep::Drop {
            progress,
            delete,
            blocked,
        } => {
            let mut status = desired_bound(claim, pn, now);
            status.purchase = Some(progress);
            let mut act = Act::with(
                Some((status, claim.resource_version())),
                Action::requeue(requeue::NEXT_STEP),
            );
            act.notes
                .extend(blocked.map(|why| decide::blocked_note(&pn.spec.number, &why)));
            if let Some(name) = delete {
                act.then = Then::Delete {
                    name,
                    step: "deleting a refused replacement",
                };
            }
            Replacement::Done(Box::new(act))
        }
        ReplaceStep::Assign { assistant } => {
            if let Some(next) = &next {
                let step = "assigning the replacement";
                io::objects::set_assistant(ctx, next, Some(&assistant), step).await?;
            }
            Replacement::Done(Box::new(Act::requeue(requeue::AFTER_WRITE)))
        }
        ReplaceStep::Switch { release } => match next {
            Some(next) => {
                Replacement::Done(Box::new(switch(ctx, claim, pn, &next, release, now).await?))
            }
            None => Replacement::None,
        },
    })
}

/// Chooses and records the replacement exactly as a new claim would.
async fn start<'a>(
    ctx: &'a Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    class: &PhoneNumberClass,
    ns: &str,
    now: Timestamp,
) -> Replacement<'a> {
    let number = &pn.spec.number;
    match choose(ctx, claim, ns, class, now).await {
        Ok(chosen) => {
            let message = format!(
                "buying {} to replace trial number {number}",
                chosen.pick.phone_number
            );
            let mut act = record_intent(
                ctx,
                claim,
                class,
                chosen,
                |progress| {
                    let mut status = desired_bound(claim, pn, now);
                    status.purchase = Some(progress);
                    let replacing =
                        Desired::new(types::TRIAL_EXPIRING, true, reasons::REPLACING, message);
                    claim_status::merge(claim, &mut status, &[replacing], &[], now);
                    status
                },
                now,
            );
            act.notes.push(decide::started_note(pn));
            Replacement::Done(Box::new(act))
        }
        Err(Stop::Wait(after)) => Replacement::Done(Box::new(Act::requeue(after))),
        Err(Stop::Pending(p)) => match decide::not_started(claim, pn, &p) {
            (
                ReplaceStep::Report {
                    condition,
                    progress,
                },
                blocked,
            ) => {
                if let Some(why) = blocked {
                    ctx.publish(claim, decide::blocked_note(number, &why)).await;
                }
                Replacement::Report {
                    condition,
                    progress: progress.map(Box::new),
                }
            }
            _ => Replacement::None,
        },
    }
}

/// The replacement took over: the claim's ConfigMap is written with it first (pods that read it
/// next never get a number about to be released), then the trial number is let go of (unbound
/// and unassigned; deleted, so released at Talkturo, under `reclaimPolicy: Release`), then the
/// claim's binding moves to the replacement. If this process stops in between, the claim finds
/// its replacement by `claimRef` on the next reconcile.
async fn switch<'a>(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    next: &PhoneNumber,
    release: bool,
    now: Timestamp,
) -> Result<Act<'a>, Error> {
    let (written, config_map) = io::config_map::write(ctx, claim, next).await?;
    let mut notes = Vec::new();
    if let Some((name, _)) = &written {
        let wait = (ctx.config.rollout_timeout, now);
        // Boxed: the claim reconcile's future would otherwise carry the rollout's inline.
        let waiting = Box::pin(workload::pending(ctx, claim, name, wait)).await?;
        if waiting.timed_out {
            let timeout = ctx.config.rollout_timeout;
            notes.push(decide::rollout_timeout_note(
                &pn.spec.number,
                &waiting.rolling,
                timeout,
            ));
        } else if !waiting.rolling.is_empty() {
            let rollout = (written, config_map, waiting.rolling);
            return Ok(awaiting_rollout(claim, pn, next, rollout, now));
        }
    }
    io::objects::unbind(ctx, pn).await?;
    if release {
        io::objects::delete(ctx, &pn.name_any(), "deleting the replaced trial number").await?;
    }
    let mut status = desired_bound(claim, next, now);
    (status.config_map_name, status.config_map_number_id) = written.unzip();
    let config_map: Vec<Desired> = config_map.into_iter().collect();
    claim_status::merge(claim, &mut status, &config_map, &[types::CONFIG_MAP], now);
    if let Some(p) = status.purchase.as_mut() {
        p.candidate = None;
        p.started_at = None;
    }
    let mut act = Act::with(Some((status, None)), Action::requeue(requeue::NEXT_STEP));
    act.notes = notes;
    act.notes.push(decide::replaced_note(
        &pn.spec.number,
        &next.spec.number,
        release,
    ));
    Ok(act)
}

/// How often a replacement looks again at the workloads rolling it out.
const ROLLOUT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// The replacement waits for the workloads reading the claim's ConfigMap: the claim stays bound
/// to the trial number, its ConfigMap condition says what the ConfigMap holds (the replacement),
/// and `TrialExpiring` says what it waits for.
fn awaiting_rollout<'a>(
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    next: &PhoneNumber,
    (written, config_map, rolling): (io::config_map::Written, Option<Desired>, Vec<String>),
    now: Timestamp,
) -> Act<'a> {
    let mut status = desired_bound(claim, pn, now);
    (status.config_map_name, status.config_map_number_id) = written.unzip();
    let waiting = decide::awaiting_rollout(&pn.spec.number, &next.spec.number, &rolling);
    let config_map: Vec<Desired> = config_map.into_iter().chain([waiting]).collect();
    let managed = [types::CONFIG_MAP, types::TRIAL_EXPIRING];
    claim_status::merge(claim, &mut status, &config_map, &managed, now);
    Act::with(Some((status, None)), Action::requeue(ROLLOUT_POLL))
}
