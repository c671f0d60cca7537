//! Decoding objects for the operator's caches: only the metadata the operator reads.
//!
//! Under server-side apply an object's `managedFields` is about half of its JSON (one entry per
//! manager, each a tree of every field it owns), and nothing in the operator reads it. Decoding it
//! anyway builds a `serde_json::Value` tree per object — dozens of small allocations — only for
//! the cache to drop it again: at 10,000 PhoneNumbers and 10,000 claims that is most of the work
//! of a restart's initial lists and of every watch event in a burst. [`Lean`] decodes the same
//! object and skips, while parsing, what the operator never reads, so none of it is allocated:
//! - `managedFields`;
//! - labels (the operator sets `telephony.talkturo.ai/class` on claims and PhoneNumbers, and
//!   reads it back only with active-active replicas, where it says which replica's cache holds
//!   the object: [`keep_class_label`], read by [`class_label`]);
//! - annotations outside the operator's own domain (`telephony.talkturo.ai/…`), such as
//!   `kubectl apply`'s copy of the whole object or a GitOps tool's tracking ids.
//!
//! The same projection as a controller-runtime cache transform. The cached objects are only
//! read, never written back whole (every write is a patch of the fields it sets), so what the
//! cache leaves out is never removed from the API server's object.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::Resource;
use kube::runtime::watcher::Event;
use serde::{Deserialize, Deserializer};

use super::class_label::{CLASS_LABEL, value_of};
use super::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// The prefix of the annotations the cache keeps: the operator's own.
pub const OWN_ANNOTATIONS: &str = "telephony.talkturo.ai/";

/// A custom resource put together from its metadata, spec and status.
pub trait Parts: Resource<DynamicType = ()> + Sized {
    type Spec: for<'de> Deserialize<'de>;
    type Status: for<'de> Deserialize<'de>;

    fn assemble(metadata: ObjectMeta, spec: Self::Spec, status: Option<Self::Status>) -> Self;

    /// The class the object names itself (whose label it carries once the operator labelled
    /// it): a PhoneNumber's `className`, the class a claim's status recorded, else its own.
    fn own_class(&self) -> Option<&str>;
}

macro_rules! parts {
    ($($kind:ty => $spec:ty, $status:ty, $own:expr;)*) => {$(
        impl Parts for $kind {
            type Spec = $spec;
            type Status = $status;

            fn assemble(metadata: ObjectMeta, spec: $spec, status: Option<$status>) -> Self {
                Self { metadata, spec, status }
            }

            fn own_class(&self) -> Option<&str> {
                let own: fn(&Self) -> Option<&str> = $own;
                own(self)
            }
        }
    )*};
}

parts! {
    PhoneNumber => super::v1alpha1::PhoneNumberSpec, super::v1alpha1::PhoneNumberStatus,
        |n| Some(&n.spec.class_name);
    PhoneNumberClaim => super::v1alpha1::PhoneNumberClaimSpec, super::v1alpha1::PhoneNumberClaimStatus,
        |c| c.status.as_ref().and_then(|s| s.class_name.as_deref()).or(c.spec.class_name.as_deref());
    PhoneNumberClass => super::v1alpha1::PhoneNumberClassSpec, super::v1alpha1::PhoneNumberClassStatus,
        |_| None;
}

/// An object of kind `K`, decoded without `managedFields`, labels and other tools' annotations.
/// It is the same resource to the API (`Api<Lean<K>>` lists and watches `K`'s endpoint); only
/// the decoding differs.
#[derive(Clone, Debug)]
pub struct Lean<K>(pub K);

impl<K: Parts> Resource for Lean<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        self.0.meta()
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0.meta_mut()
    }
}

impl<'de, K: Parts> Deserialize<'de> for Lean<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `apiVersion` and `kind` are skipped like any other field not named here.
        #[derive(Deserialize)]
        struct Wire<S, T> {
            metadata: LeanMeta,
            spec: S,
            status: Option<T>,
        }
        let w = Wire::<K::Spec, K::Status>::deserialize(d)?;
        let mut obj = K::assemble(w.metadata.into(), w.spec, w.status);
        compact_class_label(&mut obj);
        Ok(Lean(obj))
    }
}

