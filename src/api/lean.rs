//! Decoding objects for the operator's caches: only the metadata the operator reads.
//!
//! Under server-side apply an object's `managedFields` is about half of its JSON (one entry per
//! manager, each a tree of every field it owns), and nothing in the operator reads it. Decoding it
//! anyway builds a `serde_json::Value` tree per object — dozens of small allocations — only for
//! the cache to drop it again: at 10,000 PhoneNumbers and 10,000 claims that is most of the work
//! of a restart's initial lists and of every watch event in a burst. [`Lean`] decodes the same
//! object and skips, while parsing, what the operator never reads, so none of it is allocated:
//! - `managedFields`;
//! - labels (the operator sets `telephony.talkturo.ai/class` on the PhoneNumbers it creates,
//!   for users' selectors, and reads it back only with active-active replicas, where it says
//!   which replica's cache holds the object: [`keep_class_label`]; a one-entry label map is a
//!   ~0.6 KiB B-tree node);
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

use super::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// The prefix of the annotations the cache keeps: the operator's own.
pub const OWN_ANNOTATIONS: &str = "telephony.talkturo.ai/";

/// The label active-active replicas select their caches by (the class serving the object).
const CLASS_LABEL: &str = "telephony.talkturo.ai/class";

/// A custom resource put together from its metadata, spec and status.
pub trait Parts: Resource<DynamicType = ()> + Sized {
    type Spec: for<'de> Deserialize<'de>;
    type Status: for<'de> Deserialize<'de>;

    fn assemble(metadata: ObjectMeta, spec: Self::Spec, status: Option<Self::Status>) -> Self;
}

macro_rules! parts {
    ($($kind:ty => $spec:ty, $status:ty;)*) => {$(
        impl Parts for $kind {
            type Spec = $spec;
            type Status = $status;

            fn assemble(metadata: ObjectMeta, spec: $spec, status: Option<$status>) -> Self {
                Self { metadata, spec, status }
            }
        }
    )*};
}

