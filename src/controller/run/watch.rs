//! The caches' watches: streaming initial lists where the API server supports them, lean
//! objects, and which PhoneNumbers a claim's change concerns.

use std::time::Duration;

use futures::TryStreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};

use crate::api::lean::{Lean, Parts};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use crate::controller::InitialList;

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

/// One kind's watch for its cache, with the default backoff. Objects are decoded with only the
/// metadata the operator reads (no `managedFields`, labels or other tools' annotations): see
/// [`Lean`].
pub(super) fn watch<K>(
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

/// The PhoneNumbers whose `claimRef` names this claim.
pub(super) fn numbers_of(
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
