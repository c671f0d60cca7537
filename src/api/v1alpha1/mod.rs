//! Version `v1alpha1` of the `telephony.talkturo.ai` API.

mod claim;
mod class;
mod common;
mod number;

pub use claim::*;
pub use class::*;
pub use common::*;
pub use number::*;
