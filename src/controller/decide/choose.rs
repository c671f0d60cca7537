//! The search a claim sends and the offer it picks: its exact number or features, the stricter
//! of the claim's and the class's price caps, the class's selection policy, and never an offer
//! another claim or a purchase in flight holds.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::money;
use super::pending::Pending;
use super::requeue;
use crate::api::conditions::reasons;
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass, SelectionPolicy};
use crate::talkturo::{AvailableNumber, SearchFilters};

/// The search a claim's criteria (or exact number) ask for; `None` when it cannot search (an
/// exact number outside +1 without a country code).
pub fn filters(claim: &PhoneNumberClaim) -> Option<SearchFilters> {
    let s = &claim.spec;
    let (country, area) = match (&s.number, &s.country_code) {
        (Some(n), cc) if n.starts_with("+1") => (
            cc.clone().unwrap_or_else(|| "US".into()),
            n.get(2..5).map(str::to_owned),
        ),
        (Some(_), Some(cc)) => (cc.clone(), None),
        (Some(_), None) => return None,
        (None, cc) => (cc.clone()?, s.area_code.clone()),
    };
    Some(SearchFilters {
        country_code: country,
        area_code: area,
        number_type: Some(s.number_type.as_str().to_owned()),
        limit: Some(20),
    })
}

/// The numbers no claim may pick now: every PhoneNumber's, every other claim's recorded
/// candidate, and the purchases decided and not in the cache yet (`in_flight`).
pub fn taken<'a>(
    claim: &PhoneNumberClaim,
    numbers: &[Arc<PhoneNumber>],
    claims: &[Arc<PhoneNumberClaim>],
    in_flight: impl Iterator<Item = &'a String>,
) -> BTreeSet<String> {
    let mut taken: BTreeSet<String> = numbers.iter().map(|n| n.spec.number.clone()).collect();
    taken.extend(
        claims
            .iter()
            .filter(|c| c.metadata.uid != claim.metadata.uid)
            .filter_map(|c| c.status.as_ref()?.purchase.as_ref()?.candidate.clone()),
    );
    taken.extend(in_flight.cloned());
    taken
}

/// The numbers the account holds (their PhoneNumbers carry a record id).
pub fn owned(numbers: &[Arc<PhoneNumber>]) -> BTreeSet<String> {
    numbers
        .iter()
        .filter(|n| n.status.as_ref().is_some_and(|s| s.id.is_some()))
        .map(|n| n.spec.number.clone())
        .collect()
}

/// The stricter of two optional caps (the schema keeps them decimal strings).
fn stricter(a: Option<&str>, b: Option<&str>) -> Option<Decimal> {
    let parse = |s: Option<&str>| s.and_then(|v| Decimal::from_str(v.trim()).ok());
    money::stricter(parse(a), parse(b))
}

/// Why no offer is free: the exact number is not offered, nothing matches, or every match is
/// held by purchases in flight (transient).
fn nothing_free(claim: &PhoneNumberClaim, offers: usize, capable: bool) -> Pending {
    let s = &claim.spec;
    let what = match &s.number {
        Some(n) => format!("{n} is not offered by the carrier"),
        None if !capable => format!(
            "the carrier offers no number matching the criteria (searched {offers} offers for features {:?})",
            s.features
        ),
        // No count in the message: it changes with every purchase, and each change would
        // rewrite the status of every waiting claim.
        None => "every matching offer is being bought by another claim; searching again as they are bought".to_owned(),
    };
    if !capable || s.number.is_some() {
        return Pending::new(reasons::NO_CANDIDATES, what, requeue::WAITING);
    }
    // Offers taken by in-flight purchases free up within seconds: look again soon.
    Pending::new(reasons::NO_CANDIDATES, what, requeue::OFFERS_IN_FLIGHT).transient()
}

