//! Subscriptions to the shared caches that cannot fall silent.
//!
//! kube-runtime's `ReflectHandle` reads each notification's object from the cache; when that
//! object has left the cache by then (deleted, or with active-active replicas gone with a class
//! handed over), it answers `Pending` without having asked to be woken for the next
//! notification. The controller reading it then hears nothing more from that cache until
//! something else happens to wake it, and a controller with nothing else going on (the
//! rollout controllers) may never be woken again: once its subscription's buffer is full, the
//! shared cache itself stops, since every subscriber must take each notification, and every
//! controller of the process stops hearing of that kind (chaos_replicas: claims created after
//! a handover were never labelled nor reconciled). [`Subscription`] looks again at least every
//! [`REWAKE`] while the subscription waits.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use kube::runtime::reflector::{Lookup, ReflectHandle};
use tokio::time::{Interval, MissedTickBehavior};

/// How often a waiting subscription is looked at again regardless: the longest a notification
/// can wait after a lost wake-up.
pub(super) const REWAKE: Duration = Duration::from_secs(1);

/// A subscription to a shared cache that is looked at again every [`REWAKE`] while it waits.
pub(super) struct Subscription<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    inner: Pin<Box<ReflectHandle<K>>>,
    tick: Interval,
}

impl<K> Subscription<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    /// Wraps `handle`; needs the Tokio runtime (for the timer).
    pub(super) fn new(handle: ReflectHandle<K>) -> Self {
        let mut tick = tokio::time::interval(REWAKE);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            inner: Box::pin(handle),
            tick,
        }
    }
}

impl<K> Stream for Subscription<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    type Item = Arc<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Poll::Ready(item) = self.inner.as_mut().poll_next(cx) {
                return Poll::Ready(item);
            }
            // Waiting: the timer's wake-up is registered, and a tick already due looks again now.
            if self.tick.poll_tick(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests;
