//! The caches' initial lists against an API server without streaming lists (`WatchList` turned
//! off, as on Kubernetes before 1.32 or where an administrator disabled it): the probe says so,
//! and the operator falls back to list calls and provisions as usual. (Every other test binary
//! runs against an API server that streams them.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::operator::{Fixture, start_operator};
use talkturo_operator::api::v1alpha1::ClaimPhase;
use talkturo_operator::controller::run::streams_lists;

fn env() -> Option<&'static support::TestEnv> {
    support::env_with(&["--feature-gates=WatchList=false"])
}

#[tokio::test]
async fn without_streaming_lists_the_operator_lists_and_provisions() {
    let Some(env) = env() else { return };
    assert!(
        !streams_lists(&env.client()).await,
        "the probe must see that this API server does not stream initial lists"
    );
    start_operator(env);
    let f = Fixture::new(env, "nostream", |_| {}, json!({})).await;
    f.claim("a", json!({"countryCode": "US", "areaCode": "415"}))
        .await;
    let claim = f.wait_bound("a", Duration::from_secs(60)).await;
    let status = claim.status.unwrap();
    assert_eq!(status.phase, Some(ClaimPhase::Bound));
    assert!(status.number.unwrap().starts_with("+1415"));
}