parts! {
    PhoneNumber => super::v1alpha1::PhoneNumberSpec, super::v1alpha1::PhoneNumberStatus;
    PhoneNumberClaim => super::v1alpha1::PhoneNumberClaimSpec, super::v1alpha1::PhoneNumberClaimStatus;
    PhoneNumberClass => super::v1alpha1::PhoneNumberClassSpec, super::v1alpha1::PhoneNumberClassStatus;
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
        Ok(Lean(K::assemble(w.metadata.into(), w.spec, w.status)))
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
    #[serde(default, deserialize_with = "class_label")]
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
fn class_label<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    let keep = KEEP_CLASS_LABEL.load(Ordering::Relaxed);
    let found = kept(d, |key| keep && key == CLASS_LABEL)?;
    Ok(found)
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
mod tests {
    use super::*;

    #[test]
    fn only_the_entries_asked_for_are_kept() {
        let labels = r#"{"telephony.talkturo.ai/class": "gold", "app": "x", "team": "y"}"#;
        let read = |json: &str, keep: &dyn Fn(&str) -> bool| {
            kept(&mut serde_json::Deserializer::from_str(json), keep).unwrap()
        };
        let class = read(labels, &|k| k == CLASS_LABEL).unwrap();
        assert_eq!(class.len(), 1);
        assert_eq!(class[CLASS_LABEL], "gold");
        assert_eq!(read(labels, &|_| false), None, "no empty map");
        assert_eq!(read("null", &|_| true), None);
    }

    /// A PhoneNumber as the API server sends it: two managers' `managedFields`, a label, two
    /// other tools' annotations, and everything the operator reads.
    const SERVED: &str = r#"{
      "apiVersion": "telephony.talkturo.ai/v1alpha1",
      "kind": "PhoneNumber",
      "metadata": {
        "annotations": {
          "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"telephony.talkturo.ai/v1alpha1\"}",
          "argocd.argoproj.io/tracking-id": "numbers:telephony.talkturo.ai/PhoneNumber:/tel-12122046957",
          "telephony.talkturo.ai/offer": "{\"monthlyPrice\":\"0.80\"}"
        },
        "creationTimestamp": "2026-11-27T09:54:34Z",
        "deletionTimestamp": "2026-11-27T10:00:00Z",
        "deletionGracePeriodSeconds": 0,
        "finalizers": ["telephony.talkturo.ai/number-protection"],
        "generation": 3,
        "labels": {"telephony.talkturo.ai/class": "bench"},
        "managedFields": [
          {"apiVersion": "telephony.talkturo.ai/v1alpha1", "fieldsType": "FieldsV1",
           "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:message": {}}}}},
           "manager": "talkturo-operator", "operation": "Apply", "subresource": "status",
           "time": "2026-11-27T09:54:34Z"},
          {"apiVersion": "telephony.talkturo.ai/v1alpha1", "fieldsType": "FieldsV1",
           "fieldsV1": {"f:spec": {"f:number": {}}}, "manager": "talkturo-operator",
           "operation": "Update", "time": "2026-11-27T09:54:34Z"}
        ],
        "name": "tel-12122046957",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Namespace", "name": "bench", "uid": "u-1"}],
        "resourceVersion": "8818",
        "uid": "d48b9418-c106-4413-9eef-eabde881dadb"
      },
      "spec": {
        "claimRef": {"name": "burst-170", "namespace": "bench", "uid": "1de88e21"},
        "className": "bench",
        "managementPolicy": "Managed",
        "number": "+12122046957",
        "reclaimPolicy": "Retain"
      },
      "status": {
        "conditions": [{"lastTransitionTime": "2026-11-27T09:54:34Z", "message": "+12122046957 is active",
                        "observedGeneration": 1, "reason": "Active", "status": "True", "type": "Ready"}],
        "id": "pn_e3d7b39a939f1564",
        "phase": "Bound",
        "providerStatus": "active"
      }
    }"#;

    #[test]
    fn a_lean_object_is_the_full_object_less_managed_fields_labels_and_foreign_annotations()
    -> anyhow::Result<()> {
        let mut full: PhoneNumber = serde_json::from_str(SERVED)?;
        let Lean(lean) = serde_json::from_str::<Lean<PhoneNumber>>(SERVED)?;
        assert!(
            full.metadata
                .managed_fields
                .as_ref()
                .is_some_and(|m| m.len() == 2)
        );
        assert_eq!(
            full.metadata.annotations.as_ref().map(BTreeMap::len),
            Some(3)
        );
        assert!(full.metadata.labels.is_some());
        full.metadata.managed_fields = None;
        full.metadata.labels = None;
        if let Some(a) = full.metadata.annotations.as_mut() {
            a.retain(|k, _| k.starts_with(OWN_ANNOTATIONS));
        }
        assert_eq!(lean, full);
        assert_eq!(
            lean.metadata
                .annotations
                .as_ref()
                .map(|a| a.keys().collect::<Vec<_>>()),
            Some(vec![&"telephony.talkturo.ai/offer".to_owned()]),
            "the operator's own annotations stay"
        );
        Ok(())
    }

    #[test]
    fn only_other_tools_annotations_or_null_ones_leave_none() -> anyhow::Result<()> {
        for annotations in [
            r#"{"kubectl.kubernetes.io/last-applied-configuration": "{}"}"#,
            "null",
            "{}",
        ] {
            let served = format!(
                r#"{{"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClass",
                "metadata": {{"name": "c", "annotations": {annotations}, "labels": {{"a": "b"}}}},
                "spec": {{"apiBaseUrl": "http://x", "teamId": "t", "accountSlug": "a",
                          "apiKeySecretRef": {{"namespace": "n", "name": "s"}}}}}}"#
            );
            let Lean(lean) = serde_json::from_str::<Lean<PhoneNumberClass>>(&served)?;
            assert_eq!(lean.metadata.annotations, None, "{annotations}");
            assert_eq!(lean.metadata.labels, None);
        }
        Ok(())
    }

    #[test]
    fn an_object_without_status_or_optional_metadata_decodes() -> anyhow::Result<()> {
        let served = r#"{"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClaim",
            "metadata": {"name": "c", "namespace": "n"}, "spec": {}}"#;
        let full: PhoneNumberClaim = serde_json::from_str(served)?;
        let Lean(lean) = serde_json::from_str::<Lean<PhoneNumberClaim>>(served)?;
        assert_eq!(lean, full);
        assert!(lean.status.is_none());
        Ok(())
    }

    #[test]
    fn it_is_the_same_resource_to_the_api() {
        assert_eq!(
            Lean::<PhoneNumber>::url_path(&(), None),
            PhoneNumber::url_path(&(), None)
        );
        assert_eq!(
            Lean::<PhoneNumberClaim>::url_path(&(), Some("ns")),
            PhoneNumberClaim::url_path(&(), Some("ns"))
        );
        assert_eq!(
            Lean::<PhoneNumberClass>::kind(&()),
            PhoneNumberClass::kind(&())
        );
    }
}
