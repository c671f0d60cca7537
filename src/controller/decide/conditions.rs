//! Building conditions deterministically: `lastTransitionTime` moves only when a condition's
//! status flips, so recomputing the same state writes nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// A desired condition, before timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Desired {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

fn status_str(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The conditions to write: `desired` in order, each keeping its `lastTransitionTime` from
/// `current` unless its status changed. Condition types not in `desired` and not in `managed`
/// are kept as they are (another writer's); types in `managed` but not desired are dropped.
pub fn merge(
    current: &[Condition],
    desired: &[Desired],
    managed: &[&str],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut out: Vec<Condition> = desired
        .iter()
        .map(|d| {
            let prev = current.iter().find(|c| c.type_ == d.type_);
            let status = status_str(d.status);
            let last = match prev {
                Some(p) if p.status == status => p.last_transition_time.clone(),
                _ => now.clone(),
            };
            Condition {
                type_: d.type_.to_owned(),
                status: status.to_owned(),
                reason: d.reason.to_owned(),
                message: d.message.clone(),
                observed_generation: generation,
                last_transition_time: last,
            }
        })
        .collect();
    for c in current {
        if !desired.iter().any(|d| d.type_ == c.type_) && !managed.contains(&c.type_.as_str()) {
            out.push(c.clone());
        }
    }
    out
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is present and True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests;
