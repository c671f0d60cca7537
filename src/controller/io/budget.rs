//! A namespace's budget reservations across replicas: one ConfigMap per namespace with a budget
//! (`<prefix>-budget-<namespace>`, in the operator's namespace), read fresh and written back
//! only if nobody wrote it meanwhile (its resourceVersion as the precondition): two replicas
//! deciding on the same budget at once cannot both reserve its last dollars; the loser reads
//! the winner's reservation and decides again.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

use crate::controller::decide::budget::Reservation;

/// The data key holding the reservations (JSON: number → price and time).
const KEY: &str = "reservations";

/// What the ConfigMap holds, and the version it was read at (`None`: there is none yet).
#[derive(Debug, Default)]
pub struct Reservations {
    pub version: Option<String>,
    pub entries: BTreeMap<String, Reservation>,
}

pub fn name(prefix: &str, namespace: &str) -> String {
    format!("{prefix}-budget-{namespace}")
}

/// Reads the reservations from the API server (never from a cache). Unreadable contents count
/// as none only if the ConfigMap has no data key at all; otherwise they are an error, so that a
/// damaged ledger stops purchases instead of forgetting what was reserved.
pub async fn read(api: &Api<ConfigMap>, name: &str) -> Result<Reservations, String> {
    let Some(cm) = api
        .get_opt(name)
        .await
        .map_err(|e| format!("reading ConfigMap {name}: {e}"))?
    else {
        return Ok(Reservations::default());
    };
    let entries = match cm.data.as_ref().and_then(|d| d.get(KEY)) {
        None => BTreeMap::new(),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| format!("ConfigMap {name} holds unreadable reservations: {e}"))?,
    };
    Ok(Reservations {
        version: cm.metadata.resource_version,
        entries,
    })
}

/// Writes `entries` if the ConfigMap is still at `read.version` (a create, or a patch carrying
/// the version as its precondition): `Ok(false)` when another replica wrote it first.
pub async fn write(
    api: &Api<ConfigMap>,
    name: &str,
    read: &Reservations,
    entries: &BTreeMap<String, Reservation>,
) -> Result<bool, String> {
    let text = serde_json::to_string(entries).map_err(|e| e.to_string())?;
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            resource_version: read.version.clone(),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "talkturo-operator".to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        data: Some([(KEY.to_owned(), text)].into()),
        ..ConfigMap::default()
    };
    let result = match read.version {
        None => api.create(&PostParams::default(), &cm).await,
        Some(_) => {
            api.patch(name, &PatchParams::default(), &Patch::Merge(&cm))
                .await
        }
    };
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(format!("writing ConfigMap {name}: {e}")),
    }
}
