//! PhoneNumberClaim reconciler: finds or buys exactly one number for a claim and binds it.
//!
//! Dynamic provisioning records its intent before any money is spent (DESIGN §2.1): the chosen
//! candidate is written to `status.purchase.candidate` with the claim's `resourceVersion` as a
//! precondition, then the PhoneNumber `tel-<digits>` is created with `claimRef` set. Only the
//! PhoneNumber controller buys. The object's name is derived from the number, so two claims can
//! never both own it: the loser drops the candidate and tries the next.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use rust_decimal::Decimal;
use serde_json::json;

use super::conditions::{self, Desired};
use super::money;
use super::trial::Replacement;
use super::{
    CLASS_LABEL, Context, Error, FIELD_MANAGER, NUMBER_FINALIZER, OFFER_ANNOTATION, now_time,
};
use crate::api::DEFAULT_CLASS_ANNOTATION;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{
    ClaimPhase, ClaimRef, ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClaim,
    PhoneNumberClaimStatus, PhoneNumberClass, PhoneNumberSpec, PurchaseProgress, SelectionPolicy,
    phone_number_name,
};
use crate::talkturo::{AvailableNumber, SearchFilters};

const MANAGED: &[&str] = &[
    types::READY,
    types::BOUND,
    types::ASSIGNED,
    types::TRIAL_EXPIRING,
];

/// Why a claim waits, for its `Ready` condition and an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pending {
    pub reason: &'static str,
    pub message: String,
    pub requeue: Duration,
    /// Over within seconds on its own (offers held by purchases in flight): a claim created
    /// moments ago just looks again, without writing the wait into its status.
    pub transient: bool,
}

impl Pending {
    pub(super) fn new(reason: &'static str, message: impl Into<String>, requeue: Duration) -> Self {
        Self {
            reason,
            message: message.into(),
            requeue,
            transient: false,
        }
    }

    fn transient(self) -> Self {
        Self {
            transient: true,
            ..self
        }
    }
}

/// How long after its creation a claim may wait on a transient condition without reporting it.
const QUIET_WAIT: Duration = Duration::from_secs(30);

pub async fn reconcile(claim: Arc<PhoneNumberClaim>, ctx: Arc<Context>) -> Result<Action, Error> {
    let now = Timestamp::now();
    let ns = claim
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    if claim.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }

    // Already bound (or being bought for this claim)?
    if let Some(pn) = bound_number(&claim, &ctx) {
        let refused = pn
            .status
            .as_ref()
            .is_some_and(|s| s.phase == Some(NumberPhase::Failed) && s.id.is_none());
        if refused {
            return handle_refused(&ctx, &claim, &pn, now).await;
        }
        let (trial_report, trial_progress) =
            match super::trial::replace(&ctx, &claim, &pn, &ns, now).await? {
                Replacement::Done(action) => return Ok(action),
                Replacement::Report {
                    condition,
                    progress,
                } => (Some(condition), progress),
                Replacement::None => (None, None),
            };
        let policy = tenant_policy(&ctx, &claim, &pn, &ns);
        if pn.spec.assistant_id != policy.assistant
            && pn.status.as_ref().is_some_and(|s| s.id.is_some())
        {
            // The claim's assistant (when its namespace may name it) is the number's desired
            // one; the PhoneNumber controller assigns it (and moves or unassigns it).
            let patch = json!({"spec": {"assistantId": policy.assistant}});
            ctx.patch_number(&pn, &patch, "setting the PhoneNumber's assistant")
                .await?;
        }
        let mut status = desired_bound(&claim, &pn, now);
        for (type_, reason, why) in [
            (
                types::ASSIGNED,
                reasons::ASSISTANT_NOT_ALLOWED,
                policy.assistant_refused,
            ),
            (
                types::CLASS_ALLOWED,
                reasons::CLASS_NOT_ALLOWED,
                policy.class_refused.clone(),
            ),
        ] {
            let before = claim
                .status
                .as_ref()
                .and_then(|s| conditions::find(&s.conditions, type_))
                .map(|c| c.reason.clone());
            let desired: Vec<Desired> = why
                .clone()
                .map(|m| Desired::new(type_, false, reason, m))
                .into_iter()
                .collect();
            if let Some(m) = why.filter(|_| before.as_deref() != Some(reason)) {
                ctx.event(claim.as_ref(), EventType::Warning, reason, "Policy", m)
                    .await;
            }
            // A refused assistant replaces the assignment's condition; ClassAllowed is there
            // only while the class refuses the namespace.
            let managed: &[&str] = if type_ == types::CLASS_ALLOWED || !desired.is_empty() {
                &[type_]
            } else {
                &[]
            };
            status.conditions = conditions::merge(
                &status.conditions,
                &desired,
                managed,
                claim.metadata.generation,
                &now_time(now),
            );
            if type_ == types::ASSIGNED && !desired.is_empty() {
                status.conditions = conditions::merge(
                    &status.conditions,
                    &[Desired::new(
                        types::READY,
                        false,
                        reason,
                        desired[0].message.clone(),
                    )],
                    &[],
                    claim.metadata.generation,
                    &now_time(now),
                );
            }
        }
        if let Some(c) = trial_report {
            status.conditions = conditions::merge(
                &status.conditions,
                &[c],
                &[],
                claim.metadata.generation,
                &now_time(now),
            );
        }
        if trial_progress.is_some() {
            status.purchase = trial_progress;
        }
        let (written, config_map) = write_config_map(&ctx, &claim, &pn).await?;
        status.config_map_name = written;
        let before = claim
            .status
            .as_ref()
            .and_then(|s| conditions::find(&s.conditions, types::CONFIG_MAP))
            .map(|c| c.reason.clone());
        if let Some(c) = config_map.as_ref().filter(|c| !c.status)
            && before.as_deref() != Some(c.reason)
        {
            ctx.event(
                claim.as_ref(),
                EventType::Warning,
                c.reason,
                "ConfigMap",
                c.message.clone(),
            )
            .await;
        }
        status.conditions = conditions::merge(
            &status.conditions,
            &config_map.into_iter().collect::<Vec<_>>(),
            &[types::CONFIG_MAP],
            claim.metadata.generation,
            &now_time(now),
        );
        if claim.status.as_ref().and_then(|s| s.phase) != Some(ClaimPhase::Bound)
            && status.phase == Some(ClaimPhase::Bound)
        {
            ctx.event(
                claim.as_ref(),
                EventType::Normal,
                "Bound",
                "Bind",
                format!(
                    "bound to PhoneNumber {} ({})",
                    pn.name_any(),
                    pn.spec.number
                ),
            )
            .await;
        }
        if status.phase == Some(ClaimPhase::Lost)
            && claim.status.as_ref().and_then(|s| s.phase) != Some(ClaimPhase::Lost)
        {
            ctx.event(
                claim.as_ref(),
                EventType::Warning,
                "NumberLost",
                "Sync",
                format!("{} is no longer in the Talkturo account", pn.spec.number),
            )
            .await;
        }
        write_status(&ctx, &claim, status, None).await?;
        return Ok(Action::requeue(Duration::from_secs(300)));
    }

    if claim.spec.phone_number_name.is_none()
        && let Some((reason, why)) = lost_binding(&claim, &ctx, now)
    {
        return lose_binding(&ctx, &claim, reason, why, now).await;
    }

    let outcome = provision(&ctx, &claim, &ns, now).await?;
    match outcome {
        Provision::Pending(p) if p.transient && young(&claim, now) => {
            tracing::debug!(claim = %claim.name_any(), reason = p.reason, message = %p.message, "waiting");
            Ok(Action::requeue(p.requeue))
        }
        Provision::Pending(p) => {
            let previous = claim
                .status
                .as_ref()
                .and_then(|s| conditions::find(&s.conditions, types::READY))
                .map(|c| c.reason.clone());
            if previous.as_deref() != Some(p.reason) && p.reason != reasons::PURCHASING {
                ctx.event(
                    claim.as_ref(),
                    EventType::Warning,
                    p.reason,
                    "Provision",
                    p.message.clone(),
                )
                .await;
            }
            let status = desired_pending(
                &claim,
                &p,
                claim.status.as_ref().and_then(|s| s.purchase.clone()),
                now,
            );
            write_status(&ctx, &claim, status, None).await?;
            Ok(Action::requeue(p.requeue))
        }
        Provision::Progress => Ok(Action::requeue(Duration::from_secs(30))),
        Provision::Wait(after) => Ok(Action::requeue(after)),
    }
}

