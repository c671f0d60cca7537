//! Status writes: one function per kind, each writing only when the status changed.

use kube::ResourceExt;
use kube::api::Api;

use crate::api::v1alpha1::{
    PhoneNumber, PhoneNumberClaim, PhoneNumberClaimStatus, PhoneNumberClass,
    PhoneNumberClassStatus, PhoneNumberStatus,
};
use crate::controller::decide::claim::resolve_class;
use crate::controller::{Context, Error};

/// Writes the claim's status when it changed; with `precondition`, only if the claim is still
/// at that resourceVersion (a stale cache buys nothing and loses nothing).
pub async fn claim(
    ctx: &Context,
    claim: &PhoneNumberClaim,
    mut status: PhoneNumberClaimStatus,
    precondition: Option<String>,
) -> Result<(), Error> {
    // The class in use: the bound number's, else the one the claim resolves to.
    let bound = match &status.phone_number_name {
        Some(n) => ctx.number_named(n).await?,
        None => None,
    };
    let bound_class = bound.map(|pn| pn.spec.class_name.clone());
    status.class_name = bound_class
        .or_else(|| {
            resolve_class(claim, &ctx.classes.state())
                .ok()
                .map(|c| c.name_any())
        })
        .or(status.class_name);
    if claim.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api = Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
    let step = "writing PhoneNumberClaim status";
    ctx.apply_status(api, claim, &status, precondition.as_deref(), step)
        .await
}

/// Writes the PhoneNumber's status when it changed (with `claim`, the claim it is bound to).
pub async fn number(
    ctx: &Context,
    pn: &PhoneNumber,
    mut status: PhoneNumberStatus,
) -> Result<(), Error> {
    status.claim = pn
        .spec
        .claim_ref
        .as_ref()
        .map(|r| format!("{}/{}", r.namespace, r.name));
    if pn.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api = Api::all(ctx.client.clone());
    ctx.apply_status(api, pn, &status, None, "writing PhoneNumber status")
        .await
}

/// Writes the class's status when it changed.
pub async fn class(
    ctx: &Context,
    class: &PhoneNumberClass,
    status: &PhoneNumberClassStatus,
) -> Result<(), Error> {
    if class.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api = Api::all(ctx.client.clone());
    ctx.apply_status(api, class, status, None, "writing PhoneNumberClass status")
        .await
}
