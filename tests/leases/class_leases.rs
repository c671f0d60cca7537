//! What the active-active tests read from the class Leases (shared by the process tests and the
//! real-node e2e): who holds each class, and when a replica took the classes it holds.

#![allow(dead_code)]

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, ListParams};

async fn class_leases(client: &kube::Client, ns: &str) -> Vec<Lease> {
    Api::<Lease>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels("telephony.talkturo.ai/lease=class"))
        .await
        .unwrap()
        .items
}

/// Who holds each class Lease (class → holder).
pub async fn holders(client: &kube::Client, ns: &str) -> BTreeMap<String, String> {
    class_leases(client, ns)
        .await
        .into_iter()
        .filter_map(|l| {
            let class = l
                .metadata
                .annotations?
                .get("telephony.talkturo.ai/class")?
                .clone();
            Some((class, l.spec?.holder_identity?))
        })
        .collect()
}

/// When `who` acquired the earliest of the class Leases it holds now.
pub async fn first_acquired_by(client: &kube::Client, ns: &str, who: &str) -> jiff::Timestamp {
    class_leases(client, ns)
        .await
        .into_iter()
        .filter_map(|l| l.spec)
        .filter(|s: &LeaseSpec| s.holder_identity.as_deref() == Some(who))
        .filter_map(|s| s.acquire_time.map(|t| t.0))
        .min()
        .unwrap()
}
