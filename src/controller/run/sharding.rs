//! Active-active replicas at run time: which class serves each object, the gate every
//! reconcile passes (only the class's Lease holder reconciles its objects), and the loop that
//! keeps this replica's Leases: a class taken wakes all its objects here; a class given up
//! drops its account, so nothing of it calls Talkturo from here any more.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use futures::future::Shared;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use serde::de::DeserializeOwned;

use crate::api::lean::{self, Parts};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use crate::controller::decide::claim::is_default;
use crate::controller::decide::selection::{Selection, class_of_label, label_value};
use crate::controller::decide::shard::{ROUTER, served_by};
use crate::controller::shard::{Guard, Shards};
use crate::controller::{CLASS_LABEL, Context, Error};

/// How long a stopping replica waits for its classes' work in flight before letting go.
const STOP_PATIENCE: Duration = Duration::from_secs(10);

/// Objects whose work belongs to one class.
pub(super) trait Served: Sized {
    /// The class whose Lease holder reconciles this object ([`ROUTER`] when none exists).
    fn served_class(&self, classes: &Classes) -> String;

    /// The class label it carries (`Some(None)`: none), for objects cached by it; `None` for
    /// objects every replica caches (classes).
    fn class_label(&self) -> Option<Option<Cow<'_, str>>> {
        None
    }

    /// Where it is written.
    fn api(&self, client: &kube::Client) -> Api<Self>;
}

/// An object's class label as the caches keep it.
fn label_of<K: Parts>(obj: &K) -> Option<Option<Cow<'_, str>>> {
    Some(lean::class_label(obj))
}

/// The classes as the gate reads them: their names and the default one.
pub(super) struct Classes {
    names: Vec<String>,
    default: Option<String>,
}

impl Classes {
    fn of(ctx: &Context) -> Self {
        let all = ctx.classes.state();
        let defaults: Vec<String> = all
            .iter()
            .filter(|c| is_default(c))
            .map(|c| c.name_any())
            .collect();
        Self {
            names: all.iter().map(|c| c.name_any()).collect(),
            default: (defaults.len() == 1).then(|| defaults[0].clone()),
        }
    }

    fn served_by(&self, named: Option<&str>, default: bool) -> String {
        let default = self.default.as_deref().filter(|_| default);
        served_by(named, default, |c| self.names.iter().any(|n| n == c))
    }
}

impl Served for PhoneNumberClass {
    fn served_class(&self, _: &Classes) -> String {
        self.name_any()
    }

    fn api(&self, client: &kube::Client) -> Api<Self> {
        Api::all(client.clone())
    }
}

impl Served for PhoneNumberClaim {
    fn served_class(&self, classes: &Classes) -> String {
        // The class in use, as its status recorded it (the bound number's, which a claim that
        // names its PhoneNumber may bind in another class, else the one it resolved to), else
        // its own (`Parts::own_class`), else the default now.
        classes.served_by(self.own_class(), true)
    }

    fn class_label(&self) -> Option<Option<Cow<'_, str>>> {
        label_of(self)
    }

    fn api(&self, client: &kube::Client) -> Api<Self> {
        Api::namespaced(client.clone(), &self.namespace().unwrap_or_default())
    }
}

impl Served for PhoneNumber {
    fn served_class(&self, classes: &Classes) -> String {
        classes.served_by(Some(&self.spec.class_name), false)
    }

    fn class_label(&self) -> Option<Option<Cow<'_, str>>> {
        label_of(self)
    }

    fn api(&self, client: &kube::Client) -> Api<Self> {
        Api::all(client.clone())
    }
}

/// What this replica does with an object now.
pub(super) enum Gate {
    /// Reconcile it (under the guard of its class, with active-active replicas).
    Open(Option<Guard>),
    /// Its class label is not the class serving it: set it to this value (`None`: remove it),
    /// which moves the object to the cache of the replica serving its class.
    Relabel(Guard, Option<String>),
    /// This replica holds its class but cannot act on it this instant (the class's cache is
    /// still listing, the Lease's renewal is late, or it is being handed over): looked at
    /// again after this long, for nothing else may wake it (an object parked until a change
    /// would wait forever once the moment passed).
    Later(Duration),
    /// Another replica serves it: it is woken here if this one takes it over.
    Elsewhere,
}

/// What this replica may do with `obj` now: everything when it serves every class; with
/// active-active replicas, reconcile it while it holds the object's class and caches that class
/// in full, or correct its label while it holds the class its label names (the router, for an
/// object with no label or a label naming no class).
pub(super) fn gate<K: Served>(ctx: &Context, obj: &K) -> Gate {
    let Some(shards) = &ctx.shards else {
        return Gate::Open(None);
    };
    let classes = Classes::of(ctx);
    let class = obj.served_class(&classes);
    let serve = |class: &str| {
        shards
            .caching()
            .complete(class)
            .then(|| shards.serve(class))
            .flatten()
            .ok_or_else(|| {
                if shards.holds(class) {
                    Gate::Later(shards.period())
                } else {
                    Gate::Elsewhere
                }
            })
    };
    if let Some(label) = obj.class_label() {
        let want = label_value(&class);
        if label.as_deref() != want.as_deref() {
            return match serve(class_of_label(label.as_deref(), &classes.names)) {
                Ok(guard) => Gate::Relabel(guard, want),
                Err(gate) => gate,
            };
        }
    }
    serve(&class).map_or_else(|gate| gate, |guard| Gate::Open(Some(guard)))
}

