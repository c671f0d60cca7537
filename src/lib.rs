//! talkturo-operator: manage Talkturo phone numbers declaratively from Kubernetes.
//!
//! - [`api`]: the custom resources (`PhoneNumberClass`, `PhoneNumberClaim`, `PhoneNumber`).
//! - [`talkturo`]: the typed Talkturo HTTP client.
//! - [`sim`]: the Talkturo simulator used by tests, the demo and the benchmarks.
//! - [`crdgen`]: the CRD YAML generated from [`api`].
//! - [`bench`]: the benchmark harness (`make bench`).
//! - [`plugin`]: `kubectl talkturo` (status, search, orphans).

pub mod api;
pub mod bench;
pub mod controller;
pub mod crdgen;
pub mod memory;
pub mod plugin;
pub mod sim;
pub mod talkturo;
pub mod testenv;
