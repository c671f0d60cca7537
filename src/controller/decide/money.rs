//! Money: price caps, the order of offers, what a class spends and whether a purchase fits its
//! budget. Pure, and unable to panic: every sum is checked (this module denies
//! `clippy::arithmetic_side_effects`), and a price that is not known is never taken as zero. An
//! unknown price is over every cap and budget, sorts after every known one, and makes a total
//! show as unknown rather than as a smaller figure.

#![deny(clippy::arithmetic_side_effects)]

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::talkturo::AvailableNumber;
use crate::talkturo::wire::MAX_SANE_PRICE;

/// A price or cap from the operator's own records (a status, an annotation, a spec): `None`
/// unless it is a decimal between 0 and [`MAX_SANE_PRICE`].
pub fn parse_price(s: &str) -> Option<Decimal> {
    Decimal::from_str(s.trim())
        .ok()
        .filter(|p| !p.is_sign_negative() || p.is_zero())
        .filter(|p| *p <= MAX_SANE_PRICE)
}

/// Whether `price` is within `cap`: no cap accepts anything; a cap accepts only a known price
/// at or below it.
pub fn within(price: Option<Decimal>, cap: Option<Decimal>) -> bool {
    cap.is_none_or(|c| price.is_some_and(|p| p <= c))
}

/// The stricter of two caps.
pub fn stricter(a: Option<Decimal>, b: Option<Decimal>) -> Option<Decimal> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// Orders known prices before unknown ones, cheaper first.
fn price_order(a: Option<Decimal>, b: Option<Decimal>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// `Cheapest`: by monthly price, then setup price (known before unknown), then the number
/// itself, so the choice is deterministic.
pub fn cheapest_first(a: &AvailableNumber, b: &AvailableNumber) -> Ordering {
    price_order(a.monthly_price, b.monthly_price)
        .then_with(|| price_order(a.setup_price, b.setup_price))
        .then_with(|| a.phone_number.cmp(&b.phone_number))
}

/// Whether an offer's prices are both known.
pub fn priced(o: &AvailableNumber) -> bool {
    o.monthly_price.is_some() && o.setup_price.is_some()
}

/// A sum of monthly prices, some of which may be unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spend {
    /// The sum of the known prices.
    pub known: Decimal,
    /// How many prices are unknown (or would not add up).
    pub unpriced: u32,
}

impl Spend {
    /// Adds one price; an unknown one (or a sum past `Decimal`'s range) is counted apart.
    pub fn add(&mut self, price: Option<Decimal>) {
        match price.and_then(|p| self.known.checked_add(p)) {
            Some(sum) => self.known = sum,
            None => self.unpriced = self.unpriced.saturating_add(1),
        }
    }

    /// The total, when every price is known.
    pub fn total(&self) -> Option<Decimal> {
        (self.unpriced == 0).then_some(self.known)
    }
}

impl fmt::Display for Spend {
    /// `12.00`, or `unknown (12.00 known + 2 numbers without a price)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.total() {
            Some(t) => write!(f, "{t:.2}"),
            None => write!(
                f,
                "unknown ({:.2} known + {} without a price)",
                self.known, self.unpriced
            ),
        }
    }
}

/// Whether one more number fits a monthly budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BudgetCheck {
    /// It fits: the new total.
    Within(Decimal),
    /// It does not: the total it would bring.
    Over(Decimal),
    /// Some price (the offer's, or a number's already held) is unknown: it is not bought.
    Unknown,
}

/// Whether buying a number at `price` keeps `spent` within `budget`. Fails closed: an unknown
/// price anywhere is [`BudgetCheck::Unknown`].
pub fn fits_budget(spent: Spend, price: Option<Decimal>, budget: Decimal) -> BudgetCheck {
    let (Some(spent), Some(price)) = (spent.total(), price) else {
        return BudgetCheck::Unknown;
    };
    match spent.checked_add(price) {
        Some(t) if t <= budget => BudgetCheck::Within(t),
        Some(t) => BudgetCheck::Over(t),
        None => BudgetCheck::Unknown,
    }
}

#[cfg(test)]
mod tests;
