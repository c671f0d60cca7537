//! A class's status: whether it reaches its account, whether the last list is suspect, the plan
//! limit and the budget, totals and unmanaged numbers.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::Timestamp;
use kube::ResourceExt;

use super::budget::{class_budget, committed_cost};
use super::conditions::{self, Desired};
use super::events::{Note, action, reason};
use super::hold;
use super::snapshot::{PlanState, Snapshot};
use super::time::now_time;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{
    AccountIdentity, AccountStatus, ClassTotals, NumberPhase, PhoneNumber, PhoneNumberClass,
    PhoneNumberClassStatus, phone_number_name,
};
use crate::talkturo;

/// Condition types the class controller owns.
pub const MANAGED: &[&str] = &[
    types::READY,
    types::PLAN_LIMIT_REACHED,
    types::BUDGET_EXCEEDED,
    types::SUSPECT_LIST,
];

/// Why the class cannot reach its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub reason: &'static str,
    pub message: String,
}

/// Why the class's `apiBaseUrl` may not be used, if it would send the key in clear text to a host
/// other than a loopback address without `allowInsecureHTTP` (the schema refuses it too; this
/// covers CRDs installed without that rule).
pub fn insecure_url(spec: &crate::api::v1alpha1::PhoneNumberClassSpec) -> Option<NotReady> {
    let url = url::Url::parse(&spec.api_base_url).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return Some(NotReady {
            reason: reasons::INVALID_SPEC,
            message:
                "apiBaseUrl must not contain user:password; the key comes from apiKeySecretRef"
                    .to_owned(),
        });
    }
    let loopback = match url.host()? {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    (url.scheme() == "http" && !loopback && !spec.allow_insecure_http).then(|| NotReady {
        reason: reasons::INSECURE_URL,
        message: format!(
            "apiBaseUrl {} is plain http:// to {}: the API key would travel in clear text; use https://, or set allowInsecureHTTP: true for a trusted network",
            spec.api_base_url,
            url.host_str().unwrap_or_default()
        ),
    })
}

/// The plan-limit state a previous incarnation recorded in the class's status, so a restart does
/// not probe the limit with another purchase.
pub fn persisted_plan(class: &PhoneNumberClass) -> PlanState {
    let Some(st) = class.status.as_ref() else {
        return PlanState::default();
    };
    let limit = conditions::find(&st.conditions, types::PLAN_LIMIT_REACHED)
        .filter(|c| c.status == "True")
        .map(|c| {
            let count = st
                .account
                .as_ref()
                .and_then(|a| a.numbers_at_limit.or(a.number_count))
                .unwrap_or(0)
                .max(0) as u64;
            (count, c.last_transition_time.0)
        });
    PlanState {
        eligibility: None,
        limit_reached: limit,
    }
}

/// The reason and message for a failed list.
pub fn not_ready(e: &talkturo::Error) -> NotReady {
    let reason = match (e.status(), e) {
        (Some(401), _) => reasons::UNAUTHORIZED,
        (Some(403), _) => reasons::FORBIDDEN,
        (_, talkturo::Error::InvalidResponse { .. } | talkturo::Error::Redirect { .. }) => {
            reasons::INVALID_RESPONSE
        }
        (_, talkturo::Error::InvalidRequest { .. }) => reasons::INVALID_SPEC,
        (Some(s), _) if s < 500 && s != 429 && s != 408 => reasons::INVALID_RESPONSE,
        _ => reasons::UNREACHABLE,
    };
    NotReady {
        reason,
        message: e.to_string(),
    }
}

/// What a class's status is decided from.
#[derive(Clone, Copy)]
pub struct Observed<'a> {
    /// The account's list, or why the class cannot reach its account.
    pub listed: Result<&'a Snapshot, &'a NotReady>,
    pub plan: &'a PlanState,
    /// Every PhoneNumber (the class's are picked out).
    pub numbers: &'a [Arc<PhoneNumber>],
    /// The names of every PhoneNumber, to count the account's unmanaged numbers.
    pub known: &'a BTreeSet<String>,
    /// The account the class reaches now, when its key could be read.
    pub identity: Option<&'a AccountIdentity>,
    pub now: Timestamp,
}

