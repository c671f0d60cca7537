//! Active-active replicas at run time: which class serves each object, the gate every
//! reconcile passes (only the class's Lease holder reconciles its objects), and the loop that
//! keeps this replica's Leases: a class taken wakes all its objects here; a class given up
//! drops its account, so nothing of it calls Talkturo from here any more.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use futures::future::Shared;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use crate::controller::Context;
use crate::controller::decide::claim::is_default;
use crate::controller::decide::shard::{ROUTER, served_by};
use crate::controller::shard::{Guard, Shards};

/// How long a stopping replica waits for its classes' work in flight before letting go.
const STOP_PATIENCE: Duration = Duration::from_secs(10);

/// Objects whose work belongs to one class.
pub(super) trait Served {
    /// The class whose Lease holder reconciles this object ([`ROUTER`] when none exists).
    fn served_class(&self, classes: &Classes) -> String;
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
}

impl Served for PhoneNumberClaim {
    fn served_class(&self, classes: &Classes) -> String {
        // The class in use: its own, else the one its status recorded (the bound number's or
        // the default resolved), else the default now.
        let recorded = self.status.as_ref().and_then(|s| s.class_name.as_deref());
        let named = self.spec.class_name.as_deref().or(recorded);
        classes.served_by(named, true)
    }
}

impl Served for PhoneNumber {
    fn served_class(&self, classes: &Classes) -> String {
        classes.served_by(Some(&self.spec.class_name), false)
    }
}

/// Whether this replica may reconcile `obj` now: `Ok(None)` when it serves every class,
/// `Ok(Some(guard))` while it holds the object's class, `Err(())` when another replica does.
pub(super) fn gate<K: Served>(ctx: &Context, obj: &K) -> Result<Option<Guard>, ()> {
    let Some(shards) = &ctx.shards else {
        return Ok(None);
    };
    let class = obj.served_class(&Classes::of(ctx));
    shards.serve(&class).map(Some).ok_or(())
}

/// Where a class taken by this replica sends its objects to be reconciled.
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
        }
    }
}

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
        let mut names: Vec<String> = ctx.classes.state().iter().map(|c| c.name_any()).collect();
        names.push(ROUTER.to_owned());
        match shards.round(&names).await {
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

/// Every object of `class` queued for a reconcile here.
fn wake_class(ctx: &Context, class: &str, wake: &Wake) {
    let classes = Classes::of(ctx);
    for c in ctx.classes.state() {
        if c.name_any() == class {
            let _ = wake.classes.unbounded_send(ObjectRef::from_obj(c.as_ref()));
        }
    }
    for c in ctx.claims.state() {
        if c.served_class(&classes) == class {
            let _ = wake.claims.unbounded_send(ObjectRef::from_obj(c.as_ref()));
        }
    }
    for n in ctx.numbers.state() {
        if n.served_class(&classes) == class {
            let _ = wake.numbers.unbounded_send(ObjectRef::from_obj(n.as_ref()));
        }
    }
}
