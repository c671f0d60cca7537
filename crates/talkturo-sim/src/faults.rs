//! Fault injection: rules set at start or through the admin API, drawn from a seeded RNG so a
//! run can be replayed.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The API operations, as the simulator counts and targets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Op {
    Search,
    Purchase,
    List,
    Assign,
    AssistantNumbers,
    SetAssistantNumbers,
    Release,
    Campaigns,
}

/// What a matching rule does to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FaultAction {
    /// Wait this long before handling the request.
    Latency { ms: u64 },
    /// Answer with this status before the request takes effect (with `Retry-After` if given).
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// Let the request take effect, then lose the answer.
    LostResponse { mode: LostMode },
    /// Let the request take effect, then answer 200 with a body that is not valid JSON.
    Malformed,
    // Hostile answers: each is a way the real service, or a proxy in front of it, could answer
    // wrongly. The client must refuse them or the operator must not act on them.
    /// Purchase: buy another number on offer in the same pool instead, and answer its record.
    MismatchedPurchase,
    /// Purchase: buy the number asked for, but answer with a record of another number, one still
    /// on offer (nothing of it was bought).
    MisreportedPurchase,
    /// List: answer no numbers (`count` 0) whatever the account holds; campaigns: answer none.
    EmptyList,
    /// List: answer another account's list: two numbers this account does not own
    /// (`+15550100001`, `+15550100002`) and none of its own, as a proxy answering for the wrong
    /// team would.
    ForeignList,
    /// List: answer every number without its leading `+`.
    MalformedNumbers,
    /// List: answer the first number a second time, under another id.
    DuplicateIds,
    /// Search: the first offer's prices are unreadable (`"contact sales"`).
    UnpricedOffers,
    /// Search: the first offer costs an absurd price.
    AbsurdPrices,
    /// List: every page claims 10^12 numbers and ignores `offset` (the same page again).
    EndlessList,
    /// Answer 400, before taking effect, with a body that echoes the request's `Authorization`
    /// header, padded to about `bytes` bytes.
    EchoAuthorization {
        #[serde(default)]
        bytes: usize,
    },
    /// Answer `302 Found`, before taking effect, pointing at `location`.
    Redirect { location: String },
    /// Assign or set an assistant's numbers: answer success without taking effect.
    IgnoredWrite,
}

impl FaultAction {
    /// Whether the action answers instead of handling the request.
    fn answers_instead(&self) -> bool {
        matches!(
            self,
            FaultAction::EchoAuthorization { .. } | FaultAction::Redirect { .. }
        )
    }

    /// A stable label for the injected-fault counters.
    fn label(&self) -> String {
        match self {
            FaultAction::Latency { .. } => "latency".into(),
            FaultAction::Status { status, .. } => format!("status_{status}"),
            FaultAction::LostResponse { mode } => format!("lost_{mode:?}").to_lowercase(),
            FaultAction::Malformed => "malformed".into(),
            FaultAction::MismatchedPurchase => "mismatched_purchase".into(),
            FaultAction::MisreportedPurchase => "misreported_purchase".into(),
            FaultAction::EmptyList => "empty_list".into(),
            FaultAction::ForeignList => "foreign_list".into(),
            FaultAction::MalformedNumbers => "malformed_numbers".into(),
            FaultAction::DuplicateIds => "duplicate_ids".into(),
            FaultAction::UnpricedOffers => "unpriced_offers".into(),
            FaultAction::AbsurdPrices => "absurd_prices".into(),
            FaultAction::EndlessList => "endless_list".into(),
            FaultAction::EchoAuthorization { .. } => "echo_authorization".into(),
            FaultAction::Redirect { .. } => "redirect".into(),
            FaultAction::IgnoredWrite => "ignored_write".into(),
        }
    }
}

/// How an answer is lost after the request took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LostMode {
    /// The connection is cut in the middle of the body.
    Drop,
    /// A 500 is returned.
    ServerError,
    /// The answer is held back for this long (longer than any client timeout).
    Hang,
}

/// One fault rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// The operation it applies to; every operation when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Op>,
    pub action: FaultAction,
    /// Chance that a matching request is hit, 0 to 1 (default 1).
    #[serde(default = "one")]
    pub probability: f64,
    /// How many more requests it may hit; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
}

fn one() -> f64 {
    1.0
}

impl FaultRule {
    /// A rule that hits the next `times` requests of `op` for sure (every one when `None`).
    pub fn on(op: Op, action: FaultAction, times: Option<u32>) -> Self {
        Self {
            op: Some(op),
            action,
            probability: 1.0,
            remaining: times,
        }
    }
}

/// What the rules decided for one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub latency: Duration,
    /// Answer this instead of handling the request.
    pub reject: Option<(u16, Option<u64>)>,
    /// Handle the request, then lose or garble the answer (or, for the hostile actions, handle
    /// it the distorted way).
    pub after: Option<FaultAction>,
    /// Answer this way instead of handling the request.
    pub instead: Option<FaultAction>,
}

/// The active rules and the RNG they draw from.
pub struct Faults {
    rules: Vec<FaultRule>,
    rng: ChaCha8Rng,
    /// How many requests each kind of fault hit, for reports.
    pub injected: std::collections::BTreeMap<String, u64>,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Self {
            rules: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            injected: Default::default(),
        }
    }

    pub fn set(&mut self, rules: Vec<FaultRule>) {
        self.rules = rules;
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Decides the faults for one request of `op`: latencies add up; the first rejecting or
    /// answer-losing rule that fires wins.
    pub fn plan(&mut self, op: Op) -> Plan {
        let mut plan = Plan::default();
        for rule in &mut self.rules {
            if rule.op.is_some_and(|o| o != op) || rule.remaining == Some(0) {
                continue;
            }
            let decisive = !matches!(rule.action, FaultAction::Latency { .. });
            if decisive && (plan.reject.is_some() || plan.after.is_some() || plan.instead.is_some())
            {
                continue;
            }
            if rule.probability < 1.0 && !self.rng.random_bool(rule.probability.clamp(0.0, 1.0)) {
                continue;
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            match &rule.action {
                FaultAction::Latency { ms } => plan.latency += Duration::from_millis(*ms),
                FaultAction::Status {
                    status,
                    retry_after_secs,
                } => plan.reject = Some((*status, *retry_after_secs)),
                a if a.answers_instead() => plan.instead = Some(a.clone()),
                a => plan.after = Some(a.clone()),
            }
            *self.injected.entry(rule.action.label()).or_default() += 1;
        }
        plan
    }
}

#[cfg(test)]
mod tests;
