//! The tenancy policies as they apply to a bound claim: the assistant its namespace may name,
//! and whether its class still accepts the namespace (the number is kept either way).

use jiff::Timestamp;

use super::claim_status::{merge, reason_now};
use super::conditions::Desired;
use super::events::{Note, action};
use super::tenancy::{self, NamespaceMeta};
use crate::api::conditions::{reasons, types};
use crate::api::v1alpha1::{PhoneNumberClaim, PhoneNumberClaimStatus, PhoneNumberClass};

/// The tenancy policies as they apply to a bound claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantPolicy {
    /// The assistant its number is to have.
    pub assistant: Option<String>,
    /// Why the assistant it names is refused, if it is.
    pub assistant_refused: Option<String>,
    /// Why its class no longer accepts its namespace, if it does not (the number is kept).
    pub class_refused: Option<String>,
}

/// The policies of `class` (the bound number's; `None` if it is gone) for the claim.
pub fn tenant_policy(
    claim: &PhoneNumberClaim,
    class: Option<&PhoneNumberClass>,
    ns: &str,
    meta: Option<&NamespaceMeta>,
) -> TenantPolicy {
    let Some(class) = class else {
        return TenantPolicy {
            assistant: claim.spec.assistant_id.clone(),
            ..TenantPolicy::default()
        };
    };
    let (assistant, assistant_refused) =
        match tenancy::assistant_allowed(class, ns, meta, claim.spec.assistant_id.as_deref()) {
            Ok(a) => (a.map(str::to_owned), None),
            Err(why) => (None, Some(why)),
        };
    TenantPolicy {
        assistant,
        assistant_refused,
        class_refused: tenancy::class_allows(class, ns, meta)
            .err()
            .map(|why| format!("{why}; the bound number is kept, not released")),
    }
}

/// A bound claim's status with what the policies refuse: a refused assistant replaces the
/// `Assigned` condition (and makes the claim not Ready); `ClassAllowed` is there only while the
/// class refuses the namespace. Warnings for each refusal that is new.
pub fn apply_policy(
    claim: &PhoneNumberClaim,
    status: &mut PhoneNumberClaimStatus,
    policy: &TenantPolicy,
    now: Timestamp,
) -> Vec<Note> {
    let mut notes = Vec::new();
    for (type_, reason, why) in [
        (
            types::ASSIGNED,
            reasons::ASSISTANT_NOT_ALLOWED,
            &policy.assistant_refused,
        ),
        (
            types::CLASS_ALLOWED,
            reasons::CLASS_NOT_ALLOWED,
            &policy.class_refused,
        ),
    ] {
        let desired: Vec<Desired> = why
            .iter()
            .map(|m| Desired::new(type_, false, reason, m.clone()))
            .collect();
        if let Some(m) = why
            .as_ref()
            .filter(|_| reason_now(claim, type_).as_deref() != Some(reason))
        {
            notes.push(Note::warning(reason, action::POLICY, m.clone()));
        }
        let managed: &[&str] = if type_ == types::CLASS_ALLOWED || !desired.is_empty() {
            &[type_]
        } else {
            &[]
        };
        merge(claim, status, &desired, managed, now);
        if let Some(d) = desired.first().filter(|_| type_ == types::ASSIGNED) {
            merge(
                claim,
                status,
                &[Desired::new(types::READY, false, reason, d.message.clone())],
                &[],
                now,
            );
        }
    }
    notes
}
