#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ReflectHandle};
use kube::runtime::watcher::{self, Event};

use super::Subscription;

fn config_map(name: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_owned());
    cm.metadata.namespace = Some("default".to_owned());
    cm
}

type Events = mpsc::UnboundedSender<Result<Event<ConfigMap>, watcher::Error>>;

/// A shared cache fed by hand, its reflector running; one subscription to it.
fn cache() -> (Events, ReflectHandle<ConfigMap>) {
    let (_, writer) = reflector::store_shared::<ConfigMap>(16);
    let handle = writer.subscribe().unwrap();
    let (tx, rx) = mpsc::unbounded();
    tokio::spawn(rx.reflect_shared(writer).for_each(|_| async {}));
    tx.unbounded_send(Ok(Event::Init)).unwrap();
    tx.unbounded_send(Ok(Event::InitDone)).unwrap();
    (tx, handle)
}

/// A notification for `gone` (applied, then deleted before anyone read it), then a subscriber
/// task waiting on `next`, then `b` applied: whether the task hears of `b` within 3 s.
async fn hears_after_a_notification_of_an_object_gone<S>(
    tx: &Events,
    subscription: S,
) -> Option<String>
where
    S: futures::Stream<Item = std::sync::Arc<ConfigMap>> + Send + Unpin + 'static,
{
    tx.unbounded_send(Ok(Event::Apply(config_map("gone"))))
        .unwrap();
    tx.unbounded_send(Ok(Event::Delete(config_map("gone"))))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut subscription = subscription;
    let waiting = tokio::spawn(async move { subscription.next().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.unbounded_send(Ok(Event::Apply(config_map("b"))))
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(3), waiting).await {
        Ok(heard) => heard.unwrap().and_then(|cm| cm.metadata.name.clone()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_subscription_keeps_hearing_after_an_object_left_the_cache() {
    let (tx, handle) = cache();
    let heard = hears_after_a_notification_of_an_object_gone(&tx, Subscription::new(handle)).await;
    assert_eq!(heard.as_deref(), Some("b"));
}

/// What `Subscription` works around: kube-runtime's own subscription falls silent there. Should
/// a kube-runtime upgrade fix it, this fails, and `Subscription` can go.
#[tokio::test]
async fn the_bare_subscription_falls_silent_there() {
    let (tx, handle) = cache();
    let heard = hears_after_a_notification_of_an_object_gone(&tx, Box::pin(handle)).await;
    assert_eq!(
        heard, None,
        "kube-runtime's ReflectHandle no longer loses the wake-up"
    );
}
