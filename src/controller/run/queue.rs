//! What every reconcile passes through: the cache-sync and stale-write checks, its span, its
//! timing and outcome metrics, the `queue_depth` count, and the error policy.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tracing::Instrument;

use super::sharding::{self, Gate, Served};
use crate::controller::decide::requeue;
use crate::controller::fence;
use crate::controller::io::writes;
use crate::controller::{Context, Error, Metrics};

/// The controllers' names, as metrics label them.
pub(super) const CLASSES: &str = "phonenumberclass";
pub(super) const CLAIMS: &str = "phonenumberclaim";
pub(super) const NUMBERS: &str = "phonenumber";

/// An object's key in the `queue_depth` count.
fn queue_key<K: kube::Resource>(r: &ObjectRef<K>) -> String {
    format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name)
}

/// Counts a controller's triggers into `queue_depth` as they pass (the reconcile's start takes
/// them out again).
#[derive(Clone)]
pub(super) struct Queued {
    controller: &'static str,
    metrics: Arc<Metrics>,
}

impl Queued {
    pub(super) fn new(ctx: &Context, controller: &'static str) -> Self {
        Self {
            controller,
            metrics: ctx.metrics.clone(),
        }
    }

    pub(super) fn one<K: kube::Resource>(&self, r: ObjectRef<K>) -> ObjectRef<K> {
        self.metrics.queue.queued(self.controller, queue_key(&r));
        r
    }

    pub(super) fn many<K: kube::Resource>(&self, refs: Vec<ObjectRef<K>>) -> Vec<ObjectRef<K>> {
        refs.into_iter().map(|r| self.one(r)).collect()
    }

    /// The controller's own objects' changes.
    pub(super) fn objects<K>(
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
    pub(super) fn refs<K>(
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
    pub(super) fn settle<K: kube::Resource, E>(
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
pub(super) async fn timed<K, F, Fut>(
    controller: &'static str,
    obj: Arc<K>,
    ctx: Arc<Context>,
    f: F,
) -> Result<Action, Error>
where
    K: kube::Resource<DynamicType = ()>
        + Served
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, Error>>,
{
    // The trigger is taken: whatever the reconcile comes to (put back, gated elsewhere), it no
    // longer waits in the queue.
    ctx.metrics
        .queue
        .started(controller, &queue_key(&ObjectRef::from_obj(obj.as_ref())));
    if !ctx.wait_synced(SYNC_WAIT).await {
        return Ok(Action::requeue(requeue::ON_CONFLICT));
    }
    let serving = match sharding::gate(&ctx, obj.as_ref()) {
        Gate::Open(guard) => guard,
        Gate::Later(after) => {
            tracing::debug!(controller, object = %obj.name_any(), "its class cannot be served this instant; looking again");
            return Ok(Action::requeue(after));
        }
        // Another replica serves the object's class: it is woken here if this one takes it over.
        Gate::Elsewhere => {
            tracing::debug!(controller, object = %obj.name_any(), "served by another replica");
            return Ok(Action::await_change());
        }
        Gate::Relabel(_guard, value) => {
            sharding::relabel(&ctx, obj.as_ref(), value.as_deref()).await?;
            return Ok(Action::await_change());
        }
    };
    if ctx.writes.stale(obj.as_ref()) {
        // The cache has not caught up with this process's own write: deciding on the object as
        // it was before would redo or undo it. The write's watch event reconciles it again.
        tracing::debug!(controller, object = %obj.name_any(), "the cache is behind this process's write; looking again");
        return Ok(Action::requeue(writes::CATCH_UP));
    }
    let span = tracing::info_span!("reconcile", controller, object = %obj.name_any(), namespace = obj.namespace().unwrap_or_default());
    let started = Instant::now();
    // Under its class's guard: its writes stop once the class's Lease lapses.
    let check = serving
        .as_ref()
        .map(|g| Box::new(g.check()) as fence::Check);
    let result = fence::serving(check, f(obj, ctx.clone()).instrument(span)).await;
    let outcome = result.as_ref().map_or_else(Error::label, |_| "ok");
    ctx.metrics
        .reconciled(controller, outcome, started.elapsed().as_secs_f64());
    result
}

/// Longest a reconcile waits for every cache to sync before it is put back (a controller's own
/// cache may be ready before the others, and nothing is decided on an incomplete one).
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A failed reconcile is retried after its error's wait.
pub(super) fn error_policy<K: kube::Resource>(
    obj: Arc<K>,
    error: &Error,
    _ctx: Arc<Context>,
) -> Action {
    tracing::warn!(object = %obj.name_any(), error = %error, "reconcile failed");
    Action::requeue(error.requeue_after())
}
