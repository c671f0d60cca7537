//! PhoneNumber objects: created (for a claim's intent, for a number a purchase answer named, for
//! an imported number), bound, deleted, and their finalizer.

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::json;

use crate::api::v1alpha1::{
    ClaimRef, ManagementPolicy, PhoneNumber, PhoneNumberSpec, ReclaimPolicy, phone_number_name,
};
use crate::controller::decide::selection::label_value;
use crate::controller::{
    CLASS_LABEL, Context, Error, FIELD_MANAGER, NUMBER_FINALIZER, OFFER_ANNOTATION,
};
use crate::talkturo::AvailableNumber;

/// The offer a PhoneNumber was bought from (prices, features), as its annotation records it.
pub fn offer_annotation(o: &AvailableNumber) -> String {
    json!({"monthlyPrice": o.monthly_price.map(|p| p.to_string()), "setupPrice": o.setup_price.map(|p| p.to_string()), "features": o.features}).to_string()
}

/// What a new PhoneNumber is.
pub struct NewNumber<'a> {
    pub number: &'a str,
    pub class: &'a str,
    /// The claim it is bought for (a managed number), or `None` for an `ObserveOnly` one.
    pub claim_ref: Option<ClaimRef>,
    pub assistant: Option<String>,
    pub reclaim_policy: ReclaimPolicy,
    /// The offer it was bought from, recorded for its price.
    pub offer: Option<&'a AvailableNumber>,
}

/// The PhoneNumber object for `n`: managed (with the finalizer) when it has a claim,
/// `ObserveOnly` otherwise.
fn object(n: &NewNumber) -> PhoneNumber {
    let managed = n.claim_ref.is_some();
    let annotations = n
        .offer
        .map(|o| [(OFFER_ANNOTATION.to_owned(), offer_annotation(o))].into());
    PhoneNumber {
        metadata: ObjectMeta {
            name: Some(phone_number_name(n.number)),
            finalizers: managed.then(|| vec![NUMBER_FINALIZER.to_owned()]),
            labels: label_value(n.class).map(|v| [(CLASS_LABEL.to_owned(), v)].into()),
            annotations,
            ..Default::default()
        },
        spec: PhoneNumberSpec {
            number: n.number.to_owned(),
            class_name: n.class.to_owned(),
            claim_ref: n.claim_ref.clone(),
            assistant_id: n.assistant.clone(),
            reclaim_policy: n.reclaim_policy,
            management_policy: if managed {
                ManagementPolicy::Managed
            } else {
                ManagementPolicy::ObserveOnly
            },
        },
        status: None,
    }
}

/// Creates the PhoneNumber; `Ok(false)` when one of that name exists already (creating it twice
/// is harmless: whoever's it is, the next reconcile sees it).
pub async fn create(ctx: &Context, n: &NewNumber<'_>, step: &'static str) -> Result<bool, Error> {
    ctx.fence(step)?;
    let api: Api<PhoneNumber> = Api::all(ctx.client.clone());
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api.create(&params, &object(n)).await {
        Ok(created) => {
            ctx.writes.created(&created);
            Ok(true)
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(Error::kube(step)(e)),
    }
}

/// Deletes a PhoneNumber (its finalizer, if any, then does the rest). Only NotFound means it is
/// already gone; any other answer (forbidden, a server error) is the step's error.
pub async fn delete(ctx: &Context, name: &str, step: &'static str) -> Result<(), Error> {
    ctx.fence(step)?;
    delete_with(&Api::all(ctx.client.clone()), name, step).await
}

/// [`delete`] through `api`.
pub async fn delete_with(
    api: &Api<PhoneNumber>,
    name: &str,
    step: &'static str,
) -> Result<(), Error> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(step)(e)),
    }
}

/// Adds the finalizer (at the observed resourceVersion).
pub async fn add_finalizer(ctx: &Context, pn: &PhoneNumber) -> Result<(), Error> {
    let mut finalizers = pn.finalizers().to_vec();
    finalizers.push(NUMBER_FINALIZER.to_owned());
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": pn.resource_version()}});
    ctx.patch_number(pn, &patch, "adding the finalizer").await
}

/// Removes the finalizer (at the observed resourceVersion), letting the object go.
pub async fn remove_finalizer(ctx: &Context, pn: &PhoneNumber, why: &str) -> Result<(), Error> {
    if !pn.finalizers().iter().any(|f| f == NUMBER_FINALIZER) {
        return Ok(());
    }
    tracing::info!(
        number = pn.spec.number,
        why,
        "releasing the PhoneNumber object"
    );
    let finalizers: Vec<&String> = pn
        .finalizers()
        .iter()
        .filter(|f| *f != NUMBER_FINALIZER)
        .collect();
    let patch =
        json!({"metadata": {"finalizers": finalizers, "resourceVersion": pn.resource_version()}});
    ctx.patch_number(pn, &patch, "removing the finalizer").await
}

/// Binds `pn` to the claim (at the observed resourceVersion); `Ok(false)` when it changed first.
pub async fn bind(
    ctx: &Context,
    pn: &PhoneNumber,
    claim_ref: &ClaimRef,
    assistant: Option<String>,
) -> Result<bool, Error> {
    let patch = json!({
        "metadata": {"resourceVersion": pn.resource_version()},
        "spec": {"claimRef": claim_ref, "assistantId": assistant},
    });
    match ctx
        .patch_number(pn, &patch, "binding the PhoneNumber")
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if e.is_conflict() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Sets the assistant the PhoneNumber is to have (its controller assigns it).
pub async fn set_assistant(
    ctx: &Context,
    pn: &PhoneNumber,
    assistant: Option<&str>,
    step: &'static str,
) -> Result<(), Error> {
    let patch = json!({"spec": {"assistantId": assistant}});
    ctx.patch_number(pn, &patch, step).await
}

/// Unbinds `pn` from its claim and its assistant.
pub async fn unbind(ctx: &Context, pn: &PhoneNumber) -> Result<(), Error> {
    let patch = json!({"spec": {"claimRef": null, "assistantId": null}});
    ctx.patch_number(pn, &patch, "unbinding the trial number")
        .await
}
