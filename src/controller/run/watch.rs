//! The caches' watches: streaming initial lists where the API server supports them, lean
//! objects, and which PhoneNumbers a claim's change concerns.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::future::Future;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};

use crate::api::lean::{Lean, Parts};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use crate::controller::index::NumbersByClaim;
use crate::controller::reconcile::claim;
use crate::controller::shard::caching::Cache;
use crate::controller::{Context, InitialList};

use super::selected::{self, watch};
use super::sharding::{Wake, wake_class};

/// The caches' watch settings: streaming initial lists where the API server supports them.
pub(super) async fn watcher_config(client: &kube::Client, initial: InitialList) -> watcher::Config {
    let list = watcher::Config::default().any_semantic();
    let stream = match initial {
        InitialList::Stream => true,
        InitialList::List => false,
        InitialList::Auto => streams_lists(client).await,
    };
    tracing::info!(
        initial_list = if stream { "stream" } else { "list" },
        "cache initial lists"
    );
    if stream { list.streaming_lists() } else { list }
}

/// Whether the API server streams initial lists: a watch of the (few) PhoneNumberClasses with
/// `sendInitialEvents` must end its initial events with the `k8s.io/initial-events-end`
/// bookmark. A server without the feature refuses the parameter (or, older, ignores it and never
/// sends the bookmark): both mean no.
pub async fn streams_lists(client: &kube::Client) -> bool {
    let api = Api::<Lean<PhoneNumberClass>>::all(client.clone());
    let params = kube::api::WatchParams::streaming_lists().timeout(PROBE_TIMEOUT_SECS);
    let probe = async {
        let stream = match api.watch(&params, "0").await {
            Ok(stream) => stream,
            Err(kube::Error::Api(status)) => {
                tracing::info!(error = %status, "the API server does not stream initial lists");
                return false;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not ask the API server whether it streams initial lists; using list calls");
                return false;
            }
        };
        let mut stream = std::pin::pin!(stream);
        while let Ok(Some(event)) = stream.try_next().await {
            if let kube::api::WatchEvent::Bookmark(b) = event
                && b.metadata.annotations.contains_key(INITIAL_EVENTS_END)
            {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(Duration::from_secs(PROBE_TIMEOUT_SECS.into()), probe)
        .await
        .unwrap_or(false)
}

/// How long the streaming-list probe waits for the end of the initial events.
const PROBE_TIMEOUT_SECS: u32 = 5;

/// The bookmark annotation that ends a streaming list's initial events.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// The PhoneNumbers whose `claimRef` names this claim (from the index, not a scan).
pub(super) fn numbers_of(
    index: &NumbersByClaim,
    claim: &PhoneNumberClaim,
) -> Vec<ObjectRef<PhoneNumber>> {
    let ns = claim.namespace().unwrap_or_default();
    index
        .numbers_of(&ns, &claim.name_any())
        .iter()
        .map(|n| ObjectRef::new(n))
        .collect()
}

pub(super) type Writers = (
    Writer<PhoneNumberClass>,
    Writer<PhoneNumberClaim>,
    Writer<PhoneNumber>,
    reflector::store::Writer<PartialObjectMeta<Namespace>>,
);

/// The four watches feeding the caches, with the wake-ups their deletions and changes cause.
pub(super) fn reflectors(
    client: &kube::Client,
    wc: &watcher::Config,
    ctx: &Arc<Context>,
    (class_writer, claim_writer, number_writer, namespace_writer): Writers,
    wakes: Wake,
) -> impl Future<Output = ()> + use<> {
    let (number_wake, claim_wake) = (wakes.numbers.clone(), wakes.claims.clone());
    let metrics = ctx.metrics.clone();
    let classes = watch::<PhoneNumberClass>(client, wc)
        .reflect_shared(class_writer)
        .for_each(move |event| {
            if let Ok(watcher::Event::Delete(class)) = event {
                metrics.forget_class(&class.name_any());
            }
            async {}
        });
    // A namespace's policies changed (labels, annotations): its claims look again. (Not at the
    // initial list: every claim is reconciled then anyway.)
    let (claims, wake) = (ctx.claims.clone(), claim_wake.clone());
    let namespaces = watcher(
        Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
        wc.clone(),
    )
    .default_backoff()
    .reflect(namespace_writer)
    .for_each(move |event| {
        if let Ok(watcher::Event::Apply(ns)) = event {
            let name = ns.metadata.name.clone();
            for c in claims
                .state()
                .iter()
                .filter(|c| c.metadata.namespace == name)
            {
                let _ = wake.unbounded_send(ObjectRef::from_obj(c.as_ref()));
            }
        }
        async {}
    });
    let index = ctx.numbers_by_claim.clone();
    let (claims, current) = for_cache::<PhoneNumberClaim>(client, wc, ctx);
    let claims = claims
        .reflect_shared(claim_writer)
        .inspect(listed(ctx, Cache::Claims, current, wakes.clone()))
        .for_each(move |event| {
            if let Ok(watcher::Event::Delete(claim)) = event {
                for pn in numbers_of(&index, &claim) {
                    let _ = number_wake.unbounded_send(pn);
                }
            }
            async {}
        });
    let index = ctx.numbers_by_claim.clone();
    let (numbers, current) = for_cache::<PhoneNumber>(client, wc, ctx);
    let numbers = numbers
        // The index is updated before the cache and the controllers see the event, so it is
        // never behind them: a claim whose PhoneNumber the cache shows finds it through the
        // index too (one not yet in the cache is filtered out by the cache lookup).
        .inspect(move |event| {
            if let Ok(event) = event {
                index.observe(event);
            }
        })
        .reflect_shared(number_writer)
        .inspect(listed(ctx, Cache::Numbers, current, wakes))
        .for_each(move |event| {
            if let Ok(watcher::Event::Delete(pn)) = event
                && let Some(claim) = claim::for_number(&pn)
            {
                let _ = claim_wake.unbounded_send(claim);
            }
            async {}
        });
    async move {
        futures::join!(classes, claims, numbers, namespaces);
    }
}

type Events<K> = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send>,
>;

/// A kind's events for its cache: every object, or with active-active replicas this replica's
/// share (`run::selected`), with the selection the latest event came from.
fn for_cache<K>(
    client: &kube::Client,
    wc: &watcher::Config,
    ctx: &Context,
) -> (Events<K>, Option<selected::Current>)
where
    K: Parts + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    match &ctx.shards {
        None => (Box::pin(watch::<K>(client, wc)), None),
        Some(shards) => {
            let (events, current) = selected::selected(client, wc, shards.caching().subscribe());
            (Box::pin(events), Some(current))
        }
    }
}

/// After the cache took an event: once a list of this replica's share is done, the cache holds
/// its classes in full, and the classes now complete in both caches have their objects woken.
fn listed<K>(
    ctx: &Arc<Context>,
    cache: Cache,
    current: Option<selected::Current>,
    wake: Wake,
) -> impl FnMut(&Result<watcher::Event<K>, watcher::Error>) + use<K> {
    let ctx = ctx.clone();
    move |event| {
        if let Err(e) = event {
            tracing::warn!(?cache, error = %e, "the watch failed; it starts again after a backoff");
        }
        if let (Some(current), Ok(watcher::Event::Init)) = (&current, event) {
            let selection = selected::current(current);
            tracing::debug!(?cache, watch = ?selection.watch, "listing the share");
        }
        let (Some(current), Some(shards), Ok(watcher::Event::InitDone)) =
            (&current, &ctx.shards, event)
        else {
            return;
        };
        let selection = selected::current(current);
        tracing::debug!(?cache, watch = ?selection.watch, "share listed");
        for class in shards.caching().listed(cache, &selection) {
            tracing::info!(class, "class cached in full");
            wake_class(&ctx, &class, &wake);
        }
    }
}

/// Marks the process ready once all four caches are synced: no reconcile decides anything
/// before (an empty cache would make a class look missing or a taken number look free).
async fn caches_synced(ctx: Arc<Context>, ready: Arc<AtomicBool>) {
    let workloads = async {
        if let Some(w) = ctx.workloads.as_ref() {
            let _ = futures::join!(
                w.deployments.wait_until_ready(),
                w.stateful_sets.wait_until_ready()
            );
        }
    };
    let _ = futures::join!(
        ctx.classes.wait_until_ready(),
        ctx.claims.wait_until_ready(),
        ctx.numbers.wait_until_ready(),
        ctx.namespaces.wait_until_ready(),
        workloads
    );
    tracing::info!("caches synced; reconciling");
    ctx.synced.store(true, Ordering::SeqCst);
    ctx.synced_notify.notify_waiters();
    ctx.metrics.set_active(true);
    ready.store(true, Ordering::SeqCst);
}

/// The caches: ready once synced, their reflectors running until `shutdown`.
pub(super) async fn run_caches(
    ctx: Arc<Context>,
    ready: Arc<AtomicBool>,
    reflect: impl Future<Output = ()>,
    shutdown: impl Future<Output = ()>,
) {
    // Boxed: the reflectors' future is large, and polling it inline in `select!` overflowed the
    // stack of a debug build's runtime thread.
    let reflect = Box::pin(reflect);
    let reflectors = async {
        tokio::select! {
            () = reflect => {}
            () = shutdown => {}
        }
    };
    futures::join!(caches_synced(ctx, ready), reflectors);
}
