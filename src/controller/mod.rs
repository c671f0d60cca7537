//! The three reconcilers (PhoneNumberClass, PhoneNumberClaim, PhoneNumber) and what they share.
//!
//! Each reconcile is observe → plan → apply: `plan` functions are pure (object, observed
//! state, `now`) → what to do; observe and apply are the only places that call Kubernetes or
//! Talkturo. DESIGN §2 (the crash-safe purchase protocol) is implemented by `claim` (intent,
//! candidates, gates) and `number` (the account list, exact purchase, 409 adopts, unknown outcomes).

pub mod account;
mod assign;
mod claim;
mod class;
pub mod conditions;
mod figures;
mod metrics;
mod money;
mod number;
mod reclaim;
pub mod run;
mod tenancy;
mod trial;
pub mod writes;

/// Read-only views of what the controllers decide, for `kubectl talkturo`.
pub mod preview {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use crate::api::v1alpha1::{PhoneNumberClaim, PhoneNumberClass};
    use crate::talkturo::{AvailableNumber, SearchFilters};

    pub use super::class::{NotReady, fetch_token};

    /// The class a claim would use (its `className` or the one default), or why none.
    pub fn class_of(
        claim: &PhoneNumberClaim,
        classes: &[Arc<PhoneNumberClass>],
    ) -> Result<Arc<PhoneNumberClass>, String> {
        super::claim::resolve_class(claim, classes)
            .map_err(|p| format!("{}: {}", p.reason, p.message))
    }

    /// The search a claim's provisioning sends, or `None` when the claim cannot search.
    pub fn filters(claim: &PhoneNumberClaim) -> Option<SearchFilters> {
        super::claim::filters(claim)
    }

    /// The acceptable candidates among `offers`, in the order provisioning would try them (the
    /// class's selection policy and the stricter price caps), or why there is none. Pure.
    pub fn candidates(
        claim: &PhoneNumberClaim,
        class: &PhoneNumberClass,
        offers: &[AvailableNumber],
    ) -> Result<Vec<AvailableNumber>, String> {
        let mut taken = BTreeSet::new();
        let mut out = Vec::new();
        loop {
            match super::claim::choose(claim, class, offers, &taken) {
                Ok(pick) => {
                    taken.insert(pick.phone_number.clone());
                    out.push(pick);
                }
                Err(p) if out.is_empty() => return Err(format!("{}: {}", p.reason, p.message)),
                Err(_) => return Ok(out),
            }
        }
    }
}

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

pub use metrics::{ClassFigures, Metrics};
pub use run::{RunOptions, run};

use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use account::Accounts;

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "talkturo-operator";
/// Finalizer on managed PhoneNumbers: the object outlives an unsettled purchase.
pub const NUMBER_FINALIZER: &str = "telephony.talkturo.ai/number-protection";
/// Annotation on a PhoneNumber with the offer it was bought from (prices, features), written
/// by the claim controller when it records the intent to buy.
pub const OFFER_ANNOTATION: &str = "telephony.talkturo.ai/offer";
/// Label on a PhoneNumber with its class, for selection.
pub const CLASS_LABEL: &str = "telephony.talkturo.ai/class";

/// Tunables of the controllers (the binary fills them from flags).
#[derive(Clone, Debug)]
pub struct Config {
    /// How often a class's list is refreshed while one of its numbers is purchasing.
    pub fast_sync: Duration,
    /// How long after an unknown-outcome purchase the list is trusted to show it.
    pub purchase_grace: Duration,
    /// After this long unsettled, an unknown purchase outcome is raised for a human.
    pub outcome_alert_after: Duration,
    /// After the plan limit was hit, one purchase probes the plan again after this long.
    pub plan_limit_recheck: Duration,
    /// First retry delay after a refused purchase; doubles per attempt.
    pub retry_base: Duration,
    /// Longest retry delay after refused purchases.
    pub retry_max: Duration,
    /// Timeout of each Talkturo request.
    pub talkturo_timeout: Duration,
    /// Most records one account list may hold (more is an invalid answer).
    pub max_list_records: usize,
    /// Longest time one account list (every page) may take.
    pub max_list_time: Duration,
    /// Reconciles run at once per controller.
    pub concurrency: u16,
    /// How the caches get their initial contents.
    pub initial_list: InitialList,
}

/// How the caches get their initial contents (at start-up and after a watch is lost).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum InitialList {
    /// `stream` when the API server supports streaming lists (probed once at start-up),
    /// otherwise `list`.
    #[default]
    Auto,
    /// A watch that sends the current objects first (`sendInitialEvents`, Kubernetes'
    /// `WatchList`, on by default since 1.32): the API server encodes the objects one by one while
    /// the operator decodes them, and no response holding all of them is ever buffered.
    Stream,
    /// One list call per kind, served from the API server's cache, then a watch.
    List,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            fast_sync: Duration::from_secs(2),
            purchase_grace: Duration::from_secs(3),
            outcome_alert_after: Duration::from_secs(600),
            plan_limit_recheck: Duration::from_secs(3600),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            talkturo_timeout: Duration::from_secs(10),
            max_list_records: 25_000,
            max_list_time: Duration::from_secs(120),
            concurrency: 16,
            initial_list: InitialList::Auto,
        }
    }
}

