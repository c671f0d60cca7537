//! Active-active replicas' series: the classes this replica serves, and how many it took over
//! and handed over.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// This replica's share of the classes (all 0 without `--shard-by-class`).
#[derive(Default)]
pub struct ShardSeries {
    served: Gauge,
    taken: Counter,
    given_up: Counter,
}

impl ShardSeries {
    pub(super) fn register(r: &mut Registry) -> Self {
        let s = Self::default();
        r.register(
            "classes_served",
            "Classes whose Lease this replica holds (active-active replicas)",
            s.served.clone(),
        );
        r.register(
            "class_leases_taken",
            "Class Leases this replica took (a start, a replica gone, a handover to it)",
            s.taken.clone(),
        );
        r.register(
            "class_leases_given_up",
            "Class Leases this replica gave up (handed over, lost, or the class deleted)",
            s.given_up.clone(),
        );
        s
    }

    /// One round's changes and what is served after it.
    pub fn round(&self, taken: usize, given_up: usize, served: usize) {
        self.taken.inc_by(taken as u64);
        self.given_up.inc_by(given_up as u64);
        self.served.set(i64::try_from(served).unwrap_or(i64::MAX));
    }
}
