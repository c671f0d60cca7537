//! The operator's Prometheus metrics. Labels come from closed sets (controller names, outcome
//! labels, phases, class names), never from error text.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::talkturo::ClientMetrics;

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

/// Every metric the operator exports, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    purchases: Family<PurchaseLabels, Counter>,
    numbers: Family<NumberLabels, Gauge>,
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

    pub fn set_numbers(&self, class: &str, phase: &'static str, count: i64) {
        self.numbers
            .get_or_create(&NumberLabels {
                class: class.to_owned(),
                phase,
            })
            .set(count);
    }

    /// The exposition text for `/metrics`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }
}