/// Picks the number to buy from search results.
pub fn choose(
    claim: &PhoneNumberClaim,
    class: &PhoneNumberClass,
    offers: &[AvailableNumber],
    taken: &BTreeSet<String>,
) -> Result<AvailableNumber, Pending> {
    let s = &claim.spec;
    let capable: Vec<&AvailableNumber> =
        offers.iter().filter(|o| matches_claim(claim, o)).collect();
    let free: Vec<&AvailableNumber> = capable
        .iter()
        .copied()
        .filter(|o| !taken.contains(&o.phone_number))
        .collect();
    if free.is_empty() {
        return Err(nothing_free(claim, offers.len(), !capable.is_empty()));
    }
    let monthly_cap = stricter(
        s.max_monthly_price.as_deref(),
        class.spec.max_monthly_price.as_deref(),
    );
    let setup_cap = stricter(
        s.max_setup_price.as_deref(),
        class.spec.max_setup_price.as_deref(),
    );
    let within = |o: &&AvailableNumber| {
        money::within(o.monthly_price, monthly_cap) && money::within(o.setup_price, setup_cap)
    };
    let affordable: Vec<&AvailableNumber> = free.iter().copied().filter(within).collect();
    if affordable.is_empty() {
        let cheapest = free.iter().filter_map(|o| o.monthly_price).min();
        let cap = |c: Option<Decimal>| c.map_or("none".to_owned(), |c| format!("${c}"));
        return Err(Pending::new(
            reasons::OVER_PRICE,
            format!(
                "{} matching numbers, none within the caps (monthly {}, setup {}); the cheapest costs {}/month",
                free.len(),
                cap(monthly_cap),
                cap(setup_cap),
                cheapest.map_or("an unknown price".to_owned(), |c| format!("${c}"))
            ),
            requeue::WAITING,
        ));
    }
    pick(class.spec.selection, affordable).ok_or_else(|| {
        Pending::new(
            reasons::NO_CANDIDATES,
            "no offer to choose from",
            requeue::WAITING,
        )
    })
}

/// The offer the selection policy picks among affordable ones. An offer without a known price
/// is chosen only when no priced offer matches.
fn pick(policy: SelectionPolicy, affordable: Vec<&AvailableNumber>) -> Option<AvailableNumber> {
    let priced: Vec<&AvailableNumber> = affordable
        .iter()
        .copied()
        .filter(|o| money::priced(o))
        .collect();
    let pool = if priced.is_empty() {
        affordable
    } else {
        priced
    };
    let pick = match policy {
        SelectionPolicy::First => pool.first().copied(),
        SelectionPolicy::Cheapest => pool
            .iter()
            .copied()
            .min_by(|a, b| money::cheapest_first(a, b)),
    };
    pick.cloned()
}

/// Whether an offer is what the claim asks for (its exact number, its features).
fn matches_claim(claim: &PhoneNumberClaim, o: &AvailableNumber) -> bool {
    let s = &claim.spec;
    s.number.as_ref().is_none_or(|n| &o.phone_number == n)
        && s.features.iter().all(|f| o.features.contains(f))
}

/// A claim that found every offer taken, when every matching offer is a number the account
/// already holds (`owned`): no purchase in flight will free one, so it backs off and says so
/// instead of searching again every few seconds. Otherwise `p` as it is.
pub fn held_back(
    p: Pending,
    claim: &PhoneNumberClaim,
    offers: &[AvailableNumber],
    owned: &BTreeSet<String>,
) -> Pending {
    let matching: Vec<&AvailableNumber> =
        offers.iter().filter(|o| matches_claim(claim, o)).collect();
    if !p.transient
        || matching.is_empty()
        || !matching.iter().all(|o| owned.contains(&o.phone_number))
    {
        return p;
    }
    Pending::new(
        reasons::NO_CANDIDATES,
        format!(
            "every offer matching the criteria ({}) is a number the account already holds; the carrier offers nothing new, looking again in 60s",
            matching.len()
        ),
        requeue::WAITING,
    )
}

#[cfg(test)]
mod tests;
