//! The custom resources of `telephony.talkturo.ai`, their conditions and the constants naming them.
//!
//! This module owns the API contract with users: every type here becomes part of a CRD schema
//! (`crds/` is generated from it). It imports nothing else of the crate.

pub mod conditions;
pub mod lean;
pub mod v1alpha1;

/// The API group of every kind this operator serves.
pub const GROUP: &str = "telephony.talkturo.ai";

/// Annotation that marks the one `PhoneNumberClass` used by claims without `className`.
pub const DEFAULT_CLASS_ANNOTATION: &str = "telephony.talkturo.ai/is-default-class";
