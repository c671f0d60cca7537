//! A replica stopping: its classes handed over, then its member Lease removed.

use std::time::{Duration, Instant};

use super::Shards;
use super::io;

impl Shards {
    /// Stops: every class handed over once its work is done (waiting at most `patience`), then
    /// this member's Lease removed, so that the others take over at once.
    pub async fn stop(&self, patience: Duration) {
        let started = Instant::now();
        loop {
            let busy = self.lock().values_mut().fold(false, |busy, h| {
                h.draining.get_or_insert_with(Instant::now);
                busy || h.in_flight > 0
            });
            if !busy || started.elapsed() > patience {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let classes: Vec<String> = self.lock().keys().cloned().collect();
        for class in classes {
            let name = io::class_lease_name(&self.config.prefix, &class);
            if let Err(e) = io::release(&self.api, &name, &self.config.identity, None).await {
                tracing::warn!(class, error = %e, "could not release the class Lease; it expires");
            }
        }
        self.lock().clear();
        if let Err(e) = io::remove(&self.api, &self.member_name()).await {
            tracing::warn!(error = %e, "could not remove this replica's member Lease; it expires");
        }
    }
}
