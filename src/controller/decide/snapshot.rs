//! What the account is observed to hold: one list call's records, and the plan state. Data and
//! the rules that judge them; the account (`controller::account`) fetches and keeps them.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::talkturo::{Eligibility, NumberRecord};

/// The account's numbers as one list call returned them.
#[derive(Debug)]
pub struct Snapshot {
    /// When the list call was sent: the snapshot shows the account as of this time or later.
    pub started_at: Timestamp,
    /// Records by E.164 number.
    pub records: BTreeMap<String, NumberRecord>,
    /// Numbers the account held before that this list (or one before it) suddenly lacks, too
    /// many at once to trust ([`suspect`]): nothing about them is decided (not Lost, not
    /// deleted, not bought) until lists over the class's sync interval confirm their absence.
    pub unconfirmed: BTreeSet<String>,
}

impl Snapshot {
    /// A snapshot that decides about every number it lacks.
    pub fn new(started_at: Timestamp, records: BTreeMap<String, NumberRecord>) -> Self {
        Self {
            started_at,
            records,
            unconfirmed: BTreeSet::new(),
        }
    }
}

/// Whether a list that lacks `dropped` of the `known` numbers the account held is suspect: it
/// drops more than max(2, 20 %) of them at once, or is empty while numbers are known.
pub fn suspect(known: usize, dropped: usize, listed: usize) -> bool {
    (listed == 0 && known > 0) || dropped > (known / 5).max(2)
}

/// A number a PhoneNumber of the class records as owned (it holds a record id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    pub number: String,
    /// When the operator's purchase of it came back, if it bought it: a list sent before that
    /// cannot show it.
    pub bought: Option<Timestamp>,
    /// Marked `Lost`: gone from the account's lists, still counted against the plan.
    pub lost: bool,
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
