//! A claim with a PhoneNumber (bound, or being bought for it): a refused purchase is recorded
//! and its PhoneNumber let go; a trial number may be replaced; the tenancy policies decide its
//! assistant; its ConfigMap is written; its status mirrors the PhoneNumber.

use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::trial::{self, Replacement};
use super::{Act, Then};
use crate::api::conditions::types;
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim};
use crate::controller::decide::claim::{self, Refusal};
use crate::controller::decide::claim_policy;
use crate::controller::decide::claim_status::{self, desired_pending};
use crate::controller::decide::conditions::Desired;
use crate::controller::decide::events::{Note, action};
use crate::controller::decide::requeue;
use crate::controller::io;
use crate::controller::{Context, Error};

pub(super) async fn decide<'a>(
    ctx: &'a Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    ns: &str,
    now: Timestamp,
) -> Result<Act<'a>, Error> {
    if claim::refused(pn) {
        return Ok(refused(ctx, claim, pn, now));
    }
    let (trial_report, trial_progress) = match trial::replace(ctx, claim, pn, ns, now).await? {
        Replacement::Done(act) => return Ok(*act),
        Replacement::Report {
            condition,
            progress,
        } => (Some(condition), progress),
        Replacement::None => (None, None),
    };
    let class = ctx.classes.get(&ObjectRef::new(&pn.spec.class_name));
    let meta = ctx.namespace_meta(ns);
    let policy = claim_policy::tenant_policy(claim, class.as_deref(), ns, meta.as_ref());
    if pn.spec.assistant_id != policy.assistant
        && pn.status.as_ref().is_some_and(|s| s.id.is_some())
    {
        // The claim's assistant (when its namespace may name it) is the number's desired one;
        // the PhoneNumber controller assigns it (and moves or unassigns it).
        let step = "setting the PhoneNumber's assistant";
        io::objects::set_assistant(ctx, pn, policy.assistant.as_deref(), step).await?;
    }
    let mut status = claim_status::desired_bound(claim, pn, now);
    let mut notes = claim_policy::apply_policy(claim, &mut status, &policy, now);
    if let Some(c) = trial_report {
        claim_status::merge(claim, &mut status, &[c], &[], now);
    }
    if trial_progress.is_some() {
        status.purchase = trial_progress.map(|p| *p);
    }
    let (written, config_map) = io::config_map::write(ctx, claim, pn).await?;
    (status.config_map_name, status.config_map_number_id) = written.unzip();
    notes.extend(config_map_note(claim, config_map.as_ref()));
    claim_status::merge(
        claim,
        &mut status,
        &config_map.into_iter().collect::<Vec<_>>(),
        &[types::CONFIG_MAP],
        now,
    );
    notes.extend(claim_status::transition_notes(claim, &status, pn));
    // No timer: its PhoneNumber's, class's and namespace's changes wake it (requeue::NO_TIMER).
    let mut act = Act::with(Some((status, None)), Action::await_change());
    act.notes = notes;
    Ok(act)
}

/// The Warning of a ConfigMap not written, when its reason is new.
fn config_map_note(claim: &PhoneNumberClaim, c: Option<&Desired>) -> Option<Note> {
    let c = c.filter(|c| !c.status)?;
    let before = claim_status::reason_now(claim, types::CONFIG_MAP);
    (before.as_deref() != Some(c.reason))
        .then(|| Note::warning(c.reason, action::CONFIG_MAP, c.message.clone()))
}

/// The PhoneNumber's purchase was refused (nothing was bought): the failure recorded with
/// back-off, then the PhoneNumber deleted so that the next candidate can be tried.
fn refused<'a>(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    now: Timestamp,
) -> Act<'a> {
    let retry = (ctx.config.retry_base, ctx.config.retry_max);
    let Refusal {
        progress,
        pending,
        warn,
    } = claim::refusal(claim, pn, retry, now);
    let mut act = Act::requeue(requeue::NEXT_STEP);
    if let Some(p) = pending {
        if warn {
            act.notes.push(Note::warning(
                p.reason,
                action::PROVISION,
                p.message.clone(),
            ));
        }
        act.write = Some((desired_pending(claim, &p, Some(progress), now), None));
    }
    act.then = Then::Delete {
        name: pn.name_any(),
        step: "deleting a refused PhoneNumber",
    };
    act
}
