//! What each replica caches, and the class label that decides it.

use std::time::Duration;

use kube::api::{Api, PostParams};
use serde_json::json;
use talkturo_operator::api::v1alpha1::{ClaimPhase, PhoneNumberClaim};

use crate::support::operator::{Fixture, wait};

/// One series of a replica's `/metrics`.
async fn metric(port: u16, name: &str) -> Option<f64> {
    let r = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    let text = r.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Each replica (by admin port) caches exactly `claims` claims and `numbers` PhoneNumbers: those
/// of the classes it holds, none of the others'.
pub async fn caches_hold(want: &[(u16, f64, f64)]) {
    let started = std::time::Instant::now();
    loop {
        let mut seen = Vec::new();
        for (port, _, _) in want {
            let claims = metric(*port, "talkturo_operator_cached_claims").await;
            let numbers = metric(*port, "talkturo_operator_cached_phone_numbers").await;
            let awaiting = metric(*port, "talkturo_operator_claims_awaiting_label").await;
            seen.push((*port, claims, numbers, awaiting));
        }
        // Settled: no claim here waits for its label.
        let ok = want.iter().zip(&seen).all(|((_, c, n), (_, sc, sn, sa))| {
            *sc == Some(*c) && *sn == Some(*n) && *sa == Some(0.0)
        });
        if ok {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "cached (port, claims, numbers, awaiting a label): {seen:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A claim labelled with another class, and one labelled with a class that does not exist, are
/// relabelled to the class serving them (by the other class's holder, by the router's) and
/// bound there: a label is corrected, never obeyed.
pub async fn wrong_labels_are_corrected(own: &Fixture, other: &Fixture) {
    let claims: Api<PhoneNumberClaim> = Api::namespaced(own.client.clone(), &own.ns);
    for (name, label) in [
        ("mislabelled", other.class.as_str()),
        ("unknown", "no-such-class"),
    ] {
        let obj: PhoneNumberClaim = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"telephony.talkturo.ai/class": label}},
            "spec": {"className": own.class, "countryCode": "US"}}))
        .unwrap();
        claims.create(&PostParams::default(), &obj).await.unwrap();
    }
    for name in ["mislabelled", "unknown"] {
        let c = wait(&claims, name, Duration::from_secs(60), |c| {
            c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound)
        })
        .await;
        let label = c.metadata.labels.unwrap_or_default();
        assert_eq!(
            label.get("telephony.talkturo.ai/class"),
            Some(&own.class),
            "{name}"
        );
    }
}
