//! Workload rollouts (`decide::rollout`): a Deployment or StatefulSet labelled
//! `telephony.talkturo.ai/rollout: "true"` gets its `numbers-hash` set to what the claim
//! ConfigMaps its pods read hold. Reconciled when it changes and when a claim of its namespace
//! changes (a claim's ConfigMap is written before its status records it); a trial replacement
//! waits here ([`pending`]) until every such workload has rolled out the new number.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::api::v1alpha1::PhoneNumberClaim;
use crate::controller::context::Workloads;
use crate::controller::decide::events::{Note, action, reason};
use crate::controller::decide::requeue;
use crate::controller::decide::rollout::{self, NumberRead, Workload};
use crate::controller::io;
use crate::controller::{Context, Error};

/// A kind of workload this module rolls.
pub trait Rollable:
    Workload
    + Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<W> Rollable for W where
    W: Workload
        + Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// What a roll found.
#[derive(Debug, PartialEq, Eq)]
pub enum Rolled {
    /// Its pods read no claim ConfigMap (or one is missing for now): left as it is.
    Untouched,
    /// Its template carries the hash of what its claim ConfigMaps hold.
    Current,
    /// Its template was given a new hash: its pods roll.
    Patched,
}

pub async fn reconcile<W: Rollable>(w: Arc<W>, ctx: Arc<Context>) -> Result<Action, Error> {
    let Some(shards) = &ctx.shards else {
        roll(&ctx, w.as_ref()).await?;
        return Ok(Action::await_change());
    };
    // Active-active replicas: a workload is rolled by the holder of the first class (by name)
    // among the claims whose ConfigMaps it reads, which sees those claims change; one reading
    // claims of several classes is also looked at again every 30 s, for the others' changes.
    let Some(ns) = w.namespace() else {
        return Ok(Action::await_change());
    };
    let claims = ctx.claims_of_namespace(&ns).await?;
    let classes = classes_read(w.as_ref(), &claims);
    let Some(owner) = classes.first() else {
        return Ok(Action::await_change());
    };
    let Some(_serving) = shards.serve(owner) else {
        return Ok(Action::await_change());
    };
    roll_with(&ctx, w.as_ref(), &claims).await?;
    Ok(if classes.len() > 1 {
        Action::requeue(requeue::ROLLOUT_ELSEWHERE)
    } else {
        Action::await_change()
    })
}

/// The classes (in name order) of the claims whose ConfigMaps `w`'s pods read.
fn classes_read<W: Rollable>(w: &W, claims: &[Arc<PhoneNumberClaim>]) -> Vec<String> {
    let Some(spec) = w.template().and_then(|t| t.spec.as_ref()) else {
        return Vec::new();
    };
    let read = rollout::config_maps_read(spec);
    let mut classes: Vec<String> = claims
        .iter()
        .filter(|c| read.iter().any(|name| names(c, name)))
        .filter_map(|c| {
            let recorded = c.status.as_ref().and_then(|s| s.class_name.clone());
            recorded.or_else(|| c.spec.class_name.clone())
        })
        .collect();
    classes.sort();
    classes.dedup();
    classes
}

/// Brings `w`'s hash to what its claim ConfigMaps hold now (with one Event when it changes).
pub async fn roll<W: Rollable>(ctx: &Context, w: &W) -> Result<Rolled, Error> {
    let Some(ns) = w.namespace() else {
        return Ok(Rolled::Untouched);
    };
    let claims = ctx.claims_of_namespace(&ns).await?;
    roll_with(ctx, w, &claims).await
}

/// [`roll`], with the claims of `w`'s namespace already read.
async fn roll_with<W: Rollable>(
    ctx: &Context,
    w: &W,
    claims: &[Arc<PhoneNumberClaim>],
) -> Result<Rolled, Error> {
    let Some(reads) = numbers_read(ctx, w, claims).await? else {
        return Ok(Rolled::Untouched);
    };
    let hash = rollout::numbers_hash(&reads);
    if w.template().and_then(rollout::current_hash) == Some(hash.as_str()) {
        return Ok(Rolled::Current);
    }
    let _one_at_a_time = match ctx.workloads.as_ref() {
        Some(ws) => Some(ws.rolling.lock().await),
        None => None,
    };
    // Another roll may have set it while this one waited for its turn.
    if io::workload::current_hash(ctx, w).await?.as_deref() == Some(hash.as_str()) {
        return Ok(Rolled::Current);
    }
    if !io::workload::set_hash(ctx, w, &hash).await? {
        return Ok(Rolled::Untouched);
    }
    let message = rollout::rolled_out_message(W::KIND, &w.name_any(), &reads);
    tracing::info!(kind = W::KIND, workload = %w.name_any(), namespace = ?w.namespace(), %hash, "rolling out new numbers");
    let note = Note::normal(reason::NUMBER_ROLLED_OUT, action::ROLLOUT, message);
    ctx.publish(w, note).await;
    Ok(Rolled::Patched)
}

