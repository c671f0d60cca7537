//! The three controllers (PhoneNumberClass, PhoneNumberClaim, PhoneNumber) and what they share.
//!
//! # Layers
//!
//! - [`decide`]: every decision, pure. Inputs in (the object, what was observed, the time), a
//!   value out (a plan, a status, a condition, an Event to publish). No async, no client, no
//!   [`Context`], no clock: each rule is a table test.
//! - [`io`]: every call to Kubernetes and Talkturo, and nothing that decides.
//! - [`reconcile`]: one module per kind, each observe → decide → act, writing the object's
//!   status once per reconcile.
//! - [`account`]: the shared view of each class's Talkturo account (the list one call serves to
//!   every reconcile, searches, the plan limit, this process's purchase attempts).
//! - [`run`]: the runtime (caches, watches, the three controllers, leader election, the admin
//!   server), [`metrics`], and [`Context`], what every reconcile gets.
//!
//! # Dependency rules
//!
//! `decide` imports only `crate::api`, the Talkturo wire types and itself. `io` imports
//! `decide` (for the values it writes) and `account`; `account` imports `decide`. `reconcile`
//! imports `decide`, `io` and `account`, and no reconciler imports another. `run` imports
//! `reconcile`. No module imports its siblings around a circle. `tests/architecture.rs` fails when
//! `decide` names a client, `Context`, the clock or async code, when modules form a circle, and
//! when a file passes 400 lines; clippy (`clippy.toml`) holds functions to 80 lines and 6
//! arguments.
//!
//! # A purchase, end to end
//!
//! - **Decided** in [`reconcile::claim`]'s `choose`: the gates ([`decide::gates`]: tenant, class
//!   ready, plan limit, back-off, searchable), the search, the choice with the price caps
//!   ([`decide::choose`]) and the budgets ([`decide::budget`]), under the class's and the
//!   namespace's ledgers.
//! - **Recorded**: the claim's status carries the candidate (written once, at the claim's
//!   resourceVersion, by [`io::status::claim`]), then its PhoneNumber is created
//!   ([`io::objects::create`]).
//! - **Made** in [`reconcile::number`]'s `buy`, once [`decide::number::plan`] says `Buy` (the
//!   account's list does not show the number), by [`io::talkturo::purchase`].
//! - **Its status written** by [`io::status::number`] from [`decide::purchase`] (what the
//!   answer means), once per reconcile, in `reconcile::number`'s `finish`.
//!
//! ARCHITECTURE.md maps every protocol step to its function.

pub mod account;
mod context;
pub mod decide;
mod error;
pub mod fence;
#[cfg(test)]
pub mod fixtures;
pub mod index;
pub mod io;
mod metrics;
pub mod reconcile;
pub mod run;
pub mod shard;

pub use crate::api::class_label::CLASS_LABEL;
pub use context::{Config, Context, InitialList};
pub use decide::conditions;
pub use error::Error;
pub use metrics::{ClassFigures, Metrics};
pub use run::{RunOptions, run};

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "talkturo-operator";
/// Finalizer on managed PhoneNumbers: the object outlives an unsettled purchase.
pub const NUMBER_FINALIZER: &str = "telephony.talkturo.ai/number-protection";
/// Annotation on a PhoneNumber with the offer it was bought from (prices, features), written
/// by the claim controller when it records the intent to buy.
pub const OFFER_ANNOTATION: &str = "telephony.talkturo.ai/offer";

/// Read-only views of what the controllers decide, for `kubectl talkturo`.
pub mod preview {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use crate::api::v1alpha1::{PhoneNumberClaim, PhoneNumberClass};
    use crate::talkturo::{AvailableNumber, SearchFilters};

    pub use super::decide::class::NotReady;
    pub use super::io::secret::fetch_token;

    /// The class a claim would use (its `className` or the one default), or why none.
    pub fn class_of(
        claim: &PhoneNumberClaim,
        classes: &[Arc<PhoneNumberClass>],
    ) -> Result<Arc<PhoneNumberClass>, String> {
        super::decide::claim::resolve_class(claim, classes)
            .map_err(|p| format!("{}: {}", p.reason, p.message))
    }

    /// The search a claim's provisioning sends, or `None` when the claim cannot search.
    pub fn filters(claim: &PhoneNumberClaim) -> Option<SearchFilters> {
        super::decide::choose::filters(claim)
    }

    /// The acceptable candidates among `offers`, in the order provisioning would try them (the
    /// class's selection policy and the stricter price caps), or why there is none.
    pub fn candidates(
        claim: &PhoneNumberClaim,
        class: &PhoneNumberClass,
        offers: &[AvailableNumber],
    ) -> Result<Vec<AvailableNumber>, String> {
        let mut taken = BTreeSet::new();
        let mut out = Vec::new();
        loop {
            match super::decide::choose::choose(claim, class, offers, &taken) {
                Ok(pick) => {
                    taken.insert(pick.phone_number.clone());
                    out.push(pick);
                }
                Err(p) if out.is_empty() => return Err(format!("{}: {}", p.reason, p.message)),
                Err(_) => return Ok(out),
            }
        }
    }
}
