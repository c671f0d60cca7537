//! Active-active replicas' series: the classes this replica serves, how many it took over and
//! handed over, the objects it relabelled, and what its caches hold.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// This replica's share of the classes (all 0 without `--shard-by-class`).
#[derive(Default)]
pub struct ShardSeries {
    served: Gauge,
    taken: Counter,
    given_up: Counter,
    relabelled: Counter,
    cached_claims: Gauge,
    cached_numbers: Gauge,
    awaiting_label: Gauge,
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
        r.register(
            "objects_relabelled",
            "Claims and PhoneNumbers whose class label this replica set or corrected, moving them to the cache of the replica serving their class (active-active replicas)",
            s.relabelled.clone(),
        );
        r.register(
            "cached_claims",
            "Claims in this replica's cache: all of them, or with active-active replicas those of the classes it serves",
            s.cached_claims.clone(),
        );
        r.register(
            "cached_phone_numbers",
            "PhoneNumbers in this replica's cache: all of them, or with active-active replicas those of the classes it serves",
            s.cached_numbers.clone(),
        );
        r.register(
            "claims_awaiting_label",
            "Claims in this replica's cache whose class label is not the class serving them yet (active-active replicas: unlabelled claims wait for the router's holder)",
            s.awaiting_label.clone(),
        );
        s
    }

    /// Claims in the cache still to be relabelled.
    pub fn awaiting_label(&self, claims: usize) {
        self.awaiting_label
            .set(i64::try_from(claims).unwrap_or(i64::MAX));
    }

    /// A claim or PhoneNumber relabelled.
    pub fn relabelled(&self) {
        self.relabelled.inc();
    }

    /// How many claims and PhoneNumbers the caches hold.
    pub fn cached(&self, claims: usize, numbers: usize) {
        self.cached_claims
            .set(i64::try_from(claims).unwrap_or(i64::MAX));
        self.cached_numbers
            .set(i64::try_from(numbers).unwrap_or(i64::MAX));
    }

    /// One round's changes and what is served after it.
    pub fn round(&self, taken: usize, given_up: usize, served: usize) {
        self.taken.inc_by(taken as u64);
        self.given_up.inc_by(given_up as u64);
        self.served.set(i64::try_from(served).unwrap_or(i64::MAX));
    }
}