/// Created less than `QUIET_WAIT` ago.
fn young(claim: &PhoneNumberClaim, now: Timestamp) -> bool {
    claim
        .metadata
        .creation_timestamp
        .as_ref()
        .is_some_and(|c| now.duration_since(c.0).unsigned_abs() < QUIET_WAIT)
}

pub(super) enum Provision {
    Pending(Pending),
    /// A write was made (binding, intent, PhoneNumber); watches bring the next step.
    Progress,
    /// Nothing changed for the claim (this process is still building the class's account after
    /// a start or a leader change, or the class was created moments ago): look again after
    /// this long, writing nothing and publishing no Event.
    Wait(Duration),
}

/// The claim's recorded provisioning progress (empty before the first attempt).
pub(super) fn progress_of(claim: &PhoneNumberClaim) -> PurchaseProgress {
    claim
        .status
        .as_ref()
        .and_then(|s| s.purchase.clone())
        .unwrap_or_default()
}

/// The PhoneNumber whose `claimRef` points at this claim.
fn bound_number(claim: &PhoneNumberClaim, ctx: &Context) -> Option<Arc<PhoneNumber>> {
    let (ns, name, uid) = (
        claim.namespace(),
        claim.name_any(),
        claim.metadata.uid.clone(),
    );
    let mine = |pn: &PhoneNumber| {
        pn.spec.claim_ref.as_ref().is_some_and(|r| {
            Some(&r.namespace) == ns.as_ref() && r.name == name && (r.uid.is_none() || r.uid == uid)
        })
    };
    // The recorded candidate or static target first: one lookup instead of a scan.
    let hint = claim.status.as_ref().and_then(|s| {
        s.phone_number_name.clone().or_else(|| {
            s.purchase
                .as_ref()
                .and_then(|p| p.candidate.as_deref().map(phone_number_name))
        })
    });
    if let Some(pn) = hint
        .and_then(|h| ctx.numbers.get(&ObjectRef::new(&h)))
        .filter(|pn| mine(pn))
    {
        return Some(pn);
    }
    ctx.numbers.state().into_iter().find(|pn| mine(pn))
}

/// Why the PhoneNumber this claim was bound to (or buying) is no longer its own, if so: it was
/// deleted, or its `claimRef` now names someone else. A claim in that state does not provision
/// again by itself — that would buy a second number nobody asked for.
fn lost_binding(
    claim: &PhoneNumberClaim,
    ctx: &Context,
    now: Timestamp,
) -> Option<(&'static str, String)> {
    let status = claim.status.as_ref()?;
    let name = status.phone_number_name.as_deref()?;
    let expired = status.is_trial == Some(true)
        && status.trial_expires_at.as_ref().is_some_and(|t| t.0 <= now);
    match ctx.numbers.get(&ObjectRef::new(name)) {
        None if expired => Some((
            reasons::TRIAL_EXPIRED,
            format!(
                "trial number {} expired and its PhoneNumber {name} is gone (onExpiry Release); \
                 delete and re-create the claim for a new number",
                status.number.as_deref().unwrap_or_default()
            ),
        )),
        None => Some((
            reasons::PHONE_NUMBER_DELETED,
            format!(
                "PhoneNumber {name} was deleted; this claim buys no other number by itself: \
                 delete and re-create the claim for a new one"
            ),
        )),
        Some(pn) if pn.spec.claim_ref.is_some() => Some((
            reasons::PHONE_NUMBER_DELETED,
            format!(
                "PhoneNumber {name} is now bound to another claim; delete and re-create this \
                 claim for a new number"
            ),
        )),
        // Unbound again (e.g. an admin cleared claimRef): provisioning may bind it back.
        Some(_) => None,
    }
}

/// Marks the claim `Lost` because its PhoneNumber went away (once, with a Warning Event).
async fn lose_binding(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    reason: &'static str,
    why: String,
    now: Timestamp,
) -> Result<Action, Error> {
    let prev = claim.status.clone().unwrap_or_default();
    let desired = [
        Desired::new(types::READY, false, reason, why.clone()),
        Desired::new(types::BOUND, false, reason, why.clone()),
    ];
    let mut purchase = prev.purchase.clone();
    if let Some(p) = purchase.as_mut() {
        p.candidate = None;
        p.started_at = None;
        p.next_retry_time = None;
    }
    let status = PhoneNumberClaimStatus {
        observed_generation: claim.metadata.generation,
        phase: Some(ClaimPhase::Lost),
        conditions: conditions::merge(
            &prev.conditions,
            &desired,
            MANAGED,
            claim.metadata.generation,
            &now_time(now),
        ),
        assistant_id: None,
        purchase,
        ..prev.clone()
    };
    if prev.phase != Some(ClaimPhase::Lost) {
        ctx.event(claim, EventType::Warning, reason, "Bind", why)
            .await;
    }
    // Only on the claim as observed: a stale cache (e.g. a refused purchase's PhoneNumber
    // deleted after the claim let go of it) must not mark it Lost.
    write_status(ctx, claim, status, claim.resource_version()).await?;
    Ok(Action::await_change())
}

/// The class a claim uses: its `className`, or the one default class.
pub fn resolve_class(
    claim: &PhoneNumberClaim,
    classes: &[Arc<PhoneNumberClass>],
) -> Result<Arc<PhoneNumberClass>, Pending> {
    let retry = Duration::from_secs(60);
    if let Some(name) = &claim.spec.class_name {
        return classes
            .iter()
            .find(|c| &c.name_any() == name)
            .cloned()
            .ok_or_else(|| {
                Pending::new(
                    reasons::CLASS_NOT_FOUND,
                    format!("PhoneNumberClass {name} does not exist"),
                    retry,
                )
            });
    }
    let defaults: Vec<_> = classes
        .iter()
        .filter(|c| {
            c.annotations()
                .get(DEFAULT_CLASS_ANNOTATION)
                .is_some_and(|v| v == "true")
        })
        .collect();
    match defaults.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Pending::new(
            reasons::NO_DEFAULT_CLASS,
            format!(
                "no className given and no PhoneNumberClass is annotated {DEFAULT_CLASS_ANNOTATION}=true"
            ),
            retry,
        )),
        many => Err(Pending::new(
            reasons::MULTIPLE_DEFAULT_CLASSES,
            format!(
                "no className given and {} classes are marked default ({}); mark exactly one",
                many.len(),
                many.iter()
                    .map(|c| c.name_any())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            retry,
        )),
    }
}

async fn provision(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    ns: &str,
    now: Timestamp,
) -> Result<Provision, Error> {
    // Static binding needs no account: only the named PhoneNumber.
    if let Some(target) = &claim.spec.phone_number_name {
        let Some(pn) = ctx.numbers.get(&ObjectRef::new(target)) else {
            return Ok(Provision::Pending(Pending::new(
                reasons::PHONE_NUMBER_NOT_FOUND,
                format!("PhoneNumber {target} does not exist"),
                Duration::from_secs(60),
            )));
        };
        // The number's class must accept this namespace, as for a claim that buys.
        let Some(class) = ctx.classes.get(&ObjectRef::new(&pn.spec.class_name)) else {
            return Ok(Provision::Pending(Pending::new(
                reasons::CLASS_NOT_FOUND,
                format!(
                    "PhoneNumber {target} belongs to class {}, which does not exist",
                    pn.spec.class_name
                ),
                Duration::from_secs(60),
            )));
        };
        if let Err(why) = super::tenancy::class_allows(&class, ns, ctx.namespace_meta(ns).as_ref())
        {
            return Ok(Provision::Pending(Pending::new(
                reasons::CLASS_NOT_ALLOWED,
                why,
                Duration::from_secs(60),
            )));
        }
        return bind_existing(ctx, claim, &pn, None).await;
    }
    let classes = ctx.classes.state();
    let class = match resolve_class(claim, &classes) {
        Ok(c) => c,
        Err(p) => return Ok(Provision::Pending(p)),
    };
    if let Err(why) = super::tenancy::class_allows(&class, ns, ctx.namespace_meta(ns).as_ref()) {
        return Ok(Provision::Pending(Pending::new(
            reasons::CLASS_NOT_ALLOWED,
            why,
            Duration::from_secs(60),
        )));
    }
    // An exact number that already has a PhoneNumber is bound, never bought.
    if let Some(number) = &claim.spec.number
        && let Some(pn) = ctx.numbers.get(&ObjectRef::new(&phone_number_name(number)))
    {
        return bind_existing(ctx, claim, &pn, Some(&class)).await;
    }
    let recorded = claim
        .status
        .as_ref()
        .and_then(|s| s.purchase.as_ref())
        .and_then(|p| p.candidate.clone());
    if let Some(candidate) = recorded {
        return continue_candidate(ctx, claim, ns, &class, &candidate, now).await;
    }
    choose_and_record(ctx, claim, ns, &class, now, |pick, progress| {
        let pending = Pending::new(
            reasons::PURCHASING,
            format!(
                "buying {} (${}/month)",
                pick.phone_number,
                pick.monthly_price.map_or("?".into(), |p| p.to_string())
            ),
            Duration::from_secs(30),
        );
        desired_pending(claim, &pending, Some(progress), now)
    })
    .await
}

