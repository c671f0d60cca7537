//! The ConfigMap `spec.configMapName` asks for, with the bound number. The operator never takes
//! over a ConfigMap: it creates one that does not exist (controlled by the claim), and updates
//! only one it created for this claim (its controller reference carries the claim's uid); any
//! other is left untouched and the claim says why.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;

use super::conditions::Desired;
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim};

/// The ConfigMap key holding the bound number (E.164).
pub const NUMBER_KEY: &str = "PHONE_NUMBER";
/// The ConfigMap key holding the number's Talkturo record id.
pub const ID_KEY: &str = "PHONE_NUMBER_ID";

/// What the claim's ConfigMap needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// No ConfigMap asked for, or no number to put in it yet.
    None,
    /// Written already with this name and number (record id): nothing to read or write.
    Current { name: String, id: String },
    /// To write (`name`, the record id).
    Write { name: String, id: String },
}

/// What the claim bound to `pn` needs: a steady state reads and writes nothing. What the
/// ConfigMap holds is known only from what was written into it (`status.configMapName` and
/// `configMapNumberId`), never from the claim's number: a trial replaced moves the claim's
/// number before its ConfigMap is written.
pub fn need(claim: &PhoneNumberClaim, pn: &PhoneNumber) -> Need {
    let (Some(name), Some(id)) = (
        claim.spec.config_map_name.clone(),
        pn.status.as_ref().and_then(|s| s.id.clone()),
    ) else {
        return Need::None;
    };
    let prev = claim.status.as_ref();
    let current = prev.and_then(|s| s.config_map_name.as_deref()) == Some(name.as_str())
        && prev.and_then(|s| s.config_map_number_id.as_deref()) == Some(id.as_str());
    if current {
        Need::Current { name, id }
    } else {
        Need::Write { name, id }
    }
}

/// `ConfigMap` True: it holds the number.
pub fn written(name: &str, pn: &PhoneNumber) -> Desired {
    Desired::new(
        types::CONFIG_MAP,
        true,
        reasons::CONFIG_MAP_WRITTEN,
        format!("ConfigMap {name} holds {}", pn.spec.number),
    )
}

/// `ConfigMap` False: it changed between the read and the write; looked at again next time.
pub fn raced(name: &str) -> Desired {
    Desired::new(
        types::CONFIG_MAP,
        false,
        reasons::CONFIG_MAP_CONFLICT,
        format!("ConfigMap {name} changed while it was being written; looking again"),
    )
}

/// The ConfigMap a claim asks for, controlled by the claim.
pub fn desired(claim: &PhoneNumberClaim, pn: &PhoneNumber, name: &str, id: &str) -> ConfigMap {
    let country = claim
        .spec
        .country_code
        .clone()
        .or_else(|| crate::api::v1alpha1::country_of(&pn.spec.number).map(str::to_owned))
        .unwrap_or_default();
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "talkturo-operator".to_owned(),
                )]
                .into(),
            ),
            owner_references: Some(vec![OwnerReference {
                api_version: "telephony.talkturo.ai/v1alpha1".into(),
                kind: "PhoneNumberClaim".into(),
                name: claim.name_any(),
                uid: claim.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        data: Some(
            [
                (NUMBER_KEY.to_owned(), pn.spec.number.clone()),
                (ID_KEY.to_owned(), id.to_owned()),
                ("PHONE_NUMBER_COUNTRY".to_owned(), country),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

/// Whether the operator created `cm` for this claim: its controller reference is the claim's uid.
pub fn controlled_by(cm: &ConfigMap, claim: &PhoneNumberClaim) -> bool {
    let uid = claim.metadata.uid.as_deref();
    cm.metadata.owner_references.as_ref().is_some_and(|refs| {
        refs.iter()
            .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == uid)
    })
}

/// Why `cm` is not written for the claim. Only objects of the claim's own namespace are named.
pub fn conflict(name: &str, cm: &ConfigMap, claim: &PhoneNumberClaim) -> Desired {
    let other_claim = cm.metadata.owner_references.as_ref().and_then(|refs| {
        refs.iter()
            .find(|r| r.controller == Some(true) && r.kind == "PhoneNumberClaim")
            .map(|r| r.name.clone())
    });
    let why = match other_claim {
        Some(other) if other != claim.name_any() => {
            format!("it holds the number of claim {other}")
        }
        Some(_) => "it belongs to an earlier claim of the same name".to_owned(),
        None => "it was not created by the operator for this claim".to_owned(),
    };
    Desired::new(
        types::CONFIG_MAP,
        false,
        reasons::CONFIG_MAP_CONFLICT,
        format!(
            "ConfigMap {name} exists and {why}; it is left untouched. Name another configMapName, or delete that ConfigMap"
        ),
    )
}

#[cfg(test)]
mod tests;
