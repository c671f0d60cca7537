//! What the active-active tests share: a replica process, who holds each class Lease, and
//! waiting for a spread.

#![allow(dead_code)]

use std::time::Duration;

use crate::support::operator::Fixture;

#[path = "../leases/class_leases.rs"]
mod class_leases;
use crate::support::{self, OperatorProcess};
#[allow(unused_imports)] // (each test binary uses its own part)
pub use class_leases::{first_acquired_by, holders};

pub const LEASE_SECS: &str = "6";

pub fn replica(
    env: &support::TestEnv,
    lease_ns: &str,
    identity: &str,
    port: u16,
) -> OperatorProcess {
    let admin = format!("127.0.0.1:{port}");
    OperatorProcess::spawn(
        env,
        identity,
        &[
            "--shard-by-class=true",
            "--identity",
            identity,
            "--lease-namespace",
            lease_ns,
            "--lease-duration-secs",
            LEASE_SECS,
            "--admin-addr",
            &admin,
            "--fast-sync-secs",
            "1",
            "--purchase-grace-secs",
            "1",
            "--retry-base-secs",
            "1",
        ],
    )
}

pub async fn spread(
    client: &kube::Client,
    ns: &str,
    fixtures: &[Fixture],
    want: &[(&str, usize)],
) -> std::collections::BTreeMap<String, String> {
    let started = std::time::Instant::now();
    loop {
        let h = holders(client, ns).await;
        let ours: Vec<&String> = fixtures.iter().filter_map(|f| h.get(&f.class)).collect();
        let ok = ours.len() == fixtures.len()
            && want
                .iter()
                .all(|(who, n)| ours.iter().filter(|h| h.as_str() == *who).count() == *n);
        if ok {
            // Every class held, as wanted (a single read could catch one between holders: a
            // handover clears the holder before the next takes it).
            return h;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "class Leases {h:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