/// Sets `obj`'s class label to `value` (removes it for `None`).
pub(super) async fn relabel<K>(ctx: &Context, obj: &K, value: Option<&str>) -> Result<(), Error>
where
    K: Served + kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({"metadata": {"labels": {CLASS_LABEL: value}}});
    tracing::info!(object = %obj.name_any(), label = ?value, "setting the class label");
    let after = obj
        .api(&ctx.client)
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(Error::kube("setting the class label"))?;
    ctx.writes.wrote(obj, &after);
    ctx.metrics.shards.relabelled();
    Ok(())
}

/// Where a class taken by this replica sends its objects to be reconciled.
#[derive(Clone)]
pub(super) struct Wake {
    pub classes: UnboundedSender<ObjectRef<PhoneNumberClass>>,
    pub claims: UnboundedSender<ObjectRef<PhoneNumberClaim>>,
    pub numbers: UnboundedSender<ObjectRef<PhoneNumber>>,
}

/// This replica's Leases kept (active-active replicas), or nothing to do.
pub(super) fn keep_if(
    ctx: &Arc<Context>,
    wake: Wake,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) -> impl Future<Output = ()> {
    let ctx = ctx.clone();
    async move {
        if let Some(shards) = ctx.shards.clone() {
            let period = shards.period();
            keep(ctx, shards, wake, period, shutdown).await;
            return;
        }
        // One replica caches everything: the cache sizes are still reported.
        let mut tick = tokio::time::interval(CACHE_SIZES_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => ctx.metrics.shards.cached(ctx.claims.len(), ctx.numbers.len()),
                () = shutdown.clone() => return,
            }
        }
    }
}

/// How often the caches' sizes are reported without active-active replicas (with them, every
/// Lease round).
const CACHE_SIZES_EVERY: Duration = Duration::from_secs(5);

/// Keeps this replica's Leases (a round every third of their duration) once the caches are
/// synced, until `shutdown`; then hands every class over.
pub(super) async fn keep(
    ctx: Arc<Context>,
    shards: Arc<Shards>,
    wake: Wake,
    period: Duration,
    shutdown: Shared<impl Future<Output = ()> + Send + 'static>,
) {
    let ready = async {
        while !ctx.wait_synced(Duration::from_secs(3600)).await {}
        while let Err(e) = shards.wait_for_leader().await {
            tracing::warn!(error = %e, "reading the leader Lease failed");
            tokio::time::sleep(period).await;
        }
    };
    tokio::select! {
        () = ready => {}
        () = shutdown.clone() => return,
    }
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.clone() => break,
        }
        let classes: Vec<String> = ctx.classes.state().iter().map(|c| c.name_any()).collect();
        let mut names = classes.clone();
        names.push(ROUTER.to_owned());
        let round = shards.round(&names).await;
        // The caches follow the classes held (a class taken is reconciled once both caches
        // listed it; see `run::watch::listed`).
        shards
            .caching()
            .select(Selection::of(&shards.held(), &classes));
        ctx.metrics
            .shards
            .cached(ctx.claims.len(), ctx.numbers.len());
        ctx.metrics.shards.awaiting_label(awaiting_label(&ctx));
        match round {
            Ok(round) => {
                let served = shards.serving().iter().filter(|c| *c != ROUTER).count();
                let m = &ctx.metrics.shards;
                m.round(round.acquired.len(), round.released.len(), served);
                for class in &round.released {
                    tracing::info!(class, "class handed over or lost");
                    ctx.accounts.remove(class);
                    ctx.metrics.forget_class(class);
                }
                for class in &round.acquired {
                    tracing::info!(class, "class taken");
                    wake_class(&ctx, class, &wake);
                }
            }
            Err(e) => tracing::warn!(error = %e, "renewing this replica's Leases failed"),
        }
    }
    shards.stop(STOP_PATIENCE).await;
}

/// The claims in this replica's cache whose class label is not (yet) the class serving them:
/// each is moved by a relabel, unlabelled ones by the router's holder.
fn awaiting_label(ctx: &Context) -> usize {
    let classes = Classes::of(ctx);
    ctx.claims
        .state()
        .iter()
        .filter(|c| {
            let want = label_value(&c.served_class(&classes));
            c.class_label()
                .is_some_and(|l| l.as_deref() != want.as_deref())
        })
        .count()
}

/// Every object of `class` queued for a reconcile here: those it serves, and those whose label
/// names it (or, for the router, no class), which its holder relabels.
pub(super) fn wake_class(ctx: &Context, class: &str, wake: &Wake) {
    let classes = Classes::of(ctx);
    for c in ctx.classes.state() {
        if c.name_any() == class {
            let _ = wake.classes.unbounded_send(ObjectRef::from_obj(c.as_ref()));
        }
    }
    for c in ctx.claims.state() {
        if concerns(c.as_ref(), class, &classes) {
            let _ = wake.claims.unbounded_send(ObjectRef::from_obj(c.as_ref()));
        }
    }
    for n in ctx.numbers.state() {
        if concerns(n.as_ref(), class, &classes) {
            let _ = wake.numbers.unbounded_send(ObjectRef::from_obj(n.as_ref()));
        }
    }
}

/// Whether `obj` is served by `class`, or carries a label that names it.
fn concerns<K: Served>(obj: &K, class: &str, classes: &Classes) -> bool {
    obj.served_class(classes) == class
        || obj
            .class_label()
            .is_some_and(|l| class_of_label(l.as_deref(), &classes.names) == class)
}
