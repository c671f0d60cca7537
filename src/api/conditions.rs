//! Condition types and reasons. Logic compares against these constants, never inline strings.

/// Condition types shared by the kinds.
pub mod types {
    /// The object does what it is for: the class can reach its account, the number is active,
    /// the claim's number is active and assigned as asked.
    pub const READY: &str = "Ready";
    /// The claim has a number, and the number's `claimRef` points back at it.
    pub const BOUND: &str = "Bound";
    /// The number is assigned to the assistant the spec asks for.
    pub const ASSIGNED: &str = "Assigned";
    /// A trial number is within `warnBefore` of its expiry.
    pub const TRIAL_EXPIRING: &str = "TrialExpiring";
    /// The number's state was read from the account list recently.
    pub const SYNCED: &str = "Synced";
    /// A purchase was sent but its outcome could not be settled from the account list.
    pub const PURCHASE_OUTCOME_UNKNOWN: &str = "PurchaseOutcomeUnknown";
    /// The account has as many numbers as its plan allows.
    pub const PLAN_LIMIT_REACHED: &str = "PlanLimitReached";
    /// The class's numbers cost as much per month as its `monthlyBudget` allows.
    pub const BUDGET_EXCEEDED: &str = "BudgetExceeded";
    /// Releasing the number at Talkturo failed; the number is kept.
    pub const RELEASE_FAILED: &str = "ReleaseFailed";
    /// Present (False) when the claim's class no longer accepts claims from its namespace: the
    /// bound number is kept, not released.
    pub const CLASS_ALLOWED: &str = "ClassAllowed";
    /// The ConfigMap `spec.configMapName` names holds the bound number (True), or cannot be
    /// written because another owner has it (False).
    pub const CONFIG_MAP: &str = "ConfigMap";
    /// The class's latest account list lacks numbers it held before, more than a few at once:
    /// nothing is marked Lost until later lists confirm it.
    pub const SUSPECT_LIST: &str = "SuspectList";
}