/// What every reconcile gets.
pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    pub accounts: Accounts,
    pub classes: Store<PhoneNumberClass>,
    pub claims: Store<PhoneNumberClaim>,
    pub numbers: Store<PhoneNumber>,
    /// Namespaces' metadata (labels, annotations): the tenancy policies.
    pub namespaces: Store<kube::core::PartialObjectMeta<k8s_openapi::api::core::v1::Namespace>>,
    /// Publishes Warnings, which may repeat: kube's recorder folds a repeat into the first
    /// Event's series (count, last seen), keeping each Event it published for a few minutes.
    pub recorder: Recorder,
    /// Who publishes: Normal Events (one per transition, never repeated: purchased, bound,
    /// assigned) go through a recorder of their own, so a burst of 10,000 claims does not keep
    /// 20,000 Events in memory (~3 KB each) for the series cache.
    pub reporter: Reporter,
    pub metrics: Arc<Metrics>,
    /// Wakes PhoneNumbers whose record changed in a list snapshot.
    pub number_changed: UnboundedSender<ObjectRef<PhoneNumber>>,
    /// Set once all three caches are synced; no reconcile decides anything before that (an
    /// empty cache would make a class look missing or a taken number look free).
    pub synced: std::sync::atomic::AtomicBool,
    /// This process's own writes, until the caches show them.
    pub writes: writes::Writes,
    /// Serializes namespace budget decisions, with the purchases decided and not yet in the
    /// cache: number → (namespace, monthly price).
    pub namespace_ledger: tokio::sync::Mutex<
        std::collections::BTreeMap<String, (String, Option<rust_decimal::Decimal>)>,
    >,
}

impl Context {
    /// A namespace's labels and annotations from the cache (`None` if it has not seen it).
    pub fn namespace_meta(&self, ns: &str) -> Option<tenancy::NamespaceMeta> {
        self.namespaces
            .get(&ObjectRef::new(ns))
            .map(|n| tenancy::NamespaceMeta {
                labels: n.metadata.labels.clone().unwrap_or_default(),
                annotations: n.metadata.annotations.clone().unwrap_or_default(),
            })
    }
}

impl Context {
    /// Merge-patches a PhoneNumber (`patch` may carry a `resourceVersion` precondition) and
    /// remembers the write until the cache shows it.
    pub async fn patch_number(
        &self,
        pn: &PhoneNumber,
        patch: &serde_json::Value,
        action: &'static str,
    ) -> Result<(), Error> {
        let api: Api<PhoneNumber> = Api::all(self.client.clone());
        let after = api
            .patch(
                &pn.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map_err(Error::kube(action))?;
        self.writes.wrote(pn, &after);
        Ok(())
    }

    /// Writes `status` (and, with `precondition`, only at that resourceVersion) to the object's
    /// status subresource by server-side apply, and remembers the write until the cache shows
    /// it.
    pub async fn apply_status<K>(
        &self,
        api: Api<K>,
        obj: &K,
        status: &impl serde::Serialize,
        precondition: Option<&str>,
        action: &'static str,
    ) -> Result<(), Error>
    where
        K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let mut patch = serde_json::json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "status": status,
        });
        if let Some(rv) = precondition {
            patch["metadata"] = serde_json::json!({"resourceVersion": rv});
        }
        let after = api
            .patch_status(
                &obj.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(Error::kube(action))?;
        self.writes.wrote(obj, &after);
        Ok(())
    }

    /// Publishes an Event about `obj`; failures are logged, never fatal.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let ev = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        let published = if type_ == EventType::Normal {
            Recorder::new(self.client.clone(), self.reporter.clone())
                .publish(&ev, &obj.object_ref(&()))
                .await
        } else {
            self.recorder.publish(&ev, &obj.object_ref(&())).await
        };
        if let Err(e) = published {
            tracing::warn!(error = %e, reason, "could not publish an event");
        }
    }
}

/// A failed reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes {action}: {source}")]
    Kube {
        action: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("talkturo: {0}")]
    Talkturo(#[source] Arc<crate::talkturo::Error>),
    #[error("object has no {0}")]
    MissingField(&'static str),
}

impl Error {
    /// Wraps a kube error with the step that failed.
    pub fn kube(action: &'static str) -> impl FnOnce(kube::Error) -> Error {
        move |source| Error::Kube { action, source }
    }

    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Kube {
                source: kube::Error::Api(s),
                ..
            } if s.code == 409 => "conflict",
            Error::Kube { .. } => "kube",
            Error::Talkturo(_) => "talkturo",
            Error::MissingField(_) => "invalid_object",
        }
    }

    /// How long to wait before retrying: conflicts (a stale cache) at once, the rest later.
    pub fn requeue_after(&self) -> Duration {
        match self {
            Error::Kube {
                source: kube::Error::Api(s),
                ..
            } if s.code == 409 => Duration::from_millis(200),
            Error::Kube { .. } => Duration::from_secs(5),
            Error::Talkturo(_) => Duration::from_secs(10),
            Error::MissingField(_) => Duration::from_secs(300),
        }
    }
}

/// Parses a Go-style duration from a spec (validated by the schema); `default` if unreadable.
pub fn parse_duration(s: &str, default: Duration) -> Duration {
    s.parse::<kube::core::Duration>()
        .ok()
        .filter(|d| !d.is_negative())
        .map(Duration::from)
        .unwrap_or(default)
}

/// A time as a Kubernetes timestamp rounded **up** to the second (they serialize to whole
/// seconds). For lower bounds ("a list sent after this"): rounding down would let a list sent
/// just before the event pass as one sent after it.
pub fn time_ceil(t: jiff::Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let secs = if t.subsec_nanosecond() > 0 {
        t.as_second() + 1
    } else {
        t.as_second()
    };
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::from_second(secs).unwrap_or(t),
    )
}

/// The current time as a Kubernetes timestamp.
pub fn now_time(now: jiff::Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    // Second precision, as the apiserver stores it: what we compare is what we wrote.
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::from_second(now.as_second()).unwrap_or(now),
    )
}
