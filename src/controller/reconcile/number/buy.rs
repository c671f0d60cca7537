//! Where a purchase is made: the one purchase call, and the status its answer leads to
//! (`decide::purchase`). A number an answer names instead of the one asked for gets a PhoneNumber
//! of its own, so it is never billed untracked.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;

use super::{claim_link, uid_of};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClass, ReclaimPolicy};
use crate::controller::account::Account;
use crate::controller::decide::number::{Plan, Seen, plan};
use crate::controller::decide::number_status::ClaimLink;
use crate::controller::decide::purchase::{self, Answered};
use crate::controller::io::{self, objects::NewNumber};
use crate::controller::{Context, Error};
use crate::talkturo::{self, NumberStatus, Outcome};

/// Buys the number and says what its answer leads to.
pub(super) async fn buy(
    ctx: &Context,
    pn: &PhoneNumber,
    (class, account): (&PhoneNumberClass, &Account),
    sync: Duration,
    now: Timestamp,
) -> Result<Answered, Error> {
    let (class_name, number) = (&pn.spec.class_name, &pn.spec.number);
    tracing::info!(number, class = class_name, "buying");
    let connection = class.spec.connection_id.as_deref();
    let sent = io::talkturo::purchase(account, (number, connection), uid_of(pn), now).await;
    let at = &sent.at;
    let grace = ctx.config.purchase_grace;
    let outcome = |o: &'static str| ctx.metrics.purchase(class_name, o);
    match sent.result {
        Ok(bought) => {
            outcome("bought");
            if let Some(e) = bought.eligibility.clone() {
                account.record_eligibility(e, now);
            }
            // The cached searches still list this number; claims skip it as taken, and search
            // again once most of the cached offers are bought (search_for_more).
            account.purchase_completed(number);
            // The answer is recorded whatever happens: a claim that cannot be read now counts as
            // present (the next reconcile looks again; a missing one would start a release).
            let link = claim_link(pn, ctx).await.unwrap_or(ClaimLink::Present);
            let (base, mut answered) = purchase::bought(pn, &bought.phone_number, link, at, now);
            answered.requeue = ctx.config.fast_sync;
            // Waiting for a list that shows the number active saves a status write, but only
            // while the account is small: with a large one every purchase would wait for a
            // list of every number (then the next list settles it). Judged by the account's
            // size, not by how long its last list took, so a busy machine changes nothing.
            let quick = account
                .current()
                .is_none_or(|s| s.records.len() <= ctx.config.settle_list_records);
            if bought.phone_number.status != NumberStatus::Active && quick {
                settle_active(
                    ctx,
                    (base, &mut answered),
                    (account, link),
                    sent.returned,
                    sync,
                )
                .await;
            }
            Ok(answered)
        }
        Err(e) if e.status() == Some(409) => {
            outcome("already_owned");
            Ok(purchase::already_owned(pn, at, grace))
        }
        Err(talkturo::Error::PurchaseMismatch { answered, id, .. }) => {
            outcome("mismatch");
            // The number the answer names is taken (its own PhoneNumber tracks it): claims skip
            // it in the cached searches.
            account.purchase_completed(&answered);
            let offer = account.cached_offer(&answered);
            let tracked = track_answered(ctx, class, &answered, offer).await;
            let status = purchase::mismatch(pn, (&answered, &id), &tracked, at, now);
            let note = Some(purchase::mismatch_note(&status));
            Ok(Answered {
                status,
                requeue: grace,
                note,
            })
        }
        Err(e) if e.outcome() == Outcome::Definite => {
            let limit = e.status() == Some(403);
            outcome(if limit { "plan_limit" } else { "refused" });
            if limit {
                account.record_limit_reached(Timestamp::now());
            } else {
                account.forget_searches();
            }
            Ok(purchase::refused(pn, limit, &e.to_string(), at, now))
        }
        Err(e) if e.outcome() == Outcome::Unknown => {
            outcome("unknown");
            Ok(purchase::unknown(pn, &e.to_string(), at, grace, now))
        }
        Err(e) => {
            // Transient: the purchase did not take effect; tried again later.
            outcome("transient");
            account.forget_attempt(number);
            Err(Error::talkturo("buying the number")(e))
        }
    }
}