/// Condition reasons (CamelCase, as the Kubernetes API conventions ask).
pub mod reasons {
    pub const CLASS_NOT_FOUND: &str = "ClassNotFound";
    pub const CLASS_NOT_READY: &str = "ClassNotReady";
    pub const NO_DEFAULT_CLASS: &str = "NoDefaultClass";
    pub const MULTIPLE_DEFAULT_CLASSES: &str = "MultipleDefaultClasses";
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    pub const SECRET_KEY_MISSING: &str = "SecretKeyMissing";
    pub const UNAUTHORIZED: &str = "Unauthorized";
    pub const FORBIDDEN: &str = "Forbidden";
    pub const UNREACHABLE: &str = "Unreachable";
    pub const INVALID_RESPONSE: &str = "InvalidResponse";
    /// The class's `apiBaseUrl` would send the API key in clear text to another host.
    pub const INSECURE_URL: &str = "InsecureURL";
    pub const ACCOUNT_REACHABLE: &str = "AccountReachable";
    /// The Secret `apiKeySecretRef` names lacks the label `telephony.talkturo.ai/api-key:
    /// "true"`: its value is never sent.
    pub const SECRET_NOT_MARKED: &str = "SecretNotMarked";
    /// The account's list suddenly lacks many of the class's numbers: they are held, not Lost,
    /// until the absence is confirmed (class `status.hold`).
    pub const SUSPECT_LIST: &str = "SuspectList";
    /// The class's `apiBaseUrl` or key changed and the account it reaches lacks the class's
    /// numbers: they are held, not Lost, until the change is confirmed (class `status.hold`).
    pub const ACCOUNT_CHANGED: &str = "AccountChanged";
    pub const NO_CANDIDATES: &str = "NoCandidates";
    pub const OVER_PRICE: &str = "OverPrice";
    pub const PLAN_LIMIT_REACHED: &str = "PlanLimitReached";
    pub const WITHIN_PLAN_LIMIT: &str = "WithinPlanLimit";
    pub const BUDGET_EXCEEDED: &str = "BudgetExceeded";
    pub const WITHIN_BUDGET: &str = "WithinBudget";
    pub const PURCHASE_OUTCOME_UNKNOWN: &str = "PurchaseOutcomeUnknown";
    pub const PURCHASING: &str = "Purchasing";
    pub const PURCHASE_FAILED: &str = "PurchaseFailed";
    pub const BOUND: &str = "Bound";
    pub const NOT_BOUND: &str = "NotBound";
    pub const NUMBER_TAKEN: &str = "NumberTaken";
    pub const PHONE_NUMBER_NOT_FOUND: &str = "PhoneNumberNotFound";
    pub const PHONE_NUMBER_UNAVAILABLE: &str = "PhoneNumberUnavailable";
    /// The claim's PhoneNumber was deleted (or rebound) out from under it: the claim is `Lost`
    /// and buys nothing new on its own; re-create the claim for a new number.
    pub const PHONE_NUMBER_DELETED: &str = "PhoneNumberDeleted";
    pub const LOST: &str = "Lost";
    pub const ACTIVE: &str = "Active";
    pub const PROVIDER_STATUS: &str = "ProviderStatus";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const SYNCED: &str = "Synced";
    pub const SYNC_FAILED: &str = "SyncFailed";
    pub const ASSIGNED: &str = "Assigned";
    pub const UNASSIGNED: &str = "Unassigned";
    pub const ASSIGNING: &str = "Assigning";
    pub const ASSISTANT_NOT_FOUND: &str = "AssistantNotFound";
    pub const ASSIGNMENT_FAILED: &str = "AssignmentFailed";
    pub const NUMBER_NOT_ACTIVE: &str = "NumberNotActive";
    /// Talkturo accepted an assignment, but reading the assistant's numbers back does not show
    /// it; retried after a back-off, never in a loop.
    pub const ASSIGNMENT_UNVERIFIED: &str = "AssignmentUnverified";
    /// The class does not accept claims from the claim's namespace (`allowedNamespaces`).
    pub const CLASS_NOT_ALLOWED: &str = "ClassNotAllowed";
    /// The assistant is not in the namespace's allow list (`assistantPolicy: NamespaceAllowList`).
    pub const ASSISTANT_NOT_ALLOWED: &str = "AssistantNotAllowed";
    /// The ConfigMap holds the bound number.
    pub const CONFIG_MAP_WRITTEN: &str = "ConfigMapWritten";
    /// The ConfigMap exists and was not created by the operator for this claim: not written.
    pub const CONFIG_MAP_CONFLICT: &str = "ConfigMapConflict";
    /// A purchase answer named another number than the one asked for.
    pub const PURCHASE_MISMATCH: &str = "PurchaseMismatch";
    /// The latest account list lacks numbers it held before (see the `SuspectList` condition).
    pub const NUMBERS_MISSING: &str = "NumbersMissing";
    /// The account list is consistent with the numbers known before.
    pub const LIST_CONSISTENT: &str = "ListConsistent";
    /// A number's record in the account list carries another id than the one recorded.
    pub const RECORD_MISMATCH: &str = "RecordMismatch";
    pub const RELEASE_FAILED: &str = "ReleaseFailed";
    pub const RELEASED: &str = "Released";
    /// A scheduled, running or paused campaign dials from the number: it is not released, or
    /// not taken off the campaign's assistant, until none does.
    pub const IN_USE_BY_CAMPAIGN: &str = "InUseByCampaign";
    /// The team's campaigns could not be read, so the release or move waits.
    pub const CAMPAIGN_CHECK_FAILED: &str = "CampaignCheckFailed";
    /// A release is about to be sent (recorded first, so its outcome is never mistaken for a
    /// lost number).
    pub const RELEASING: &str = "Releasing";
    /// A trial number before its warning window.
    pub const TRIAL_ACTIVE: &str = "TrialActive";
    /// A trial number inside its warning window.
    pub const TRIAL_EXPIRING: &str = "TrialExpiring";
    /// A trial number past its expiry.
    pub const TRIAL_EXPIRED: &str = "TrialExpired";
    /// A paid replacement for an expiring trial number is being bought.
    pub const REPLACING: &str = "Replacing";
    /// The trial number was replaced by a paid one.
    pub const REPLACED: &str = "Replaced";
    /// `onExpiry: Replace` fell back to `Notify`: the account has no paid subscription.
    pub const NO_SUBSCRIPTION: &str = "NoSubscription";
    /// `onExpiry: Replace` fell back to `Notify`: the claim asks for this exact number.
    pub const REPLACEMENT_NOT_POSSIBLE: &str = "ReplacementNotPossible";
}
