//! Where a purchase is decided: the gates (`decide::gates`), the search, the choice with the
//! price caps (`decide::choose`) and the budgets (`decide::budget`), serialized per class and per
//! namespace so that two claims never both spend the last of a budget.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

use jiff::Timestamp;
use kube::ResourceExt;
use rust_decimal::Decimal;
use tokio::sync::{MutexGuard, OwnedMutexGuard};

use crate::api::conditions::reasons;
use crate::api::v1alpha1::{PhoneNumberClaim, PhoneNumberClass};
use crate::controller::Context;
use crate::controller::account::Account;
use crate::controller::decide::class::not_ready;
use crate::controller::decide::gates::{self, Observed, Stop};
use crate::controller::decide::pending::Pending;
use crate::controller::decide::tenancy::{self, NamespaceMeta};
use crate::controller::decide::{budget, choose, requeue};
use crate::controller::io;
use crate::talkturo::{AvailableNumber, SearchFilters};

/// The budget ledgers, held from the budget decision until the purchase is recorded in them (or
/// dropped, if the intent was not written).
pub struct Ledgers<'a> {
    class: OwnedMutexGuard<BTreeMap<String, Option<Decimal>>>,
    namespace: MutexGuard<'a, BTreeMap<String, (String, Option<Decimal>)>>,
    ns: String,
}

impl Ledgers<'_> {
    /// Records a purchase decided and not in the cache yet, so the next decision counts it.
    pub fn hold(mut self, number: &str, price: Option<Decimal>) {
        self.class.insert(number.to_owned(), price);
        self.namespace
            .insert(number.to_owned(), (self.ns.clone(), price));
    }
}

/// The offer to buy, with the ledgers it was decided under.
pub struct Chosen<'a> {
    pub pick: AvailableNumber,
    pub ledgers: Ledgers<'a>,
}

/// Gates, search, choice, budgets: the offer to buy for `claim` in `class`, or why none.
pub async fn choose<'a>(
    ctx: &'a Context,
    claim: &PhoneNumberClaim,
    ns: &str,
    class: &PhoneNumberClass,
    now: Timestamp,
) -> Result<Chosen<'a>, Stop> {
    let account = ctx.accounts.get(&class.name_any());
    let meta = ctx.namespace_meta(ns);
    let observed = Observed {
        claim,
        class,
        namespace: ns,
        namespace_meta: meta.as_ref(),
        account_built: account.is_some(),
        plan_blocked: account
            .as_ref()
            .and_then(|a| a.purchase_blocked(now, ctx.config.plan_limit_recheck))
            .map(|(count, _)| count),
        plan_limit_recheck: ctx.config.plan_limit_recheck,
        now,
    };
    let filters = gates::before_search(&observed)?;
    let Some(account) = account else {
        return Err(Stop::Wait(requeue::ACCOUNT_BUILDING));
    };
    let offers = account.search(&filters).await.map_err(|e| {
        let why = format!("searching for numbers: {e}");
        Pending::new(not_ready(&e).reason, why, requeue::SEARCH_FAILED)
    })?;
    // Serialize the budget decision and the intent for the class: two claims must not both
    // spend the last of the budget. (The namespace's ledger is taken once an offer is chosen, so
    // a search never holds every class's claims up.)
    let mut class_ledger = account.budget.clone().lock_owned().await;
    let numbers = ctx.numbers.state();
    // Purchases the cache shows now are counted from it, not from the ledgers.
    let in_cache = |number: &String| numbers.iter().any(|n| &n.spec.number == number);
    class_ledger.retain(|number, _| !in_cache(number));
    let taken = choose::taken(claim, &numbers, &ctx.claims.state(), class_ledger.keys());
    let pick = match choose::choose(claim, class, &offers, &taken) {
        Ok(p) => p,
        Err(p) if p.reason == reasons::NO_CANDIDATES => {
            search_for_more(&account, &filters, (claim, class), &taken, &numbers, p).await?
        }
        Err(p) => return Err(p.into()),
    };
    let in_class: Vec<Option<Decimal>> = class_ledger.values().copied().collect();
    budget::class_gate(class, &numbers, &in_class, &pick)?;
    // The namespace's budget (all classes), serialized like the class's.
    let mut ns_ledger = ctx.namespace_ledger.lock().await;
    ns_ledger.retain(|number, _| !in_cache(number));
    let in_ns: BTreeMap<String, Option<Decimal>> = ns_ledger
        .iter()
        .filter(|(_, (n, _))| n == ns)
        .map(|(number, (_, price))| (number.clone(), *price))
        .collect();
    let prices: Vec<Option<Decimal>> = in_ns.values().copied().collect();
    budget::namespace_gate(ns, meta.as_ref(), &numbers, &prices, &pick)?;
    reserve_across_replicas(ctx, (ns, meta.as_ref()), in_ns, &pick).await?;
    let ledgers = Ledgers {
        class: class_ledger,
        namespace: ns_ledger,
        ns: ns.to_owned(),
    };
    Ok(Chosen { pick, ledgers })
}

