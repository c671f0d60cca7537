//! A claim without a PhoneNumber: bind the one it names, bind an existing one with its exact
//! number, carry on with its recorded candidate, or choose an offer and record the intent.

use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::choose::{Chosen, choose};
use super::{Act, NewNumberOwned, Then};
use crate::api::conditions::reasons;
use crate::api::v1alpha1::{
    PhoneNumber, PhoneNumberClaim, PhoneNumberClaimStatus, PhoneNumberClass, phone_number_name,
};
use crate::controller::decide::claim::{self, Bind, Candidate, claim_ref, progress_of};
use crate::controller::decide::claim_status::desired_pending;
use crate::controller::decide::pending::Pending;
use crate::controller::decide::{choose as choice, gates, requeue, tenancy, time::now_time};
use crate::controller::io;
use crate::controller::{Context, Error};

pub(super) async fn decide<'a>(
    ctx: &'a Context,
    claim: &PhoneNumberClaim,
    ns: &str,
    now: Timestamp,
) -> Result<Act<'a>, Error> {
    if let Some(target) = &claim.spec.phone_number_name {
        return static_binding(ctx, claim, target, ns, now).await;
    }
    let class = match claim::resolve_class(claim, &ctx.classes.state()) {
        Ok(c) => c,
        Err(p) => return Ok(Act::pending(claim, p, now)),
    };
    if let Err(p) = gates::tenant(&class, ns, ctx.namespace_meta(ns).as_ref()) {
        return Ok(Act::pending(claim, p, now));
    }
    // An exact number that already has a PhoneNumber is bound, never bought.
    if let Some(number) = &claim.spec.number
        && let Some(pn) = ctx.number_named(&phone_number_name(number)).await?
    {
        return bind(ctx, claim, &pn, Some(&class), now).await;
    }
    let recorded = progress_of(claim).candidate;
    if let Some(candidate) = recorded {
        return continue_candidate(ctx, claim, &class, &candidate, now).await;
    }
    Ok(match choose(ctx, claim, ns, &class, now).await {
        Err(stop) => Act::stopped(claim, stop, now),
        Ok(chosen) => {
            let pending = claim::purchasing(&chosen.pick);
            record_intent(
                ctx,
                claim,
                &class,
                chosen,
                |progress| desired_pending(claim, &pending, Some(progress), now),
                now,
            )
        }
    })
}

/// The intent: the candidate written into the claim's status (at the claim's resourceVersion: a
/// stale cache buys nothing), then its PhoneNumber created.
pub(super) fn record_intent<'a>(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    class: &PhoneNumberClass,
    chosen: Chosen<'a>,
    status: impl FnOnce(crate::api::v1alpha1::PurchaseProgress) -> PhoneNumberClaimStatus,
    now: Timestamp,
) -> Act<'a> {
    let mut progress = progress_of(claim);
    progress.candidate = Some(chosen.pick.phone_number.clone());
    progress.started_at = Some(now_time(now));
    let status = status(progress);
    let number = new_number(
        ctx,
        claim,
        class,
        &chosen.pick.phone_number,
        Some(chosen.pick.clone()),
    );
    let mut act = Act::with(
        Some((status, claim.resource_version())),
        Action::requeue(requeue::AFTER_WRITE),
    );
    act.then = Then::Create {
        number: Box::new(number),
        ledgers: Some(chosen.ledgers),
    };
    act
}

/// The PhoneNumber to create for the claim's candidate `number` in `class`.
pub(super) fn new_number(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    class: &PhoneNumberClass,
    number: &str,
    offer: Option<crate::talkturo::AvailableNumber>,
) -> NewNumberOwned {
    NewNumberOwned {
        number: number.to_owned(),
        class: class.name_any(),
        claim_ref: claim_ref(claim),
        assistant: allowed_assistant(ctx, claim, &class.name_any()),
        reclaim_policy: class.spec.reclaim_policy,
        offer,
    }
}

/// The assistant a claim's number of class `class` may be given: the one it names, unless the
/// class limits assistants per namespace and this one is not allowed.
pub(super) fn allowed_assistant(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    class: &str,
) -> Option<String> {
    let ns = claim.namespace().unwrap_or_default();
    let class = ctx.classes.get(&ObjectRef::new(class))?;
    let meta = ctx.namespace_meta(&ns);
    tenancy::assistant_allowed(
        &class,
        &ns,
        meta.as_ref(),
        claim.spec.assistant_id.as_deref(),
    )
    .ok()
    .flatten()
    .map(str::to_owned)
}

