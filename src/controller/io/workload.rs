//! The calls of a rollout: reading a ConfigMap a workload's pods read, and setting the workload's
//! `numbers-hash` pod-template annotation with server-side apply (field manager
//! `talkturo-operator`, which then owns that one field and nothing else of the workload).

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::controller::decide::rollout::{HASH_ANNOTATION, Workload};
use crate::controller::{Context, Error, FIELD_MANAGER};

/// The ConfigMap `name` of namespace `ns`, if it exists.
pub async fn config_map(ctx: &Context, ns: &str, name: &str) -> Result<Option<ConfigMap>, Error> {
    Api::<ConfigMap>::namespaced(ctx.client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(Error::kube("reading a ConfigMap a workload reads"))
}

/// Sets `w`'s pod-template annotation to `hash`: the pods roll. `false` when the workload is
/// gone (an apply would otherwise create a partial one, which the API server refuses).
pub async fn set_hash<W>(ctx: &Context, w: &W, hash: &str) -> Result<bool, Error>
where
    W: Workload
        + Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    let ns = w.namespace().unwrap_or_default();
    let name = w.name_any();
    let patch = json!({
        "apiVersion": W::api_version(&()),
        "kind": W::KIND,
        "metadata": {"name": name, "namespace": ns},
        "spec": {"template": {"metadata": {"annotations": {HASH_ANNOTATION: hash}}}},
    });
    let api: Api<W> = Api::namespaced(ctx.client.clone(), &ns);
    ctx.fence("setting a workload's numbers-hash")?;
    match api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => Ok(false),
        Err(e) => Err(Error::kube("setting a workload's numbers-hash")(e)),
    }
}

/// The hash `w`'s template carries at the API server now (the cache may be behind a roll made
/// a moment ago); `None` when it has none or is gone.
pub async fn current_hash<W>(ctx: &Context, w: &W) -> Result<Option<String>, Error>
where
    W: Workload
        + Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    let api: Api<W> = Api::namespaced(ctx.client.clone(), &w.namespace().unwrap_or_default());
    let fresh = api
        .get_opt(&w.name_any())
        .await
        .map_err(Error::kube("reading a workload"))?;
    Ok(fresh.and_then(|f| {
        f.template()
            .and_then(crate::controller::decide::rollout::current_hash)
            .map(str::to_owned)
    }))
}
