use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::controller::shard::{Held, ShardConfig, Shards};

/// Shards holding `class` for an hour, through a client that is never called.
fn holding(class: &str) -> anyhow::Result<Arc<Shards>> {
    let config = kube::Config::new("http://127.0.0.1:9".parse()?);
    let shards = Shards::new(
        kube::Client::try_from(config)?,
        ShardConfig {
            identity: "replica-a".into(),
            namespace: "operator".into(),
            prefix: "talkturo".into(),
            duration: Duration::from_secs(15),
            margin: Duration::from_secs(2),
        },
    );
    let held = Held {
        valid_until: Instant::now() + Duration::from_secs(3600),
        draining: None,
        in_flight: 0,
    };
    shards.lock().insert(class.to_owned(), held);
    Ok(shards)
}

#[tokio::test]
async fn a_class_s_work_may_write_until_its_lease_lapses() -> anyhow::Result<()> {
    let shards = holding("gold")?;
    let guard = shards.serve("gold").ok_or(anyhow::anyhow!("not served"))?;
    let lapsed = serving(Some(guard), async {
        assert!(may_write(), "while the Lease is held");
        // Frozen past the Lease: resumed, the process's own clock says it has lapsed.
        if let Some(h) = shards.lock().get_mut("gold") {
            h.valid_until = Instant::now();
        }
        may_write()
    })
    .await;
    assert!(!lapsed, "after the Lease lapsed");
    Ok(())
}

#[tokio::test]
async fn work_of_no_class_is_never_fenced() -> anyhow::Result<()> {
    assert!(may_write(), "outside any reconcile");
    assert!(serving(None, async { may_write() }).await);
    let shards = holding("gold")?;
    let guard = shards.serve("gold").ok_or(anyhow::anyhow!("not served"))?;
    if let Some(h) = shards.lock().get_mut("gold") {
        h.valid_until = Instant::now();
    }
    // Another task than the class's work: its own writes (Leases, labels) are not the class's.
    let other = tokio::spawn(async { may_write() });
    assert!(!serving(Some(guard), async { may_write() }).await);
    assert!(other.await?);
    Ok(())
}
