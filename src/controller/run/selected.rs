//! The watches of claims and PhoneNumbers with active-active replicas: by the class label of
//! the classes this replica holds (`decide::selection`), restarted whenever that share changes.
//! A restarted watch lists its new share in full; the cache keeps the last complete list until
//! the new one is done, then swaps it in, so objects of classes given up leave the cache and
//! those of classes taken arrive together.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use futures::{Stream, StreamExt, TryStreamExt};
use kube::runtime::watcher;
use tokio::sync::watch;

use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher as watch_all};

use crate::api::lean::{Lean, Parts};
use crate::controller::decide::selection::{Selection, Watch};

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
    watch_all(Api::<Lean<K>>::all(client.clone()), wc.clone())
        .map_ok(Lean::unwrap_event)
        .default_backoff()
}

type Events<K> = Pin<Box<dyn Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send>>;

/// The selection of the watch that produced the latest event.
pub(super) type Current = Arc<Mutex<Selection>>;

/// Reads the selection the latest event came from.
pub(super) fn current(c: &Current) -> Selection {
    c.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// One kind's events, from a watch of what `selection` asks for, restarted when it changes.
/// `Current` tells which selection the latest event came from.
pub(super) fn selected<K>(
    client: &kube::Client,
    wc: &watcher::Config,
    selection: watch::Receiver<Selection>,
) -> (
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + use<K>,
    Current,
)
where
    K: Parts + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let current: Current = Arc::new(Mutex::new(Selection::none()));
    let (client, wc, cell) = (client.clone(), wc.clone(), current.clone());
    let start = move |s: &Selection| -> Events<K> {
        *cell.lock().unwrap_or_else(PoisonError::into_inner) = s.clone();
        match &s.watch {
            // An empty list: the cache empties and is ready.
            Watch::Nothing => {
                let events = [Ok(watcher::Event::Init), Ok(watcher::Event::InitDone)];
                Box::pin(futures::stream::iter(events).chain(futures::stream::pending()))
            }
            Watch::Everything => Box::pin(watch::<K>(&client, &wc)),
            Watch::Selector(labels) => Box::pin(watch::<K>(&client, &wc.clone().labels(labels))),
        }
    };
    let state = (selection, None::<Events<K>>);
    let events = futures::stream::unfold(state, move |(mut rx, mut events)| {
        let start = start.clone();
        async move {
            loop {
                let stream = match events.as_mut() {
                    Some(s) => s,
                    None => {
                        let s = rx.borrow_and_update().clone();
                        events.insert(start(&s))
                    }
                };
                tokio::select! {
                    changed = rx.changed() => {
                        // The selection's sender is gone only when the replica stops.
                        changed.ok()?;
                        events = None;
                    }
                    item = stream.next() => return Some((item?, (rx, events))),
                }
            }
        }
    });
    (events, current)
}
