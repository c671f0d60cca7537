//! The Leases of active-active replicas: one per replica (a member announcing itself) and one
//! per class (the authority to act for its account). Each write is guarded by the Lease's
//! resourceVersion, so two replicas racing for one Lease never both get it: the loser's write is
//! refused with a conflict. A holder's lease is valid, for this process, from the moment the
//! renewing request was sent (not when it was answered) for its duration.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

use crate::controller::decide::shard::LeaseView;

/// The label every operator Lease carries; its value says which kind it is.
pub const LEASE_LABEL: &str = "telephony.talkturo.ai/lease";
/// The annotation naming a class Lease's PhoneNumberClass (a Lease's name is derived from it).
pub const CLASS_ANNOTATION: &str = "telephony.talkturo.ai/class";

/// What a Lease says, as the pure decisions read it.
pub fn view(lease: &Lease) -> LeaseView {
    let spec = lease.spec.clone().unwrap_or_default();
    LeaseView {
        holder: spec.holder_identity,
        renewed: spec.renew_time.map(|t| t.0),
        duration_secs: i64::from(spec.lease_duration_seconds.unwrap_or(0)),
    }
}

/// The operator's Leases of one kind (`member` or `class`), by name.
pub async fn list(api: &Api<Lease>, kind: &str) -> Result<BTreeMap<String, Lease>, kube::Error> {
    let selector = format!("{LEASE_LABEL}={kind}");
    let leases = api.list(&ListParams::default().labels(&selector)).await?;
    Ok(leases
        .items
        .into_iter()
        .map(|l| (l.metadata.name.clone().unwrap_or_default(), l))
        .collect())
}

/// Takes or renews `name` for `identity` when `current` (the Lease as last read; `None`: there is
/// none) allows it. `Ok(Some(valid_until))` when held; `Ok(None)` when another writer got there
/// first (a conflict).
pub async fn hold(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
    current: Option<&Lease>,
    labels: (&str, Option<&str>),
    duration: Duration,
) -> Result<Option<Instant>, kube::Error> {
    let sent = Instant::now();
    let now = MicroTime(jiff::Timestamp::now());
    let secs = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
    let result = match current {
        None => {
            let lease = Lease {
                metadata: meta(name, labels),
                spec: Some(LeaseSpec {
                    holder_identity: Some(identity.to_owned()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            api.create(&PostParams::default(), &lease).await
        }
        Some(lease) => {
            let mut next = lease.clone();
            let spec = next.spec.get_or_insert_with(LeaseSpec::default);
            let ours = spec.holder_identity.as_deref() == Some(identity);
            if !ours {
                spec.acquire_time = Some(now.clone());
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.holder_identity = Some(identity.to_owned());
            spec.lease_duration_seconds = Some(secs);
            spec.renew_time = Some(now);
            api.replace(name, &PostParams::default(), &next).await
        }
    };
    match result {
        Ok(_) => Ok(Some(sent + duration)),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Lets `name` go if `identity` holds it (the holder cleared, guarded by its resourceVersion):
/// the next holder need not wait for it to expire. `current`: the Lease as last read (`None`:
/// read it now).
pub async fn release(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
    current: Option<&Lease>,
) -> Result<(), kube::Error> {
    let read = match current {
        Some(l) => Some(l.clone()),
        None => api.get_opt(name).await?,
    };
    let Some(mut lease) = read else {
        return Ok(());
    };
    let Some(spec) = lease.spec.as_mut() else {
        return Ok(());
    };
    if spec.holder_identity.as_deref() != Some(identity) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.renew_time = None;
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// A member's own Lease goes when it stops (the others need not wait for it to expire).
pub async fn remove(api: &Api<Lease>, name: &str) -> Result<(), kube::Error> {
    match api.delete(name, &Default::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

fn meta(name: &str, (kind, class): (&str, Option<&str>)) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some([(LEASE_LABEL.to_owned(), kind.to_owned())].into()),
        annotations: class.map(|c| [(CLASS_ANNOTATION.to_owned(), c.to_owned())].into()),
        ..ObjectMeta::default()
    }
}

/// The Lease name for a class: `<prefix>-class-<class>`, or, when that is too long for a name,
/// the class's name cut and a digest of the whole appended (names stay unique and stable).
pub fn class_lease_name(prefix: &str, class: &str) -> String {
    if class == crate::controller::decide::shard::ROUTER {
        return format!("{prefix}-router");
    }
    let full = format!("{prefix}-class-{class}");
    if full.len() <= 253 {
        return full;
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(class.as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let keep = 253usize.saturating_sub(prefix.len() + "-class-".len() + hex.len() + 1);
    let cut = class.get(..keep.min(class.len())).unwrap_or_default();
    format!("{prefix}-class-{}-{hex}", cut.trim_end_matches(['-', '.']))
}