/// Talkturo answers `purchasing`; the account list shows when it is active. One list sent after
/// the purchase came back (shared with every other reconcile waiting for one) usually does, so
/// the status is written once, not twice. If it does not show the number yet, or fails, the
/// purchase's own record is written and the usual sync takes over.
async fn settle_active(
    ctx: &Context,
    (mut base, answered): (PhoneNumber, &mut Answered),
    (account, link): (&Account, ClaimLink),
    returned: Timestamp,
    sync: Duration,
) {
    let Ok(listed) = account.snapshot(returned).await else {
        return;
    };
    if !listed.records.contains_key(&base.spec.number) {
        return;
    }
    base.status = Some(answered.status.clone());
    let seen = Seen {
        snapshot: &listed,
        link,
        sync,
        purchase_blocked: false,
        cfg: &ctx.config,
        now: Timestamp::now(),
    };
    if let Plan::Settle {
        status, requeue, ..
    } = plan(&base, &seen)
    {
        answered.status = *status;
        answered.requeue = requeue;
    }
}

/// Gives a number a purchase answer named (instead of the one asked for) a PhoneNumber of its
/// own, bound to no claim. `ObserveOnly`: the answer may be wrong, and a managed PhoneNumber
/// absent from the account would be bought on the strength of it; this one only mirrors the
/// account, and an admin decides what becomes of the number. Says what became of it.
async fn track_answered(
    ctx: &Context,
    class: &PhoneNumberClass,
    answered: &str,
    offer: Option<talkturo::AvailableNumber>,
) -> String {
    if !talkturo::wire::is_e164(answered) {
        return format!(
            "{answered:?} is not an E.164 number, so no PhoneNumber can track it; check the account in the Talkturo dashboard"
        );
    }
    let name = crate::api::v1alpha1::phone_number_name(answered);
    let new = NewNumber {
        number: answered,
        class: &class.name_any(),
        claim_ref: None,
        assistant: None,
        reclaim_policy: ReclaimPolicy::Retain,
        // Its price, when a recent search offered it: the budget counts it (else the price is
        // unknown and the budget fails closed).
        offer: offer.as_ref(),
    };
    match io::objects::create(ctx, &new, "tracking the number a purchase answer named").await {
        Ok(true) => format!(
            "PhoneNumber {name} now tracks {answered} (ObserveOnly, bound to no claim: an admin decides whether to keep or release it)"
        ),
        Ok(false) => format!("PhoneNumber {name} already tracks {answered}"),
        Err(e) => {
            tracing::warn!(number = answered, error = %e, "cannot create a PhoneNumber for a number a purchase answer named");
            format!("creating PhoneNumber {name} for it failed ({e}); check the account")
        }
    }
}

/// A purchase whose outcome is being settled, at debug: what the list and the status say, and
/// what the plan does with them.
pub(super) fn log_settling(
    pn: &PhoneNumber,
    snapshot: &crate::controller::account::Snapshot,
    plan: &Plan,
) {
    let purchase = pn.status.as_ref().and_then(|s| s.purchase.as_ref());
    if let Some(p) = purchase.filter(|p| p.outcome_unknown_since.is_some()) {
        tracing::debug!(
            listed_at = %snapshot.started_at,
            unknown_since = ?p.outcome_unknown_since.as_ref().map(|t| t.0),
            absent_listings = p.absent_listings,
            last_listing = ?p.last_listing_time.as_ref().map(|t| t.0),
            deleting = pn.metadata.deletion_timestamp.is_some(),
            buy = matches!(plan, Plan::Buy),
            "purchase being settled"
        );
    }
}
