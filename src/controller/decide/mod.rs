//! Every decision the controllers make, as pure functions: the object, what was observed and the
//! time go in; a value (a plan, a status, a condition, an Event to publish) comes out. Nothing
//! here is async, holds a client or a `Context`, or reads the clock, so every rule is tested by
//! table, without an API server (`tests/architecture.rs` keeps it so).

pub mod assign;
pub mod budget;
pub mod campaign;
pub mod choose;
pub mod claim;
pub mod claim_policy;
pub mod claim_status;
pub mod class;
pub mod conditions;
pub mod config_map;
pub mod events;
pub mod figures;
pub mod freshness;
pub mod gates;
pub mod hold;
pub mod money;
pub mod number;
pub mod number_status;
pub mod pending;
pub mod purchase;
pub mod reclaim;
pub mod requeue;
pub mod rollout;
pub mod selection;
pub mod shard;
pub mod snapshot;
pub mod tenancy;
pub mod time;
pub mod trial;
pub mod wake;
