//! What the metrics say about a class, computed from the class status a reconcile just decided
//! and the class's PhoneNumbers. Pure.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::account::Snapshot;
use super::conditions;
use super::metrics::ClassFigures;
use super::money::Spend;
use super::trial;
use crate::api::conditions::types;
use crate::api::v1alpha1::{
    ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClass, PhoneNumberClassStatus,
};

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

/// The monthly spend of the numbers the class owns (Lost ones no longer count). Managed numbers
/// without a price are counted as unknown; ObserveOnly ones without a price are not ours to bill.
pub fn spend(numbers: &[Arc<PhoneNumber>]) -> Spend {
    let mut cost = Spend::default();
    for n in numbers {
        let owned = n
            .status
            .as_ref()
            .is_some_and(|s| s.id.is_some() && s.phase != Some(NumberPhase::Lost));
        if !owned {
            continue;
        }
        let price = super::claim::monthly_price(n);
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
mod tests {
    use super::*;
    use serde_json::json;

    fn number(n: &str, status: serde_json::Value) -> Arc<PhoneNumber> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": format!("tel-{n}")},
                "spec": {"number": format!("+{n}"), "className": "c"},
                "status": status,
            }))
            .unwrap_or_else(|e| unreachable!("{e}")),
        )
    }

    #[test]
    fn figures_count_cost_trials_and_unsettled_purchases() {
        let now = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::MIN);
        let at = |secs: i64| {
            now.checked_add(jiff::SignedDuration::from_secs(secs))
                .unwrap_or(now)
                .to_string()
        };
        let class: PhoneNumberClass = serde_json::from_value(json!({
            "metadata": {"name": "c"},
            "spec": {"apiBaseUrl": "http://127.0.0.1:1", "teamId": "t", "accountSlug": "a",
                     "apiKeySecretRef": {"namespace": "n", "name": "s"},
                     "monthlyBudget": "10.00", "trial": {"warnBefore": "1h"}},
        }))
        .unwrap_or_else(|e| unreachable!("{e}"));
        let numbers = [
            number(
                "14150000001",
                json!({"id": "a", "phase": "Bound", "monthlyPrice": "1.15"}),
            ),
            number(
                "14150000002",
                json!({"id": "b", "phase": "Available", "monthlyPrice": "2.00",
                "isTrial": true, "trialExpiresAt": at(600)}),
            ),
            number(
                "14150000003",
                json!({"id": "c", "phase": "Bound",
                "isTrial": true, "trialExpiresAt": at(7200)}),
            ),
            number(
                "14150000004",
                json!({"id": "d", "phase": "Lost", "monthlyPrice": "9.00"}),
            ),
            number(
                "14150000005",
                json!({"phase": "Purchasing",
                "purchase": {"attempts": 1, "outcomeUnknownSince": at(-700)}}),
            ),
            number(
                "14150000006",
                json!({"phase": "Purchasing",
                "purchase": {"attempts": 1, "outcomeUnknownSince": at(-5)}}),
            ),
        ];
        let status = PhoneNumberClassStatus::default();
        let f = of(
            &class,
            &status,
            &numbers,
            None,
            now,
            Duration::from_secs(600),
        );
        assert_eq!(f.monthly_cost, 3.15);
        assert_eq!(f.unpriced, 1, "the managed number without a price");
        assert_eq!(f.budget, Some(10.0));
        assert_eq!(f.trials_expiring, 1, "only the one inside warnBefore");
        assert_eq!(f.outcome_unknown, 1, "only the one past the alert delay");
        assert_eq!(f.listed_at, None);
        assert_eq!(f.plan_limit, None);
        let phases: Vec<_> = f.phases.iter().map(|(p, _)| *p).collect();
        assert_eq!(phases, PHASES.map(|(_, label)| label));
        let count = |p: &str| f.phases.iter().find(|(q, _)| *q == p).map(|(_, c)| *c);
        assert_eq!(
            (count("Bound"), count("Purchasing"), count("Lost")),
            (Some(2), Some(2), Some(1))
        );
    }
}
