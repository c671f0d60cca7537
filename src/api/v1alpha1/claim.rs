//! `PhoneNumberClaim`: an app team's request for a number. Namespaced, like a
//! PersistentVolumeClaim: it is bound to exactly one PhoneNumber.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{E164_PATTERN, MONEY_PATTERN, NumberType};

/// A request for one Talkturo phone number: search criteria, an exact number, or an existing
/// PhoneNumber to bind; optionally the assistant it is assigned to.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "telephony.talkturo.ai",
    version = "v1alpha1",
    kind = "PhoneNumberClaim",
    doc = "A request for one Talkturo phone number, bound to one PhoneNumber (like a PersistentVolumeClaim).",
    namespaced,
    shortname = "pnc",
    category = "talkturo",
    status = "PhoneNumberClaimStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Number","type":"string","jsonPath":".status.number"}"#,
    printcolumn = r#"{"name":"Class","type":"string","jsonPath":".status.className"}"#,
    printcolumn = r#"{"name":"Assistant","type":"string","jsonPath":".status.assistantId"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Trial-Expires","type":"date","priority":1,"jsonPath":".status.trialExpiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(
    validation = Rule::new("has(self.countryCode) || has(self.number) || has(self.phoneNumberName)").message("one of countryCode (search criteria), number (an exact number) or phoneNumberName (an existing PhoneNumber) is required"),
    validation = Rule::new("!has(self.phoneNumberName) || !(has(self.countryCode) || has(self.areaCode) || has(self.number))").message("phoneNumberName binds an existing PhoneNumber and cannot be combined with countryCode, areaCode or number"),
    validation = Rule::new("!has(self.number) || !has(self.areaCode)").message("number asks for an exact number and cannot be combined with areaCode"),
    validation = Rule::new("!has(self.areaCode) || (has(self.countryCode) && self.countryCode in ['US', 'CA'])").message("areaCode is only allowed with countryCode US or CA"),
    validation = Rule::new("!has(self.number) || !has(self.countryCode) || self.countryCode != 'US' && self.countryCode != 'CA' || self.number.startsWith('+1')").message("a US or CA number starts with +1"),
    validation = Rule::new("[has(self.className), has(self.countryCode), has(self.areaCode), has(self.number), has(self.phoneNumberName), has(self.maxMonthlyPrice), has(self.maxSetupPrice)] == [has(oldSelf.className), has(oldSelf.countryCode), has(oldSelf.areaCode), has(oldSelf.number), has(oldSelf.phoneNumberName), has(oldSelf.maxMonthlyPrice), has(oldSelf.maxSetupPrice)]").message("selection fields (className, countryCode, areaCode, number, phoneNumberName, maxMonthlyPrice, maxSetupPrice) cannot be added or removed after creation; create a new claim instead"),
)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberClaimSpec {
    /// Name of the PhoneNumberClass (the Talkturo account and its policies). When empty, the
    /// class annotated `telephony.talkturo.ai/is-default-class: "true"` is used. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("className is immutable"))]
    pub class_name: Option<String>,

    /// ISO 3166-1 alpha-2 country of the number, upper case (`US`, `GB`, `CA`). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("countryCode is immutable"))]
    pub country_code: Option<String>,

    /// Three-digit area code (`415`). Only allowed with countryCode `US` or `CA`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[2-9][0-9]{2}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("areaCode is immutable"))]
    pub area_code: Option<String>,

    /// `local` (the default) or `toll-free`. Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("numberType is immutable"))]
    pub number_type: NumberType,

    /// Capabilities the number must have (`voice`, `sms`, `mms`, `fax`); default `[voice]`.
    /// Immutable.
    #[serde(default = "default_features")]
    #[schemars(length(max = 8), inner(regex(pattern = r"^[a-z][a-z0-9-]{0,31}$")))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("features is immutable"))]
    pub features: Vec<String>,

    /// Highest monthly price, in USD (`"2.00"`). The stricter of the claim's and the class's
    /// cap applies. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY_PATTERN), length(max = 16))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("maxMonthlyPrice is immutable"))]
    pub max_monthly_price: Option<String>,

    /// Highest one-time setup price, in USD (`"1.00"`). The stricter of the claim's and the
    /// class's cap applies. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY_PATTERN), length(max = 16))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("maxSetupPrice is immutable"))]
    pub max_setup_price: Option<String>,

    /// An exact E.164 number (`+14155550101`): bind its PhoneNumber if one is available, else
    /// buy exactly this number. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = E164_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("number is immutable"))]
    pub number: Option<String>,

    /// Name of an existing PhoneNumber to bind (static binding, like a PVC's `volumeName`).
    /// Nothing is bought. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("phoneNumberName is immutable"))]
    pub phone_number_name: Option<String>,

    /// Talkturo assistant (`asst_...`) the number is assigned to once it is active. May change:
    /// the number moves. Clearing it unassigns the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub assistant_id: Option<String>,

    /// Name of a ConfigMap in the claim's namespace that the operator writes (and owns) with
    /// `PHONE_NUMBER`, `PHONE_NUMBER_ID` and `PHONE_NUMBER_COUNTRY`, for a Deployment's `envFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
        length(max = 253)
    )]
    pub config_map_name: Option<String>,
}

fn default_features() -> Vec<String> {
    vec!["voice".to_owned()]
}

/// Lifecycle phase of a claim, for `kubectl get` only (logic reads conditions).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum ClaimPhase {
    /// Waiting for a number: searching, purchasing, or blocked (see the `Ready` condition).
    #[default]
    Pending,
    /// A number is owned and its PhoneNumber's `claimRef` points back at this claim.
    Bound,
    /// The bound number is no longer in the account.
    Lost,
}

/// Observed state of a PhoneNumberClaim.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberClaimStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Pending`, `Bound` or `Lost`, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ClaimPhase>,

    /// `Ready`, `Bound`, `Assigned`, `TrialExpiring`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// Name of the bound PhoneNumber.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_name: Option<String>,
    /// The bound number, E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Talkturo's record id of the bound number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_id: Option<String>,
    /// The carrier's id of the bound number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// Whether the bound number is a free trial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_trial: Option<bool>,
    /// When the bound trial number expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_expires_at: Option<Time>,
    /// Monthly price of the bound number, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_price: Option<String>,
    /// Setup price of the bound number, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_price: Option<String>,
    /// The assistant the number is assigned to, as observed at Talkturo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,

    /// The ConfigMap the operator last wrote the number into (`spec.configMapName` once written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_name: Option<String>,

    /// The record id of the number the operator last wrote into that ConfigMap
    /// (`PHONE_NUMBER_ID`): the `ConfigMap` condition reports what was written, so when the
    /// claim's number changes (a trial replaced, a re-bind) the ConfigMap is written again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_number_id: Option<String>,

    /// The class the claim uses: its `className`, the default class it resolved to when it names
    /// none, or its bound number's class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,

    /// Progress of dynamic provisioning; kept across restarts so backoff survives them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseProgress>,
}

/// Progress of dynamic provisioning for a claim.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseProgress {
    /// The exact number chosen to buy (intent recorded before any money is spent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// When the current candidate was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// Failed attempts so far; drives the exponential backoff.
    #[serde(default)]
    pub attempts: i32,
    /// When the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_reason: Option<String>,
    /// No new attempt is made before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_time: Option<Time>,
    /// Why the class's `onExpiry: Replace` could not buy a paid replacement for the bound trial
    /// number (e.g. the account has no paid subscription). While set, the claim only reports the
    /// expiry, as `Notify` would; `candidate` is then never a replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement_blocked: Option<String>,
}
