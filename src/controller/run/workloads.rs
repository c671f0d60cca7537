//! The rollout controllers (`reconcile::workload`), one per kind: Deployments and StatefulSets
//! watched by the label `telephony.talkturo.ai/rollout=true` only (an unlabelled workload is
//! never read), reconciled when they change and when a claim of their namespace changes.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::Shared;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, Store};

use super::subscription::Subscription;
use kube::runtime::{WatchStreamExt, watcher};

use crate::api::v1alpha1::PhoneNumberClaim;
use crate::controller::context::Workloads;
use crate::controller::decide::rollout::ROLLOUT_LABEL;
use crate::controller::reconcile::workload::{self, Rollable};
use crate::controller::{Context, Error};

/// The labelled workloads' caches, before their watches start.
pub(super) struct WorkloadCaches {
    deployments: (Store<Deployment>, Writer<Deployment>),
    stateful_sets: (Store<StatefulSet>, Writer<StatefulSet>),
}

impl WorkloadCaches {
    pub(super) fn new() -> Self {
        Self {
            deployments: reflector::store(),
            stateful_sets: reflector::store(),
        }
    }

    /// What the reconciles read.
    pub(super) fn workloads(&self) -> Workloads {
        Workloads::new(self.deployments.0.clone(), self.stateful_sets.0.clone())
    }
}

/// Two more subscriptions to the shared claims cache, and the workloads' caches, when rollouts
/// are on (only then: a subscription nobody reads would stall the claims cache).
pub(super) fn subscribe(
    on: bool,
    claims: &Writer<PhoneNumberClaim>,
) -> Option<(WorkloadCaches, ClaimHandles)> {
    if !on {
        return None;
    }
    let handles = claims
        .subscribe()
        .map(Subscription::new)
        .zip(claims.subscribe().map(Subscription::new))?;
    Some((WorkloadCaches::new(), handles))
}

type ClaimHandles = (
    Subscription<PhoneNumberClaim>,
    Subscription<PhoneNumberClaim>,
);

/// [`controllers`], when rollouts are on.
pub(super) fn run_if(
    rollouts: Option<(WorkloadCaches, ClaimHandles)>,
    (ctx, wc): (Arc<Context>, watcher::Config),
    concurrency: ControllerConfig,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) -> impl Future<Output = ()> {
    let run = rollouts
        .map(|(caches, claims)| controllers(ctx, (caches, wc), claims, concurrency, shutdown));
    async move {
        if let Some(run) = run {
            run.await;
        }
    }
}

/// Runs both rollout controllers until `shutdown` resolves. `claims` are two subscriptions to the
/// shared claims cache (one per kind).
fn controllers(
    ctx: Arc<Context>,
    (caches, wc): (WorkloadCaches, watcher::Config),
    claims: ClaimHandles,
    concurrency: ControllerConfig,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) -> impl Future<Output = ()> {
    let labelled = wc.labels(&format!("{ROLLOUT_LABEL}=true"));
    let deployments = run(
        ctx.clone(),
        caches.deployments,
        (labelled.clone(), claims.0),
        concurrency.clone(),
        shutdown.clone(),
    );
    let stateful_sets = run(
        ctx,
        caches.stateful_sets,
        (labelled, claims.1),
        concurrency,
        shutdown,
    );
    async move {
        futures::join!(deployments, stateful_sets);
    }
}

fn run<W: Rollable + serde::Serialize>(
    ctx: Arc<Context>,
    (store, writer): (Store<W>, Writer<W>),
    (labelled, claims): (watcher::Config, Subscription<PhoneNumberClaim>),
    concurrency: ControllerConfig,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) -> impl Future<Output = ()> {
    let objects = watcher(Api::<W>::all(ctx.client.clone()), labelled)
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    let readers = store.clone();
    Controller::for_stream(objects, store)
        .watches_shared_stream(claims, move |claim| workload::for_claim(&readers, &claim))
        .with_config(concurrency)
        .graceful_shutdown_on(shutdown)
        .run(workload::reconcile::<W>, error_policy, ctx)
        .for_each(|_| async {})
}

fn error_policy<W: Rollable>(w: Arc<W>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(kind = W::KIND, workload = %kube::ResourceExt::name_any(w.as_ref()), %error, "rollout failed");
    Action::requeue(error.requeue_after())
}
