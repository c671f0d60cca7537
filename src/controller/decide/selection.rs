//! What a replica caches (active-active replicas): the claims and PhoneNumbers of the classes it
//! holds, found by their class label, and nothing of the others. The router's holder also
//! caches whatever no other class's holder does: objects without the label and objects whose
//! label names no class, so that it can label them (or report on them when no class serves
//! them).
//!
//! The label's value is the class's name, cut and ending in a digest when the name is too long
//! for a label ([`class_label::value_of`]).

use std::collections::BTreeSet;

use super::shard::ROUTER;
use crate::api::class_label::{self, CLASS_LABEL};

/// The class label's value for objects served by `class` (`None` for the router: no class
/// serves them, and they carry no label).
pub fn label_value(class: &str) -> Option<String> {
    (class != ROUTER).then(|| class_label::value_of(class).into_owned())
}

/// The class whose label is `value` among `classes`, else the router (no label, or a label
/// naming no class).
pub fn class_of_label<'a>(value: Option<&str>, classes: &'a [String]) -> &'a str {
    value
        .and_then(|v| classes.iter().find(|c| class_label::value_of(c) == v))
        .map_or(ROUTER, String::as_str)
}

/// What a replica's caches of claims and PhoneNumbers watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    /// Nothing: the replica holds no class (its caches are empty).
    Nothing,
    /// Every object: the replica holds the router and every class.
    Everything,
    /// The objects matching this label selector.
    Selector(String),
}

/// A replica's share of the objects: what its caches watch, and the classes (the router among
/// them) whose objects they then hold in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub watch: Watch,
    pub classes: BTreeSet<String>,
}

impl Selection {
    /// What a replica holding `held` (the router among them, perhaps) caches, `all` being every
    /// class that exists.
    pub fn of(held: &BTreeSet<String>, all: &[String]) -> Self {
        fn values<'a>(classes: impl Iterator<Item = &'a String>) -> Vec<String> {
            let mut v: Vec<String> = classes.filter_map(|c| label_value(c)).collect();
            v.sort();
            v.dedup();
            v
        }
        let watch = if held.contains(ROUTER) {
            let others = values(all.iter().filter(|c| !held.contains(*c)));
            if others.is_empty() {
                Watch::Everything
            } else {
                Watch::Selector(format!("{CLASS_LABEL} notin ({})", others.join(",")))
            }
        } else {
            let mine = values(held.iter());
            if mine.is_empty() {
                Watch::Nothing
            } else {
                Watch::Selector(format!("{CLASS_LABEL} in ({})", mine.join(",")))
            }
        };
        Self {
            watch,
            classes: held.clone(),
        }
    }

    /// What a replica holding nothing caches: nothing.
    pub fn none() -> Self {
        Self {
            watch: Watch::Nothing,
            classes: BTreeSet::new(),
        }
    }
}

#[cfg(test)]
#[path = "selection/tests.rs"]
mod tests;
