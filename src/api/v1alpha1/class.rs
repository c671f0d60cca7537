//! `PhoneNumberClass`: how to reach one Talkturo account, and the admin's policies for the
//! numbers provisioned through it. Cluster-scoped, like a StorageClass.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{DURATION_PATTERN, MONEY_PATTERN, ReclaimPolicy, SecretKeyRef};

/// How to reach one Talkturo account and the policies for numbers provisioned through it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "telephony.talkturo.ai",
    version = "v1alpha1",
    kind = "PhoneNumberClass",
    doc = "How to reach one Talkturo account, and the admin policies for numbers provisioned through it (like a StorageClass).",
    shortname = "pnclass",
    category = "talkturo",
    status = "PhoneNumberClassStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Team","type":"string","jsonPath":".spec.teamId"}"#,
    printcolumn = r#"{"name":"Reclaim","type":"string","jsonPath":".spec.reclaimPolicy"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Numbers","type":"integer","jsonPath":".status.totals.numbers"}"#,
    printcolumn = r#"{"name":"Monthly","type":"string","jsonPath":".status.totals.monthlyCost"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("!has(oldSelf.status) || !has(oldSelf.status.totals) || oldSelf.status.totals.numbers == 0 || (self.spec.teamId == oldSelf.spec.teamId && self.spec.accountSlug == oldSelf.spec.accountSlug)").message("teamId and accountSlug cannot change while the class owns numbers (status.totals.numbers): they name the account those numbers are in; create another class instead")
)]
#[x_kube(
    validation = Rule::new("!self.apiBaseUrl.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')").message("apiBaseUrl must not contain user:password; the key comes from apiKeySecretRef"),
    validation = Rule::new("self.apiBaseUrl.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@') || self.apiBaseUrl.startsWith('https://') || (has(self.allowInsecureHTTP) && self.allowInsecureHTTP) || self.apiBaseUrl.matches('^http://(localhost|127[.][0-9]+[.][0-9]+[.][0-9]+|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$')").message("apiBaseUrl must be https:// (the API key travels with every request); plain http:// only to a loopback address, or with allowInsecureHTTP: true"),
)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberClassSpec {
    /// Base URL of the Talkturo account domain, e.g. `https://app.talkturo.com`. Paths
    /// `/api/...` are appended to it. Must be `https://` unless the host is a loopback address
    /// or `allowInsecureHTTP` is true.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))").message("must be an http:// or https:// URL, e.g. https://app.talkturo.com"))]
    pub api_base_url: String,

    /// Talkturo team that owns the numbers bought through this class (`team_...`).
    #[schemars(length(min = 1, max = 128))]
    pub team_id: String,

    /// Allows a plain `http://` `apiBaseUrl` to a host other than a loopback address, so that the
    /// API key travels in clear text: only for a trusted network (a local proxy, a test
    /// double). Default false.
    #[serde(
        default,
        rename = "allowInsecureHTTP",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub allow_insecure_http: bool,

    /// Workspace slug of the account (as in the dashboard URL); the assistant endpoints need it.
    #[schemars(length(min = 1, max = 128))]
    pub account_slug: String,

    /// The Secret key holding the account's bearer token.
    pub api_key_secret_ref: SecretKeyRef,

    /// What happens to a number when its claim is deleted: `Retain` keeps it (the default),
    /// `Release` releases it at Talkturo. Copied into each PhoneNumber when it is created.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,

    /// How a candidate is picked from the search results: `Cheapest` (the default; ties broken
    /// by the number itself, so the choice is deterministic) or `First` (search order).
    #[serde(default)]
    pub selection: SelectionPolicy,

    /// Highest monthly price, in USD (`"2.00"`), any claim of this class may pay. The stricter
    /// of the class's and the claim's cap applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY_PATTERN), length(max = 16))]
    pub max_monthly_price: Option<String>,

    /// Highest one-time setup price, in USD (`"1.00"`), any claim of this class may pay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY_PATTERN), length(max = 16))]
    pub max_setup_price: Option<String>,

    /// Cap, in USD, on the sum of the monthly prices of all numbers of this class. A purchase
    /// that would pass it is not made; the claim stays `Pending` with reason `BudgetExceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MONEY_PATTERN), length(max = 16))]
    pub monthly_budget: Option<String>,

    /// What to do about trial numbers before and at their expiry.
    #[serde(default)]
    pub trial: TrialPolicy,

    /// How often the account's number list is read to sync every PhoneNumber of this class
    /// (a Go duration, default `60s`, at least `5s`). One list call serves all numbers.
    #[serde(default = "default_sync_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN), length(max = 32))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('5s')").message("must be at least 5s"))]
    pub sync_interval: String,

    /// How long the account's list must lack numbers, when it suddenly lacks many at once (or
    /// after `apiBaseUrl` or the key changed), before they are taken as gone and marked `Lost`
    /// (a Go duration, default `1h`; never shorter than 3 sync intervals). Until then nothing
    /// about them changes and the class is `Ready=False` (`SuspectList` or `AccountChanged`);
    /// an admin may confirm sooner with the annotation `telephony.talkturo.ai/confirm-lost`
    /// set to `status.hold.confirmWith`. A single missing number is reported `Lost` within one
    /// sync interval, whatever this says.
    #[serde(default = "default_lost_confirmation")]
    #[schemars(regex(pattern = DURATION_PATTERN), length(max = 32))]
    pub lost_confirmation: String,

    /// When true, numbers found in the account that no PhoneNumber represents are imported as
    /// `ObserveOnly` PhoneNumbers. When false they are only counted in `status.unmanagedNumbers`.
    #[serde(default)]
    pub import_unmanaged: bool,

    /// The namespaces whose claims may use this class, as a label selector over Namespaces
    /// (absent: every namespace). A claim from another namespace gets `ClassNotAllowed`, and
    /// nothing is bought or bound for it. Changing the selector never releases numbers already
    /// bound: their claims report `ClassAllowed=False`, and the numbers stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_namespaces: Option<LabelSelector>,

    /// Which assistants a claim may name: `Any` (the default) or `NamespaceAllowList`, the ids
    /// listed (comma-separated) in the claim's Namespace annotation
    /// `telephony.talkturo.ai/allowed-assistants`. A claim naming another gets
    /// `Assigned=False AssistantNotAllowed`, and its number stays unassigned.
    #[serde(default)]
    pub assistant_policy: AssistantPolicy,

    /// Talkturo's optional `connectionId` (an FQDN connection of a custom provider
    /// configuration), sent with every purchase of the class; absent: none is sent. Read at
    /// each purchase, so a change applies to the next number bought and none already bought.
    /// Printable ASCII without spaces, at most 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[!-~]+$"), length(min = 1, max = 128))]
    pub connection_id: Option<String>,
}

