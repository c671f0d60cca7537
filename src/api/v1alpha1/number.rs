//! `PhoneNumber`: one real number in one Talkturo account. Cluster-scoped, like a
//! PersistentVolume. Its name is derived from the number (`tel-14155550101`), so there is only
//! ever one object per number and creating it twice is harmless.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{ClaimRef, E164_PATTERN, ReclaimPolicy};

/// Prefix of every PhoneNumber's name; the rest is the number's digits.
pub const PHONE_NUMBER_NAME_PREFIX: &str = "tel-";

/// The PhoneNumber name for an E.164 number: `+14155550101` → `tel-14155550101`.
pub fn phone_number_name(e164: &str) -> String {
    format!("{PHONE_NUMBER_NAME_PREFIX}{}", e164.trim_start_matches('+'))
}

/// One phone number in one Talkturo account.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "telephony.talkturo.ai",
    version = "v1alpha1",
    kind = "PhoneNumber",
    doc = "One real phone number in one Talkturo account (like a PersistentVolume). Named tel-<digits>.",
    shortname = "pn",
    category = "talkturo",
    status = "PhoneNumberStatus",
    derive = "PartialEq",
    validation = Rule::new("self.metadata.name == 'tel-' + self.spec.number.substring(1)").message("metadata.name must be 'tel-' followed by the number's digits, e.g. tel-14155550101 for +14155550101"),
    printcolumn = r#"{"name":"Number","type":"string","jsonPath":".spec.number"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Class","type":"string","jsonPath":".spec.className"}"#,
    printcolumn = r#"{"name":"Claim","type":"string","jsonPath":".status.claim"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.providerStatus"}"#,
    printcolumn = r#"{"name":"Monthly","type":"string","jsonPath":".status.monthlyPrice"}"#,
    printcolumn = r#"{"name":"Trial","type":"boolean","priority":1,"jsonPath":".status.isTrial"}"#,
    printcolumn = r#"{"name":"Trial-Expires","type":"date","priority":1,"jsonPath":".status.trialExpiresAt"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    selectable = ".spec.claimRef.namespace",
    selectable = ".spec.claimRef.name"
)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberSpec {
    /// The number, E.164 (`+14155550101`). Immutable.
    #[schemars(regex(pattern = E164_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("number is immutable"))]
    pub number: String,

    /// The PhoneNumberClass (Talkturo account) the number belongs to. Immutable.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("className is immutable"))]
    pub class_name: String,

    /// The claim this number is bound to. An admin clears it to make a `Released` number
    /// bindable again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_ref: Option<ClaimRef>,

    /// Desired assistant (`asst_...`): copied from the claim by the operator, or set by an admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub assistant_id: Option<String>,

    /// What happens to the number when its claim is deleted; copied from the class when the
    /// operator creates the PhoneNumber.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,

    /// `Managed` (the default): the operator buys, assigns and releases it. `ObserveOnly`
    /// (imported numbers): status is mirrored, nothing is ever bought, assigned or released.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// Whether the operator acts on a number or only mirrors it.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum ManagementPolicy {
    /// The operator buys, assigns and releases the number.
    #[default]
    Managed,
    /// The operator only mirrors the number's status.
    ObserveOnly,
}

/// Lifecycle phase of a PhoneNumber, for `kubectl get` only (logic reads conditions).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum NumberPhase {
    /// Being bought; the outcome is not known yet.
    Purchasing,
    /// Owned and not bound to a claim.
    Available,
    /// Owned and bound to a claim.
    Bound,
    /// Its claim was deleted and the number was retained.
    Released,
    /// A trial number past its expiry.
    Expired,
    /// No longer in the account.
    Lost,
    /// The purchase was refused; nothing was bought.
    Failed,
}

/// Observed state of a PhoneNumber.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Lifecycle phase, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<NumberPhase>,
    /// The claim `spec.claimRef` names, as `namespace/name` (the Claim column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// `Ready`, `Synced`, `Assigned`, `TrialExpiring`, `PurchaseOutcomeUnknown`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Talkturo's record id (`pn_...`), used to assign and release the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The carrier's id of the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The carrier that supplies the number (`telnyx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Talkturo's status of the number: `purchasing`, `active`, `suspended` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_status: Option<String>,
    /// Whether it is a free trial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_trial: Option<bool>,
    /// When the trial number expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_expires_at: Option<Time>,
    /// Monthly price, USD, as offered when it was bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_price: Option<String>,
    /// Setup price, USD, as offered when it was bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_price: Option<String>,
    /// Capabilities (`voice`, `sms`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// The assistant the number is assigned to at Talkturo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_assistant_id: Option<String>,
    /// That assistant's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_assistant_name: Option<String>,
    /// When Talkturo recorded the purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchased_at: Option<Time>,
    /// Who bought it, as Talkturo records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchased_by: Option<String>,
    /// When the number's observed state last changed in a sync (not bumped on every sync, so
    /// steady state writes nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<Time>,
    /// Bookkeeping of the purchase protocol: survives restarts, so an unknown outcome is
    /// settled from the account list instead of being retried blindly or forgotten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase: Option<NumberPurchase>,
}

/// The purchase of a PhoneNumber, as far as the operator knows it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberPurchase {
    /// Purchase calls sent for this number.
    #[serde(default)]
    pub attempts: i32,
    /// When the last purchase call was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_time: Option<Time>,
    /// While set, the last purchase call may or may not have taken effect (timeout, 5xx, lost
    /// answer): since when. The account list settles it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_unknown_since: Option<Time>,
    /// Account lists since then that did not show the number; at 2 it is bought again (safe:
    /// it is the same exact number).
    #[serde(default)]
    pub absent_listings: i32,
    /// When the last list counted in `absentListings` was taken, so one list counts once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_listing_time: Option<Time>,
    /// Why Talkturo refused the purchase (the number is then `Failed` and nothing was bought).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Talkturo's message for the refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
}