/// A claim that names its PhoneNumber: it must exist, and its class accept the namespace.
async fn static_binding<'a>(
    ctx: &'a Context,
    claim: &PhoneNumberClaim,
    target: &str,
    ns: &str,
    now: Timestamp,
) -> Result<Act<'a>, Error> {
    let Some(pn) = ctx.number_named(target).await? else {
        let why = format!("PhoneNumber {target} does not exist");
        let p = Pending::new(reasons::PHONE_NUMBER_NOT_FOUND, why, requeue::WAITING);
        return Ok(Act::pending(claim, p, now));
    };
    let Some(class) = ctx.classes.get(&ObjectRef::new(&pn.spec.class_name)) else {
        let why = format!(
            "PhoneNumber {target} belongs to class {}, which does not exist",
            pn.spec.class_name
        );
        let p = Pending::new(reasons::CLASS_NOT_FOUND, why, requeue::WAITING);
        return Ok(Act::pending(claim, p, now));
    };
    if let Err(p) = gates::tenant(&class, ns, ctx.namespace_meta(ns).as_ref()) {
        return Ok(Act::pending(claim, p, now));
    }
    bind(ctx, claim, &pn, None, now).await
}

/// Binds an existing PhoneNumber when it is free.
async fn bind<'a>(
    ctx: &'a Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    class: Option<&PhoneNumberClass>,
    now: Timestamp,
) -> Result<Act<'a>, Error> {
    match claim::bind_existing(claim, pn, class) {
        Bind::Ours => {}
        Bind::Refused(p) => return Ok(Act::pending(claim, p, now)),
        Bind::Take => {
            let assistant = allowed_assistant(ctx, claim, &pn.spec.class_name);
            // Someone else changed it first: looked at again with a fresh cache.
            io::objects::bind(ctx, pn, &claim_ref(claim), assistant).await?;
        }
    }
    Ok(Act::requeue(requeue::AFTER_WRITE))
}

/// The recorded candidate: its PhoneNumber is ours, someone else's, or not created yet (a crash
/// between the two writes, or a cache that has not seen it).
async fn continue_candidate<'a>(
    ctx: &'a Context,
    claim: &PhoneNumberClaim,
    class: &PhoneNumberClass,
    candidate: &str,
    now: Timestamp,
) -> Result<Act<'a>, Error> {
    let name = phone_number_name(candidate);
    let pn = ctx.number_named(&name).await?;
    let just_created = ctx.writes.just_created::<PhoneNumber>("", &name);
    Ok(
        match claim::candidate(claim, candidate, pn.as_deref(), just_created) {
            Candidate::InProgress => Act::requeue(requeue::AFTER_WRITE),
            Candidate::Taken(why) => {
                tracing::info!(claim = claim.name_any(), why, "dropping candidate");
                match claim::drop_candidate(claim, why) {
                    Err(p) => Act::pending(claim, p, now),
                    Ok((progress, p)) => {
                        let status = desired_pending(claim, &p, Some(progress), now);
                        Act::with(
                            Some((status, claim.resource_version())),
                            Action::requeue(requeue::AFTER_WRITE),
                        )
                    }
                }
            }
            Candidate::Create => {
                let offer = offer_of(ctx, claim, class, candidate).await;
                let mut act = Act::requeue(requeue::AFTER_WRITE);
                act.then = Then::Create {
                    number: Box::new(new_number(ctx, claim, class, candidate, offer)),
                    ledgers: None,
                };
                act
            }
        },
    )
}

/// The offer of `candidate` in the claim's search results, when a search shows it (its prices
/// are recorded on the PhoneNumber).
async fn offer_of(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    class: &PhoneNumberClass,
    candidate: &str,
) -> Option<crate::talkturo::AvailableNumber> {
    let account = ctx.accounts.get(&class.name_any())?;
    let offers = account.search(&choice::filters(claim)?).await.ok()?;
    offers.iter().find(|o| o.phone_number == candidate).cloned()
}
