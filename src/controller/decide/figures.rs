//! What the metrics say about a class, computed from the class status a reconcile just decided
//! and the class's PhoneNumbers. Pure.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::budget::monthly_price;
use super::conditions;
use super::money::Spend;
use super::snapshot::Snapshot;
use super::trial;
use crate::api::conditions::types;
use crate::api::v1alpha1::{
    ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClass, PhoneNumberClassStatus,
};

/// What a class reconcile reports about its class (see `figures::of`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassFigures {
    /// PhoneNumbers of the class by phase.
    pub phases: Vec<(&'static str, i64)>,
    /// `Ready` is True.
    pub ready: bool,
    /// Sum of the known monthly prices of the numbers it owns, USD.
    pub monthly_cost: f64,
    /// Owned numbers whose price Talkturo never gave (not in `monthly_cost`).
    pub unpriced: i64,
    /// `spec.monthlyBudget`, USD.
    pub budget: Option<f64>,
    /// `BudgetExceeded` is True: nothing more is bought for the class.
    pub budget_exceeded: bool,
    /// The plan's number limit and the account's number count, as Talkturo last reported them
    /// (the count from the latest list when there is one).
    pub plan_limit: Option<i64>,
    pub plan_numbers: Option<i64>,
    /// Talkturo refused a purchase for the plan limit, and no room was seen since.
    pub plan_limit_reached: bool,
    /// Trial numbers inside their `warnBefore` window, not yet expired.
    pub trials_expiring: i64,
    /// Purchases whose outcome is still unknown after `--outcome-alert-secs`.
    pub outcome_unknown: i64,
    /// When the list the class last decided on was sent (Unix seconds).
    pub listed_at: Option<f64>,
}

/// The figures of `class`, whose reconcile decided `status`; `listed` is the snapshot it decided
/// on, if the list succeeded.
pub fn of(
    class: &PhoneNumberClass,
    status: &PhoneNumberClassStatus,
    numbers: &[Arc<PhoneNumber>],
    listed: Option<&Snapshot>,
    now: Timestamp,
    outcome_alert_after: Duration,
) -> ClassFigures {
    let spend = spend(numbers);
    let warn_before = trial::warn_before(class);
    let account = status.account.as_ref();
    ClassFigures {
        phases: phase_counts(numbers),
        ready: conditions::is_true(&status.conditions, types::READY),
        monthly_cost: spend.known.to_f64().unwrap_or(f64::MAX),
        unpriced: i64::from(spend.unpriced),
        budget: class
            .spec
            .monthly_budget
            .as_deref()
            .and_then(|b| Decimal::from_str(b).ok())
            .and_then(|b| b.to_f64()),
        budget_exceeded: conditions::is_true(&status.conditions, types::BUDGET_EXCEEDED),
        plan_limit: account.and_then(|a| a.number_limit).map(i64::from),
        plan_numbers: listed
            .map(|s| i64::try_from(s.records.len()).unwrap_or(i64::MAX))
            .or_else(|| account.and_then(|a| a.number_count).map(i64::from)),
        plan_limit_reached: conditions::is_true(&status.conditions, types::PLAN_LIMIT_REACHED),
        trials_expiring: count(numbers, |n| {
            n.status.as_ref().is_some_and(|s| {
                matches!(
                    trial::stage(s, warn_before, now),
                    Some(trial::Stage::Expiring { .. })
                )
            })
        }),
        outcome_unknown: count(numbers, |n| {
            n.status
                .as_ref()
                .and_then(|s| s.purchase.as_ref()?.outcome_unknown_since.as_ref())
                .is_some_and(|since| {
                    now.duration_since(since.0).unsigned_abs() >= outcome_alert_after
                })
        }),
        listed_at: listed.map(|s| s.started_at.as_millisecond() as f64 / 1000.0),
    }
}

/// The monthly spend of the numbers the class owns, `Lost` ones included: gone from the
/// account's list, they may still be billed, and the budget gate still counts them. Managed
/// numbers without a price are counted as unknown; ObserveOnly ones without a price are not ours
/// to bill.
pub fn spend(numbers: &[Arc<PhoneNumber>]) -> Spend {
    let mut cost = Spend::default();
    for n in numbers {
        let owned = n.status.as_ref().is_some_and(|s| s.id.is_some());
        if !owned {
            continue;
        }
        let price = monthly_price(n);
        if price.is_some() || n.spec.management_policy == ManagementPolicy::Managed {
            cost.add(price);
        }
    }
    cost
}

fn count(numbers: &[Arc<PhoneNumber>], f: impl Fn(&PhoneNumber) -> bool) -> i64 {
    i64::try_from(numbers.iter().filter(|n| f(n)).count()).unwrap_or(i64::MAX)
}

/// Every phase with its `phase` label in `phone_numbers`.
pub const PHASES: [(NumberPhase, &str); 7] = [
    (NumberPhase::Purchasing, "Purchasing"),
    (NumberPhase::Available, "Available"),
    (NumberPhase::Bound, "Bound"),
    (NumberPhase::Released, "Released"),
    (NumberPhase::Expired, "Expired"),
    (NumberPhase::Lost, "Lost"),
    (NumberPhase::Failed, "Failed"),
];

/// PhoneNumbers by phase, every phase present (0 included) so a series never goes stale.
pub fn phase_counts(numbers: &[Arc<PhoneNumber>]) -> Vec<(&'static str, i64)> {
    PHASES
        .into_iter()
        .map(|(p, label)| {
            (
                label,
                count(numbers, |n| {
                    n.status.as_ref().and_then(|s| s.phase) == Some(p)
                }),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
