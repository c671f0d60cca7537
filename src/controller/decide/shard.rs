//! Which replica serves which class (active-active replicas). Every replica announces itself
//! with a member Lease; each class has a Lease of its own, and only its holder reconciles the
//! class's objects and calls its Talkturo account. These are the decisions, pure: who is alive,
//! who should serve each class, and what this replica does next with each class Lease.
//!
//! The spread is rendezvous hashing with bounded load: classes are placed in name order, each
//! on the highest-ranked member (by a hash of member and class) that holds fewer than
//! ⌈classes / members⌉. Every replica computes the same placement from the same members and
//! classes; a member joining or leaving moves few classes. A placement is only a wish: the
//! Lease decides, so two replicas that briefly disagree never both act.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// The pseudo-class of what no existing class serves (a claim naming a class that does not
/// exist, or none when there is no single default): its Lease's holder reports on those.
/// Parentheses never occur in a Kubernetes name, so no class is called this.
pub const ROUTER: &str = "(router)";

/// The class whose holder serves an object that names `named` (`None`: a claim naming none,
/// served by the default class `default`): that class when it exists, else the router.
pub fn served_by(
    named: Option<&str>,
    default: Option<&str>,
    exists: impl Fn(&str) -> bool,
) -> String {
    named
        .or(default)
        .filter(|c| exists(c))
        .unwrap_or(ROUTER)
        .to_owned()
}

/// What a Lease says: who holds it, when it was last renewed, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseView {
    pub holder: Option<String>,
    pub renewed: Option<Timestamp>,
    pub duration_secs: i64,
}

impl LeaseView {
    /// Held by someone whose renewal has not expired at `now`.
    pub fn live_holder(&self, now: Timestamp) -> Option<&str> {
        let holder = self.holder.as_deref().filter(|h| !h.is_empty())?;
        let renewed = self.renewed?;
        let until = renewed.checked_add(jiff::SignedDuration::from_secs(self.duration_secs));
        until.is_ok_and(|u| u > now).then_some(holder)
    }
}

/// The members alive at `now`: the holders of unexpired member Leases, sorted, once each.
pub fn live_members(members: &[LeaseView], now: Timestamp) -> Vec<String> {
    let set: BTreeSet<&str> = members.iter().filter_map(|m| m.live_holder(now)).collect();
    set.into_iter().map(str::to_owned).collect()
}

/// A member's rank for a class: the first 8 bytes of SHA-256 over both names.
fn rank(member: &str, class: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(member.as_bytes())
        .chain_update([0u8])
        .chain_update(class.as_bytes())
        .finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

/// Who should serve each class: rendezvous hashing, no member over ⌈classes / members⌉ (the
/// router, [`ROUTER`], placed by rank alone). Empty when there is no member.
pub fn placement(classes: &[String], members: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if members.is_empty() {
        return out;
    }
    let mut sorted: Vec<&String> = classes.iter().filter(|c| *c != ROUTER).collect();
    sorted.sort();
    sorted.dedup();
    let cap = sorted.len().div_ceil(members.len());
    // The router is no account's work: it goes where it ranks highest, outside the loads.
    if classes.iter().any(|c| c == ROUTER)
        && let Some(m) = members.iter().max_by_key(|m| (rank(m, ROUTER), m.as_str()))
    {
        out.insert(ROUTER.to_owned(), m.clone());
    }
    let mut load: BTreeMap<&str, usize> = members.iter().map(|m| (m.as_str(), 0)).collect();
    for class in sorted {
        let mut ranked: Vec<&String> = members.iter().collect();
        ranked.sort_by_key(|m| (std::cmp::Reverse(rank(m, class)), m.as_str()));
        if let Some(m) = ranked
            .into_iter()
            .find(|m| load.get(m.as_str()).copied().unwrap_or(0) < cap)
        {
            *load.entry(m.as_str()).or_default() += 1;
            out.insert(class.clone(), m.clone());
        }
    }
    out
}

/// What this replica does next with one class's Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Free (never held, released, or expired) and placed here: take it.
    Acquire,
    /// Held here and still placed here: renew it.
    Renew,
    /// Held here but placed elsewhere (a member joined): stop the class's work, let what is in
    /// flight finish, then release the Lease.
    HandOver,
    /// Held by another live replica, or placed elsewhere: nothing to do.
    Leave,
}

/// The step for one class Lease (`None`: no Lease object yet).
pub fn step(me: &str, placed_on: Option<&str>, lease: Option<&LeaseView>, now: Timestamp) -> Step {
    let holder = lease.and_then(|l| l.live_holder(now));
    let placed_here = placed_on == Some(me);
    match (holder, placed_here) {
        (Some(h), true) if h == me => Step::Renew,
        (Some(h), false) if h == me => Step::HandOver,
        (None, true) => Step::Acquire,
        _ => Step::Leave,
    }
}

#[cfg(test)]
mod tests;
