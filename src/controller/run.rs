//! The operator's runtime: three controllers with shared stores, leader election on a Lease,
//! graceful shutdown, and the admin server (`/metrics`, `/healthz`, `/readyz`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::Api;

use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tracing::Instrument;

use super::account::Accounts;
use super::reconcile::{claim, class, number};
use super::{Config, Context, Error, InitialList, Metrics};
use crate::api::lean::{Lean, Parts};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub lease_name: String,
    pub namespace: String,
    pub identity: String,
    /// Seconds a lease is valid after its last renewal.
    pub lease_duration_secs: u64,
    /// Seconds before expiry the holder renews.
    pub renew_grace_secs: u64,
}

/// How to run the operator.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub config: Config,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`; not served when `None`.
    pub admin_addr: Option<SocketAddr>,
    /// Leader election; `None` runs as the only writer without a lease (tests, local runs).
    pub leader_election: Option<LeaderElection>,
    /// Name reported on Events.
    pub reporter: String,
}

/// Runs the operator until `shutdown` resolves (or leadership is lost, which is an error: the
/// process should exit and restart rather than risk two writers).
pub async fn run(
    client: kube::Client,
    opts: RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let shutdown = shutdown.shared();
    if let Some(addr) = opts.admin_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("binding the admin server to {addr}: {e}"))?;
        tokio::spawn(admin_server(
            listener,
            metrics.clone(),
            ready.clone(),
            shutdown.clone(),
        ));
    }

    let mut leadership = None;
    if let Some(le) = &opts.leader_election {
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &le.lease_name)
            .with_namespace(&le.namespace)
            .with_identity(&le.identity)
            .with_duration(le.lease_duration_secs)
            .with_grace(le.renew_grace_secs)
            .build()
            .await?;
        let (mut rx, task) = manager.watch().await;
        tracing::info!(
            lease = le.lease_name,
            namespace = le.namespace,
            identity = le.identity,
            "waiting for leadership"
        );
        // A standby is healthy and ready: it only waits.
        ready.store(true, Ordering::SeqCst);
        let leading = tokio::select! {
            r = rx.wait_for(|leading| *leading) => Some(r.is_ok()),
            () = shutdown.clone() => None,
        };
        match leading {
            Some(true) => {}
            Some(false) => return Err(anyhow::anyhow!("the lease manager stopped")),
            None => {
                // Shutting down as a standby: closing the channel stops the lease manager.
                drop(rx);
                let _ = task.await;
                return Ok(());
            }
        }
        tracing::info!("acquired leadership");
        ready.store(false, Ordering::SeqCst);
        leadership = Some((rx, task));
    }

    let controllers = controllers(
        client,
        opts.config.clone(),
        metrics,
        &opts.reporter,
        ready.clone(),
        shutdown.clone(),
    );
    match leadership {
        None => {
            controllers.await;
            Ok(())
        }
        Some((mut rx, task)) => {
            let lost = async move {
                let _ = rx.wait_for(|leading| !*leading).await;
            };
            tokio::select! {
                () = controllers => { let _ = task.await; Ok(()) }
                () = lost => Err(anyhow::anyhow!("lost leadership of the lease; exiting so that only one writer acts")),
            }
        }
    }
}

/// Buffer of each shared reflector's subscribers: the writer waits when one falls this far behind.
const SUBSCRIBER_BUFFER: usize = 1024;