/// The numbers `w`'s pods read from claim ConfigMaps; `None` when they read none, or when one a
/// claim names is missing (deleted, not yet written: rolling now would roll twice).
async fn numbers_read<W: Rollable>(
    ctx: &Context,
    w: &W,
    claims: &[Arc<PhoneNumberClaim>],
) -> Result<Option<Vec<NumberRead>>, Error> {
    let (Some(template), Some(ns)) = (w.template(), w.namespace()) else {
        return Ok(None);
    };
    let Some(spec) = template.spec.as_ref() else {
        return Ok(None);
    };
    let read = rollout::config_maps_read(spec);
    let claims: Vec<&PhoneNumberClaim> = claims.iter().map(Arc::as_ref).collect();
    let named: Vec<&String> = read
        .iter()
        .filter(|name| claims.iter().any(|c| names(c, name)))
        .collect();
    let mut reads = Vec::new();
    for name in named {
        match io::workload::config_map(ctx, &ns, name).await? {
            Some(cm) => reads.extend(rollout::read(&cm, &claims)),
            None => return Ok(None),
        }
    }
    Ok((!reads.is_empty()).then_some(reads))
}

/// Whether `claim` names (or wrote) the ConfigMap `name`.
fn names(claim: &PhoneNumberClaim, name: &str) -> bool {
    claim.spec.config_map_name.as_deref() == Some(name)
        || claim
            .status
            .as_ref()
            .and_then(|s| s.config_map_name.as_deref())
            == Some(name)
}

/// The labelled workloads of `claim`'s namespace whose pods read its ConfigMap `config_map`, by
/// kind: what a change of the claim's number rolls.
pub fn reading(
    workloads: &Workloads,
    ns: &str,
    config_map: &str,
) -> (Vec<Arc<Deployment>>, Vec<Arc<StatefulSet>>) {
    (
        readers(&workloads.deployments, ns, config_map),
        readers(&workloads.stateful_sets, ns, config_map),
    )
}

fn readers<W: Rollable>(store: &Store<W>, ns: &str, config_map: &str) -> Vec<Arc<W>> {
    store
        .state()
        .into_iter()
        .filter(|w| w.namespace().as_deref() == Some(ns))
        .filter(|w| {
            w.template()
                .and_then(|t| t.spec.as_ref())
                .is_some_and(|s| rollout::config_maps_read(s).contains(config_map))
        })
        .collect()
}

/// The workloads a claim's trial replacement still waits for: every labelled workload reading
/// its ConfigMap is rolled to the new number (the caller wrote it) and rolled out. Empty when
/// none is left, or when the wait passed `timeout` (the caller warns).
pub async fn pending(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    config_map: &str,
    (timeout, now): (Duration, Timestamp),
) -> Result<Waiting, Error> {
    let Some(workloads) = ctx.workloads.as_ref() else {
        return Ok(Waiting::default());
    };
    let ns = claim.namespace().unwrap_or_default();
    let (deployments, stateful_sets) = reading(workloads, &ns, config_map);
    let mut rolling = Vec::new();
    for d in deployments {
        if !done(ctx, d.as_ref()).await? {
            rolling.push(format!("Deployment {}", d.name_any()));
        }
    }
    for s in stateful_sets {
        if !done(ctx, s.as_ref()).await? {
            rolling.push(format!("StatefulSet {}", s.name_any()));
        }
    }
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    let mut waiting = lock(&workloads.waiting);
    if rolling.is_empty() {
        waiting.remove(&uid);
        return Ok(Waiting::default());
    }
    let since = *waiting.entry(uid.clone()).or_insert(now);
    if now.duration_since(since).unsigned_abs() >= timeout {
        waiting.remove(&uid);
        return Ok(Waiting {
            rolling,
            timed_out: true,
        });
    }
    Ok(Waiting {
        rolling,
        timed_out: false,
    })
}

/// What a trial replacement waits for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Waiting {
    /// The workloads not rolled out yet ("Deployment web").
    pub rolling: Vec<String>,
    /// The wait passed its timeout: the replacement goes on.
    pub timed_out: bool,
}

/// Whether `w` carries the current hash and has rolled it out. A workload patched just now has
/// not (its cached status is of the template before).
async fn done<W: Rollable>(ctx: &Context, w: &W) -> Result<bool, Error> {
    Ok(match roll(ctx, w).await? {
        Rolled::Patched => false,
        Rolled::Current => w.rolled_out(),
        Rolled::Untouched => true,
    })
}

/// The workloads that read a claim's ConfigMap: woken when the claim changes.
pub fn for_claim<W: Rollable>(store: &Store<W>, claim: &PhoneNumberClaim) -> Vec<ObjectRef<W>> {
    let ns = claim.namespace().unwrap_or_default();
    let names = [
        claim.spec.config_map_name.as_deref(),
        claim
            .status
            .as_ref()
            .and_then(|s| s.config_map_name.as_deref()),
    ];
    let mut refs: Vec<ObjectRef<W>> = names
        .into_iter()
        .flatten()
        .flat_map(|cm| readers(store, &ns, cm))
        .map(|w| ObjectRef::from_obj(w.as_ref()))
        .collect();
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    refs.dedup();
    refs
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