/// Which assistants a class's claims may name.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum AssistantPolicy {
    /// Any assistant id.
    #[default]
    Any,
    /// Only the assistants the claim's Namespace lists in its annotation
    /// `telephony.talkturo.ai/allowed-assistants`.
    NamespaceAllowList,
}

fn default_lost_confirmation() -> String {
    "1h".to_owned()
}

fn default_sync_interval() -> String {
    "60s".to_owned()
}

/// How a candidate is picked from the search results.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum SelectionPolicy {
    /// The lowest monthly price, then the lowest setup price, then the lowest number.
    #[default]
    Cheapest,
    /// The first acceptable result in the order the search returned them.
    First,
}

/// Trial-number policy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialPolicy {
    /// How long before a trial number's expiry the `TrialExpiring` condition turns True and a
    /// Warning Event is sent (a Go duration, default `24h`).
    #[serde(default = "default_warn_before")]
    #[schemars(regex(pattern = DURATION_PATTERN), length(max = 32))]
    pub warn_before: String,

    /// What to do when a trial number expires: `Notify` (the default), `Replace` (buy a paid
    /// replacement before expiry and move the binding and the assistant to it) or `Release`.
    #[serde(default)]
    pub on_expiry: TrialExpiryAction,
}

impl Default for TrialPolicy {
    fn default() -> Self {
        Self {
            warn_before: default_warn_before(),
            on_expiry: TrialExpiryAction::default(),
        }
    }
}