async fn controllers(
    client: kube::Client,
    config: Config,
    metrics: Arc<Metrics>,
    reporter: &str,
    ready: Arc<AtomicBool>,
    shutdown: futures::future::Shared<impl Future<Output = ()> + Send + 'static>,
) {
    // One watch and one cache per kind, shared by the three controllers. A controller triggered by
    // another kind's change sees that change in the cache it reads: subscribers are notified only
    // after the store was updated (separate watches per controller would race).
    let wc = watcher_config(&client, config.initial_list).await;
    let (class_store, class_writer) =
        reflector::store_shared::<PhoneNumberClass>(SUBSCRIBER_BUFFER);
    let (claim_store, claim_writer) =
        reflector::store_shared::<PhoneNumberClaim>(SUBSCRIBER_BUFFER);
    let (number_store, number_writer) = reflector::store_shared::<PhoneNumber>(SUBSCRIBER_BUFFER);
    let (Some(classes_for_classes), Some(classes_for_claims)) =
        (class_writer.subscribe(), class_writer.subscribe())
    else {
        return;
    };
    let (Some(claims_for_claims), Some(claims_for_numbers)) =
        (claim_writer.subscribe(), claim_writer.subscribe())
    else {
        return;
    };
    let (Some(numbers_for_numbers), Some(numbers_for_claims), Some(numbers_for_classes)) = (
        number_writer.subscribe(),
        number_writer.subscribe(),
        number_writer.subscribe(),
    ) else {
        return;
    };
    // Namespaces' labels and annotations (metadata only): which classes a namespace may use, which
    // assistants its claims may name, what it may spend.
    let (namespace_store, namespace_writer) = reflector::store();

    let reflect_classes = {
        let metrics = metrics.clone();
        watch::<PhoneNumberClass>(&client, &wc)
            .reflect_shared(class_writer)
            .for_each(move |event| {
                if let Ok(watcher::Event::Delete(class)) = event {
                    metrics.forget_class(&class.name_any());
                }
                async {}
            })
    };
    // Shared streams carry no deletions, but both reclaim (a claim gone) and a lost binding (a
    // PhoneNumber gone) start with one: the deleted object's counterpart is woken directly.
    let (changed_tx, changed_rx) = futures::channel::mpsc::unbounded();
    let (claim_wake_tx, claim_wake_rx) = futures::channel::mpsc::unbounded();
    // A namespace's policies changed (labels, annotations): its claims look again. (Not at the
    // initial list: every claim is reconciled then anyway.)
    let reflect_namespaces = {
        let (claims, wake) = (claim_store.clone(), claim_wake_tx.clone());
        watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            wc.clone(),
        )
        .default_backoff()
        .reflect(namespace_writer)
        .for_each(move |event| {
            if let Ok(watcher::Event::Apply(ns)) = event {
                let name = ns.metadata.name.clone();
                for c in claims.state() {
                    if c.metadata.namespace == name {
                        let _ = wake.unbounded_send(ObjectRef::from_obj(c.as_ref()));
                    }
                }
            }
            async {}
        })
    };
    let reflect_claims = {
        let (numbers, wake) = (number_store.clone(), changed_tx.clone());
        watch::<PhoneNumberClaim>(&client, &wc)
            .reflect_shared(claim_writer)
            .for_each(move |event| {
                if let Ok(watcher::Event::Delete(claim)) = event {
                    for pn in numbers_of(&numbers, &claim) {
                        let _ = wake.unbounded_send(pn);
                    }
                }
                async {}
            })
    };
    let reflect_numbers = watch::<PhoneNumber>(&client, &wc)
        .reflect_shared(number_writer)
        .for_each(move |event| {
            if let Ok(watcher::Event::Delete(pn)) = event
                && let Some(claim) = claim::for_number(&pn)
            {
                let _ = claim_wake_tx.unbounded_send(claim);
            }
            async {}
        });
    let concurrency = kube::runtime::controller::Config::default().concurrency(config.concurrency);
    let reporter = Reporter {
        controller: reporter.to_owned(),
        instance: None,
    };
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter.clone()),
        reporter,
        client,
        config,
        accounts: Accounts::default(),
        classes: class_store.clone(),
        claims: claim_store.clone(),
        numbers: number_store.clone(),
        namespaces: namespace_store,
        metrics,
        number_changed: changed_tx,
        synced: AtomicBool::new(false),
        writes: Default::default(),
        namespace_ledger: Default::default(),
    });

    let queue = Queued::new(&ctx, CLASSES);
    let class_run = Controller::for_shared_stream(queue.objects(classes_for_classes), class_store)
        .watches_shared_stream(numbers_for_classes, {
            let q = queue.clone();
            move |pn| class::for_number(&pn).map(|r| q.one(r))
        })
        // Totals change with every PhoneNumber: a burst rewrites the class status once per
        // second, not once per number.
        .with_config(concurrency.clone().debounce(Duration::from_secs(1)))
        .graceful_shutdown_on(shutdown.clone())
        .run(
            |o, c| timed(CLASSES, o, c, class::reconcile),
            error_policy,
            ctx.clone(),
        )
        .for_each(move |r| queue.settle(r));

    let claims_of_class = ctx.claims.clone();
    let queue = Queued::new(&ctx, CLAIMS);
    let q = queue.clone();
    let claim_run = Controller::for_shared_stream(queue.objects(claims_for_claims), claim_store)
        .watches_shared_stream(numbers_for_claims, {
            let q = queue.clone();
            move |pn| claim::for_number(&pn).map(|r| q.one(r))
        })
        .watches_shared_stream(classes_for_claims, move |class| {
            let default = class
                .annotations()
                .get(crate::api::DEFAULT_CLASS_ANNOTATION)
                .is_some_and(|v| v == "true");
            let name = class.name_any();
            claims_of_class
                .state()
                .into_iter()
                .filter(move |c| {
                    c.spec.class_name.as_deref() == Some(name.as_str())
                        || (default && c.spec.class_name.is_none())
                })
                .map(|c| q.one(ObjectRef::from_obj(c.as_ref())))
                .collect::<Vec<_>>()
        })
        .reconcile_on(queue.refs(claim_wake_rx))
        .with_config(concurrency.clone())
        .graceful_shutdown_on(shutdown.clone())
        .run(
            |o, c| timed(CLAIMS, o, c, claim::reconcile),
            error_policy,
            ctx.clone(),
        )
        .for_each(move |r| queue.settle(r));

    let numbers_of_claim = ctx.numbers.clone();
    let queue = Queued::new(&ctx, NUMBERS);
    let q = queue.clone();
    let number_run =
        Controller::for_shared_stream(queue.objects(numbers_for_numbers), number_store)
            .watches_shared_stream(claims_for_numbers, move |claim| {
                q.many(numbers_of(&numbers_of_claim, &claim))
            })
            .reconcile_on(queue.refs(changed_rx))
            .with_config(concurrency)
            .graceful_shutdown_on(shutdown.clone())
            .run(
                |o, c| timed(NUMBERS, o, c, number::reconcile),
                error_policy,
                ctx.clone(),
            )
            .for_each(move |r| queue.settle(r));

    let stores_ready = {
        let ctx = ctx.clone();
        async move {
            let _ = futures::join!(
                ctx.classes.wait_until_ready(),
                ctx.claims.wait_until_ready(),
                ctx.numbers.wait_until_ready(),
                ctx.namespaces.wait_until_ready()
            );
            tracing::info!("caches synced; reconciling");
            ctx.synced.store(true, Ordering::SeqCst);
            ctx.metrics.set_active(true);
            ready.store(true, Ordering::SeqCst);
        }
    };
    // The reflectors run until the controllers have stopped (they stop on `shutdown`).
    let reflectors = async {
        tokio::select! {
            () = async { futures::join!(reflect_classes, reflect_claims, reflect_numbers, reflect_namespaces); } => {}
            () = shutdown => {}
        }
    };
    futures::join!(class_run, claim_run, number_run, stores_ready, reflectors);
    tracing::info!("controllers stopped");
}

