//! The three controllers over shared caches: one watch and one cache per kind, shared by the
//! controllers. A controller triggered by another kind's change sees that change in the cache it
//! reads: subscribers are notified only after the store was updated (separate watches per
//! controller would race).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::future::Shared;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef, Store};

use super::RunOptions;
use super::queue::{CLAIMS, CLASSES, NUMBERS, Queued, error_policy, timed};
use super::sharding;
use super::subscription::Subscription;
use super::watch::{numbers_of, reflectors, run_caches, watcher_config};
use super::workloads;
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use crate::controller::account::Accounts;
use crate::controller::context::Workloads;
use crate::controller::decide;
use crate::controller::reconcile::{claim, class, number};
use crate::controller::shard::Shards;
use crate::controller::{Config, Context, Metrics};

/// Buffer of each shared reflector's subscribers: the writer waits when one falls this far behind.
const SUBSCRIBER_BUFFER: usize = 1024;

/// How often a class's status is rewritten at most while its PhoneNumbers change: a burst
/// rewrites it once per second, not once per number.
const CLASS_DEBOUNCE: Duration = Duration::from_secs(1);

/// The shared caches and their writers.
struct Caches {
    classes: (Store<PhoneNumberClass>, Writer<PhoneNumberClass>),
    claims: (Store<PhoneNumberClaim>, Writer<PhoneNumberClaim>),
    numbers: (Store<PhoneNumber>, Writer<PhoneNumber>),
}

/// Each controller's subscriptions to the shared caches.
struct Subscriptions {
    classes_for_classes: Subscription<PhoneNumberClass>,
    classes_for_claims: Subscription<PhoneNumberClass>,
    classes_for_numbers: Subscription<PhoneNumberClass>,
    claims_for_claims: Subscription<PhoneNumberClaim>,
    claims_for_numbers: Subscription<PhoneNumberClaim>,
    numbers_for_numbers: Subscription<PhoneNumber>,
    numbers_for_claims: Subscription<PhoneNumber>,
    numbers_for_classes: Subscription<PhoneNumber>,
}

impl Caches {
    fn new() -> Self {
        Self {
            classes: reflector::store_shared(SUBSCRIBER_BUFFER),
            claims: reflector::store_shared(SUBSCRIBER_BUFFER),
            numbers: reflector::store_shared(SUBSCRIBER_BUFFER),
        }
    }

    fn subscribe(&self) -> Option<Subscriptions> {
        Some(Subscriptions {
            classes_for_classes: self.classes.1.subscribe().map(Subscription::new)?,
            classes_for_claims: self.classes.1.subscribe().map(Subscription::new)?,
            classes_for_numbers: self.classes.1.subscribe().map(Subscription::new)?,
            claims_for_claims: self.claims.1.subscribe().map(Subscription::new)?,
            claims_for_numbers: self.claims.1.subscribe().map(Subscription::new)?,
            numbers_for_numbers: self.numbers.1.subscribe().map(Subscription::new)?,
            numbers_for_claims: self.numbers.1.subscribe().map(Subscription::new)?,
            numbers_for_classes: self.numbers.1.subscribe().map(Subscription::new)?,
        })
    }
}

/// What each class last looked like to one controller (`decide::wake`), by name.
#[derive(Default)]
struct Seen(std::sync::Mutex<HashMap<String, String>>);

impl Seen {
    /// Records how `class` looks now: whether that differs from before (`None` at first sight).
    fn note(&self, class: &str, now: String) -> Option<bool> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(class.to_owned(), now.clone())
            .map(|before| before != now)
    }
}

/// Direct wake-ups: shared streams carry no deletions, but both reclaim (a claim gone) and a
/// lost binding (a PhoneNumber gone) start with one, so the deleted object's counterpart is woken
/// directly; a namespace's policies changing wakes its claims.
struct Wakes {
    /// A class this replica took over (active-active replicas).
    classes: (
        UnboundedSender<ObjectRef<PhoneNumberClass>>,
        UnboundedReceiver<ObjectRef<PhoneNumberClass>>,
    ),
    numbers: (
        UnboundedSender<ObjectRef<PhoneNumber>>,
        UnboundedReceiver<ObjectRef<PhoneNumber>>,
    ),
    claims: (
        UnboundedSender<ObjectRef<PhoneNumberClaim>>,
        UnboundedReceiver<ObjectRef<PhoneNumberClaim>>,
    ),
}

impl Wakes {
    /// Where a class taken over sends its objects.
    fn senders(&self) -> sharding::Wake {
        sharding::Wake {
            classes: self.classes.0.clone(),
            claims: self.claims.0.clone(),
            numbers: self.numbers.0.clone(),
        }
    }

