//! Rolling a workload when the numbers it reads change. A Deployment or StatefulSet labelled
//! `telephony.talkturo.ai/rollout: "true"` gets one pod-template annotation, a hash of the
//! numbers and ids in the claim ConfigMaps its pods read; a new value rolls its pods, the same
//! value changes nothing. Only ConfigMaps controlled by a claim of the workload's namespace count
//! (by the claim's uid: a look-alike ConfigMap is ignored), and the hash is taken from what the
//! ConfigMaps hold, the values the pods will read.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PodSpec, PodTemplateSpec};
use sha2::{Digest, Sha256};

use super::config_map::{ID_KEY, NUMBER_KEY};
use crate::api::v1alpha1::PhoneNumberClaim;

/// The label that opts a Deployment or StatefulSet in; nothing without it is read or touched.
pub const ROLLOUT_LABEL: &str = "telephony.talkturo.ai/rollout";
/// The pod-template annotation holding [`numbers_hash`].
pub const HASH_ANNOTATION: &str = "telephony.talkturo.ai/numbers-hash";

/// The ConfigMaps a pod reads, by name: `envFrom`, `env[].valueFrom.configMapKeyRef`, `volumes`
/// and projected volumes, of its containers and init containers.
pub fn config_maps_read(spec: &PodSpec) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in containers {
        for from in c.env_from.iter().flatten() {
            names.extend(from.config_map_ref.as_ref().map(|r| r.name.clone()));
        }
        for env in c.env.iter().flatten() {
            let key_ref = env
                .value_from
                .as_ref()
                .and_then(|v| v.config_map_key_ref.as_ref());
            names.extend(key_ref.map(|r| r.name.clone()));
        }
    }
    for v in spec.volumes.iter().flatten() {
        names.extend(v.config_map.as_ref().map(|c| c.name.clone()));
        let projected = v.projected.as_ref().and_then(|p| p.sources.as_ref());
        for source in projected.into_iter().flatten() {
            names.extend(source.config_map.as_ref().map(|c| c.name.clone()));
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// A claim's ConfigMap as a workload reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberRead {
    pub config_map: String,
    pub claim: String,
    pub number: String,
    pub id: String,
}

/// What `cm` gives a workload: its number and id, when one of `claims` (the workload's
/// namespace's) controls it; `None` for any other ConfigMap, a look-alike included.
pub fn read(cm: &ConfigMap, claims: &[&PhoneNumberClaim]) -> Option<NumberRead> {
    let owner = cm
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true) && o.kind == "PhoneNumberClaim")?;
    let claim = claims
        .iter()
        .find(|c| c.metadata.uid.as_deref() == Some(owner.uid.as_str()))?;
    let data = cm.data.as_ref();
    let value = |key: &str| data.and_then(|d| d.get(key)).cloned().unwrap_or_default();
    Some(NumberRead {
        config_map: cm.metadata.name.clone().unwrap_or_default(),
        claim: claim.metadata.name.clone().unwrap_or_default(),
        number: value(NUMBER_KEY),
        id: value(ID_KEY),
    })
}

/// The annotation's value: a SHA-256 of the ConfigMaps' names, numbers and ids (in name order),
/// cut to 32 hex digits.
pub fn numbers_hash(reads: &[NumberRead]) -> String {
    let mut sorted: Vec<&NumberRead> = reads.iter().collect();
    sorted.sort_by(|a, b| a.config_map.cmp(&b.config_map));
    let mut h = Sha256::new();
    for r in sorted {
        for part in [&r.config_map, &r.number, &r.id] {
            h.update(part.as_bytes());
            h.update([0]);
        }
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash a pod template carries now, if any.
pub fn current_hash(template: &PodTemplateSpec) -> Option<&str> {
    template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(HASH_ANNOTATION)
        .map(String::as_str)
}

/// What the Event on a rolled workload says.
pub fn rolled_out_message(kind: &str, name: &str, reads: &[NumberRead]) -> String {
    let what: Vec<String> = reads
        .iter()
        .map(|r| {
            format!(
                "claim {} holds {} (id {}) in ConfigMap {}",
                r.claim, r.number, r.id, r.config_map
            )
        })
        .collect();
    format!(
        "rolling out {kind} {name} for its numbers: {}",
        what.join("; ")
    )
}

/// A workload kind the operator can roll: where its pod template is, and whether its latest
/// template has rolled out (every replica updated and available).
pub trait Workload {
    const KIND: &'static str;
    fn template(&self) -> Option<&PodTemplateSpec>;
    fn rolled_out(&self) -> bool;
}

impl Workload for Deployment {
    const KIND: &'static str = "Deployment";

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().map(|s| &s.template)
    }

    fn rolled_out(&self) -> bool {
        let want = self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let Some(s) = self.status.as_ref() else {
            return false;
        };
        s.observed_generation >= self.metadata.generation
            && s.updated_replicas.unwrap_or(0) >= want
            && s.available_replicas.unwrap_or(0) >= want
            && s.replicas.unwrap_or(0) <= s.updated_replicas.unwrap_or(0)
    }
}

impl Workload for StatefulSet {
    const KIND: &'static str = "StatefulSet";

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().map(|s| &s.template)
    }

    fn rolled_out(&self) -> bool {
        let want = self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let Some(s) = self.status.as_ref() else {
            return false;
        };
        s.observed_generation >= self.metadata.generation
            && s.updated_replicas.unwrap_or(0) >= want
            && s.available_replicas.unwrap_or(0) >= want
            && s.current_revision == s.update_revision
    }
}

#[cfg(test)]
mod tests;
