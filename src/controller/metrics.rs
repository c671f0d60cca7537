//! The operator's Prometheus metrics. Labels come from closed sets (controller names, outcome
//! labels, phases, class names), never from error text or from numbers or claims: the number of
//! series grows with the classes, not with what they hold.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use super::decide::figures::ClassFigures;
use crate::talkturo::ClientMetrics;

/// The `outcome` label values of `purchases_total`.
pub const PURCHASE_OUTCOMES: [&str; 7] = [
    "bought",
    "already_owned",
    "mismatch",
    "unknown",
    "transient",
    "plan_limit",
    "refused",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub controller: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PurchaseLabels {
    pub class: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NumberLabels {
    pub class: String,
    pub phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabels {
    pub class: String,
}

type ClassGauge = Family<ClassLabels, Gauge>;
type ClassFloat = Family<ClassLabels, Gauge<f64, AtomicU64>>;

/// Work waiting for each controller: objects a watch or a wake-up has queued for a reconcile that
/// has not started yet. (Timed resyncs are counted from when they start, not while they wait:
/// kube-runtime keeps their schedule to itself.)
#[derive(Debug, Default)]
pub struct Queue {
    waiting: Mutex<HashMap<&'static str, BTreeSet<String>>>,
}

impl Queue {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, BTreeSet<String>>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `key` was triggered for `controller`.
    pub fn queued(&self, controller: &'static str, key: String) {
        self.waiting().entry(controller).or_default().insert(key);
    }

    /// A reconcile of `key` started (or the object went): it no longer waits.
    pub fn started(&self, controller: &'static str, key: &str) {
        if let Some(set) = self.waiting().get_mut(controller) {
            set.remove(key);
        }
    }

    /// Objects waiting, by controller.
    pub fn depth(&self) -> Vec<(&'static str, i64)> {
        self.waiting()
            .iter()
            .map(|(c, set)| (*c, i64::try_from(set.len()).unwrap_or(i64::MAX)))
            .collect()
    }
}

/// Every metric the operator exports, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    purchases: Family<PurchaseLabels, Counter>,
    numbers: Family<NumberLabels, Gauge>,
    class_ready: ClassGauge,
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
    drift: Family<ClassLabels, Counter>,
    queue_depth: Family<ControllerLabels, Gauge>,
    pub queue: Queue,
    active: Gauge,
    pub talkturo: Arc<ClientMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        fn buckets() -> Histogram {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        }
        let mut registry = Registry::with_prefix("talkturo_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_duration =
            Family::<ControllerLabels, Histogram, fn() -> Histogram>::new_with_constructor(buckets);
        let purchases = Family::<PurchaseLabels, Counter>::default();
        let numbers = Family::<NumberLabels, Gauge>::default();
        registry.register(
            "reconciles",
            "Reconciles by controller and outcome",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile latency by controller",
            reconcile_duration.clone(),
        );
        registry.register(
            "purchases",
            "Purchase calls by class and outcome",
            purchases.clone(),
        );
        registry.register(
            "phone_numbers",
            "PhoneNumbers by class and phase",
            numbers.clone(),
        );
        let class_ready = ClassGauge::default();
        let monthly_cost = ClassFloat::default();
        let unpriced = ClassGauge::default();
        let budget = ClassFloat::default();
        let budget_exceeded = ClassGauge::default();
        let plan_limit = ClassGauge::default();
        let plan_numbers = ClassGauge::default();
        let plan_limit_reached = ClassGauge::default();
        let trials_expiring = ClassGauge::default();
        let outcome_unknown = ClassGauge::default();
        let listed_at = ClassFloat::default();
        let drift = Family::<ClassLabels, Counter>::default();
        let queue_depth = Family::<ControllerLabels, Gauge>::default();
        registry.register(
            "class_ready",
            "1 while the class's Ready condition is True (its account answers), else 0",
            class_ready.clone(),
        );
        registry.register(
            "monthly_cost_dollars",
            "Sum of the known monthly prices of the numbers the class owns, in USD",
            monthly_cost.clone(),
        );
        registry.register(
            "unpriced_numbers",
            "Numbers the class owns whose monthly price Talkturo never gave (not in monthly_cost_dollars)",
            unpriced.clone(),
        );
        registry.register(
            "monthly_budget_dollars",
            "The class's spec.monthlyBudget in USD (absent when it has none)",
            budget.clone(),
        );
        registry.register(
            "budget_exceeded",
            "1 while the class's BudgetExceeded is True (its numbers and purchases in flight cost its whole budget, or their prices are unknown), else 0",
            budget_exceeded.clone(),
        );
        registry.register(
            "plan_number_limit",
            "The Talkturo plan's number limit, as the account last reported it",
            plan_limit.clone(),
        );
        registry.register(
            "plan_numbers",
            "Numbers in the Talkturo account (the latest list), counted against the plan's limit",
            plan_numbers.clone(),
        );
        registry.register(
            "plan_limit_reached",
            "1 while Talkturo refuses purchases for the plan limit and no room was seen since, else 0",
            plan_limit_reached.clone(),
        );
        registry.register(
            "trial_numbers_expiring",
            "Trial numbers inside their class's warnBefore window, not yet expired",
            trials_expiring.clone(),
        );
        registry.register(
            "purchase_outcome_unknown",
            "Purchases whose outcome is still unknown after --outcome-alert-secs (a number may be billed and not tracked yet)",
            outcome_unknown.clone(),
        );
        registry.register(
            "account_last_list_timestamp_seconds",
            "When the account list the class decides on was sent (Unix time); its age is time() minus this",
            listed_at.clone(),
        );
        registry.register(
            "assistant_drift_corrections",
            "Assignments changed outside the operator and moved back to the spec",
            drift.clone(),
        );
        registry.register(
            "queue_depth",
            "Objects a watch or wake-up queued for a reconcile that has not started yet, by controller",
            queue_depth.clone(),
        );
        let active = Gauge::default();
        registry.register(
            "active",
            "1 while this process leads (or runs without leader election) with synced caches, i.e. reconciles; 0 on a standby",
            active.clone(),
        );
        let talkturo = Arc::new(ClientMetrics::default());
        talkturo.register(&mut registry);
        Self {
            registry,
            reconciles,
            reconcile_duration,
            purchases,
            numbers,
            class_ready,
            monthly_cost,
            unpriced,
            budget,
            budget_exceeded,
            plan_limit,
            plan_numbers,
            plan_limit_reached,
            trials_expiring,
            outcome_unknown,
            listed_at,
            drift,
            queue_depth,
            queue: Queue::default(),
            active,
            talkturo,
        }
    }
}

impl Metrics {
    /// Whether this process is the one reconciling.
    pub fn set_active(&self, active: bool) {
        self.active.set(i64::from(active));
    }

    pub fn reconciled(&self, controller: &'static str, outcome: &'static str, seconds: f64) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                controller,
                outcome,
            })
            .inc();
        self.reconcile_duration
            .get_or_create(&ControllerLabels { controller })
            .observe(seconds);
    }

    pub fn purchase(&self, class: &str, outcome: &'static str) {
        self.purchases
            .get_or_create(&PurchaseLabels {
                class: class.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Purchase calls so far for a class and outcome.
    pub fn purchases(&self, class: &str, outcome: &'static str) -> u64 {
        self.purchases
            .get_or_create(&PurchaseLabels {
                class: class.to_owned(),
                outcome,
            })
            .get()
    }

    /// Sets every per-class series of `class` from its latest reconcile.
    pub fn observe_class(&self, class: &str, f: &ClassFigures) {
        let l = ClassLabels {
            class: class.to_owned(),
        };
        for (phase, count) in &f.phases {
            self.numbers
                .get_or_create(&NumberLabels {
                    class: class.to_owned(),
                    phase,
                })
                .set(*count);
        }
        self.class_ready.get_or_create(&l).set(i64::from(f.ready));
        self.monthly_cost.get_or_create(&l).set(f.monthly_cost);
        self.unpriced.get_or_create(&l).set(f.unpriced);
        let optional = [
            (&self.plan_limit, f.plan_limit),
            (&self.plan_numbers, f.plan_numbers),
        ];
        for (family, value) in optional {
            match value {
                Some(v) => {
                    family.get_or_create(&l).set(v);
                }
                None => {
                    family.remove(&l);
                }
            }
        }
        for (family, value) in [(&self.budget, f.budget), (&self.listed_at, f.listed_at)] {
            match value {
                Some(v) => {
                    family.get_or_create(&l).set(v);
                }
                None => {
                    family.remove(&l);
                }
            }
        }
        self.budget_exceeded
            .get_or_create(&l)
            .set(i64::from(f.budget_exceeded));
        self.plan_limit_reached
            .get_or_create(&l)
            .set(i64::from(f.plan_limit_reached));
        self.trials_expiring
            .get_or_create(&l)
            .set(f.trials_expiring);
        self.outcome_unknown
            .get_or_create(&l)
            .set(f.outcome_unknown);
        // The counter's series exists from the class's first reconcile (0, not absent).
        let _ = self.drift.get_or_create(&l);
    }

    /// Drops every series of a class that was deleted.
    pub fn forget_class(&self, class: &str) {
        let l = ClassLabels {
            class: class.to_owned(),
        };
        for family in [
            &self.class_ready,
            &self.unpriced,
            &self.budget_exceeded,
            &self.plan_limit,
            &self.plan_numbers,
            &self.plan_limit_reached,
            &self.trials_expiring,
            &self.outcome_unknown,
        ] {
            family.remove(&l);
        }
        for family in [&self.monthly_cost, &self.budget, &self.listed_at] {
            family.remove(&l);
        }
        self.drift.remove(&l);
        for (_, phase) in super::decide::figures::PHASES {
            self.numbers.remove(&NumberLabels {
                class: class.to_owned(),
                phase,
            });
        }
        for outcome in PURCHASE_OUTCOMES {
            self.purchases.remove(&PurchaseLabels {
                class: class.to_owned(),
                outcome,
            });
        }
    }

    /// An assignment changed outside the operator was moved back.
    pub fn drift_corrected(&self, class: &str) {
        self.drift
            .get_or_create(&ClassLabels {
                class: class.to_owned(),
            })
            .inc();
    }

    /// The exposition text for `/metrics`.
    pub fn encode(&self) -> String {
        for (controller, depth) in self.queue.depth() {
            self.queue_depth
                .get_or_create(&ControllerLabels { controller })
                .set(depth);
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_counts_each_waiting_object_once_until_its_reconcile_starts() {
        let m = Metrics::default();
        m.queue.queued("phonenumber", "/tel-1".into());
        m.queue.queued("phonenumber", "/tel-1".into());
        m.queue.queued("phonenumber", "/tel-2".into());
        m.queue.queued("phonenumberclaim", "ns/a".into());
        let text = m.encode();
        assert!(
            text.contains("talkturo_operator_queue_depth{controller=\"phonenumber\"} 2"),
            "{text}"
        );
        m.queue.started("phonenumber", "/tel-1");
        m.queue.started("phonenumberclaim", "ns/a");
        let text = m.encode();
        assert!(
            text.contains("talkturo_operator_queue_depth{controller=\"phonenumber\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("talkturo_operator_queue_depth{controller=\"phonenumberclaim\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn a_forgotten_class_leaves_no_series() {
        let m = Metrics::default();
        let f = ClassFigures {
            phases: vec![("Bound", 3)],
            ready: true,
            monthly_cost: 3.45,
            budget: Some(10.0),
            plan_limit: Some(5),
            plan_numbers: Some(3),
            listed_at: Some(1.0),
            ..Default::default()
        };
        m.observe_class("gold", &f);
        m.purchase("gold", "bought");
        m.drift_corrected("gold");
        let text = m.encode();
        for series in [
            "talkturo_operator_monthly_cost_dollars{class=\"gold\"} 3.45",
            "talkturo_operator_plan_number_limit{class=\"gold\"} 5",
            "talkturo_operator_assistant_drift_corrections_total{class=\"gold\"} 1",
            "talkturo_operator_phone_numbers{class=\"gold\",phase=\"Bound\"} 3",
        ] {
            assert!(text.contains(series), "{series} missing:\n{text}");
        }
        m.observe_class("gold", &ClassFigures { budget: None, ..f });
        assert!(
            !m.encode()
                .contains("monthly_budget_dollars{class=\"gold\"}")
        );
        m.forget_class("gold");
        let text = m.encode();
        assert!(!text.contains("gold"), "{text}");
    }
}