/// The class's status, from what was observed.
pub fn desired_status(class: &PhoneNumberClass, o: &Observed) -> PhoneNumberClassStatus {
    let prev = class.status.clone().unwrap_or_default();
    let generation = class.metadata.generation;
    let held = o.listed.ok().and_then(hold::status);
    let ready = match &held {
        Some(h) => hold::ready(class, h, prev.account_identity.as_ref()),
        None => ready(class, o.listed),
    };
    let desired: Vec<Desired> = [
        Some(ready),
        suspect(o.listed, &prev),
        Some(plan_limit(o.plan)),
        budget(class, o.numbers),
    ]
    .into_iter()
    .flatten()
    .collect();
    let unmanaged = o.listed.ok().map(|s| {
        s.records
            .keys()
            .filter(|n| !o.known.contains(&phone_number_name(n)))
            .count() as i32
    });
    PhoneNumberClassStatus {
        observed_generation: generation,
        conditions: conditions::merge(
            &prev.conditions,
            &desired,
            MANAGED,
            generation,
            &now_time(o.now),
        ),
        account: account(o.plan, prev.account.clone()),
        totals: Some(totals(o.numbers)),
        unmanaged_numbers: unmanaged.or(prev.unmanaged_numbers),
        account_identity: hold::recorded_identity(class, o.listed.ok(), o.identity),
        hold: match o.listed {
            Ok(_) => held,
            // Without a list, the hold recorded stands (it is what a restart continues).
            Err(_) => prev.hold,
        },
    }
}

/// `Ready`: the account answered its list, or why not.
fn ready(class: &PhoneNumberClass, listed: Result<&Snapshot, &NotReady>) -> Desired {
    match listed {
        Ok(s) => Desired::new(
            types::READY,
            true,
            reasons::ACCOUNT_REACHABLE,
            format!(
                "team {} lists {} numbers",
                class.spec.team_id,
                s.records.len()
            ),
        ),
        Err(nr) => Desired::new(types::READY, false, nr.reason, nr.message.clone()),
    }
}

/// `SuspectList`: the list lacks too many numbers at once to trust. Without a list, what was
/// said last stands.
fn suspect(listed: Result<&Snapshot, &NotReady>, prev: &PhoneNumberClassStatus) -> Option<Desired> {
    match (
        listed,
        conditions::find(&prev.conditions, types::SUSPECT_LIST),
    ) {
        (Ok(s), _) if !s.unconfirmed.is_empty() => {
            let some: Vec<&str> = s.unconfirmed.iter().take(3).map(String::as_str).collect();
            Some(Desired::new(
                types::SUSPECT_LIST,
                true,
                reasons::NUMBERS_MISSING,
                format!(
                    "the account list lacks {} it held before ({}{}), too many at once (or every one the class tracks, or after the account changed) to trust; they are not marked Lost, released or bought again until lists still lack them at {}, or an admin confirms it (see Ready)",
                    super::hold::numbers(s.unconfirmed.len()),
                    some.join(", "),
                    if s.unconfirmed.len() > some.len() {
                        ", …"
                    } else {
                        ""
                    },
                    s.hold.map_or_else(
                        || "the end of the hold".to_owned(),
                        |h| now_time(h.confirm_after).0.to_string()
                    )
                ),
            ))
        }
        (Ok(_), _) => Some(Desired::new(
            types::SUSPECT_LIST,
            false,
            reasons::LIST_CONSISTENT,
            "the account list is consistent with the numbers held before",
        )),
        (Err(_), Some(c)) => {
            let on = c.status == "True";
            let reason = if on {
                reasons::NUMBERS_MISSING
            } else {
                reasons::LIST_CONSISTENT
            };
            Some(Desired::new(
                types::SUSPECT_LIST,
                on,
                reason,
                c.message.clone(),
            ))
        }
        (Err(_), None) => None,
    }
}

/// `PlanLimitReached`.
fn plan_limit(plan: &PlanState) -> Desired {
    match plan.limit_reached {
        Some((count, _)) => Desired::new(
            types::PLAN_LIMIT_REACHED,
            true,
            reasons::PLAN_LIMIT_REACHED,
            format!(
                "Talkturo refused a purchase for the plan limit with {count} numbers in the account; no purchase is made until a number is released or the plan changes"
            ),
        ),
        None => Desired::new(
            types::PLAN_LIMIT_REACHED,
            false,
            reasons::WITHIN_PLAN_LIMIT,
            "purchases are within the plan",
        ),
    }
}

