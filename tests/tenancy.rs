//! Tenants are untrusted: through a claim, an app team gets a number and, if it asks, a ConfigMap
//! the operator creates for it — never write access to objects it could not write itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::TestEnv;
use support::operator::{Fixture, claim_condition, start_operator};
use talkturo_operator::api::v1alpha1::PhoneNumberClaim;

const T: Duration = Duration::from_secs(60);

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    start_operator(env);
    Some(env)
}

fn config_map_says(reason: &'static str) -> impl Fn(&PhoneNumberClaim) -> bool {
    move |c| claim_condition(c, "ConfigMap").is_some_and(|r| r.1 == reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_never_takes_over_a_config_map_it_did_not_create() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "cm-takeover", |_| {}, json!({})).await;
    let api: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns);
    // An app's own ConfigMap, and one a Helm release (another controller) owns.
    let app: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "app-config", "labels": {"app": "web"}},
        "data": {"DATABASE_URL": "postgres://db"}
    }))
    .unwrap();
    let app = api.create(&PostParams::default(), &app).await.unwrap();
    let owned: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "helm-owned", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
            "name": "web", "uid": "0b5c9e0e-0000-4000-8000-000000000001", "controller": true}]},
        "data": {"K": "v"}
    }))
    .unwrap();
    let owned = api.create(&PostParams::default(), &owned).await.unwrap();

    f.claim(
        "a",
        json!({"countryCode": "US", "configMapName": "app-config"}),
    )
    .await;
    f.claim(
        "h",
        json!({"countryCode": "US", "configMapName": "helm-owned"}),
    )
    .await;
    let a = f
        .wait_claim("a", T, config_map_says("ConfigMapConflict"))
        .await;
    let message = claim_condition(&a, "ConfigMap").unwrap().2.to_owned();
    assert!(message.contains("not created by the operator"), "{message}");
    assert_eq!(
        a.status.as_ref().unwrap().phase,
        Some(talkturo_operator::api::v1alpha1::ClaimPhase::Bound),
        "the number is bound all the same"
    );
    f.wait_claim("h", T, config_map_says("ConfigMapConflict"))
        .await;
    assert_eq!(
        f.event_reasons("PhoneNumberClaim", "a")
            .await
            .iter()
            .filter(|r| *r == "ConfigMapConflict")
            .count(),
        1,
        "one Warning"
    );

    // Left untouched, and no loop of attempts once the claims are settled.
    for c in ["a", "h"] {
        f.wait_claim(c, T, |c| {
            claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
        })
        .await;
    }
    let versions = (
        f.claims().get("a").await.unwrap().metadata.resource_version,
        f.claims().get("h").await.unwrap().metadata.resource_version,
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    for before in [&app, &owned] {
        let now = api
            .get(before.metadata.name.as_deref().unwrap())
            .await
            .unwrap();
        assert_eq!(
            now.metadata.resource_version,
            before.metadata.resource_version
        );
        assert_eq!(now.data, before.data);
    }
    assert_eq!(
        (
            f.claims().get("a").await.unwrap().metadata.resource_version,
            f.claims().get("h").await.unwrap().metadata.resource_version,
        ),
        versions,
        "no status rewrites"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_claims_naming_one_config_map_do_not_overwrite_each_other() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "cm-shared", |_| {}, json!({})).await;
    let api: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns);
    f.claim(
        "first",
        json!({"countryCode": "US", "configMapName": "phone"}),
    )
    .await;
    let first = f
        .wait_claim("first", T, config_map_says("ConfigMapWritten"))
        .await;
    let number = first.status.unwrap().number.unwrap();
    f.claim(
        "second",
        json!({"countryCode": "US", "configMapName": "phone"}),
    )
    .await;
    let second = f
        .wait_claim("second", T, config_map_says("ConfigMapConflict"))
        .await;
    let message = claim_condition(&second, "ConfigMap").unwrap().2.to_owned();
    assert!(
        message.contains("holds the number of claim first"),
        "{message}"
    );
    let cm = api.get("phone").await.unwrap();
    assert_eq!(cm.data.unwrap()["PHONE_NUMBER"], number);
    let owners = cm.metadata.owner_references.unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].name, "first");
    assert_eq!(second.status.unwrap().config_map_name, None);
}
