//! The money gates after an offer is picked: the class's `monthlyBudget` and the namespace's
//! monthly budget, each counting what is owned, what is being bought, and what was decided and is
//! not in the cache yet. A price that is not known fails closed.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use kube::ResourceExt;
use rust_decimal::Decimal;

use super::money::{self, BudgetCheck, Spend};
use super::number_status::offer;
use super::pending::Pending;
use super::requeue;
use super::tenancy::{self, NamespaceMeta};
use crate::api::conditions::reasons;
use crate::api::v1alpha1::{ManagementPolicy, NumberPhase, PhoneNumber, PhoneNumberClass};
use crate::talkturo::AvailableNumber;

/// Monthly cost committed by a class: owned numbers and numbers being bought. A `Lost` number
/// still counts (the account may still bill it) until an admin deletes its PhoneNumber; only a
/// purchase Talkturo refused (`Failed`) does not. An `ObserveOnly` number counts with its price
/// when one is known: the budget limits what the operator buys, and imported numbers have none.
pub fn committed_cost(numbers: &[Arc<PhoneNumber>], class: &str) -> Spend {
    let mut spend = Spend::default();
    for n in numbers.iter().filter(|n| n.spec.class_name == class) {
        if n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Failed) {
            continue;
        }
        let price = monthly_price(n);
        if price.is_none() && n.spec.management_policy == ManagementPolicy::ObserveOnly {
            continue;
        }
        spend.add(price);
    }
    spend
}

/// A PhoneNumber's monthly price: from its status, else from the offer it was bought from.
pub fn monthly_price(n: &PhoneNumber) -> Option<Decimal> {
    let from_status = n
        .status
        .as_ref()
        .and_then(|s| s.monthly_price.as_deref())
        .and_then(money::parse_price);
    let from_offer = || offer(n).0.as_deref().and_then(money::parse_price);
    from_status.or_else(from_offer)
}

/// What the numbers bound to claims of `ns` cost per month, all classes together: numbers being
/// bought and `Lost` ones included, refused purchases (`Failed`) not.
pub fn namespace_spend(numbers: &[Arc<PhoneNumber>], ns: &str) -> Spend {
    let mut spend = Spend::default();
    for n in numbers {
        if n.spec.claim_ref.as_ref().is_none_or(|r| r.namespace != ns)
            || n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Failed)
        {
            continue;
        }
        spend.add(monthly_price(n));
    }
    spend
}

/// The class's monthly budget, if it has one.
pub fn class_budget(class: &PhoneNumberClass) -> Option<Decimal> {
    class
        .spec
        .monthly_budget
        .as_deref()
        .and_then(|b| Decimal::from_str(b).ok())
}

/// Whether buying `pick` keeps the class within its budget.
pub fn class_gate(
    class: &PhoneNumberClass,
    numbers: &[Arc<PhoneNumber>],
    in_flight: &[Option<Decimal>],
    pick: &AvailableNumber,
) -> Result<(), Pending> {
    let Some(budget) = class_budget(class) else {
        return Ok(());
    };
    let name = class.name_any();
    let mut spent = committed_cost(numbers, &name);
    for price in in_flight {
        spent.add(*price);
    }
    let message = match money::fits_budget(spent, pick.monthly_price, budget) {
        BudgetCheck::Within(_) => return Ok(()),
        BudgetCheck::Over(total) => format!(
            "buying {} (${}/month) would bring class {name} to ${total}/month, over its ${budget} budget",
            pick.phone_number,
            pick.monthly_price.unwrap_or_default()
        ),
        BudgetCheck::Unknown if pick.monthly_price.is_none() => format!(
            "{} has no known monthly price; class {name} has a ${budget} budget, so it is not bought",
            pick.phone_number
        ),
        BudgetCheck::Unknown => format!(
            "class {name} spends ${spent}/month; with numbers of unknown price it cannot be kept within its ${budget} budget, so nothing is bought"
        ),
    };
    Err(over(message))
}

/// Whether buying `pick` keeps namespace `ns` within the budget its annotation sets.
pub fn namespace_gate(
    ns: &str,
    meta: Option<&NamespaceMeta>,
    numbers: &[Arc<PhoneNumber>],
    in_flight: &[Option<Decimal>],
    pick: &AvailableNumber,
) -> Result<(), Pending> {
    let budget = match tenancy::namespace_budget(ns, meta) {
        Err(why) => return Err(over(why)),
        Ok(None) => return Ok(()),
        Ok(Some(budget)) => budget,
    };
    let mut spent = namespace_spend(numbers, ns);
    for price in in_flight {
        spent.add(*price);
    }
    let message = match money::fits_budget(spent, pick.monthly_price, budget) {
        BudgetCheck::Within(_) => return Ok(()),
        BudgetCheck::Over(total) => format!(
            "buying {} (${}/month) would bring namespace {ns} to ${total}/month, over its ${budget} budget",
            pick.phone_number,
            pick.monthly_price.unwrap_or_default()
        ),
        BudgetCheck::Unknown => format!(
            "namespace {ns} has a ${budget} budget and the price of {} or of a number it holds is unknown; nothing is bought",
            pick.phone_number
        ),
    };
    Err(over(message))
}

fn over(message: String) -> Pending {
    Pending::new(reasons::BUDGET_EXCEEDED, message, requeue::WAITING)
}

#[cfg(test)]
mod tests;

/// A purchase reserved against its namespace's budget by some replica (active-active replicas:
/// the namespace's claims may belong to classes served by different replicas).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reservation {
    /// The offer's monthly price (`None`: unpriced, which no budget accepts).
    pub price: Option<Decimal>,
    /// When it was reserved.
    pub at: jiff::Timestamp,
}

/// How long a reservation counts when its PhoneNumber never shows up (its claim's intent was
/// not written, or its process died): conservative, it only holds a budget back.
pub const RESERVATION_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// The reservations that still count: not yet a PhoneNumber of the cache (which is counted by
/// itself) and younger than [`RESERVATION_TTL`].
pub fn live_reservations(
    all: &BTreeMap<String, Reservation>,
    in_cache: impl Fn(&str) -> bool,
    now: jiff::Timestamp,
) -> BTreeMap<String, Reservation> {
    all.iter()
        .filter(|(number, r)| {
            !in_cache(number)
                && r.at
                    .checked_add(RESERVATION_TTL)
                    .is_ok_and(|until| until > now)
        })
        .map(|(n, r)| (n.clone(), r.clone()))
        .collect()
}