/// `BudgetExceeded`, for a class with a budget: what the budget gate counts (Lost numbers and
/// purchases in flight too).
fn budget(class: &PhoneNumberClass, numbers: &[Arc<PhoneNumber>]) -> Option<Desired> {
    let budget = class_budget(class)?;
    let spent = committed_cost(numbers, &class.name_any());
    let exceeded = spent.total().is_none_or(|cost| cost >= budget);
    let msg = match spent.total() {
        Some(cost) => format!("numbers cost ${cost:.2}/month of a ${budget} budget"),
        None => format!(
            "numbers cost ${spent}/month; with prices unknown, nothing more is bought within the ${budget} budget"
        ),
    };
    let reason = if exceeded {
        reasons::BUDGET_EXCEEDED
    } else {
        reasons::WITHIN_BUDGET
    };
    Some(Desired::new(types::BUDGET_EXCEEDED, exceeded, reason, msg))
}

/// The account's figures as the last purchase reported them, and the count the limit was hit
/// at (so that a restart reports the limit in the same words).
fn account(plan: &PlanState, prev: Option<AccountStatus>) -> Option<AccountStatus> {
    let account = match &plan.eligibility {
        Some((e, at)) => Some(AccountStatus {
            plan_name: e.plan_name.clone(),
            subscribed: e.has_subscription,
            number_count: e.current_count.map(|c| c as i32),
            number_limit: e.max_allowed.map(|c| c as i32),
            numbers_at_limit: None,
            observed_at: Some(now_time(*at)),
        }),
        None => prev,
    };
    let at_limit = plan
        .limit_reached
        .map(|(count, _)| i32::try_from(count).unwrap_or(i32::MAX));
    match (account, at_limit) {
        (None, None) => None,
        (a, n) => Some(AccountStatus {
            numbers_at_limit: n,
            ..a.unwrap_or_default()
        }),
    }
}

/// Counts of the class's owned numbers (and of its Lost ones), and what the class is billed
/// for monthly: the same numbers the budget gate counts, Lost ones included.
pub fn totals(numbers: &[Arc<PhoneNumber>]) -> ClassTotals {
    let mut t = ClassTotals {
        monthly_cost: "0.00".into(),
        ..Default::default()
    };
    for n in numbers {
        let Some(st) = n.status.as_ref().filter(|s| s.id.is_some()) else {
            continue;
        };
        if st.phase == Some(NumberPhase::Lost) {
            t.lost += 1;
            continue;
        }
        t.numbers += 1;
        match st.phase {
            Some(NumberPhase::Bound) => t.bound += 1,
            Some(NumberPhase::Available) => t.available += 1,
            _ => {}
        }
        if st.is_trial == Some(true) {
            t.trial += 1;
        }
    }
    t.monthly_cost = super::figures::spend(numbers).to_string();
    t
}

/// The Event when the class's readiness changes (or is first decided): Normal when it reaches
/// its account, a Warning with the reason when it does not.
pub fn ready_note(
    class: &PhoneNumberClass,
    status: &PhoneNumberClassStatus,
    listed: Result<&Snapshot, &NotReady>,
) -> Option<Note> {
    let was_ready = class
        .status
        .as_ref()
        .is_some_and(|s| conditions::is_true(&s.conditions, types::READY));
    let ready = conditions::is_true(&status.conditions, types::READY);
    if was_ready == ready && class.status.is_some() {
        return None;
    }
    let message = conditions::find(&status.conditions, types::READY)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    let held = status.hold.as_ref().map(|h| h.reason.as_str());
    Some(match (listed, held) {
        (Ok(_), Some(r)) if r == reasons::ACCOUNT_CHANGED => {
            Note::warning(reasons::ACCOUNT_CHANGED, action::SYNC, message)
        }
        (Ok(_), Some(_)) => Note::warning(reasons::SUSPECT_LIST, action::SYNC, message),
        (Ok(_), None) => Note::normal(reasons::ACCOUNT_REACHABLE, action::SYNC, message),
        (Err(nr), _) => Note::warning(nr.reason, action::SYNC, message),
    })
}

/// The Event of a number imported as an `ObserveOnly` PhoneNumber.
pub fn imported_note(record: &crate::talkturo::NumberRecord) -> Note {
    Note::normal(
        reason::IMPORTED,
        action::IMPORT,
        format!(
            "imported {} (record {}) as PhoneNumber {}, ObserveOnly: never released or reassigned by the operator",
            record.phone_number,
            record.id,
            phone_number_name(&record.phone_number)
        ),
    )
}

#[cfg(test)]
mod tests;