fn default_warn_before() -> String {
    "24h".to_owned()
}

/// The action taken when a trial number expires.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum TrialExpiryAction {
    /// Only report: condition `TrialExpiring` and Warning Events.
    #[default]
    Notify,
    /// Buy a paid replacement before expiry, then move the claim and the assistant to it.
    Replace,
    /// Release the trial number at expiry.
    Release,
}

/// Observed state of a PhoneNumberClass.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberClassStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready` (credentials resolve and the API answers), `PlanLimitReached`, `BudgetExceeded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The account's plan, as last reported by a purchase response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountStatus>,

    /// Counts and cost of this class's PhoneNumbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<ClassTotals>,

    /// How many numbers in the account no PhoneNumber represents (leaks made visible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmanaged_numbers: Option<i32>,

    /// The account this class's numbers are known in: recorded when its list agrees with them.
    /// A change of `apiBaseUrl` or of the API key whose first list lacks the class's numbers is
    /// held (`hold`, reason `AccountChanged`) rather than believed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_identity: Option<AccountIdentity>,

    /// Present while the account's list lacks numbers the class holds, too many at once (or
    /// after the account changed) to believe: nothing about them changes until the hold is
    /// confirmed, by time (`confirmAfter`) or by an admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<AccountHold>,
}

/// Which Talkturo account a class reaches, as far as the operator can tell.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountIdentity {
    /// `spec.apiBaseUrl`, without user information, query or fragment.
    pub api_base_url: String,
    /// `spec.teamId`.
    pub team_id: String,
    /// `spec.accountSlug`.
    pub account_slug: String,
    /// `sha256:` and the first 16 hex digits of the SHA-256 of the API key (never the key).
    pub key_fingerprint: String,
}

/// A hold on the numbers the account's list lacks.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountHold {
    /// `SuspectList` (the list suddenly lacks many numbers) or `AccountChanged` (`apiBaseUrl`
    /// or the key changed, and the new account's list lacks the class's numbers).
    pub reason: String,
    /// When the list first lacked them.
    pub since: Time,
    /// How many numbers the list lacks.
    pub missing: i32,
    /// The first few of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// When the absence is taken as confirmed by time (`since` + `spec.lostConfirmation`, at
    /// least 3 sync intervals) if lists still lack them.
    pub confirm_after: Time,
    /// The value of the annotation `telephony.talkturo.ai/confirm-lost` that confirms this hold
    /// now (the numbers are then marked `Lost`).
    pub confirm_with: String,
}

/// The account's plan, as last reported by a purchase response.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    /// Name of the plan, e.g. `Growth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_name: Option<String>,
    /// Whether the account has an active paid subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<bool>,
    /// How many numbers the account owned after the purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_count: Option<i32>,
    /// How many numbers the plan allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_limit: Option<i32>,
    /// While Talkturo refuses purchases for the plan limit: how many numbers the account held
    /// when it first refused (what `PlanLimitReached` reports, kept across restarts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers_at_limit: Option<i32>,
    /// When Talkturo reported these figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Time>,
}

/// Counts and cost of a class's PhoneNumbers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClassTotals {
    /// PhoneNumbers of this class that are owned in the account.
    pub numbers: i32,
    /// Of those, bound to a claim.
    pub bound: i32,
    /// Of those, available for binding.
    pub available: i32,
    /// Of those, trial numbers.
    pub trial: i32,
    /// Sum of the monthly prices of the numbers the class is billed for, in USD (`"12.50"`):
    /// the owned numbers and the `Lost` ones (gone from the account's list, still counted as the
    /// budget gate counts them, until an admin deletes their PhoneNumbers). `"unknown (12.50
    /// known + 1 without a price)"` when Talkturo gave no price for some of them (never counted
    /// as 0.00).
    pub monthly_cost: String,
    /// PhoneNumbers of this class marked `Lost` (not in `numbers`, but in `monthlyCost`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}