/// The tenancy policies as they apply to a bound claim.
struct TenantPolicy {
    /// The assistant its number is to have.
    assistant: Option<String>,
    /// Why the assistant it names is refused, if it is.
    assistant_refused: Option<String>,
    /// Why its class no longer accepts its namespace, if it does not (the number is kept).
    class_refused: Option<String>,
}

fn tenant_policy(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    ns: &str,
) -> TenantPolicy {
    let Some(class) = ctx.classes.get(&ObjectRef::new(&pn.spec.class_name)) else {
        return TenantPolicy {
            assistant: claim.spec.assistant_id.clone(),
            assistant_refused: None,
            class_refused: None,
        };
    };
    let meta = ctx.namespace_meta(ns);
    let asked = claim.spec.assistant_id.as_deref();
    let (assistant, assistant_refused) =
        match super::tenancy::assistant_allowed(&class, ns, meta.as_ref(), asked) {
            Ok(a) => (a.map(str::to_owned), None),
            Err(why) => (None, Some(why)),
        };
    TenantPolicy {
        assistant,
        assistant_refused,
        class_refused: super::tenancy::class_allows(&class, ns, meta.as_ref())
            .err()
            .map(|why| format!("{why}; the bound number is kept, not released")),
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
    super::tenancy::assistant_allowed(
        &class,
        &ns,
        ctx.namespace_meta(&ns).as_ref(),
        claim.spec.assistant_id.as_deref(),
    )
    .ok()
    .flatten()
    .map(str::to_owned)
}

/// Who holds a number, as the claim's owner may read it: another namespace's objects are never
/// named (tenants share a class, not their names).
fn holder(r: &ClaimRef, claim: &PhoneNumberClaim) -> String {
    if Some(&r.namespace) == claim.namespace().as_ref() {
        format!("claim {}", r.name)
    } else {
        "a claim in another namespace".to_owned()
    }
}

/// Binds an existing PhoneNumber (static binding or an exact number someone already has).
async fn bind_existing(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    class: Option<&PhoneNumberClass>,
) -> Result<Provision, Error> {
    let retry = Duration::from_secs(60);
    if let Some(r) = &pn.spec.claim_ref {
        if r.name == claim.name_any()
            && Some(&r.namespace) == claim.namespace().as_ref()
            && (r.uid.is_none() || r.uid == claim.metadata.uid)
        {
            // Ours already (a cache that lagged behind): the bound path takes it from here.
            return Ok(Provision::Progress);
        }
        return Ok(Provision::Pending(Pending::new(
            reasons::NUMBER_TAKEN,
            format!(
                "PhoneNumber {} ({}) is bound to {}",
                pn.name_any(),
                pn.spec.number,
                holder(r, claim)
            ),
            retry,
        )));
    }
    if pn.spec.management_policy == ManagementPolicy::ObserveOnly {
        // An imported number (a company line) is nobody's to take: only an admin gives it to a
        // claim, by setting its claimRef.
        return Ok(Provision::Pending(Pending::new(
            reasons::PHONE_NUMBER_UNAVAILABLE,
            format!(
                "PhoneNumber {} is ObserveOnly (imported); it binds only to a claim an admin names in its spec.claimRef",
                pn.name_any()
            ),
            retry,
        )));
    }
    if let Some(class) = class.filter(|c| c.name_any() != pn.spec.class_name) {
        return Ok(Provision::Pending(Pending::new(
            reasons::PHONE_NUMBER_UNAVAILABLE,
            format!(
                "PhoneNumber {} belongs to class {}, not {}",
                pn.name_any(),
                pn.spec.class_name,
                class.name_any()
            ),
            retry,
        )));
    }
    let unusable = pn
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .filter(|p| matches!(p, NumberPhase::Failed | NumberPhase::Lost));
    if let Some(phase) = unusable {
        return Ok(Provision::Pending(Pending::new(
            reasons::PHONE_NUMBER_UNAVAILABLE,
            format!("PhoneNumber {} is {phase:?}", pn.name_any()),
            retry,
        )));
    }
    let patch = json!({
        "metadata": {"resourceVersion": pn.resource_version()},
        "spec": {"claimRef": claim_ref(claim), "assistantId": allowed_assistant(ctx, claim, &pn.spec.class_name)},
    });
    match ctx
        .patch_number(pn, &patch, "binding the PhoneNumber")
        .await
    {
        Ok(()) => Ok(Provision::Progress),
        // Someone else changed it first: look again with a fresh cache.
        Err(Error::Kube {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 409 => Ok(Provision::Progress),
        Err(e) => Err(e),
    }
}

fn claim_ref(claim: &PhoneNumberClaim) -> ClaimRef {
    ClaimRef {
        namespace: claim.namespace().unwrap_or_default(),
        name: claim.name_any(),
        uid: claim.metadata.uid.clone(),
    }
}

/// The search a claim's criteria (or exact number) ask for.
pub fn filters(claim: &PhoneNumberClaim) -> Option<SearchFilters> {
    let s = &claim.spec;
    let (country, area) = match (&s.number, &s.country_code) {
        (Some(n), cc) if n.starts_with("+1") => (
            cc.clone().unwrap_or_else(|| "US".into()),
            n.get(2..5).map(str::to_owned),
        ),
        (Some(_), Some(cc)) => (cc.clone(), None),
        (Some(_), None) => return None,
        (None, cc) => (cc.clone()?, s.area_code.clone()),
    };
    Some(SearchFilters {
        country_code: country,
        area_code: area,
        number_type: Some(s.number_type.as_str().to_owned()),
        limit: Some(20),
    })
}

/// The stricter of two optional caps (the schema keeps them decimal strings).
fn stricter(a: Option<&str>, b: Option<&str>) -> Option<Decimal> {
    let parse = |s: Option<&str>| s.and_then(|v| Decimal::from_str(v.trim()).ok());
    money::stricter(parse(a), parse(b))
}

/// Picks the number to buy from search results. Pure.
pub fn choose(
    claim: &PhoneNumberClaim,
    class: &PhoneNumberClass,
    offers: &[AvailableNumber],
    taken: &BTreeSet<String>,
) -> Result<AvailableNumber, Pending> {
    let retry = Duration::from_secs(60);
    let s = &claim.spec;
    let capable: Vec<&AvailableNumber> =
        offers.iter().filter(|o| matches_claim(claim, o)).collect();
    let free: Vec<&AvailableNumber> = capable
        .iter()
        .copied()
        .filter(|o| !taken.contains(&o.phone_number))
        .collect();
    if free.is_empty() {
        let what = match &s.number {
            Some(n) => format!("{n} is not offered by the carrier"),
            None if capable.is_empty() => format!(
                "the carrier offers no number matching the criteria (searched {} offers for features {:?})",
                offers.len(),
                s.features
            ),
            // No count in the message: it changes with every purchase, and each change would
            // rewrite the status of every waiting claim.
            None => "every matching offer is being bought by another claim; searching again as they are bought".to_owned(),
        };
        // Offers taken by in-flight purchases free up within seconds: look again soon.
        if capable.is_empty() || s.number.is_some() {
            return Err(Pending::new(reasons::NO_CANDIDATES, what, retry));
        }
        return Err(Pending::new(reasons::NO_CANDIDATES, what, Duration::from_secs(1)).transient());
    }
    let monthly_cap = stricter(
        s.max_monthly_price.as_deref(),
        class.spec.max_monthly_price.as_deref(),
    );
    let setup_cap = stricter(
        s.max_setup_price.as_deref(),
        class.spec.max_setup_price.as_deref(),
    );
    let within = |o: &&AvailableNumber| {
        money::within(o.monthly_price, monthly_cap) && money::within(o.setup_price, setup_cap)
    };
    let affordable: Vec<&AvailableNumber> = free.iter().copied().filter(within).collect();
    if affordable.is_empty() {
        let cheapest = free.iter().filter_map(|o| o.monthly_price).min();
        let cap = |c: Option<Decimal>| c.map_or("none".to_owned(), |c| format!("${c}"));
        return Err(Pending::new(
            reasons::OVER_PRICE,
            format!(
                "{} matching numbers, none within the caps (monthly {}, setup {}); the cheapest costs {}/month",
                free.len(),
                cap(monthly_cap),
                cap(setup_cap),
                cheapest.map_or("an unknown price".to_owned(), |c| format!("${c}"))
            ),
            retry,
        ));
    }
    // An offer without a known price is chosen only when no priced offer matches.
    let priced: Vec<&AvailableNumber> = affordable
        .iter()
        .copied()
        .filter(|o| money::priced(o))
        .collect();
    let pool = if priced.is_empty() {
        affordable
    } else {
        priced
    };
    let pick = match class.spec.selection {
        SelectionPolicy::First => pool.first().copied(),
        SelectionPolicy::Cheapest => pool
            .iter()
            .copied()
            .min_by(|a, b| money::cheapest_first(a, b)),
    };
    pick.cloned().ok_or_else(|| {
        Pending::new(
            reasons::NO_CANDIDATES,
            "no offer to choose from",
            Duration::from_secs(60),
        )
    })
}

/// Whether an offer is what the claim asks for (its exact number, its features). Pure.
fn matches_claim(claim: &PhoneNumberClaim, o: &AvailableNumber) -> bool {
    let s = &claim.spec;
    s.number.as_ref().is_none_or(|n| &o.phone_number == n)
        && s.features.iter().all(|f| o.features.contains(f))
}

/// A claim that found every offer taken, when every matching offer is a number the account
/// already holds (`owned`): no purchase in flight will free one, so it backs off and says so
/// instead of searching again every few seconds. Otherwise `p` as it is. Pure.
pub(super) fn held_back(
    p: Pending,
    claim: &PhoneNumberClaim,
    offers: &[AvailableNumber],
    owned: &BTreeSet<String>,
) -> Pending {
    let matching: Vec<&AvailableNumber> =
        offers.iter().filter(|o| matches_claim(claim, o)).collect();
    if !p.transient
        || matching.is_empty()
        || !matching.iter().all(|o| owned.contains(&o.phone_number))
    {
        return p;
    }
    Pending::new(
        reasons::NO_CANDIDATES,
        format!(
            "every offer matching the criteria ({}) is a number the account already holds; the carrier offers nothing new, looking again in 60s",
            matching.len()
        ),
        Duration::from_secs(60),
    )
}

/// Gates, search, choice, budget, then the intent and the PhoneNumber.
pub(super) async fn choose_and_record(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    ns: &str,
    class: &PhoneNumberClass,
    now: Timestamp,
    intent: impl FnOnce(&AvailableNumber, PurchaseProgress) -> PhoneNumberClaimStatus,
) -> Result<Provision, Error> {
    let class_name = class.name_any();
    // Fail closed: no purchase unless the class is known to reach its account.
    let ready = class
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, types::READY));
    let class_ready = ready.is_some_and(|c| c.status == "True");
    let class_new = class.status.is_none()
        && class
            .metadata
            .creation_timestamp
            .as_ref()
            .is_some_and(|c| now.duration_since(c.0).unsigned_abs() < QUIET_WAIT);
    if class_new || (class_ready && ctx.accounts.get(&class_name).is_none()) {
        // One class reconcile away (a start, a leader change, a class created moments ago):
        // nothing to report, and nothing to rewrite.
        return Ok(Provision::Wait(Duration::from_secs(1)));
    }
    let Some(account) = ctx.accounts.get(&class_name).filter(|_| class_ready) else {
        let why = ready.map_or_else(
            || format!("class {class_name} has not been checked yet"),
            |c| {
                format!(
                    "class {class_name} is not ready ({}): {}",
                    c.reason, c.message
                )
            },
        );
        // Ready, but this process has not built the class's account yet (it just started or
        // took over): one class reconcile away, so look again soon.
        let retry = if class_ready {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(30)
        };
        return Ok(Provision::Pending(Pending::new(
            reasons::CLASS_NOT_READY,
            why,
            retry,
        )));
    };
    // The plan limit first: a claim refused for it waits out its retry back-off saying so, not
    // flapping to "retrying in 3s" and back.
    if let Some((count, _)) = account.purchase_blocked(now, ctx.config.plan_limit_recheck) {
        return Ok(Provision::Pending(Pending::new(
            reasons::PLAN_LIMIT_REACHED,
            format!(
                "the Talkturo plan's number limit is reached ({count} numbers); release a number or upgrade the plan"
            ),
            ctx.config.plan_limit_recheck,
        )));
    }
    if let Some(retry_at) = claim
        .status
        .as_ref()
        .and_then(|s| s.purchase.as_ref())
        .and_then(|p| p.next_retry_time.clone())
        && retry_at.0 > now
    {
        let wait = retry_at.0.duration_since(now).unsigned_abs();
        let last = claim
            .status
            .as_ref()
            .and_then(|s| s.purchase.as_ref())
            .and_then(|p| p.last_failure_reason.clone())
            .unwrap_or_default();
        return Ok(Provision::Pending(Pending::new(
            reasons::PURCHASE_FAILED,
            format!("retrying in {}s after: {last}", wait.as_secs()),
            wait,
        )));
    }
    let Some(filters) = filters(claim) else {
        return Ok(Provision::Pending(Pending::new(
            reasons::INVALID_SPEC,
            "countryCode is needed to search for this number",
            Duration::from_secs(300),
        )));
    };
    let offers = match account.search(&filters).await {
        Ok(o) => o,
        Err(e) => {
            return Ok(Provision::Pending(Pending::new(
                super::class::not_ready(&e).reason,
                format!("searching for numbers: {e}"),
                Duration::from_secs(30),
            )));
        }
    };
    // Serialize the budget decision and the intent for the class: two claims must not both
    // spend the last of the budget.
    let mut ledger = account.budget.lock().await;
    let numbers = ctx.numbers.state();
    let mut taken: BTreeSet<String> = numbers.iter().map(|n| n.spec.number.clone()).collect();
    taken.extend(
        ctx.claims
            .state()
            .iter()
            .filter(|c| c.metadata.uid != claim.metadata.uid)
            .filter_map(|c| c.status.as_ref()?.purchase.as_ref()?.candidate.clone()),
    );
    taken.extend(ledger.keys().cloned());
    let pick = match choose(claim, class, &offers, &taken) {
        Ok(p) => p,
        Err(p) if p.reason == reasons::NO_CANDIDATES => {
            // Every cached offer is taken. Once enough of them were bought, the carrier offers
            // more: search again (once, shared by every waiting claim).
            let fresh = match account.search_for_more(&filters).await {
                Ok(o) => o,
                Err(_) => return Ok(Provision::Pending(p)),
            };
            match choose(claim, class, &fresh, &taken) {
                Ok(pick) => pick,
                Err(p) => {
                    let owned: BTreeSet<String> = numbers
                        .iter()
                        .filter(|n| n.status.as_ref().is_some_and(|s| s.id.is_some()))
                        .map(|n| n.spec.number.clone())
                        .collect();
                    return Ok(Provision::Pending(held_back(p, claim, &fresh, &owned)));
                }
            }
        }
        Err(p) => return Ok(Provision::Pending(p)),
    };
    if let Some(budget) = class
        .spec
        .monthly_budget
        .as_deref()
        .and_then(|b| Decimal::from_str(b).ok())
    {
        ledger.retain(|number, _| !numbers.iter().any(|n| &n.spec.number == number));
        let mut spent = committed_cost(&numbers, &class_name);
        for price in ledger.values() {
            spent.add(*price);
        }
        let over = |message: String| {
            Ok(Provision::Pending(Pending::new(
                reasons::BUDGET_EXCEEDED,
                message,
                Duration::from_secs(60),
            )))
        };
        match money::fits_budget(spent, pick.monthly_price, budget) {
            money::BudgetCheck::Within(_) => {}
            money::BudgetCheck::Over(total) => {
                return over(format!(
                    "buying {} (${}/month) would bring class {class_name} to ${total}/month, over its ${budget} budget",
                    pick.phone_number,
                    pick.monthly_price.unwrap_or_default()
                ));
            }
            money::BudgetCheck::Unknown if pick.monthly_price.is_none() => {
                return over(format!(
                    "{} has no known monthly price; class {class_name} has a ${budget} budget, so it is not bought",
                    pick.phone_number
                ));
            }
            money::BudgetCheck::Unknown => {
                return over(format!(
                    "class {class_name} spends ${spent}/month; with numbers of unknown price it cannot be kept within its ${budget} budget, so nothing is bought"
                ));
            }
        }
    }

    // The namespace's budget (all classes), serialized like the class's.
    let mut ns_ledger = ctx.namespace_ledger.lock().await;
    let meta = ctx.namespace_meta(ns);
    match super::tenancy::namespace_budget(ns, meta.as_ref()) {
        Err(why) => {
            return Ok(Provision::Pending(Pending::new(
                reasons::BUDGET_EXCEEDED,
                why,
                Duration::from_secs(60),
            )));
        }
        Ok(None) => {}
        Ok(Some(budget)) => {
            ns_ledger.retain(|number, _| !numbers.iter().any(|n| &n.spec.number == number));
            let mut spent = super::tenancy::namespace_spend(&numbers, ns);
            for (_, price) in ns_ledger.values().filter(|(n, _)| n == ns) {
                spent.add(*price);
            }
            let message = match money::fits_budget(spent, pick.monthly_price, budget) {
                money::BudgetCheck::Within(_) => None,
                money::BudgetCheck::Over(total) => Some(format!(
                    "buying {} (${}/month) would bring namespace {ns} to ${total}/month, over its ${budget} budget",
                    pick.phone_number,
                    pick.monthly_price.unwrap_or_default()
                )),
                money::BudgetCheck::Unknown => Some(format!(
                    "namespace {ns} has a ${budget} budget and the price of {} or of a number it holds is unknown; nothing is bought",
                    pick.phone_number
                )),
            };
            if let Some(message) = message {
                return Ok(Provision::Pending(Pending::new(
                    reasons::BUDGET_EXCEEDED,
                    message,
                    Duration::from_secs(60),
                )));
            }
        }
    }

    // 1. Intent, with the claim's resourceVersion as precondition: a stale cache buys nothing.
    let mut progress = progress_of(claim);
    progress.candidate = Some(pick.phone_number.clone());
    progress.started_at = Some(now_time(now));
    let status = intent(&pick, progress);
    match write_status(ctx, claim, status, claim.resource_version()).await {
        Ok(()) => {}
        Err(Error::Kube {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 409 => return Ok(Provision::Progress),
        Err(e) => return Err(e),
    }
    ledger.insert(pick.phone_number.clone(), pick.monthly_price);
    ns_ledger.insert(
        pick.phone_number.clone(),
        (ns.to_owned(), pick.monthly_price),
    );
    drop(ns_ledger);
    drop(ledger);
    // 2. The PhoneNumber; its controller buys.
    create_number(ctx, claim, ns, class, &pick.phone_number, Some(&pick)).await
}

/// The offer a PhoneNumber was bought from (prices, features), as its annotation records it.
pub(super) fn offer_annotation(o: &AvailableNumber) -> String {
    json!({"monthlyPrice": o.monthly_price.map(|p| p.to_string()), "setupPrice": o.setup_price.map(|p| p.to_string()), "features": o.features}).to_string()
}

/// Monthly cost committed by a class: owned numbers and numbers being bought. A `Lost` number
/// still counts (the account may still bill it) until an admin deletes its PhoneNumber; only a
/// purchase Talkturo refused (`Failed`) does not. An `ObserveOnly` number counts with its price
/// when one is known: the budget limits what the operator buys, and imported numbers have none.
pub(super) fn committed_cost(numbers: &[Arc<PhoneNumber>], class: &str) -> money::Spend {
    let mut spend = money::Spend::default();
    for n in numbers.iter().filter(|n| n.spec.class_name == class) {
        if n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Failed) {
            continue;
        }
        let price = monthly_price(n);
        if price.is_none() && n.spec.management_policy == ManagementPolicy::ObserveOnly {
            continue;
        }
        spend.add(price);
    }
    spend
}

/// A PhoneNumber's monthly price: from its status, else from the offer it was bought from.
pub(super) fn monthly_price(n: &PhoneNumber) -> Option<Decimal> {
    let from_status = n
        .status
        .as_ref()
        .and_then(|s| s.monthly_price.as_deref())
        .and_then(money::parse_price);
    let from_offer = || {
        n.annotations()
            .get(OFFER_ANNOTATION)
            .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            .and_then(|v| v["monthlyPrice"].as_str().and_then(money::parse_price))
    };
    from_status.or_else(from_offer)
}

/// The recorded candidate: its PhoneNumber is ours (bound_number found it), someone else's, or
/// not created yet (a crash between the two writes, or a cache that has not seen it).
async fn continue_candidate(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    ns: &str,
    class: &PhoneNumberClass,
    candidate: &str,
    now: Timestamp,
) -> Result<Provision, Error> {
    match ctx
        .numbers
        .get(&ObjectRef::new(&phone_number_name(candidate)))
    {
        Some(pn)
            if pn.spec.claim_ref.as_ref().is_some_and(|r| {
                r.name != claim.name_any() || Some(&r.namespace) != claim.namespace().as_ref()
            }) =>
        {
            drop_candidate(
                ctx,
                claim,
                now,
                format!(
                    "{candidate} was taken by {}",
                    pn.spec
                        .claim_ref
                        .as_ref()
                        .map_or_else(|| "another claim".to_owned(), |r| holder(r, claim))
                ),
            )
            .await
        }
        Some(_) => Ok(Provision::Progress),
        // This process created it moments ago; the watch brings it (and this claim) back.
        None if ctx
            .writes
            .just_created::<PhoneNumber>("", &phone_number_name(candidate)) =>
        {
            Ok(Provision::Progress)
        }
        None => {
            let account = ctx.accounts.get(&class.name_any());
            let offer = match (&account, filters(claim)) {
                (Some(a), Some(f)) => a
                    .search(&f)
                    .await
                    .ok()
                    .and_then(|o| o.iter().find(|o| o.phone_number == candidate).cloned()),
                _ => None,
            };
            create_number(ctx, claim, ns, class, candidate, offer.as_ref()).await
        }
    }
}

pub(super) async fn create_number(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    ns: &str,
    class: &PhoneNumberClass,
    number: &str,
    offer: Option<&AvailableNumber>,
) -> Result<Provision, Error> {
    let name = phone_number_name(number);
    let mut annotations = std::collections::BTreeMap::new();
    if let Some(o) = offer {
        annotations.insert(OFFER_ANNOTATION.to_owned(), offer_annotation(o));
    }
    let pn = PhoneNumber {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            finalizers: Some(vec![NUMBER_FINALIZER.to_owned()]),
            labels: Some([(CLASS_LABEL.to_owned(), class.name_any())].into()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: PhoneNumberSpec {
            number: number.to_owned(),
            class_name: class.name_any(),
            claim_ref: Some(ClaimRef {
                namespace: ns.to_owned(),
                name: claim.name_any(),
                uid: claim.metadata.uid.clone(),
            }),
            assistant_id: allowed_assistant(ctx, claim, &class.name_any()),
            reclaim_policy: class.spec.reclaim_policy,
            management_policy: ManagementPolicy::Managed,
        },
        status: None,
    };
    let api: Api<PhoneNumber> = Api::all(ctx.client.clone());
    match api
        .create(
            &PostParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            },
            &pn,
        )
        .await
    {
        Ok(created) => {
            ctx.writes.created(&created);
            tracing::info!(claim = %format!("{ns}/{}", claim.name_any()), number, "recorded intent; PhoneNumber created");
            Ok(Provision::Progress)
        }
        // Creating it twice is harmless; if it is someone else's, the next pass drops it.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Provision::Progress),
        Err(e) => Err(Error::kube("creating the PhoneNumber")(e)),
    }
}

async fn drop_candidate(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    now: Timestamp,
    why: String,
) -> Result<Provision, Error> {
    tracing::info!(claim = claim.name_any(), why, "dropping candidate");
    if claim.spec.number.is_some() {
        return Ok(Provision::Pending(Pending::new(
            reasons::NUMBER_TAKEN,
            why,
            Duration::from_secs(60),
        )));
    }
    let mut progress = progress_of(claim);
    progress.candidate = None;
    progress.started_at = None;
    let pending = Pending::new(reasons::PURCHASING, why, Duration::from_secs(1));
    write_status(
        ctx,
        claim,
        desired_pending(claim, &pending, Some(progress), now),
        claim.resource_version(),
    )
    .await?;
    Ok(Provision::Progress)
}

/// The PhoneNumber's purchase was refused (nothing was bought): record the failure with
/// backoff, then delete it so the next candidate can be tried.
async fn handle_refused(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    now: Timestamp,
) -> Result<Action, Error> {
    let failure = pn.status.as_ref().and_then(|s| s.purchase.as_ref());
    let reason = failure
        .and_then(|f| f.failure_reason.clone())
        .unwrap_or_else(|| reasons::PURCHASE_FAILED.to_owned());
    let message = failure
        .and_then(|f| f.failure_message.clone())
        .unwrap_or_else(|| "the purchase was refused".into());
    let mut progress = progress_of(claim);
    let plan_limit = reason == reasons::PLAN_LIMIT_REACHED;
    let pending = if progress.candidate.as_deref() == Some(pn.spec.number.as_str())
        || progress.candidate.is_none() && claim.spec.number.is_some()
    {
        progress.attempts += 1;
        let backoff = ctx
            .config
            .retry_base
            .saturating_mul(1u32 << (progress.attempts - 1).clamp(0, 16))
            .min(ctx.config.retry_max);
        progress.candidate = None;
        progress.started_at = None;
        progress.last_failure_time = Some(now_time(now));
        progress.last_failure_reason = Some(message.clone());
        progress.next_retry_time = Some(now_time(
            now.saturating_add(SignedDuration::try_from(backoff).unwrap_or_default())
                .unwrap_or(now),
        ));
        let pending = if plan_limit {
            Pending::new(reasons::PLAN_LIMIT_REACHED, message.clone(), backoff)
        } else {
            Pending::new(
                reasons::PURCHASE_FAILED,
                format!("{message}; next attempt in {}s", backoff.as_secs()),
                backoff,
            )
        };
        ctx.event(
            claim,
            EventType::Warning,
            pending.reason,
            "Provision",
            pending.message.clone(),
        )
        .await;
        Some(pending)
    } else if claim
        .status
        .as_ref()
        .and_then(|s| s.phone_number_name.as_deref())
        == Some(pn.name_any().as_str())
    {
        // Let go of it before it goes, or its deletion would read as a lost binding.
        Some(Pending::new(
            reasons::PURCHASING,
            message,
            Duration::from_secs(1),
        ))
    } else {
        None
    };
    if let Some(pending) = pending {
        write_status(
            ctx,
            claim,
            desired_pending(claim, &pending, Some(progress), now),
            None,
        )
        .await?;
    }
    super::reclaim::delete_number(ctx, &pn.name_any(), "deleting a refused PhoneNumber").await?;
    Ok(Action::requeue(Duration::from_secs(1)))
}

/// A bound claim's status, mirroring its PhoneNumber. Pure.
pub fn desired_bound(
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    now: Timestamp,
) -> PhoneNumberClaimStatus {
    let prev = claim.status.clone().unwrap_or_default();
    let st = pn.status.clone().unwrap_or_default();
    let owned = st.id.is_some();
    let lost = st.phase == Some(NumberPhase::Lost);
    let phase = match (owned, lost) {
        (_, true) => ClaimPhase::Lost,
        (true, false) => ClaimPhase::Bound,
        (false, false) => ClaimPhase::Pending,
    };
    let active = st.provider_status.as_deref() == Some("active");
    let bound = if owned {
        Desired::new(
            types::BOUND,
            true,
            reasons::BOUND,
            format!(
                "bound to PhoneNumber {} ({})",
                pn.name_any(),
                pn.spec.number
            ),
        )
    } else {
        Desired::new(
            types::BOUND,
            false,
            reasons::PURCHASING,
            format!("buying {} (PhoneNumber {})", pn.spec.number, pn.name_any()),
        )
    };
    let ready = match (lost, owned, active) {
        (true, _, _) => Desired::new(
            types::READY,
            false,
            reasons::LOST,
            format!("{} is no longer in the Talkturo account", pn.spec.number),
        ),
        (_, true, true) => Desired::new(
            types::READY,
            true,
            reasons::ACTIVE,
            format!("{} is active", pn.spec.number),
        ),
        (_, true, false) => Desired::new(
            types::READY,
            false,
            reasons::PROVIDER_STATUS,
            format!(
                "Talkturo reports {} as {}",
                pn.spec.number,
                st.provider_status.clone().unwrap_or_default()
            ),
        ),
        (_, false, _) => Desired::new(
            types::READY,
            false,
            reasons::PURCHASING,
            format!("buying {}", pn.spec.number),
        ),
    };
    // The assistant: as the PhoneNumber reports it, once the PhoneNumber wants the same one.
    let wanted = claim.spec.assistant_id.as_deref();
    let pn_assigned = conditions::find(&st.conditions, types::ASSIGNED)
        .filter(|_| pn.spec.assistant_id.as_deref() == wanted);
    let assigned = match (wanted, pn_assigned) {
        (None, _) => None,
        (Some(a), None) => Some(Desired::new(
            types::ASSIGNED,
            false,
            reasons::ASSIGNING,
            format!("assigning the number to assistant {a}"),
        )),
        (Some(_), Some(c)) => Some(Desired::new(
            types::ASSIGNED,
            c.status == "True",
            condition_reason(&c.reason),
            c.message.clone(),
        )),
    };
    let ready = match &assigned {
        Some(a) if ready.status && !a.status => {
            Desired::new(types::READY, false, a.reason, a.message.clone())
        }
        _ => ready,
    };
    // A trial number's expiry, as its PhoneNumber reports it.
    let trial = conditions::find(&st.conditions, types::TRIAL_EXPIRING).map(|c| {
        Desired::new(
            types::TRIAL_EXPIRING,
            c.status == "True",
            condition_reason(&c.reason),
            c.message.clone(),
        )
    });
    let mut purchase = prev.purchase.clone();
    if owned
        && let Some(p) = purchase.as_mut()
        && p.candidate.as_deref().is_none_or(|c| c == pn.spec.number)
    {
        // Bought: the intent is fulfilled; failures stay as history. (Another candidate is a
        // trial number's replacement being bought.)
        p.candidate = None;
        p.next_retry_time = None;
    }
    PhoneNumberClaimStatus {
        observed_generation: claim.metadata.generation,
        phase: Some(phase),
        conditions: conditions::merge(
            &prev.conditions,
            &[Some(ready), Some(bound), assigned, trial]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
            MANAGED,
            claim.metadata.generation,
            &now_time(now),
        ),
        phone_number_name: Some(pn.name_any()),
        number: Some(pn.spec.number.clone()),
        number_id: st.id.clone(),
        provider_id: st.provider_id.clone(),
        is_trial: st.is_trial,
        trial_expires_at: st.trial_expires_at.clone(),
        monthly_price: st.monthly_price.clone(),
        setup_price: st.setup_price.clone(),
        assistant_id: st.assigned_assistant_id.clone(),
        config_map_name: prev.config_map_name.clone(),
        class_name: Some(pn.spec.class_name.clone()),
        purchase,
    }
}

/// The reason constant matching a reason the PhoneNumber reported (reasons are closed sets).
fn condition_reason(reason: &str) -> &'static str {
    [
        reasons::ASSIGNED,
        reasons::ASSISTANT_NOT_FOUND,
        reasons::NUMBER_NOT_ACTIVE,
        reasons::ASSIGNMENT_FAILED,
        reasons::ASSIGNMENT_UNVERIFIED,
        reasons::ASSIGNING,
        reasons::TRIAL_ACTIVE,
        reasons::TRIAL_EXPIRING,
        reasons::TRIAL_EXPIRED,
    ]
    .into_iter()
    .find(|r| *r == reason)
    .unwrap_or(reasons::ASSIGNMENT_FAILED)
}

/// A waiting claim's status. Pure.
pub fn desired_pending(
    claim: &PhoneNumberClaim,
    p: &Pending,
    purchase: Option<PurchaseProgress>,
    now: Timestamp,
) -> PhoneNumberClaimStatus {
    let prev = claim.status.clone().unwrap_or_default();
    let desired = [
        Desired::new(types::READY, false, p.reason, p.message.clone()),
        Desired::new(
            types::BOUND,
            false,
            reasons::NOT_BOUND,
            "no PhoneNumber is bound yet",
        ),
    ];
    PhoneNumberClaimStatus {
        observed_generation: claim.metadata.generation,
        phase: Some(ClaimPhase::Pending),
        conditions: conditions::merge(
            &prev.conditions,
            &desired,
            MANAGED,
            claim.metadata.generation,
            &now_time(now),
        ),
        purchase,
        ..Default::default()
    }
}

/// Writes the claim's status when it changed; with `precondition`, only if the claim is still
/// at that resourceVersion.
pub(super) async fn write_status(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    mut status: PhoneNumberClaimStatus,
    precondition: Option<String>,
) -> Result<(), Error> {
    // The class in use: the bound number's, else the one the claim resolves to.
    let bound_class = status
        .phone_number_name
        .as_ref()
        .and_then(|n| ctx.numbers.get(&ObjectRef::new(n)))
        .map(|pn| pn.spec.class_name.clone());
    status.class_name = bound_class
        .or_else(|| {
            resolve_class(claim, &ctx.classes.state())
                .ok()
                .map(|c| c.name_any())
        })
        .or(status.class_name);
    if claim.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api = Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
    ctx.apply_status(
        api,
        claim,
        &status,
        precondition.as_deref(),
        "writing PhoneNumberClaim status",
    )
    .await
}

/// The ConfigMap `spec.configMapName` asks for, with the bound number. The operator never takes
/// over a ConfigMap: it creates one that does not exist (controlled by the claim), and updates
/// only one it created for this claim (its controller reference carries the claim's uid); any
/// other is left untouched and the claim says why. Written only when the name or the number
/// changed since the last write, so a steady state reads and writes nothing. Returns the name
/// now written (for `status.configMapName`) and the `ConfigMap` condition.
async fn write_config_map(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
) -> Result<(Option<String>, Option<Desired>), Error> {
    let (Some(name), Some(id)) = (
        claim.spec.config_map_name.clone(),
        pn.status.as_ref().and_then(|s| s.id.clone()),
    ) else {
        return Ok((None, None));
    };
    let written = || {
        Desired::new(
            types::CONFIG_MAP,
            true,
            reasons::CONFIG_MAP_WRITTEN,
            format!("ConfigMap {name} holds {}", pn.spec.number),
        )
    };
    let prev = claim.status.as_ref();
    let current = prev.and_then(|s| s.config_map_name.as_deref()) == Some(name.as_str())
        && prev.and_then(|s| s.number.as_deref()) == Some(pn.spec.number.as_str())
        && prev.and_then(|s| s.number_id.as_deref()) == Some(id.as_str());
    if current {
        return Ok((Some(name.clone()), Some(written())));
    }
    let api: Api<ConfigMap> =
        Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
    let existing = api
        .get_opt(&name)
        .await
        .map_err(Error::kube("reading the ConfigMap"))?;
    let desired = desired_config_map(claim, pn, &name, &id);
    let result = match existing {
        None => api.create(&PostParams::default(), &desired).await.map(drop),
        Some(cm) if controlled_by(&cm, claim) => {
            // Applied with the version read as precondition: a ConfigMap replaced meanwhile is
            // not written (the next reconcile looks again).
            let mut apply = desired;
            apply.metadata.resource_version = cm.metadata.resource_version.clone();
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&apply),
            )
            .await
            .map(drop)
        }
        Some(cm) => return Ok((None, Some(config_map_conflict(&name, &cm, claim)))),
    };
    match result {
        Ok(()) => Ok((Some(name.clone()), Some(written()))),
        // Created or replaced by someone else between the read and the write: looked at again
        // on the next reconcile, never overwritten.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok((
            None,
            Some(Desired::new(
                types::CONFIG_MAP,
                false,
                reasons::CONFIG_MAP_CONFLICT,
                format!("ConfigMap {name} changed while it was being written; looking again"),
            )),
        )),
        Err(e) => Err(Error::kube("writing the ConfigMap")(e)),
    }
}

