//! The gates a claim passes before anything is searched for or bought, in order. Each is a pure
//! function of what the reconcile observed; the first that stops says why (a [`Pending`]) or
//! that there is nothing to report yet (a quiet [`Stop::Wait`]). After them come the search,
//! `choose::choose` (the price caps) and the `budget` gates.
//!
//! 1. [`tenant`]: the class accepts the claim's namespace.
//! 2. [`class_ready`]: the class is known to reach its account (fail closed).
//! 3. [`plan_limit`]: the plan's number limit is not known to be reached.
//! 4. [`backoff`]: the claim is not waiting out a refused purchase.
//! 5. [`searchable`]: the claim's spec can be searched for.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;

use super::conditions;
use super::pending::Pending;
use super::requeue;
use super::tenancy::{self, NamespaceMeta};
use super::time::between;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{PhoneNumberClaim, PhoneNumberClass};
use crate::talkturo::SearchFilters;

/// Why a claim does not go on to search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Nothing changed for the claim (this process is still building the class's account after
    /// a start or a leader change, or the class was created moments ago): look again after this
    /// long, writing nothing and publishing no Event.
    Wait(Duration),
    /// Wait, saying why.
    Pending(Pending),
}

impl From<Pending> for Stop {
    fn from(p: Pending) -> Self {
        Stop::Pending(p)
    }
}

/// What the gates look at.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    pub claim: &'a PhoneNumberClaim,
    pub class: &'a PhoneNumberClass,
    /// The claim's namespace and what the cache knows of it.
    pub namespace: &'a str,
    pub namespace_meta: Option<&'a NamespaceMeta>,
    /// Whether this process has built the class's account.
    pub account_built: bool,
    /// The account's number count when the plan limit was hit, while purchases are blocked.
    pub plan_blocked: Option<u64>,
    /// How long purchases stay blocked after the plan limit was hit.
    pub plan_limit_recheck: Duration,
    pub now: Timestamp,
}

/// Every gate, in order: the search the claim sends when all pass.
pub fn before_search(o: &Observed) -> Result<SearchFilters, Stop> {
    tenant(o.class, o.namespace, o.namespace_meta)?;
    class_ready(o)?;
    plan_limit(o)?;
    backoff(o.claim, o.now)?;
    Ok(searchable(o.claim)?)
}

/// The class accepts claims of the namespace (`spec.allowedNamespaces`).
pub fn tenant(
    class: &PhoneNumberClass,
    ns: &str,
    meta: Option<&NamespaceMeta>,
) -> Result<(), Pending> {
    tenancy::class_allows(class, ns, meta)
        .map_err(|why| Pending::new(reasons::CLASS_NOT_ALLOWED, why, requeue::WAITING))
}

/// No purchase unless the class is known to reach its account. A class created moments ago, or
/// Ready but whose account this process has not built yet, is one class reconcile away.
pub fn class_ready(o: &Observed) -> Result<(), Stop> {
    let name = o.class.name_any();
    let ready = o
        .class
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, types::READY));
    let is_ready = ready.is_some_and(|c| c.status == "True");
    let class_new = o.class.status.is_none()
        && o.class
            .metadata
            .creation_timestamp
            .as_ref()
            .is_some_and(|c| between(c.0, o.now) < requeue::QUIET_WAIT);
    if class_new || (is_ready && !o.account_built) {
        return Err(Stop::Wait(requeue::ACCOUNT_BUILDING));
    }
    if is_ready {
        return Ok(());
    }
    let why = ready.map_or_else(
        || format!("class {name} has not been checked yet"),
        |c| format!("class {name} is not ready ({}): {}", c.reason, c.message),
    );
    Err(Pending::new(reasons::CLASS_NOT_READY, why, requeue::CLASS_NOT_READY).into())
}

/// Not while the plan's number limit stands: a claim refused for it waits out the recheck
/// saying so, not flapping to "retrying in 3s" and back.
pub fn plan_limit(o: &Observed) -> Result<(), Stop> {
    match o.plan_blocked {
        None => Ok(()),
        Some(count) => Err(Pending::new(
            reasons::PLAN_LIMIT_REACHED,
            format!(
                "the Talkturo plan's number limit is reached ({count} numbers); release a number or upgrade the plan"
            ),
            o.plan_limit_recheck,
        )
        .into()),
    }
}

/// Not before the retry time a refused purchase set.
pub fn backoff(claim: &PhoneNumberClaim, now: Timestamp) -> Result<(), Stop> {
    let purchase = claim.status.as_ref().and_then(|s| s.purchase.as_ref());
    let Some(retry_at) = purchase
        .and_then(|p| p.next_retry_time.as_ref())
        .filter(|t| t.0 > now)
    else {
        return Ok(());
    };
    let wait = between(now, retry_at.0);
    let last = purchase
        .and_then(|p| p.last_failure_reason.clone())
        .unwrap_or_default();
    Err(Pending::new(
        reasons::PURCHASE_FAILED,
        format!("retrying in {}s after: {last}", wait.as_secs()),
        wait,
    )
    .into())
}

/// The search the claim's spec asks for.
pub fn searchable(claim: &PhoneNumberClaim) -> Result<SearchFilters, Pending> {
    super::choose::filters(claim).ok_or_else(|| {
        Pending::new(
            reasons::INVALID_SPEC,
            "countryCode is needed to search for this number",
            requeue::INVALID_SPEC,
        )
    })
}

#[cfg(test)]
mod tests;
