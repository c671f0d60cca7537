use super::*;

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
async fn a_guard_s_check_says_no_once_the_lease_is_within_its_margin_of_expiring()
-> anyhow::Result<()> {
    let shards = holding("gold")?;
    let guard = shards.serve("gold").ok_or(anyhow::anyhow!("not served"))?;
    let check = guard.check();
    assert!(check());
    // Frozen past the Lease: resumed, the process's own clock says it has lapsed.
    if let Some(h) = shards.lock().get_mut("gold") {
        h.valid_until = Instant::now() + Duration::from_secs(1);
    }
    assert!(!check(), "within the 2 s margin");
    drop(guard);
    assert_eq!(shards.lock().get("gold").map(|h| h.in_flight), Some(0));
    Ok(())
}
