//! The fence on a class's writes. A reconcile runs inside [`serving`], with the check of the
//! class's Lease it serves under (`shard::Guard::check`); every write it makes to the API server
//! asks [`may_write`] first, as every Talkturo call asks the class's Lease. A replica frozen (or
//! starved) past its Lease resumes in the middle of a reconcile with what it read before: the
//! class's new holder may have written since, and a status written from the old reading would
//! put a stale truth back (a released number `Bound` again, a recorded id gone). Once the Lease
//! has lapsed, nothing more of that reconcile is written; the new holder settles what it left,
//! as after a crash.
//!
//! The check is made right before each write, with the Lease's margin to spare; a freeze
//! between the check and the write is what the margin (and, for the writes that carry one, the
//! resourceVersion precondition) is for.

use std::future::Future;

/// Whether the class's Lease is still held with the margin to spare.
pub type Check = Box<dyn Fn() -> bool + Send + Sync>;

tokio::task_local! {
    /// The check of the class whose reconcile runs on this task.
    static SERVING: Check;
}

/// Runs `work` as the work of the class `check` asks about (all of it without one: one replica
/// serving every class).
pub async fn serving<F: Future>(check: Option<Check>, work: F) -> F::Output {
    match check {
        Some(check) => SERVING.scope(check, work).await,
        None => work.await,
    }
}

/// Whether the work running now may still write: always outside a class's work; inside it,
/// while the class's Lease is held with the margin to spare.
pub fn may_write() -> bool {
    SERVING.try_with(|may| may()).unwrap_or(true)
}

#[cfg(test)]
#[path = "fence/tests.rs"]
mod tests;
