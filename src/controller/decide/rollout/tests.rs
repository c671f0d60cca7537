//! Which ConfigMaps a pod reads, which count, and the hash of what they hold.

use serde_json::json;

use super::*;

fn pod(spec: serde_json::Value) -> PodSpec {
    serde_json::from_value(spec).unwrap_or_default()
}

#[test]
fn every_way_a_pod_reads_a_config_map_is_found() {
    let spec = pod(json!({
        "initContainers": [{"name": "init", "envFrom": [{"configMapRef": {"name": "init-cm"}}]}],
        "containers": [{
            "name": "app",
            "envFrom": [{"configMapRef": {"name": "phone"}}, {"secretRef": {"name": "not-a-cm"}}],
            "env": [{"name": "N", "valueFrom": {"configMapKeyRef": {"name": "keyed", "key": "PHONE_NUMBER"}}},
                    {"name": "PLAIN", "value": "x"}],
        }],
        "volumes": [
            {"name": "v", "configMap": {"name": "mounted"}},
            {"name": "p", "projected": {"sources": [{"configMap": {"name": "projected"}}, {"secret": {"name": "s"}}]}},
            {"name": "e", "emptyDir": {}},
        ],
    }));
    let names: Vec<String> = config_maps_read(&spec).into_iter().collect();
    assert_eq!(names, ["init-cm", "keyed", "mounted", "phone", "projected"]);
}

fn cm(name: &str, owner_uid: Option<&str>, number: &str) -> ConfigMap {
    let owners = owner_uid.map(|uid| {
        json!([{"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClaim",
            "name": "line", "uid": uid, "controller": true}])
    });
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "team-a", "ownerReferences": owners},
        "data": {"PHONE_NUMBER": number, "PHONE_NUMBER_ID": format!("pn_{number}")},
    }))
    .unwrap_or_default()
}

#[test]
fn only_a_config_map_a_claim_of_the_namespace_controls_counts() {
    let claim = PhoneNumberClaim::test()
        .with(json!({"metadata": {"uid": "uid-line"}}))
        .build();
    let claims = [&claim];
    let ours = read(&cm("phone", Some("uid-line"), "+14155550100"), &claims);
    assert_eq!(
        ours,
        Some(NumberRead {
            config_map: "phone".into(),
            claim: "line".into(),
            number: "+14155550100".into(),
            id: "pn_+14155550100".into(),
        })
    );
    assert_eq!(read(&cm("phone", None, "+1"), &claims), None, "no owner");
    assert_eq!(
        read(&cm("phone", Some("uid-elsewhere"), "+1"), &claims),
        None,
        "a look-alike: owned by a claim of the same name but another uid"
    );
}

#[test]
fn the_hash_follows_numbers_and_ids_not_order() {
    let r = |cm: &str, number: &str, id: &str| NumberRead {
        config_map: cm.into(),
        claim: "c".into(),
        number: number.into(),
        id: id.into(),
    };
    let a = numbers_hash(&[r("a", "+1", "pn_1"), r("b", "+2", "pn_2")]);
    assert_eq!(a.len(), 32);
    assert_eq!(
        a,
        numbers_hash(&[r("b", "+2", "pn_2"), r("a", "+1", "pn_1")])
    );
    assert_ne!(
        a,
        numbers_hash(&[r("a", "+1", "pn_1"), r("b", "+3", "pn_2")])
    );
    assert_ne!(
        a,
        numbers_hash(&[r("a", "+1", "pn_1"), r("b", "+2", "pn_9")])
    );
    // Field boundaries count: "ab"+"c" is not "a"+"bc".
    assert_ne!(
        numbers_hash(&[r("ab", "+1", "pn")]),
        numbers_hash(&[r("a", "b+1", "pn")])
    );
}

#[test]
fn a_deployment_has_rolled_out_when_every_replica_runs_the_latest_template() {
    let d = |generation: i64, observed: i64, (replicas, updated, available): (i32, i32, i32)| {
        serde_json::from_value::<Deployment>(json!({
            "metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": observed, "replicas": replicas,
                "updatedReplicas": updated, "availableReplicas": available},
        }))
        .unwrap_or_default()
    };
    assert!(d(3, 3, (2, 2, 2)).rolled_out());
    assert!(!d(3, 2, (2, 2, 2)).rolled_out(), "not observed yet");
    assert!(!d(3, 3, (3, 2, 2)).rolled_out(), "an old pod still runs");
    assert!(!d(3, 3, (2, 2, 1)).rolled_out(), "a new pod not available");
}
