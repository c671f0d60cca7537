//! What every reconcile gets: the tunables, the caches, the accounts, the Event recorders, the
//! metrics, and this process's memory of its own writes and decided purchases.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};

use super::account::Accounts;
use super::decide::tenancy;
use super::io::writes;
use super::metrics::Metrics;
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// Tunables of the controllers (the binary fills them from flags).
#[derive(Clone, Debug)]
pub struct Config {
    /// How often a class's list is refreshed while one of its numbers is purchasing.
    pub fast_sync: Duration,
    /// A purchase waits for a list that shows its number active (and writes its status once)
    /// only while the account's last list held at most this many numbers; otherwise it writes
    /// the purchase's answer at once (Bound), and the next list settles it.
    pub settle_list_records: usize,
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
    /// Roll Deployments and StatefulSets labelled `telephony.talkturo.ai/rollout: "true"` when
    /// the numbers they read change. Off: nothing in `apps` is read or written.
    pub workload_rollout: bool,
    /// How long a trial replacement waits for its workloads to roll out before it lets the
    /// trial number go anyway (with a Warning).
    pub rollout_timeout: Duration,
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
            settle_list_records: 10_000,
            purchase_grace: Duration::from_secs(3),
            outcome_alert_after: Duration::from_secs(600),
            plan_limit_recheck: Duration::from_secs(3600),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            talkturo_timeout: Duration::from_secs(10),
            max_list_records: crate::talkturo::DEFAULT_MAX_LIST_RECORDS,
            max_list_time: Duration::from_secs(120),
            concurrency: 16,
            workload_rollout: true,
            rollout_timeout: Duration::from_secs(600),
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
    /// The PhoneNumbers by the claim they name (kept from the PhoneNumbers' watch).
    pub numbers_by_claim: Arc<super::index::NumbersByClaim>,
    /// Wakes PhoneNumbers whose record changed in a list snapshot.
    pub number_changed: UnboundedSender<ObjectRef<PhoneNumber>>,
    /// Set once all three caches are synced; no reconcile decides anything before that (an
    /// empty cache would make a class look missing or a taken number look free).
    pub synced: std::sync::atomic::AtomicBool,
    /// Told when `synced` is set: a reconcile that starts before waits for it (a timer per
    /// object polling for it instead is 200,000 reconciles every 200 ms at 100,000 of each).
    pub synced_notify: tokio::sync::Notify,
    /// This process's own writes, until the caches show them.
    pub writes: writes::Writes,
    /// Serializes namespace budget decisions, with the purchases decided and not yet in the
    /// cache: number → (namespace, monthly price).
    pub namespace_ledger: tokio::sync::Mutex<
        std::collections::BTreeMap<String, (String, Option<rust_decimal::Decimal>)>,
    >,
    /// The workloads labelled for rollouts, when rollouts are on (`--workload-rollout`).
    pub workloads: Option<Workloads>,
    /// The classes this replica serves, when replicas share the classes (`--shard-by-class`);
    /// `None`: this process serves every class (alone, or as the elected leader).
    pub shards: Option<Arc<super::shard::Shards>>,
}

/// The Deployments and StatefulSets labelled `telephony.talkturo.ai/rollout: "true"` (watched by
/// label: no other workload is read), and the rollouts' memory.
pub struct Workloads {
    pub deployments: Store<Deployment>,
    pub stateful_sets: Store<StatefulSet>,
    /// One workload rolled at a time: the workload controllers and a trial replacement waiting
    /// on them never both see the old hash and both publish.
    pub rolling: tokio::sync::Mutex<()>,
    /// Since when each trial replacement (by claim uid) waits for its workloads.
    pub waiting: std::sync::Mutex<std::collections::HashMap<String, jiff::Timestamp>>,
}

impl Workloads {
    pub fn new(deployments: Store<Deployment>, stateful_sets: Store<StatefulSet>) -> Self {
        Self {
            deployments,
            stateful_sets,
            rolling: tokio::sync::Mutex::new(()),
            waiting: Default::default(),
        }
    }
}

impl Context {
    /// Whether the caches are synced, waiting up to `bound` for them.
    pub async fn wait_synced(&self, bound: Duration) -> bool {
        let is_synced = || {
            self.synced
                .load(std::sync::atomic::Ordering::SeqCst)
                .then_some(())
        };
        super::account::wait_until(&self.synced_notify, bound, is_synced)
            .await
            .is_some()
    }

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
