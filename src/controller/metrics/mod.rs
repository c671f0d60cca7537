//! The operator's Prometheus metrics. Labels come from closed sets (controller names, outcome
//! labels, phases, class names), never from error text or from numbers or claims: the number of
//! series grows with the classes, not with what they hold.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use super::decide::figures::ClassFigures;
use crate::talkturo::ClientMetrics;
use class::ClassSeries;

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

mod class;
mod shards;
#[cfg(test)]
mod tests;

pub use shards::ShardSeries;

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
    class: ClassSeries,
    queue_depth: Family<ControllerLabels, Gauge>,
    pub queue: Queue,
    active: Gauge,
    pub talkturo: Arc<ClientMetrics>,
    pub shards: ShardSeries,
}

impl Default for Metrics {
    fn default() -> Self {
        fn buckets() -> Histogram {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        }
        let mut registry = Registry::with_prefix("talkturo_operator");
        register_build_info(&mut registry);
        let shards = ShardSeries::register(&mut registry);
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
        let queue_depth = Family::<ControllerLabels, Gauge>::default();
        let class = ClassSeries::register(&mut registry);
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
            class,
            queue_depth,
            queue: Queue::default(),
            active,
            talkturo,
            shards,
        }
    }
}

/// `talkturo_operator_build_info{version}`: the version this process was built as (the crate's,
/// which the chart's `appVersion` and default image tag repeat; `make test` checks they agree).
fn register_build_info(registry: &mut Registry) {
    registry.register(
        "build",
        "The operator's version",
        Info::new(vec![("version", VERSION)]),
    );
}

/// The version of this build (the workspace's version in Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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
        self.class.observe(&l, f);
    }

    /// Drops every series of a class that was deleted.
    pub fn forget_class(&self, class: &str) {
        let l = ClassLabels {
            class: class.to_owned(),
        };
        self.class.forget(&l);
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
        self.class
            .drift
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
