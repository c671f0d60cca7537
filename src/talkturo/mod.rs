//! The typed Talkturo HTTP client: exactly the contract `tests/conformance.rs` checks row by row.
//!
//! Owns transport (timeouts, retries, `Retry-After`), lenient decoding, and the classification
//! of every failure as definite, transient or unknown-outcome. Imports nothing of kube: the
//! controllers translate its results into conditions.

mod client;
mod error;
pub mod metrics;
pub mod wire;

pub use client::{
    Client, ClientConfig, DEFAULT_MAX_LIST_RECORDS, OwnPurchases, PurchaseMark, SearchFilters,
};
pub use error::{Error, Operation, Outcome};
pub use metrics::ClientMetrics;
pub use wire::{
    AvailableNumber, Campaign, Eligibility, NumberRecord, NumberStatus, Purchase, SearchResult,
};
