//! Time as the API server keeps it (whole seconds) and durations as specs write them. Pure: the
//! current time is always an argument.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Parses a Go-style duration from a spec (validated by the schema); `default` if unreadable.
pub fn parse_duration(s: &str, default: Duration) -> Duration {
    s.parse::<kube::core::Duration>()
        .ok()
        .filter(|d| !d.is_negative())
        .map(Duration::from)
        .unwrap_or(default)
}

/// A time as a Kubernetes timestamp rounded **up** to the second (they serialize to whole
/// seconds). For lower bounds ("a list sent after this"): rounding down would let a list sent
/// just before the event pass as one sent after it.
pub fn time_ceil(t: Timestamp) -> Time {
    let secs = if t.subsec_nanosecond() > 0 {
        t.as_second() + 1
    } else {
        t.as_second()
    };
    Time(Timestamp::from_second(secs).unwrap_or(t))
}

/// `now` as a Kubernetes timestamp: second precision, as the API server stores it, so what is
/// compared is what was written.
pub fn now_time(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// `t + d`, saturating (an out-of-range sum is `t`).
pub fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_add(SignedDuration::try_from(d).unwrap_or_default())
        .unwrap_or(t)
}

/// `t - d`, saturating (an out-of-range difference is `t`).
pub fn before(t: Timestamp, d: Duration) -> Timestamp {
    t.saturating_sub(SignedDuration::try_from(d).unwrap_or_default())
        .unwrap_or(t)
}

/// How long between `then` and `now`, whichever comes first.
pub fn between(then: Timestamp, now: Timestamp) -> Duration {
    now.duration_since(then).unsigned_abs()
}

#[cfg(test)]
mod tests;
