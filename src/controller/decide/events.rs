//! Event reasons and actions the controllers publish, beyond the condition reasons of
//! `crate::api::conditions::reasons` (which Events reuse when they report a condition).

/// Event reasons.
pub mod reason {
    /// A claim was bound to its PhoneNumber.
    pub const BOUND: &str = "Bound";
    /// A number the account held is gone from it.
    pub const NUMBER_LOST: &str = "NumberLost";
    /// A number the account already held was adopted, not bought.
    pub const ADOPTED: &str = "Adopted";
    /// The number was bought.
    pub const PURCHASED: &str = "Purchased";
    /// The purchase answered "already owned": the number is adopted from the list.
    pub const ALREADY_OWNED: &str = "AlreadyOwned";
    /// The purchase's outcome is unknown; the list settles it.
    pub const PURCHASE_UNSETTLED: &str = "PurchaseUnsettled";
    /// A purchase's outcome stayed unknown past `--outcome-alert-secs`.
    pub const PURCHASE_OUTCOME_UNKNOWN: &str = "PurchaseOutcomeUnknown";
    /// The number was taken off an assistant.
    pub const UNASSIGNED: &str = "Unassigned";
    /// The number was given to its assistant.
    pub const ASSIGNED: &str = "Assigned";
    /// The number was moved to another assistant outside the operator (and is moved back).
    pub const ASSIGNMENT_DRIFT: &str = "AssignmentDrift";
    /// A deleted PhoneNumber's number stays in the account (reclaimPolicy Retain).
    pub const NUMBER_KEPT: &str = "NumberKept";
    /// An account number was imported as an ObserveOnly PhoneNumber.
    pub const IMPORTED: &str = "Imported";
    /// A release's outcome is unknown; the list settles it.
    pub const RELEASE_OUTCOME_UNKNOWN: &str = "ReleaseOutcomeUnknown";
    /// A labelled workload's pods roll: the numbers its claim ConfigMaps hold changed.
    pub const NUMBER_ROLLED_OUT: &str = "NumberRolledOut";
    /// A replaced trial number was let go before the workloads reading it had rolled out.
    pub const ROLLOUT_TIMEOUT: &str = "RolloutTimeout";
}

/// Event actions: what the controller was doing.
pub mod action {
    pub const POLICY: &str = "Policy";
    pub const CONFIG_MAP: &str = "ConfigMap";
    pub const BIND: &str = "Bind";
    pub const PROVISION: &str = "Provision";
    pub const SYNC: &str = "Sync";
    pub const TRIAL: &str = "Trial";
    pub const ASSIGN: &str = "Assign";
    pub const RECLAIM: &str = "Reclaim";
    pub const DELETE: &str = "Delete";
    pub const IMPORT: &str = "Import";
    pub const ROLLOUT: &str = "Rollout";
}

/// An Event to publish, as a decision says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub message: String,
}

impl Note {
    pub fn normal(reason: &'static str, action: &'static str, message: impl Into<String>) -> Self {
        Self {
            warning: false,
            reason,
            action,
            message: message.into(),
        }
    }

    pub fn warning(reason: &'static str, action: &'static str, message: impl Into<String>) -> Self {
        Self {
            warning: true,
            reason,
            action,
            message: message.into(),
        }
    }
}