/// The caches' watch settings: streaming initial lists where the API server supports them.
async fn watcher_config(client: &kube::Client, initial: InitialList) -> watcher::Config {
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

/// One kind's watch for its cache, with the default backoff. Objects are decoded with only the
/// metadata the operator reads (no `managedFields`, labels or other tools' annotations): see
/// [`Lean`].
fn watch<K>(
    client: &kube::Client,
    wc: &watcher::Config,
) -> impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + use<K>
where
    K: Parts + Clone + std::fmt::Debug + Send + 'static,
{
    watcher(Api::<Lean<K>>::all(client.clone()), wc.clone())
        .map_ok(Lean::unwrap_event)
        .default_backoff()
}

/// The controllers' names, as metrics label them.
const CLASSES: &str = "phonenumberclass";
const CLAIMS: &str = "phonenumberclaim";
const NUMBERS: &str = "phonenumber";

/// An object's key in the `queue_depth` count.
fn queue_key<K: kube::Resource>(r: &ObjectRef<K>) -> String {
    format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name)
}

/// Counts a controller's triggers into `queue_depth` as they pass (the reconcile's start takes
/// them out again).
#[derive(Clone)]
struct Queued {
    controller: &'static str,
    metrics: Arc<Metrics>,
}

impl Queued {
    fn new(ctx: &Context, controller: &'static str) -> Self {
        Self {
            controller,
            metrics: ctx.metrics.clone(),
        }
    }

