//! Why a claim waits: the value every claim gate returns when it stops provisioning.

use std::time::Duration;

/// Why a claim waits, for its `Ready` condition and an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub reason: &'static str,
    pub message: String,
    pub requeue: Duration,
    /// Over within seconds on its own (offers held by purchases in flight): a claim created
    /// moments ago just looks again, without writing the wait into its status.
    pub transient: bool,
}

impl Pending {
    pub fn new(reason: &'static str, message: impl Into<String>, requeue: Duration) -> Self {
        Self {
            reason,
            message: message.into(),
            requeue,
            transient: false,
        }
    }

    /// The same wait, marked as over within seconds on its own.
    pub fn transient(self) -> Self {
        Self {
            transient: true,
            ..self
        }
    }
}
