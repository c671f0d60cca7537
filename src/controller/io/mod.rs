//! Every call to Kubernetes and Talkturo the reconciles make, and nothing else: status writes
//! (server-side apply, field manager `talkturo-operator`, remembered until the cache shows them),
//! PhoneNumber creation, deletion and finalizers, the claim's ConfigMap, the class's Secret,
//! Events, a rolled workload's annotation, and the purchase, assignment and release calls. Nothing here decides: each function
//! does what it is told and reports what came back.

pub mod budget;
pub mod config_map;
pub mod fresh;
pub mod kube;
pub mod lease;
pub mod objects;
pub mod secret;
pub mod status;
pub mod talkturo;
pub mod workload;
pub mod writes;