    fn one<K: kube::Resource>(&self, r: ObjectRef<K>) -> ObjectRef<K> {
        self.metrics.queue.queued(self.controller, queue_key(&r));
        r
    }

    fn many<K: kube::Resource>(&self, refs: Vec<ObjectRef<K>>) -> Vec<ObjectRef<K>> {
        refs.into_iter().map(|r| self.one(r)).collect()
    }

    /// The controller's own objects' changes.
    fn objects<K>(
        &self,
        s: impl futures::Stream<Item = Arc<K>> + Send + 'static,
    ) -> impl futures::Stream<Item = Arc<K>> + Send + 'static
    where
        K: kube::Resource<DynamicType = ()> + Send + Sync + 'static,
    {
        let q = self.clone();
        s.inspect(move |o| {
            q.one(ObjectRef::from_obj(o.as_ref()));
        })
    }

    /// Direct wake-ups.
    fn refs<K>(
        &self,
        s: impl futures::Stream<Item = ObjectRef<K>> + Send + 'static,
    ) -> impl futures::Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: kube::Resource<DynamicType = ()> + Send + Sync + 'static,
    {
        let q = self.clone();
        s.map(move |r| q.one(r))
    }

    /// A trigger for an object that is gone is dropped by the controller without a reconcile:
    /// it no longer waits either.
    fn settle<K: kube::Resource, E>(
        &self,
        r: Result<(ObjectRef<K>, Action), kube::runtime::controller::Error<E, watcher::Error>>,
    ) -> futures::future::Ready<()>
    where
        E: std::error::Error + 'static,
    {
        if let Err(kube::runtime::controller::Error::ObjectNotFound(r)) = r {
            self.metrics.queue.started(self.controller, &queue_key(&r));
        }
        futures::future::ready(())
    }
}

/// One reconcile: in its own span, timed and counted.
async fn timed<K, F, Fut>(
    controller: &'static str,
    obj: Arc<K>,
    ctx: Arc<Context>,
    f: F,
) -> Result<Action, Error>
where
    K: kube::Resource<DynamicType = ()>,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, Error>>,
{
    if !ctx.synced.load(Ordering::SeqCst) {
        return Ok(Action::requeue(std::time::Duration::from_millis(200)));
    }
    if ctx.writes.stale(obj.as_ref()) {
        // The cache has not caught up with this process's own write: deciding on the object as
        // it was before would redo or undo it. The write's watch event reconciles it again.
        return Ok(Action::requeue(super::io::writes::CATCH_UP));
    }
    ctx.metrics
        .queue
        .started(controller, &queue_key(&ObjectRef::from_obj(obj.as_ref())));
    let span = tracing::info_span!("reconcile", controller, object = %obj.name_any(), namespace = obj.namespace().unwrap_or_default());
    let started = Instant::now();
    let result = f(obj, ctx.clone()).instrument(span).await;
    let outcome = result.as_ref().map_or_else(Error::label, |_| "ok");
    ctx.metrics
        .reconciled(controller, outcome, started.elapsed().as_secs_f64());
    result
}

/// The PhoneNumbers whose `claimRef` names this claim.
fn numbers_of(
    numbers: &reflector::Store<PhoneNumber>,
    claim: &PhoneNumberClaim,
) -> Vec<ObjectRef<PhoneNumber>> {
    let (ns, name) = (claim.namespace(), claim.name_any());
    numbers
        .state()
        .into_iter()
        .filter(|n| {
            n.spec
                .claim_ref
                .as_ref()
                .is_some_and(|r| Some(&r.namespace) == ns.as_ref() && r.name == name)
        })
        .map(|n| ObjectRef::from_obj(n.as_ref()))
        .collect()
}

fn error_policy<K: kube::Resource>(obj: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(object = %obj.name_any(), error = %error, "reconcile failed");
    Action::requeue(error.requeue_after())
}

async fn admin_server(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use axum::http::StatusCode;
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.encode(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.load(Ordering::SeqCst);
                async move {
                    if ready {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                    }
                }
            }),
        );
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "admin server stopped");
    }
}
