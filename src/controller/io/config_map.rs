//! The claim's ConfigMap: created when it does not exist, updated only when the claim controls
//! it, never taken over (`decide::config_map` says what is needed and what is written).

use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim};
use crate::controller::decide::conditions::Desired;
use crate::controller::decide::config_map::{self, Need};
use crate::controller::{Context, Error, FIELD_MANAGER};

/// What the ConfigMap holds after [`write`]: its name and the record id written into it (for
/// `status.configMapName` and `configMapNumberId`), when it holds the number.
pub type Written = Option<(String, String)>;

/// Writes the ConfigMap the claim bound to `pn` asks for, when it needs writing. Returns what it
/// holds now and the `ConfigMap` condition, derived from that write (or from the one recorded).
pub async fn write(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    pn: &PhoneNumber,
) -> Result<(Written, Option<Desired>), Error> {
    let (name, id) = match config_map::need(claim, pn) {
        Need::None => return Ok((None, None)),
        Need::Current { name, id } => {
            let written = config_map::written(&name, pn);
            return Ok((Some((name, id)), Some(written)));
        }
        Need::Write { name, id } => (name, id),
    };
    let api: Api<ConfigMap> =
        Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
    let existing = api
        .get_opt(&name)
        .await
        .map_err(Error::kube("reading the ConfigMap"))?;
    let desired = config_map::desired(claim, pn, &name, &id);
    ctx.fence("writing the ConfigMap")?;
    let result = match existing {
        None => api.create(&PostParams::default(), &desired).await.map(drop),
        Some(cm) if config_map::controlled_by(&cm, claim) => {
            // Applied with the version read as precondition: a ConfigMap replaced meanwhile is
            // not written (the next reconcile looks again).
            let mut apply = desired;
            apply.metadata.resource_version = cm.metadata.resource_version.clone();
            let params = PatchParams::apply(FIELD_MANAGER).force();
            api.patch(&name, &params, &Patch::Apply(&apply))
                .await
                .map(drop)
        }
        Some(cm) => return Ok((None, Some(config_map::conflict(&name, &cm, claim)))),
    };
    match result {
        Ok(()) => {
            let written = config_map::written(&name, pn);
            Ok((Some((name, id)), Some(written)))
        }
        // Created or replaced by someone else between the read and the write: looked at again
        // on the next reconcile, never overwritten.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok((None, Some(config_map::raced(&name)))),
        Err(e) => Err(Error::kube("writing the ConfigMap")(e)),
    }
}
