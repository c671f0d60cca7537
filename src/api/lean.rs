//! Decoding objects for the operator's caches without their `managedFields`.
//!
//! Under server-side apply an object's `managedFields` is about half of its JSON (one entry per
//! manager, each a tree of every field it owns), and nothing in the operator reads it. Decoding it
//! anyway builds a `serde_json::Value` tree per object — dozens of small allocations — only for
//! the cache to drop it again: at 10,000 PhoneNumbers and 10,000 claims that is most of the work
//! of a restart's initial lists and of every watch event in a burst. [`Lean`] decodes the same
//! object and skips `managedFields` (and `kubectl apply`'s copy of the whole object in the
//! `last-applied-configuration` annotation) while parsing, so neither is ever allocated.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::Resource;
use kube::runtime::watcher::Event;
use serde::{Deserialize, Deserializer};

use super::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// `kubectl apply`'s record of the whole object as last applied.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

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

/// An object of kind `K`, decoded without `managedFields` and the last-applied annotation. It
/// is the same resource to the API (`Api<Lean<K>>` lists and watches `K`'s endpoint); only the
/// decoding differs.
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
/// without being decoded).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanMeta {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

impl From<LeanMeta> for ObjectMeta {
    fn from(m: LeanMeta) -> Self {
        let mut annotations = m.annotations;
        if let Some(a) = annotations.as_mut() {
            a.remove(LAST_APPLIED);
        }
        ObjectMeta {
            annotations,
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

    /// A PhoneNumber as the API server sends it: two managers' `managedFields`, a last-applied
    /// annotation, and everything else the operator reads.
    const SERVED: &str = r#"{
      "apiVersion": "telephony.talkturo.ai/v1alpha1",
      "kind": "PhoneNumber",
      "metadata": {
        "annotations": {
          "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"telephony.talkturo.ai/v1alpha1\"}",
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
    fn a_lean_object_is_the_full_object_less_managed_fields_and_last_applied() -> anyhow::Result<()>
    {
        let mut full: PhoneNumber = serde_json::from_str(SERVED)?;
        let Lean(lean) = serde_json::from_str::<Lean<PhoneNumber>>(SERVED)?;
        assert!(
            full.metadata
                .managed_fields
                .as_ref()
                .is_some_and(|m| m.len() == 2)
        );
        full.metadata.managed_fields = None;
        if let Some(a) = full.metadata.annotations.as_mut() {
            a.remove(LAST_APPLIED);
        }
        assert_eq!(lean, full);
        assert_eq!(
            lean.metadata.annotations.as_ref().map(BTreeMap::len),
            Some(1),
            "the other annotations stay"
        );
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
