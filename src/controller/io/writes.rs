//! Read-your-writes for the shared caches.
//!
//! A reconcile reads objects from the watch cache, and the watch delivers this process's own
//! writes a little later. A reconcile that runs in between (another trigger, a short requeue)
//! would decide on the object as it was before that write: release a number again after
//! Talkturo refused it, miss that an assignment was in sync a moment ago, redo a status write.
//! So every write remembers which resourceVersions it superseded, and a reconcile that finds
//! one of them in the cache waits for the watch to catch up (the write's own watch event
//! reconciles the object again) instead of deciding.
//!
//! resourceVersions are opaque: they are only compared for equality, never ordered.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Resource;

/// How long a write is remembered: the watch delivers it well within this, and an object the
/// watch never shows again (deleted) is forgotten after it.
const MEMORY: Duration = Duration::from_secs(30);

/// How long a reconcile that found a stale object waits before looking again, should the
/// write's watch event not come first.
pub const CATCH_UP: Duration = Duration::from_millis(200);

type Key = (Cow<'static, str>, String, String);

#[derive(Default)]
struct Superseded {
    versions: Vec<String>,
    at: Option<Instant>,
}

/// Versions this process's writes replaced, per object, and the objects it created.
#[derive(Default)]
pub struct Writes {
    map: Mutex<HashMap<Key, Superseded>>,
    created: Mutex<HashMap<Key, Instant>>,
    pruned: Mutex<Option<Instant>>,
}

fn key<K: Resource<DynamicType = ()>>(obj: &K) -> Key {
    (
        K::kind(&()),
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default(),
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Writes {
    /// Records that a write of this process turned `before` into `after` (as the API server
    /// returned it). A write that changed nothing (same resourceVersion) supersedes nothing.
    pub fn wrote<K: Resource<DynamicType = ()>>(&self, before: &K, after: &K) {
        let (Some(old), new) = (
            before.meta().resource_version.as_ref(),
            after.meta().resource_version.as_ref(),
        ) else {
            return;
        };
        if new == Some(old) {
            return;
        }
        self.prune();
        let mut map = lock(&self.map);
        let entry = map.entry(key(before)).or_default();
        if !entry.versions.contains(old) {
            entry.versions.push(old.clone());
        }
        entry.at = Some(Instant::now());
    }

    /// Whether `cached` is a version this process has already written over, i.e. the watch has
    /// not delivered that write yet. Forgets the object's writes once the cache shows another
    /// version.
    pub fn stale<K: Resource<DynamicType = ()>>(&self, cached: &K) -> bool {
        let mut map = lock(&self.map);
        let k = key(cached);
        let Some(entry) = map.get(&k) else {
            return false;
        };
        let recent = entry.at.is_some_and(|at| at.elapsed() < MEMORY);
        let superseded = cached
            .meta()
            .resource_version
            .as_ref()
            .is_some_and(|rv| entry.versions.contains(rv));
        if recent && superseded {
            return true;
        }
        map.remove(&k);
        false
    }

    /// Records that this process created `obj`.
    pub fn created<K: Resource<DynamicType = ()>>(&self, obj: &K) {
        self.prune();
        lock(&self.created).insert(key(obj), Instant::now());
    }

    /// Whether this process created the object named so moments ago, so that a cache without
    /// it has not caught up yet (creating it again would only conflict).
    pub fn just_created<K: Resource<DynamicType = ()>>(&self, namespace: &str, name: &str) -> bool {
        let k = (K::kind(&()), namespace.to_owned(), name.to_owned());
        lock(&self.created)
            .get(&k)
            .is_some_and(|at| at.elapsed() < MEMORY)
    }

    /// Drops writes older than `MEMORY` (at most once per `MEMORY`).
    fn prune(&self) {
        let mut pruned = lock(&self.pruned);
        if pruned.is_some_and(|at| at.elapsed() < MEMORY) {
            return;
        }
        *pruned = Some(Instant::now());
        lock(&self.map).retain(|_, e| e.at.is_some_and(|at| at.elapsed() < MEMORY));
        lock(&self.created).retain(|_, at| at.elapsed() < MEMORY);
    }

    /// Objects with remembered writes (for tests and metrics).
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
