//! talkturo-operator: manage Talkturo phone numbers declaratively from Kubernetes.
//!
//! - [`api`]: the custom resources (`PhoneNumberClass`, `PhoneNumberClaim`, `PhoneNumber`).
//! - [`talkturo`]: the typed Talkturo HTTP client.
//! - [`crdgen`]: the CRD YAML generated from [`api`].
//! - [`plugin`]: `kubectl talkturo` (status, search, orphans).
//! - [`probe`]: `talkturo-operator probe`, the pod's probes when its admin port is not fixed.
//!
//! The simulator (`talkturo-sim`), the test environment (`talkturo-testenv`) and the benchmark
//! harness (`talkturo-bench`) are crates of their own in `crates/`: the operator's binary links
//! none of them.

pub mod api;
pub mod controller;
pub mod crdgen;
pub mod memory;
pub mod plugin;
pub mod probe;
pub mod talkturo;