impl<K> Lean<K> {
    /// The watch event of the object itself.
    pub fn unwrap_event(event: Event<Self>) -> Event<K> {
        match event {
            Event::Apply(o) => Event::Apply(o.0),
            Event::Delete(o) => Event::Delete(o.0),
            Event::Init => Event::Init,
            Event::InitApply(o) => Event::InitApply(o.0),
            Event::InitDone => Event::InitDone,
        }
    }
}

/// `ObjectMeta` as the API sends it, less `managedFields` (an unknown field to serde, skipped
/// without being decoded), labels (but the class label, when kept) and other tools' annotations.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanMeta {
    #[serde(default, deserialize_with = "own_annotations")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "kept_class_label")]
    labels: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

/// The annotations under [`OWN_ANNOTATIONS`]; the others' values are skipped unread. `None`
/// when there are none (no empty map is allocated).
fn own_annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    kept(d, |key| key.starts_with(OWN_ANNOTATIONS))
}

/// The entries of a string map whose keys `keep` accepts; the others' values are skipped
/// unread. `None` when none is kept (no empty map is allocated).
fn kept<'de, D: Deserializer<'de>>(
    d: D,
    keep: impl Fn(&str) -> bool,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Kept<F>(F);
    impl<'de, F: Fn(&str) -> bool> serde::de::Visitor<'de> for Kept<F> {
        type Value = Option<BTreeMap<String, String>>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of strings")
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut kept = BTreeMap::new();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if (self.0)(&key) {
                    kept.insert(key.into_owned(), map.next_value()?);
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok((!kept.is_empty()).then_some(kept))
        }
    }
    d.deserialize_any(Kept(keep))
}

/// Whether the caches keep the class label (active-active replicas read it to tell which
/// replica's cache holds an object; one replica serving every class never does, and a one-entry
/// label map costs about 0.6 KiB per object).
static KEEP_CLASS_LABEL: AtomicBool = AtomicBool::new(false);

/// Makes the caches keep the class label from now on (set once, before the caches start).
pub fn keep_class_label() {
    KEEP_CLASS_LABEL.store(true, Ordering::Relaxed);
}

/// The class label alone, when [`keep_class_label`] was called; no label otherwise.
fn kept_class_label<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    let keep = KEEP_CLASS_LABEL.load(Ordering::Relaxed);
    let found = kept(d, |key| keep && key == CLASS_LABEL)?;
    Ok(found)
}

/// A kept class label that is the label of the object's own class (nearly every labelled
/// object's) is kept as an *empty* label map, which allocates nothing, in place of a one-entry
/// map (a B-tree node of ~0.6 KiB with its two strings: 6 MiB for 10,000 objects).
/// [`class_label`] reads it back.
fn compact_class_label<K: Parts>(obj: &mut K) {
    let value = obj.meta().labels.as_ref().and_then(|l| l.get(CLASS_LABEL));
    let own = match (value, obj.own_class()) {
        (Some(value), Some(class)) => *value == value_of(class),
        _ => false,
    };
    if own {
        obj.meta_mut().labels = Some(BTreeMap::new());
    }
}

/// The class label of an object decoded by [`Lean`] while the label is kept: `None` when it
/// has none. (An object decoded whole reads the same, but for an empty label map, which the API
/// server never sends: it omits empty maps.)
pub fn class_label<K: Parts>(obj: &K) -> Option<Cow<'_, str>> {
    let labels = obj.meta().labels.as_ref()?;
    match labels.get(CLASS_LABEL) {
        Some(value) => Some(Cow::Borrowed(value)),
        None if labels.is_empty() => obj.own_class().map(value_of),
        None => None,
    }
}

impl From<LeanMeta> for ObjectMeta {
    fn from(m: LeanMeta) -> Self {
        ObjectMeta {
            annotations: m.annotations,
            creation_timestamp: m.creation_timestamp,
            deletion_grace_period_seconds: m.deletion_grace_period_seconds,
            deletion_timestamp: m.deletion_timestamp,
            finalizers: m.finalizers,
            generate_name: m.generate_name,
            generation: m.generation,
            labels: m.labels,
            managed_fields: None,
            name: m.name,
            namespace: m.namespace,
            owner_references: m.owner_references,
            resource_version: m.resource_version,
            self_link: m.self_link,
            uid: m.uid,
        }
    }
}

#[cfg(test)]
#[path = "lean/tests.rs"]
mod tests;