    fn new() -> Self {
        Self {
            classes: unbounded(),
            numbers: unbounded(),
            claims: unbounded(),
        }
    }
}

/// Runs the three controllers until `shutdown` resolves.
pub(super) async fn controllers(
    client: kube::Client,
    opts: &RunOptions,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) {
    let (config, reporter) = (opts.config.clone(), reporter(opts));
    let wc = watcher_config(&client, config.initial_list).await;
    let caches = Caches::new();
    let Some(subs) = caches.subscribe() else {
        return;
    };
    let rollouts = workloads::subscribe(config.workload_rollout, &caches.claims.1);
    let wakes = Wakes::new();
    // Namespaces' labels and annotations (metadata only): which classes a namespace may use,
    // which assistants its claims may name, what it may spend.
    let (namespace_store, namespace_writer) = reflector::store();
    let concurrency = ControllerConfig::default().concurrency(config.concurrency);
    let workloads = rollouts.as_ref().map(|(w, _)| w.workloads());
    let ctx = context(
        client.clone(),
        (config, opts.sharding.clone()),
        metrics,
        reporter,
        (&caches, namespace_store, workloads),
        wakes.numbers.0.clone(),
    );
    let keep_run = sharding::keep_if(&ctx, wakes.senders(), shutdown.clone());
    let Caches {
        classes,
        claims,
        numbers,
    } = caches;
    let (classes_store, claims_store, numbers_store) =
        (classes.0.clone(), claims.0.clone(), numbers.0.clone());
    let reflect = reflectors(
        &client,
        &wc,
        &ctx,
        (classes.1, claims.1, numbers.1, namespace_writer),
        wakes.senders(),
    );
    let class_run = class_controller(
        &ctx,
        (subs.classes_for_classes, subs.numbers_for_classes),
        (classes_store, wakes.classes.1),
        concurrency.clone(),
        shutdown.clone(),
    );
    let claim_run = claim_controller(
        &ctx,
        (
            subs.claims_for_claims,
            subs.numbers_for_claims,
            subs.classes_for_claims,
        ),
        claims_store,
        wakes.claims.1,
        concurrency.clone(),
        shutdown.clone(),
    );
    let rollout_run = workloads::run_if(
        rollouts,
        (ctx.clone(), wc.clone()),
        concurrency.clone(),
        shutdown.clone(),
    );
    let number_run = number_controller(
        &ctx,
        (
            subs.numbers_for_numbers,
            subs.claims_for_numbers,
            subs.classes_for_numbers,
        ),
        numbers_store,
        wakes.numbers.1,
        concurrency,
        shutdown.clone(),
    );
    // The reflectors run until the controllers have stopped (they stop on `shutdown`).
    let caches_run = run_caches(ctx.clone(), ready, reflect, shutdown);
    let side_run = futures::future::join(rollout_run, keep_run);
    futures::join!(class_run, claim_run, number_run, side_run, caches_run);
    tracing::info!("controllers stopped");
}

/// Who reports this process's Events: the controller, and the replica by its identity (the
/// pod's name: replicas on one host network would otherwise all report the node's hostname).
fn reporter(opts: &RunOptions) -> Reporter {
    let identity = opts
        .sharding
        .as_ref()
        .map(|s| s.identity.clone())
        .or_else(|| opts.leader_election.as_ref().map(|l| l.identity.clone()));
    Reporter {
        controller: opts.reporter.clone(),
        instance: identity,
    }
}

/// What every reconcile gets, over the shared caches.
fn context(
    client: kube::Client,
    (config, sharding): (Config, Option<crate::controller::shard::ShardConfig>),
    metrics: Arc<Metrics>,
    reporter: Reporter,
    (caches, namespaces, workloads): (
        &Caches,
        Store<PartialObjectMeta<Namespace>>,
        Option<Workloads>,
    ),
    number_changed: UnboundedSender<ObjectRef<PhoneNumber>>,
) -> Arc<Context> {
    let shards = sharding.map(|s| Shards::new(client.clone(), s));
    Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter.clone()),
        reporter,
        client,
        config,
        accounts: Accounts::default(),
        classes: caches.classes.0.clone(),
        claims: caches.claims.0.clone(),
        numbers: caches.numbers.0.clone(),
        namespaces,
        metrics,
        number_changed,
        numbers_by_claim: Default::default(),
        synced: AtomicBool::new(false),
        synced_notify: tokio::sync::Notify::new(),
        writes: Default::default(),
        namespace_ledger: Default::default(),
        workloads,
        shards,
    })
}