/// The ConfigMap a claim asks for, controlled by the claim. Pure.
fn desired_config_map(
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
    name: &str,
    id: &str,
) -> ConfigMap {
    let country = claim
        .spec
        .country_code
        .clone()
        .or_else(|| crate::api::v1alpha1::country_of(&pn.spec.number).map(str::to_owned))
        .unwrap_or_default();
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "talkturo-operator".to_owned(),
                )]
                .into(),
            ),
            owner_references: Some(vec![OwnerReference {
                api_version: "telephony.talkturo.ai/v1alpha1".into(),
                kind: "PhoneNumberClaim".into(),
                name: claim.name_any(),
                uid: claim.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        data: Some(
            [
                ("PHONE_NUMBER".to_owned(), pn.spec.number.clone()),
                ("PHONE_NUMBER_ID".to_owned(), id.to_owned()),
                ("PHONE_NUMBER_COUNTRY".to_owned(), country),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

/// Whether the operator created `cm` for this claim: its controller reference is the claim's uid.
fn controlled_by(cm: &ConfigMap, claim: &PhoneNumberClaim) -> bool {
    let uid = claim.metadata.uid.as_deref();
    cm.metadata.owner_references.as_ref().is_some_and(|refs| {
        refs.iter()
            .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == uid)
    })
}

/// Why `cm` is not written for the claim. Only objects of the claim's own namespace are named.
fn config_map_conflict(name: &str, cm: &ConfigMap, claim: &PhoneNumberClaim) -> Desired {
    let other_claim = cm.metadata.owner_references.as_ref().and_then(|refs| {
        refs.iter()
            .find(|r| r.controller == Some(true) && r.kind == "PhoneNumberClaim")
            .map(|r| r.name.clone())
    });
    let why = match other_claim {
        Some(other) if other != claim.name_any() => {
            format!("it holds the number of claim {other}")
        }
        Some(_) => "it belongs to an earlier claim of the same name".to_owned(),
        None => "it was not created by the operator for this claim".to_owned(),
    };
    Desired::new(
        types::CONFIG_MAP,
        false,
        reasons::CONFIG_MAP_CONFLICT,
        format!(
            "ConfigMap {name} exists and {why}; it is left untouched. Name another configMapName, or delete that ConfigMap"
        ),
    )
}

/// The claims to reconcile when a PhoneNumber changes: the one it is bound to.
pub fn for_number(pn: &PhoneNumber) -> Option<ObjectRef<PhoneNumberClaim>> {
    pn.spec
        .claim_ref
        .as_ref()
        .map(|r| ObjectRef::new(&r.name).within(&r.namespace))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claim(spec: serde_json::Value) -> PhoneNumberClaim {
        let mut c: PhoneNumberClaim = serde_json::from_value(
            json!({"metadata": {"name": "line", "namespace": "app"}, "spec": spec}),
        )
        .unwrap();
        c.metadata.uid = Some("uid-1".into());
        c
    }

    fn class(name: &str, extra: serde_json::Value) -> PhoneNumberClass {
        let mut spec = json!({"apiBaseUrl": "http://x", "teamId": "t", "accountSlug": "a", "apiKeySecretRef": {"namespace": "n", "name": "s"}});
        if let (Some(s), serde_json::Value::Object(e)) = (spec.as_object_mut(), extra) {
            s.extend(e);
        }
        PhoneNumberClass::new(name, serde_json::from_value(spec).unwrap())
    }

    fn offer(number: &str, monthly: &str, setup: &str, features: &[&str]) -> AvailableNumber {
        AvailableNumber {
            phone_number: number.into(),
            monthly_price: Some(monthly.parse().unwrap()),
            setup_price: Some(setup.parse().unwrap()),
            features: features.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn offers() -> Vec<AvailableNumber> {
        vec![
            offer("+14155550105", "1.50", "0.50", &["voice", "sms"]),
            offer("+14155550103", "0.75", "1.00", &["voice"]),
            offer("+14155550102", "0.75", "1.00", &["voice"]),
            offer("+14155550101", "0.75", "0.25", &["voice"]),
            offer("+14155550104", "3.00", "0.00", &["voice", "sms", "mms"]),
        ]
    }

    fn none() -> BTreeSet<String> {
        BTreeSet::new()
    }

    #[test]
    fn cheapest_picks_the_lowest_monthly_then_setup_then_number() {
        let pick = choose(
            &claim(json!({"countryCode": "US"})),
            &class("c", json!({})),
            &offers(),
            &none(),
        )
        .unwrap();
        assert_eq!(pick.phone_number, "+14155550101");
        let taken: BTreeSet<String> = ["+14155550101".to_owned()].into();
        let pick = choose(
            &claim(json!({"countryCode": "US"})),
            &class("c", json!({})),
            &offers(),
            &taken,
        )
        .unwrap();
        assert_eq!(
            pick.phone_number, "+14155550102",
            "equal prices: the lower number wins"
        );
    }

    fn unpriced(number: &str) -> AvailableNumber {
        AvailableNumber {
            phone_number: number.into(),
            monthly_price: None,
            setup_price: None,
            features: vec!["voice".into()],
        }
    }

    #[test]
    fn an_unpriced_offer_is_chosen_only_when_no_priced_offer_matches() {
        let mut with_unpriced = vec![unpriced("+14155550100")];
        with_unpriced.extend(offers());
        for selection in ["Cheapest", "First"] {
            let c = class("c", json!({ "selection": selection }));
            let any = claim(json!({"countryCode": "US"}));
            let pick = choose(&any, &c, &with_unpriced, &none()).unwrap();
            assert_ne!(pick.phone_number, "+14155550100", "{selection}");
            assert!(pick.monthly_price.is_some());
            // Nothing priced matches (the others are taken): the unpriced one, with no caps.
            let taken: BTreeSet<String> = offers().into_iter().map(|o| o.phone_number).collect();
            let pick = choose(&any, &c, &with_unpriced, &taken).unwrap();
            assert_eq!(pick.phone_number, "+14155550100", "{selection}");
            // With a cap, never: an unknown price is over every cap.
            let capped = claim(json!({"countryCode": "US", "maxMonthlyPrice": "100000"}));
            let e = choose(&capped, &c, &with_unpriced, &taken).unwrap_err();
            assert_eq!(e.reason, reasons::OVER_PRICE, "{selection}");
        }
    }

    #[test]
    fn a_claim_whose_offers_are_all_held_backs_off_and_says_so() {
        let c = claim(json!({"countryCode": "US"}));
        let all: BTreeSet<String> = offers().into_iter().map(|o| o.phone_number).collect();
        let taken = choose(&c, &class("c", json!({})), &offers(), &all).unwrap_err();
        assert!(
            taken.transient,
            "taken by purchases in flight: look again soon"
        );
        // Every one of them a number the account holds: nothing will free one.
        let p = held_back(taken.clone(), &c, &offers(), &all);
        assert!(!p.transient);
        assert_eq!(p.requeue, Duration::from_secs(60));
        assert!(p.message.contains("already holds"), "{}", p.message);
        // Some held by a purchase in flight only: unchanged.
        let mut some = all.clone();
        some.remove("+14155550101");
        assert_eq!(held_back(taken.clone(), &c, &offers(), &some), taken);
    }

    #[test]
    fn first_picks_in_search_order_and_features_filter() {
        let first = class("c", json!({"selection": "First"}));
        assert_eq!(
            choose(
                &claim(json!({"countryCode": "US"})),
                &first,
                &offers(),
                &none()
            )
            .unwrap()
            .phone_number,
            "+14155550105"
        );
        let sms = claim(json!({"countryCode": "US", "features": ["voice", "sms"]}));
        assert_eq!(
            choose(&sms, &class("c", json!({})), &offers(), &none())
                .unwrap()
                .phone_number,
            "+14155550105"
        );
    }

    #[test]
    fn the_stricter_of_the_claim_and_class_caps_applies() {
        let c = claim(
            json!({"countryCode": "US", "features": ["voice", "sms"], "maxMonthlyPrice": "5.00"}),
        );
        let strict_class = class(
            "c",
            json!({"maxMonthlyPrice": "2.00", "maxSetupPrice": "0.10"}),
        );
        assert_eq!(
            choose(&c, &strict_class, &offers(), &none())
                .unwrap_err()
                .reason,
            reasons::OVER_PRICE
        );
        let loose_class = class(
            "c",
            json!({"maxMonthlyPrice": "9.00", "maxSetupPrice": "0.10"}),
        );
        assert_eq!(
            choose(&c, &loose_class, &offers(), &none())
                .unwrap()
                .phone_number,
            "+14155550104"
        );
    }

    #[test]
    fn over_price_and_no_candidates_say_why() {
        let e = choose(
            &claim(json!({"countryCode": "US", "maxMonthlyPrice": "0.50"})),
            &class("c", json!({})),
            &offers(),
            &none(),
        )
        .unwrap_err();
        assert_eq!(e.reason, reasons::OVER_PRICE);
        assert!(
            e.message.contains("$0.50") && e.message.contains("$0.75"),
            "{}",
            e.message
        );
        let e = choose(
            &claim(json!({"countryCode": "US", "features": ["fax"]})),
            &class("c", json!({})),
            &offers(),
            &none(),
        )
        .unwrap_err();
        assert_eq!(
            (e.reason, e.requeue, e.transient),
            (reasons::NO_CANDIDATES, Duration::from_secs(60), false)
        );
        let all: BTreeSet<String> = offers().into_iter().map(|o| o.phone_number).collect();
        let e = choose(
            &claim(json!({"countryCode": "US"})),
            &class("c", json!({})),
            &offers(),
            &all,
        )
        .unwrap_err();
        assert_eq!(
            (e.reason, e.requeue, e.transient),
            (reasons::NO_CANDIDATES, Duration::from_secs(1), true),
            "taken by in-flight purchases: look again soon, quietly"
        );
        let e = choose(
            &claim(json!({"number": "+14155550199"})),
            &class("c", json!({})),
            &offers(),
            &none(),
        )
        .unwrap_err();
        assert!(e.message.contains("not offered"), "{}", e.message);
    }

    #[test]
    fn an_exact_number_is_the_only_candidate() {
        let pick = choose(
            &claim(json!({"number": "+14155550104"})),
            &class("c", json!({})),
            &offers(),
            &none(),
        )
        .unwrap();
        assert_eq!(pick.phone_number, "+14155550104");
    }

    #[test]
    fn the_class_is_the_named_one_or_the_single_default() {
        let default = {
            let mut c = class("std", json!({}));
            c.metadata.annotations =
                Some([(DEFAULT_CLASS_ANNOTATION.to_owned(), "true".to_owned())].into());
            Arc::new(c)
        };
        let other = Arc::new(class("premium", json!({})));
        let named = claim(json!({"countryCode": "US", "className": "premium"}));
        let unnamed = claim(json!({"countryCode": "US"}));
        assert_eq!(
            resolve_class(&named, &[default.clone(), other.clone()])
                .unwrap()
                .name_any(),
            "premium"
        );
        assert_eq!(
            resolve_class(&unnamed, &[default.clone(), other.clone()])
                .unwrap()
                .name_any(),
            "std"
        );
        assert_eq!(
            resolve_class(&unnamed, std::slice::from_ref(&other))
                .unwrap_err()
                .reason,
            reasons::NO_DEFAULT_CLASS
        );
        let mut second = (*default).clone();
        second.metadata.name = Some("std2".into());
        assert_eq!(
            resolve_class(&unnamed, &[default, Arc::new(second)])
                .unwrap_err()
                .reason,
            reasons::MULTIPLE_DEFAULT_CLASSES
        );
        let missing = claim(json!({"countryCode": "US", "className": "nope"}));
        assert_eq!(
            resolve_class(&missing, &[]).unwrap_err().reason,
            reasons::CLASS_NOT_FOUND
        );
    }

    #[test]
    fn search_filters_follow_the_criteria_or_the_exact_number() {
        let f = filters(&claim(
            json!({"countryCode": "CA", "areaCode": "604", "numberType": "toll-free"}),
        ))
        .unwrap();
        assert_eq!(
            (
                f.country_code.as_str(),
                f.area_code.as_deref(),
                f.number_type.as_deref()
            ),
            ("CA", Some("604"), Some("toll-free"))
        );
        let f = filters(&claim(json!({"number": "+12125550101"}))).unwrap();
        assert_eq!(
            (f.country_code.as_str(), f.area_code.as_deref()),
            ("US", Some("212"))
        );
        assert!(
            filters(&claim(json!({"number": "+442071234567"}))).is_none(),
            "a non-NANP number needs its country"
        );
    }
}
