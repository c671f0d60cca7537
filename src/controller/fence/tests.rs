use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

/// A check whose answer the test sets.
fn lease() -> (Arc<AtomicBool>, Check) {
    let held = Arc::new(AtomicBool::new(true));
    let asked = held.clone();
    (held, Box::new(move || asked.load(Ordering::SeqCst)))
}

#[tokio::test]
async fn a_class_s_work_may_write_until_its_lease_lapses() {
    let (held, check) = lease();
    let lapsed = serving(Some(check), async {
        assert!(may_write(), "while the Lease is held");
        // Frozen past the Lease: resumed, the process's own clock says it has lapsed.
        held.store(false, Ordering::SeqCst);
        may_write()
    })
    .await;
    assert!(!lapsed, "after the Lease lapsed");
}

#[tokio::test]
async fn work_of_no_class_is_never_fenced() -> anyhow::Result<()> {
    assert!(may_write(), "outside any reconcile");
    assert!(serving(None, async { may_write() }).await);
    let (held, check) = lease();
    held.store(false, Ordering::SeqCst);
    // Another task than the class's work: its own writes (Leases, labels) are not the class's.
    let other = tokio::spawn(async { may_write() });
    assert!(!serving(Some(check), async { may_write() }).await);
    assert!(other.await?);
    Ok(())
}