/// Every cached offer is taken. Once enough of them were bought, the carrier offers more: search
/// again (once, shared by every waiting claim). A claim whose every match the account already
/// holds backs off and says so.
async fn search_for_more(
    account: &Account,
    filters: &SearchFilters,
    (claim, class): (&PhoneNumberClaim, &PhoneNumberClass),
    taken: &std::collections::BTreeSet<String>,
    numbers: &[std::sync::Arc<crate::api::v1alpha1::PhoneNumber>],
    none: Pending,
) -> Result<AvailableNumber, Stop> {
    let Ok(fresh) = account.search_for_more(filters).await else {
        return Err(none.into());
    };
    choose::choose(claim, class, &fresh, taken)
        .map_err(|p| choose::held_back(p, claim, &fresh, &choose::owned(numbers)).into())
}

/// With active-active replicas, a namespace's budget may be spent by classes served by other
/// replicas, whose PhoneNumbers this replica does not cache: the decision is made again on the
/// namespace's PhoneNumbers of every class, read fresh, and the purchase is also reserved in
/// the namespace's shared reservations (read fresh, written only if unchanged meanwhile),
/// counting what the others reserved. A budget whose numbers or reservations cannot be read
/// buys nothing.
async fn reserve_across_replicas(
    ctx: &Context,
    (ns, meta): (&str, Option<&NamespaceMeta>),
    mine: BTreeMap<String, Option<Decimal>>,
    pick: &AvailableNumber,
) -> Result<(), Stop> {
    let Some(shards) = &ctx.shards else {
        return Ok(());
    };
    if !matches!(tenancy::namespace_budget(ns, meta), Ok(Some(_))) {
        return Ok(());
    }
    let config = shards.config();
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &config.namespace);
    let name = io::budget::name(&config.prefix, ns);
    let unreadable = |why: String| {
        Pending::new(
            reasons::BUDGET_EXCEEDED,
            format!(
                "namespace {ns}'s budget reservations cannot be used ({why}); nothing is bought"
            ),
            requeue::SEARCH_FAILED,
        )
    };
    for _ in 0..5 {
        let numbers = ctx
            .numbers_of_namespace(ns)
            .await
            .map_err(|e| unreadable(e.to_string()))?;
        let numbers = numbers.as_slice();
        let read = io::budget::read(&api, &name).await.map_err(unreadable)?;
        let now = Timestamp::now();
        let in_cache = |n: &str| numbers.iter().any(|p| p.spec.number == n);
        let mut live = budget::live_reservations(&read.entries, in_cache, now);
        // This process's purchases the fresh read shows already count there.
        let mut all = mine.clone();
        all.retain(|number, _| !in_cache(number));
        for (number, r) in &live {
            all.entry(number.clone()).or_insert(r.price);
        }
        let prices: Vec<Option<Decimal>> = all.values().copied().collect();
        budget::namespace_gate(ns, meta, numbers, &prices, pick)?;
        let reservation = budget::Reservation {
            price: pick.monthly_price,
            at: now,
        };
        live.insert(pick.phone_number.clone(), reservation);
        if io::budget::write(&api, &name, &read, &live)
            .await
            .map_err(unreadable)?
        {
            return Ok(());
        }
    }
    // Five other replicas wrote in between: decide again in a moment, quietly.
    Err(Stop::Wait(requeue::OFFERS_IN_FLIGHT))
}
