//! The custom resources of `telephony.talkturo.ai`, their conditions and the constants naming them.
//!
//! This module owns the API contract with users: every type here becomes part of a CRD schema
//! (`crds/` is generated from it). It imports nothing else of the crate.

pub mod class_label;
pub mod conditions;
pub mod lean;
pub mod v1alpha1;

/// The API group of every kind this operator serves.
pub const GROUP: &str = "telephony.talkturo.ai";

/// Annotation that marks the one `PhoneNumberClass` used by claims without `className`.
pub const DEFAULT_CLASS_ANNOTATION: &str = "telephony.talkturo.ai/is-default-class";

/// Annotation on a `PhoneNumberClass` that confirms a hold (`status.hold`): its value must be
/// the hold's `confirmWith` (the time the hold started). The numbers the account's list lacks
/// are then taken as gone (`Lost`).
pub const CONFIRM_LOST_ANNOTATION: &str = "telephony.talkturo.ai/confirm-lost";

/// Label a Secret must carry (value `"true"`) for its key to be sent to Talkturo as a class's API
/// key. A class naming an unlabelled Secret is `Ready=False SecretNotMarked` and sends nothing.
pub const API_KEY_LABEL: &str = "telephony.talkturo.ai/api-key";
