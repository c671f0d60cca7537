//! The three reconcilers, each observe → decide → act: read the object and what it depends on
//! from the caches (and the account's list), decide with `decide`, carry the decision out with
//! `io`, and write the object's status once.

pub mod claim;
pub mod class;
pub mod number;
pub mod workload;
