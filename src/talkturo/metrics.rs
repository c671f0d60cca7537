//! Prometheus metrics of Talkturo calls: counted by operation and outcome, timed by operation.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub operation: &'static str,
    /// `ok` or a stable error kind (`http_4xx`, `timeout`, ...), never free text.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

/// Talkturo call metrics, shared by every client of the process.
#[derive(Debug)]
pub struct ClientMetrics {
    calls: Family<CallLabels, Counter>,
    duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
}

impl Default for ClientMetrics {
    fn default() -> Self {
        fn buckets() -> Histogram {
            Histogram::new(exponential_buckets(0.005, 2.0, 12))
        }
        Self {
            calls: Family::default(),
            duration: Family::new_with_constructor(buckets),
        }
    }
}

impl ClientMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "talkturo_requests",
            "Talkturo API requests by operation and outcome",
            self.calls.clone(),
        );
        registry.register(
            "talkturo_request_duration_seconds",
            "Talkturo API request latency by operation",
            self.duration.clone(),
        );
    }

    pub(crate) fn observe(&self, operation: &'static str, outcome: &'static str, seconds: f64) {
        self.calls
            .get_or_create(&CallLabels { operation, outcome })
            .inc();
        self.duration
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }

    /// Requests so far for one operation and outcome.
    pub fn calls(&self, operation: &'static str, outcome: &'static str) -> u64 {
        self.calls
            .get_or_create(&CallLabels { operation, outcome })
            .get()
    }
}
