//! What this replica's caches of claims and PhoneNumbers hold (active-active replicas): the
//! selection the Lease rounds ask for, and which classes each cache has listed in full. A class's
//! objects are reconciled here only once both caches hold all of them: a claim whose PhoneNumber
//! had not been listed yet would look as if its number were gone.

use std::collections::BTreeSet;

use tokio::sync::watch;

use crate::controller::decide::selection::Selection;

/// The two caches a class's objects live in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    Claims,
    Numbers,
}

/// The selection asked for, and what each cache has listed.
pub struct Caching {
    selection: watch::Sender<Selection>,
    listed: watch::Sender<(BTreeSet<String>, BTreeSet<String>)>,
}

impl Default for Caching {
    fn default() -> Self {
        Self {
            selection: watch::Sender::new(Selection::none()),
            listed: watch::Sender::new((BTreeSet::new(), BTreeSet::new())),
        }
    }
}

impl Caching {
    /// The selection the caches' watches follow.
    pub fn subscribe(&self) -> watch::Receiver<Selection> {
        self.selection.subscribe()
    }

    /// Asks the caches for `selection` (their watches restart only when it changed).
    pub fn select(&self, selection: Selection) {
        self.selection.send_if_modified(|s| {
            let changed = *s != selection;
            *s = selection;
            changed
        });
    }

    /// `cache` now holds `selection` in full (its list ended). Returns the classes complete in
    /// both caches that were not before.
    pub fn listed(&self, cache: Cache, selection: &Selection) -> Vec<String> {
        let mut newly = Vec::new();
        self.listed.send_modify(|(claims, numbers)| {
            let before: BTreeSet<String> = claims.intersection(numbers).cloned().collect();
            match cache {
                Cache::Claims => claims.clone_from(&selection.classes),
                Cache::Numbers => numbers.clone_from(&selection.classes),
            }
            newly = claims
                .intersection(numbers)
                .filter(|c| !before.contains(*c))
                .cloned()
                .collect();
        });
        newly
    }

    /// Whether both caches hold every object of `class`.
    pub fn complete(&self, class: &str) -> bool {
        let listed = self.listed.borrow();
        listed.0.contains(class) && listed.1.contains(class)
    }
}

#[cfg(test)]
#[path = "caching/tests.rs"]
mod tests;
