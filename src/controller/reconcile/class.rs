//! PhoneNumberClass reconciler: resolves the API key, builds the class's shared account, reads
//! the account list once per `syncInterval` (which feeds every PhoneNumber of the class), and
//! reports readiness, plan and budget state, totals and unmanaged numbers (`decide::class`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use secrecy::SecretString;

use crate::api::conditions::reasons;
use crate::api::v1alpha1::{
    AccountIdentity, NumberPhase, PhoneNumber, PhoneNumberClass, ReclaimPolicy,
};
use crate::controller::account::{Account, AccountKey, HoldPolicy, Known, KnownNumbers, Snapshot};
use crate::controller::decide::class::{self as decide, NotReady, Observed};
use crate::controller::decide::number::release_confirmed;
use crate::controller::decide::{figures, hold, requeue, time};
use crate::controller::io::{self, objects::NewNumber};
use crate::controller::{Context, Error};
use crate::talkturo::{self, ClientConfig};

pub async fn reconcile(class: Arc<PhoneNumberClass>, ctx: Arc<Context>) -> Result<Action, Error> {
    let now = Timestamp::now();
    let name = class.name_any();
    let sync = time::parse_duration(&class.spec.sync_interval, requeue::DEFAULT_SYNC);
    let account = account(&ctx, &class, sync).await;
    let listed = match &account {
        Ok((a, _)) => {
            let since = time::before(now, sync);
            a.snapshot(since).await.map_err(|e| decide::not_ready(&e))
        }
        Err(nr) => {
            ctx.accounts.remove(&name);
            Err(nr.clone())
        }
    };
    let plan = account.as_ref().map(|(a, _)| a.plan()).unwrap_or_default();
    let identity = account.as_ref().ok().map(|(_, id)| id);
    let all = ctx.numbers.state();
    let known: BTreeSet<String> = all.iter().map(|n| n.name_any()).collect();
    if class.spec.import_unmanaged
        && let Ok(snapshot) = &listed
    {
        import_unmanaged(&ctx, &class, snapshot, &known).await?;
    }
    let numbers: Vec<Arc<PhoneNumber>> = all
        .into_iter()
        .filter(|n| n.spec.class_name == name)
        .collect();
    let listed = listed.as_deref();
    let observed = Observed {
        listed,
        plan: &plan,
        numbers: &numbers,
        known: &known,
        identity,
        now,
    };
    let status = decide::desired_status(&class, &observed);
    if let Some(note) = decide::ready_note(&class, &status, listed) {
        ctx.publish(class.as_ref(), note).await;
    }
    let alert_after = ctx.config.outcome_alert_after;
    let figures = figures::of(&class, &status, &numbers, listed.ok(), now, alert_after);
    ctx.metrics.observe_class(&name, &figures);
    io::status::class(&ctx, &class, &status).await?;
    Ok(Action::requeue(sync))
}

/// The class's account, built (or rebuilt, when its configuration changed) and told how to
/// judge its lists, with the account identity it reaches; or why it cannot be.
async fn account(
    ctx: &Context,
    class: &PhoneNumberClass,
    sync: Duration,
) -> Result<(Arc<Account>, AccountIdentity), NotReady> {
    if let Some(nr) = decide::insecure_url(&class.spec) {
        return Err(nr);
    }
    let token = io::secret::fetch_token(&ctx.client, class).await?;
    let s = &class.spec;
    let key = AccountKey::new(&s.api_base_url, &s.team_id, &s.account_slug, &token);
    let identity = hold::identity(class, key.key_fingerprint.clone());
    let policy = hold::policy(class, &identity, sync);
    let account = build_account(ctx, class, (key, token), policy).map_err(|e| NotReady {
        reason: reasons::INVALID_SPEC,
        message: e.to_string(),
    })?;
    account.set_hold_policy(policy);
    Ok((account, identity))
}

fn build_account(
    ctx: &Context,
    class: &PhoneNumberClass,
    (key, token): (AccountKey, SecretString),
    policy: HoldPolicy,
) -> Result<Arc<Account>, talkturo::Error> {
    ctx.accounts.upsert(&class.name_any(), key.clone(), || {
        let mut cfg = ClientConfig::new(class.spec.api_base_url.clone(), token);
        cfg.timeout = ctx.config.talkturo_timeout;
        cfg.max_list_records = ctx.config.max_list_records;
        cfg.max_list_time = ctx.config.max_list_time;
        if let Some(shards) = &ctx.shards {
            cfg.user_agent = format!("{} ({})", cfg.user_agent, shards.config().identity);
        }
        let mut client = talkturo::Client::new(cfg)?.with_metrics(ctx.metrics.talkturo.clone());
        if let Some(shards) = ctx.shards.clone() {
            // Nothing is sent for the class once this replica no longer holds its Lease.
            let name = class.name_any();
            client = client.with_fence(Arc::new(move || shards.may_call(&name)));
        }
        let plan = decide::persisted_plan(class);
        let account = Account::new(key, client, plan, ctx.number_changed.clone());
        // Judged from its first list on as the class's status says (a hold continued, a
        // changed account held).
        account.set_hold_policy(policy);
        Ok(account.with_known(known_numbers(ctx, class.name_any())))
    })
}

/// The numbers the class's PhoneNumbers name, and what each says of its number: a list is
/// judged against them, so that a process that just started does not take an empty list for
/// the truth, and a number no PhoneNumber names never holds the class.
fn known_numbers(ctx: &Context, class_name: String) -> KnownNumbers {
    let numbers = ctx.numbers.clone();
    let none = crate::api::v1alpha1::PhoneNumberStatus::default();
    Box::new(move || {
        numbers
            .state()
            .iter()
            .filter(|n| n.spec.class_name == class_name)
            .map(|n| {
                // No status yet: named, nothing more.
                let s = n.status.as_ref().unwrap_or(&none);
                Known {
                    number: n.spec.number.clone(),
                    owned: s.id.is_some(),
                    bought: s
                        .purchase
                        .as_ref()
                        .and_then(|p| p.last_attempt_time.as_ref())
                        .map(|t| t.0),
                    lost: s.phase == Some(NumberPhase::Lost),
                    released: release_confirmed(s),
                }
            })
            .collect()
    })
}

/// `importUnmanaged`: an `ObserveOnly` PhoneNumber for every account number no PhoneNumber
/// represents. Creating `tel-<digits>` is atomic, so racing a claim that creates the same object
/// for a purchase is harmless (one of the two creates fails with AlreadyExists). ObserveOnly
/// numbers are never assigned, moved or released by the operator.
async fn import_unmanaged(
    ctx: &Context,
    class: &PhoneNumberClass,
    snapshot: &Snapshot,
    known: &BTreeSet<String>,
) -> Result<(), Error> {
    let class_name = class.name_any();
    for record in snapshot.records.values() {
        if known.contains(&crate::api::v1alpha1::phone_number_name(
            &record.phone_number,
        )) {
            continue;
        }
        let new = NewNumber {
            number: &record.phone_number,
            class: &class_name,
            claim_ref: None,
            assistant: None,
            reclaim_policy: ReclaimPolicy::Retain,
            offer: None,
        };
        if io::objects::create(ctx, &new, "importing an unmanaged number").await? {
            tracing::info!(number = record.phone_number, class = class_name, "imported");
            ctx.publish(class, decide::imported_note(record)).await;
        }
    }
    Ok(())
}

/// The classes to reconcile when a PhoneNumber changes.
pub fn for_number(pn: &PhoneNumber) -> Option<ObjectRef<PhoneNumberClass>> {
    Some(ObjectRef::new(&pn.spec.class_name))
}