/// The PhoneNumberClass controller: its classes, and their PhoneNumbers' changes (debounced).
fn class_controller(
    ctx: &Arc<Context>,
    (classes, numbers): (Subscription<PhoneNumberClass>, Subscription<PhoneNumber>),
    (store, wakes): (
        Store<PhoneNumberClass>,
        UnboundedReceiver<ObjectRef<PhoneNumberClass>>,
    ),
    concurrency: ControllerConfig,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) -> impl Future<Output = ()> {
    let queue = Queued::new(ctx, CLASSES);
    let q = queue.clone();
    Controller::for_shared_stream(queue.objects(classes), store)
        .watches_shared_stream(numbers, move |pn| class::for_number(&pn).map(|r| q.one(r)))
        .reconcile_on(queue.refs(wakes))
        .with_config(concurrency.debounce(CLASS_DEBOUNCE))
        .graceful_shutdown_on(shutdown)
        .run(
            |o, c| timed(CLASSES, o, c, class::reconcile),
            error_policy,
            ctx.clone(),
        )
        .for_each(move |r| queue.settle(r))
}

/// The PhoneNumberClaim controller: its claims, their PhoneNumbers' changes, their class's
/// changes (a default class's for claims without `className`), and direct wake-ups.
fn claim_controller(
    ctx: &Arc<Context>,
    (claims, numbers, classes): (
        Subscription<PhoneNumberClaim>,
        Subscription<PhoneNumber>,
        Subscription<PhoneNumberClass>,
    ),
    store: Store<PhoneNumberClaim>,
    wakes: UnboundedReceiver<ObjectRef<PhoneNumberClaim>>,
    concurrency: ControllerConfig,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) -> impl Future<Output = ()> {
    let queue = Queued::new(ctx, CLAIMS);
    let (q, q2) = (queue.clone(), queue.clone());
    let claims_of_class = ctx.claims.clone();
    // What each class looked like to its claims when they were last woken for it.
    let seen = Seen::default();
    Controller::for_shared_stream(queue.objects(claims), store)
        .watches_shared_stream(numbers, move |pn| claim::for_number(&pn).map(|r| q.one(r)))
        .watches_shared_stream(classes, move |class| {
            if seen.note(&class.name_any(), decide::wake::seen_by_claims(&class)) == Some(false) {
                return Vec::new();
            }
            let default = decide::claim::is_default(&class);
            let name = class.name_any();
            claims_of_class
                .state()
                .into_iter()
                .filter(move |c| {
                    c.spec.class_name.as_deref() == Some(name.as_str())
                        || (default && c.spec.class_name.is_none())
                })
                .map(|c| q2.one(ObjectRef::from_obj(c.as_ref())))
                .collect::<Vec<_>>()
        })
        .reconcile_on(queue.refs(wakes))
        .with_config(concurrency)
        .graceful_shutdown_on(shutdown)
        .run(
            |o, c| timed(CLAIMS, o, c, claim::reconcile),
            error_policy,
            ctx.clone(),
        )
        .for_each(move |r| queue.settle(r))
}

/// The PhoneNumber controller: its PhoneNumbers, their claims' changes, and wake-ups (a record
/// changed in a list, a claim deleted).
fn number_controller(
    ctx: &Arc<Context>,
    (numbers, claims, classes): (
        Subscription<PhoneNumber>,
        Subscription<PhoneNumberClaim>,
        Subscription<PhoneNumberClass>,
    ),
    store: Store<PhoneNumber>,
    wakes: UnboundedReceiver<ObjectRef<PhoneNumber>>,
    concurrency: ControllerConfig,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) -> impl Future<Output = ()> {
    let queue = Queued::new(ctx, NUMBERS);
    let (q, q2) = (queue.clone(), queue.clone());
    let numbers_of_claim = ctx.numbers_by_claim.clone();
    let numbers_of_class = ctx.numbers.clone();
    // What each class's spec looked like to its numbers (settled numbers keep no timer, so a
    // changed spec must wake them; its status never concerns them).
    let seen = Seen::default();
    Controller::for_shared_stream(queue.objects(numbers), store)
        .watches_shared_stream(claims, move |claim| {
            q.many(numbers_of(&numbers_of_claim, &claim))
        })
        .watches_shared_stream(classes, move |class| {
            let name = class.name_any();
            // First sight (a start's initial list) wakes nothing: every number is reconciled then.
            if seen.note(&name, decide::wake::seen_by_numbers(&class)) != Some(true) {
                return Vec::new();
            }
            q2.many(
                numbers_of_class
                    .state()
                    .iter()
                    .filter(|n| n.spec.class_name == name)
                    .map(|n| ObjectRef::from_obj(n.as_ref()))
                    .collect(),
            )
        })
        .reconcile_on(queue.refs(wakes))
        .with_config(concurrency)
        .graceful_shutdown_on(shutdown)
        .run(
            |o, c| timed(NUMBERS, o, c, number::reconcile),
            error_policy,
            ctx.clone(),
        )
        .for_each(move |r| queue.settle(r))
}
