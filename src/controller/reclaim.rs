//! Reclaiming a number whose claim is gone (or whose PhoneNumber is deleted), per its
//! `reclaimPolicy`: `Retain` keeps it (`Released`, bindable again once an admin clears
//! `claimRef`); `Release` releases it at Talkturo and then removes the PhoneNumber. A release the
//! API refuses or does not support keeps the number, with a `ReleaseFailed` condition. Only
//! `Managed` numbers are ever released.

use std::time::Duration;

use jiff::Timestamp;
use kube::api::{Api, DeleteParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::account::Account;
use super::conditions::{self, Desired};
use super::{Context, Error, now_time};
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{ManagementPolicy, PhoneNumber, PhoneNumberStatus, ReclaimPolicy};
use crate::talkturo::Outcome;

/// How long after a refused release the operator tries again.
const RELEASE_RETRY: Duration = Duration::from_secs(3600);

/// What became of the number.
#[derive(Debug, PartialEq, Eq)]
pub enum Reclaimed {
    /// Kept in the account (Retain, a refused release, or not ours to release).
    Kept,
    /// Released at Talkturo; the PhoneNumber object is to go.
    Released,
    /// The release may or may not have happened; the list settles it.
    Unsettled,
}

/// Whether a number is to be released now under its reclaim policy. Pure.
pub fn wants_release(
    pn: &PhoneNumber,
    status: &PhoneNumberStatus,
    claim_gone: bool,
    deleting: bool,
    now: Timestamp,
) -> bool {
    pn.spec.reclaim_policy == ReclaimPolicy::Release
        && (claim_gone || deleting)
        && releasable(pn, status, now)
}

/// Whether the operator may release this number now, for whatever reason: it manages it, owns
/// it, and Talkturo has not refused to release it within the hour. Pure.
pub fn releasable(pn: &PhoneNumber, status: &PhoneNumberStatus, now: Timestamp) -> bool {
    let refused_recently =
        conditions::find(&status.conditions, types::RELEASE_FAILED).is_some_and(|c| {
            c.status == "True"
                && now.duration_since(c.last_transition_time.0).unsigned_abs() < RELEASE_RETRY
        });
    pn.spec.management_policy == ManagementPolicy::Managed
        && status.id.is_some()
        && super::number::trusted(status)
        && !refused_recently
}

/// Why the operator releases a number, as its Event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The claim or the PhoneNumber went, under `reclaimPolicy: Release`.
    ReclaimPolicy,
    /// The trial expired, under the class's `onExpiry: Release`.
    TrialExpired,
}

impl Why {
    fn because(self) -> &'static str {
        match self {
            Why::ReclaimPolicy => "as reclaimPolicy Release asks",
            Why::TrialExpired => "because its trial expired (onExpiry Release)",
        }
    }
}

/// Releases the number at Talkturo, recording a refusal in `status`.
pub async fn release(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    (status, why): (&mut PhoneNumberStatus, Why),
    now: Timestamp,
) -> Result<Reclaimed, Error> {
    let Some(id) = status.id.clone() else {
        return Ok(Reclaimed::Kept);
    };
    let number = &pn.spec.number;
    // The intent first: a process that stops between Talkturo's answer and the status write
    // finds `Releasing` and the number gone, and knows the release was its own (not a number
    // lost). If this write fails, nothing is released.
    status.conditions = conditions::merge(
        &status.conditions,
        &[Desired::new(
            types::READY,
            false,
            reasons::RELEASING,
            format!("releasing {number} at Talkturo, {}", why.because()),
        )],
        &[],
        pn.metadata.generation,
        &now_time(now),
    );
    super::number::apply_status(ctx, pn, status.clone()).await?;
    match account.client.release(&id).await {
        Ok(()) => {
            account.forget_record(number);
            status.conditions = conditions::merge(
                &status.conditions,
                &[Desired::new(
                    types::READY,
                    false,
                    reasons::RELEASED,
                    format!("{number} was released at Talkturo"),
                )],
                &[],
                pn.metadata.generation,
                &now_time(now),
            );
            ctx.event(
                pn,
                EventType::Normal,
                reasons::RELEASED,
                "Reclaim",
                format!(
                    "released {number} (record {id}) at Talkturo, {}",
                    why.because()
                ),
            )
            .await;
            Ok(Reclaimed::Released)
        }
        Err(e) if e.outcome() == Outcome::Definite => {
            let message = format!(
                "Talkturo did not release {number}; the number is kept and still billed: {e}"
            );
            let already = conditions::is_true(&status.conditions, types::RELEASE_FAILED);
            // Ready no longer says Releasing: the number stays, and its absence from a later
            // list would be a loss, not this release.
            status.conditions = conditions::merge(
                &status.conditions,
                &[
                    Desired::new(
                        types::RELEASE_FAILED,
                        true,
                        reasons::RELEASE_FAILED,
                        message.clone(),
                    ),
                    Desired::new(
                        types::READY,
                        false,
                        reasons::RELEASE_FAILED,
                        message.clone(),
                    ),
                ],
                &[],
                pn.metadata.generation,
                &now_time(now),
            );
            if !already {
                ctx.event(
                    pn,
                    EventType::Warning,
                    reasons::RELEASE_FAILED,
                    "Reclaim",
                    message,
                )
                .await;
            }
            Ok(Reclaimed::Kept)
        }
        Err(e) if e.outcome() == Outcome::Unknown => {
            ctx.event(
                pn,
                EventType::Warning,
                "ReleaseOutcomeUnknown",
                "Reclaim",
                format!("release of {number}: {e}; the account list will settle it"),
            )
            .await;
            Ok(Reclaimed::Unsettled)
        }
        Err(e) => Err(Error::Talkturo(e.into())),
    }
}

/// Deletes a PhoneNumber (its finalizer, if any, then does the rest); an API answer such as
/// NotFound means it is already going. `what` names the deletion in errors.
pub async fn delete_number(ctx: &Context, name: &str, what: &'static str) -> Result<(), Error> {
    let api: Api<PhoneNumber> = Api::all(ctx.client.clone());
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) | Err(kube::Error::Api(_)) => Ok(()),
        Err(e) => Err(Error::kube(what)(e)),
    }
}

/// Releases the number and says what the reconcile does next: `Some` when it is done with the
/// object (released and removed, or to look again once the outcome settles), `None` when the
/// number was kept and the reconcile carries on.
pub async fn release_now(
    ctx: &Context,
    pn: &PhoneNumber,
    account: &Account,
    (status, why): (&mut PhoneNumberStatus, Why),
    now: Timestamp,
) -> Result<Option<Action>, Error> {
    Ok(
        match release(ctx, pn, account, (&mut *status, why), now).await? {
            Reclaimed::Released => {
                // The status first: a number bought in this same reconcile (its claim went while it
                // was being bought) is recorded as ours before the object goes, so the deletion's
                // reconcile sees an owned number that left the account, not an unrecorded purchase.
                super::number::apply_status(ctx, pn, status.clone()).await?;
                delete_number(
                    ctx,
                    &kube::ResourceExt::name_any(pn),
                    "deleting a released PhoneNumber",
                )
                .await?;
                Some(Action::await_change())
            }
            Reclaimed::Unsettled => {
                super::number::apply_status(ctx, pn, status.clone()).await?;
                Some(Action::requeue(
                    ctx.config.purchase_grace.max(ctx.config.fast_sync),
                ))
            }
            Reclaimed::Kept => None,
        },
    )
}
