//! The per-class series: what a class reconcile reports about its class.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};

use super::{ClassFigures, ClassLabels};

type ClassGauge = Family<ClassLabels, Gauge>;
type ClassFloat = Family<ClassLabels, Gauge<f64, AtomicU64>>;

/// The per-class series.
pub(super) struct ClassSeries {
    ready: ClassGauge,
    monthly_cost: ClassFloat,
    unpriced: ClassGauge,
    budget: ClassFloat,
    budget_exceeded: ClassGauge,
    plan_limit: ClassGauge,
    plan_numbers: ClassGauge,
    plan_limit_reached: ClassGauge,
    trials_expiring: ClassGauge,
    outcome_unknown: ClassGauge,
    listed_at: ClassFloat,
    pub drift: Family<ClassLabels, Counter>,
}

/// Registers `metric` under `name` and returns it.
fn reg<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl ClassSeries {
    pub fn register(r: &mut Registry) -> Self {
        let g = ClassGauge::default;
        let f = ClassFloat::default;
        Self {
            ready: reg(
                r,
                "class_ready",
                "1 while the class's Ready condition is True (its account answers), else 0",
                g(),
            ),
            monthly_cost: reg(
                r,
                "monthly_cost_dollars",
                "Sum of the known monthly prices of the numbers the class owns, in USD",
                f(),
            ),
            unpriced: reg(
                r,
                "unpriced_numbers",
                "Numbers the class owns whose monthly price Talkturo never gave (not in monthly_cost_dollars)",
                g(),
            ),
            budget: reg(
                r,
                "monthly_budget_dollars",
                "The class's spec.monthlyBudget in USD (absent when it has none)",
                f(),
            ),
            budget_exceeded: reg(
                r,
                "budget_exceeded",
                "1 while the class's BudgetExceeded is True (its numbers and purchases in flight cost its whole budget, or their prices are unknown), else 0",
                g(),
            ),
            plan_limit: reg(
                r,
                "plan_number_limit",
                "The Talkturo plan's number limit, as the account last reported it",
                g(),
            ),
            plan_numbers: reg(
                r,
                "plan_numbers",
                "Numbers in the Talkturo account (the latest list), counted against the plan's limit",
                g(),
            ),
            plan_limit_reached: reg(
                r,
                "plan_limit_reached",
                "1 while Talkturo refuses purchases for the plan limit and no room was seen since, else 0",
                g(),
            ),
            trials_expiring: reg(
                r,
                "trial_numbers_expiring",
                "Trial numbers inside their class's warnBefore window, not yet expired",
                g(),
            ),
            outcome_unknown: reg(
                r,
                "purchase_outcome_unknown",
                "Purchases whose outcome is still unknown after --outcome-alert-secs (a number may be billed and not tracked yet)",
                g(),
            ),
            listed_at: reg(
                r,
                "account_last_list_timestamp_seconds",
                "When the account list the class decides on was sent (Unix time); its age is time() minus this",
                f(),
            ),
            drift: reg(
                r,
                "assistant_drift_corrections",
                "Assignments changed outside the operator and moved back to the spec",
                Family::default(),
            ),
        }
    }

    /// Sets the class's series from its latest reconcile.
    pub fn observe(&self, l: &ClassLabels, f: &ClassFigures) {
        self.ready.get_or_create(l).set(i64::from(f.ready));
        self.monthly_cost.get_or_create(l).set(f.monthly_cost);
        self.unpriced.get_or_create(l).set(f.unpriced);
        for (family, value) in [
            (&self.plan_limit, f.plan_limit),
            (&self.plan_numbers, f.plan_numbers),
        ] {
            match value {
                Some(v) => {
                    family.get_or_create(l).set(v);
                }
                None => {
                    family.remove(l);
                }
            }
        }
        for (family, value) in [(&self.budget, f.budget), (&self.listed_at, f.listed_at)] {
            match value {
                Some(v) => {
                    family.get_or_create(l).set(v);
                }
                None => {
                    family.remove(l);
                }
            }
        }
        self.budget_exceeded
            .get_or_create(l)
            .set(i64::from(f.budget_exceeded));
        self.plan_limit_reached
            .get_or_create(l)
            .set(i64::from(f.plan_limit_reached));
        self.trials_expiring.get_or_create(l).set(f.trials_expiring);
        self.outcome_unknown.get_or_create(l).set(f.outcome_unknown);
        // The counter's series exists from the class's first reconcile (0, not absent).
        let _ = self.drift.get_or_create(l);
    }

    /// Drops the series of a class that was deleted.
    pub fn forget(&self, l: &ClassLabels) {
        for family in [
            &self.ready,
            &self.unpriced,
            &self.budget_exceeded,
            &self.plan_limit,
            &self.plan_numbers,
            &self.plan_limit_reached,
            &self.trials_expiring,
            &self.outcome_unknown,
        ] {
            family.remove(l);
        }
        for family in [&self.monthly_cost, &self.budget, &self.listed_at] {
            family.remove(l);
        }
        self.drift.remove(l);
    }
}
