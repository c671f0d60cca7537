//! What the account is observed to hold: one list call's records, and the plan state. Data and
//! the rules that judge them; the account (`controller::account`) fetches and keeps them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;

use super::time::{after, now_time};
use crate::talkturo::{Eligibility, NumberRecord};

/// The account's numbers as one list call returned them.
#[derive(Debug)]
pub struct Snapshot {
    /// When the list call was sent: the snapshot shows the account as of this time or later.
    pub started_at: Timestamp,
    /// Records by E.164 number.
    pub records: BTreeMap<String, NumberRecord>,
    /// Numbers the account held before that this list (or one before it) suddenly lacks, too
    /// many at once to trust ([`suspect`]), or since the account changed: nothing about them is
    /// decided (not Lost, not deleted, not bought) until the hold is confirmed ([`judge`]).
    pub unconfirmed: BTreeSet<String>,
    /// The hold on `unconfirmed`, while there is one.
    pub hold: Option<Held>,
}

impl Snapshot {
    /// A snapshot that decides about every number it lacks.
    pub fn new(started_at: Timestamp, records: BTreeMap<String, NumberRecord>) -> Self {
        Self {
            started_at,
            records,
            unconfirmed: BTreeSet::new(),
            hold: None,
        }
    }
}

/// A hold on the numbers a list lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// When a list first lacked them (whole seconds: what the class's status says, and what
    /// the confirming annotation names).
    pub since: Timestamp,
    /// When lists still lacking them confirm the absence.
    pub confirm_after: Timestamp,
    /// Held because the account's configuration changed (`apiBaseUrl` or key), not because of
    /// how many went missing.
    pub changed: bool,
}

/// How long a held absence lasts unless the class says otherwise (`spec.lostConfirmation`).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

/// How a class's lists are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldPolicy {
    /// How long a held absence lasts before lists confirm it.
    pub window: Duration,
    /// The start of a hold an earlier process recorded in the class's status: continued, not
    /// started again.
    pub since: Option<Timestamp>,
    /// The account's configuration differs from the one the class's numbers are known in: any
    /// number a list lacks is held, however few.
    pub changed: bool,
    /// An admin confirmed the hold that started at this time.
    pub confirmed: Option<Timestamp>,
}

impl Default for HoldPolicy {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            since: None,
            changed: false,
            confirmed: None,
        }
    }
}

/// The numbers recent lists lacked.
#[derive(Debug, Default)]
pub struct Absences {
    /// Held: lacked by a list too many at once (or after the account changed), not decided on.
    pub pending: BTreeSet<String>,
    /// When the hold on `pending` started.
    pub since: Option<Timestamp>,
    /// Taken as gone (confirmed, or dropped a few at a time): no longer part of what the account
    /// is known to hold, until a list shows them again.
    pub gone: BTreeSet<String>,
}

/// What the account is known to hold when a list is judged.
#[derive(Debug, Default)]
pub struct Expected {
    /// Every number of the class it is known to hold: the tracked ones, and those earlier lists
    /// showed that a PhoneNumber of the class names.
    pub known: BTreeSet<String>,
    /// Those the class's PhoneNumbers record as owned: what a list's absence would mark Lost.
    pub tracked: BTreeSet<String>,
}

/// Judges a list (`records`, sent at `started_at`) against the numbers the account is
/// `expected` to hold, updating `a`; the hold on what it lacks, if any.
///
/// A list that lacks a few known numbers decides about them at once (they are gone). One that
/// lacks many at once ([`suspect`]), of all the numbers known or of the tracked ones alone, or
/// any after the account changed, or any while a hold stands, holds them: until lists lack them
/// for `policy.window` after the hold started, or an admin confirms that hold. A list that
/// shows a held number again releases it.
///
/// The tracked ones are judged on their own because the numbers earlier lists showed may be
/// no better than this one: two lists of another account in a row make its numbers "known",
/// and the one tracked number the second lacks would then be one of three, not all of one.
pub fn judge(
    a: &mut Absences,
    expected: Expected,
    records: &BTreeMap<String, NumberRecord>,
    started_at: Timestamp,
    policy: &HoldPolicy,
) -> Option<Held> {
    let Expected { mut known, tracked } = expected;
    a.gone.retain(|n| !records.contains_key(n));
    a.pending.retain(|n| !records.contains_key(n));
    known.retain(|n| !a.gone.contains(n));
    // A held number no longer known (released since, or marked Lost) is no longer held.
    a.pending.retain(|n| known.contains(n));
    let dropped: Vec<String> = known
        .iter()
        .filter(|n| !records.contains_key(*n) && !a.pending.contains(*n))
        .cloned()
        .collect();
    let missing = dropped.len() + a.pending.len();
    let tracked: Vec<&String> = known.iter().filter(|n| tracked.contains(*n)).collect();
    let tracked_missing = tracked
        .iter()
        .filter(|n| !records.contains_key(**n))
        .count();
    let hold = !a.pending.is_empty()
        || (policy.changed && !dropped.is_empty())
        || suspect(known.len(), missing)
        || suspect(tracked.len(), tracked_missing);
    if hold {
        a.pending.extend(dropped);
    } else {
        a.gone.extend(dropped);
    }
    if a.pending.is_empty() {
        a.since = None;
        return None;
    }
    let since = *a.since.get_or_insert_with(|| {
        let first = now_time(started_at).0;
        policy.since.map_or(first, |s| s.min(first))
    });
    let confirm_after = after(since, policy.window);
    if policy.confirmed == Some(since) || confirm_after <= started_at {
        a.gone.append(&mut a.pending);
        a.since = None;
        return None;
    }
    Some(Held {
        since,
        confirm_after,
        changed: policy.changed,
    })
}

/// Whether a list that lacks `missing` of the `known` numbers the account held is suspect: it
/// lacks more than max(2, 20 %) of them at once, or every one of them (an empty list, or
/// another account's: nothing in it is a number the class knows).
pub fn suspect(known: usize, missing: usize) -> bool {
    (known > 0 && missing >= known) || missing > (known / 5).max(2)
}

/// A number a PhoneNumber of the class names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    pub number: String,
    /// The PhoneNumber records it as owned (it holds a record id): a list's absence would mark
    /// it Lost. Otherwise it is one being bought (or adopted): a list that showed it before
    /// still counts, and a suspect list lacking it holds it rather than let it be bought again.
    pub owned: bool,
    /// When the operator's purchase of it came back, if it bought it: a list sent before that
    /// cannot show it.
    pub bought: Option<Timestamp>,
    /// Marked `Lost`: gone from the account's lists, still counted against the plan.
    pub lost: bool,
    /// Released by this operator, Talkturo confirming it (its status says so, whichever process
    /// sent the release): its absence is expected, never a reason to hold. A release only
    /// intended (its answer lost or failed) is not: its absence counts like any other's, so an
    /// empty or foreign list holds it instead of letting it go untracked.
    pub released: bool,
}

/// The plan as the account last reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanState {
    /// The last eligibility a purchase reported, and when.
    pub eligibility: Option<(Eligibility, Timestamp)>,
    /// Set when a purchase was refused for the plan limit: the account's number count then, and
    /// when. No purchase is made until the count drops, the class changes, or `recheck` passes.
    pub limit_reached: Option<(u64, Timestamp)>,
}
