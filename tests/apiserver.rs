//! The CRDs against a real kube-apiserver (built from source, started on loopback by the
//! harness): examples accepted, invalid objects rejected with their message, the status
//! subresource, and what `kubectl explain` and `kubectl get` show.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::discovery::Scope;
use serde_json::{Value, json};
use support::cases;
use talkturo_operator::api::v1alpha1::{PhoneNumberClaim, PhoneNumberClaimStatus};

/// The dynamic API for an object's kind, in `ns` when the kind is namespaced.
async fn api_for(client: &kube::Client, obj: &Value, ns: &str) -> Api<DynamicObject> {
    let (group, version) = match obj["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (
            String::new(),
            obj["apiVersion"].as_str().unwrap().to_owned(),
        ),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, obj["kind"].as_str().unwrap());
    let (ar, caps): (ApiResource, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or(ns);
    match caps.scope {
        Scope::Namespaced => Api::namespaced_with(client.clone(), ns, &ar),
        Scope::Cluster => Api::all_with(client.clone(), &ar),
    }
}

fn dynamic(obj: &Value) -> DynamicObject {
    serde_json::from_value(obj.clone()).unwrap()
}

async fn ensure_namespace(client: &kube::Client, name: &str) {
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    match nss.create(&PostParams::default(), &ns).await {
        Ok(_) | Err(kube::Error::Api(_)) => {}
        Err(e) => panic!("creating namespace {name}: {e}"),
    }
}

#[tokio::test]
async fn every_example_is_accepted_by_the_apiserver() {
    let Some(env) = support::env() else { return };
    let (client, ns) = env.namespace("examples").await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let mut accepted = 0;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let obj: Value = serde::Deserialize::deserialize(doc).unwrap();
            if let Some(target) = obj["metadata"]["namespace"].as_str() {
                ensure_namespace(&client, target).await;
            }
            let api = api_for(&client, &obj, &ns).await;
            if let Err(e) = api.create(&dry_run, &dynamic(&obj)).await {
                panic!(
                    "{}: {} {} was rejected: {e}",
                    path.display(),
                    obj["kind"],
                    obj["metadata"]["name"]
                );
            }
            accepted += 1;
        }
    }
    assert!(accepted >= 5, "only {accepted} objects in examples/");
}

/// Gives cluster-scoped test objects names of their own, so concurrent tests never collide.
fn uniquely_named(case: &cases::Case, i: usize, ns: &str) -> (Value, Option<Value>) {
    let rename = |v: &Value| {
        let mut v = v.clone();
        match v["kind"].as_str().unwrap() {
            "PhoneNumber" if case.old.is_some() => {
                // Valid numbers must keep the tel-<digits> naming rule.
                let digits = format!(
                    "1415{:07}",
                    (std::process::id() as usize * 31 + i) % 10_000_000
                );
                v["metadata"]["name"] = json!(format!("tel-{digits}"));
                v["spec"]["number"] = json!(format!("+{digits}"));
            }
            "PhoneNumber" => {}
            _ => v["metadata"]["name"] = json!(format!("case-{i}-{ns}")),
        }
        v
    };
    (rename(&case.obj), case.old.as_ref().map(rename))
}

#[tokio::test]
async fn invalid_objects_are_rejected_by_the_apiserver_with_the_expected_message() {
    let Some(env) = support::env() else { return };
    let (client, ns) = env.namespace("invalid").await;
    let mut failures = Vec::new();
    let all = cases::invalid();
    assert!(all.len() >= 12, "the table needs at least 12 cases");
    for (i, case) in all.iter().enumerate() {
        let (obj, old) = uniquely_named(case, i, &ns);
        let api = api_for(&client, &obj, &ns).await;
        let result = match old {
            None => api.create(&PostParams::default(), &dynamic(&obj)).await,
            Some(old) => {
                let created = api
                    .create(&PostParams::default(), &dynamic(&old))
                    .await
                    .unwrap_or_else(|e| panic!("{}: the old object was rejected: {e}", case.name));
                let mut new = dynamic(&obj);
                new.metadata.resource_version = created.metadata.resource_version;
                api.replace(
                    &created.metadata.name.clone().unwrap(),
                    &PostParams::default(),
                    &new,
                )
                .await
            }
        };
        match result {
            Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains(&case.server) => {}
            Err(e) => failures.push(format!(
                "{}: expected 422 containing {:?}, got {e}",
                case.name, case.server
            )),
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_status_subresource_is_separate_from_the_spec() {
    let Some(env) = support::env() else { return };
    let (client, ns) = env.namespace("status").await;
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client, &ns);
    let claim: PhoneNumberClaim = serde_json::from_value(cases::claim(
        json!({"countryCode": "US", "areaCode": "415"}),
    ))
    .unwrap();
    let created = claims.create(&PostParams::default(), &claim).await.unwrap();
    assert_eq!(
        created.spec.number_type.as_str(),
        "local",
        "defaults are applied"
    );
    assert_eq!(created.spec.features, ["voice"]);
    let generation = created.metadata.generation;

    // A status write changes status only, and does not bump the generation.
    let pp = PatchParams::default();
    let status = json!({"status": {"phase": "Bound", "number": "+14155550101"}, "spec": {"assistantId": "asst_sneaky"}});
    let after = claims
        .patch_status("c", &pp, &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(
        after.status.as_ref().and_then(|s| s.number.as_deref()),
        Some("+14155550101")
    );
    assert_eq!(
        after.spec.assistant_id, None,
        "spec must not change through /status"
    );
    assert_eq!(after.metadata.generation, generation);

    // A spec write ignores status, and bumps the generation.
    let spec = json!({"spec": {"assistantId": "asst_1"}, "status": {"phase": "Lost"}});
    let after = claims.patch("c", &pp, &Patch::Merge(&spec)).await.unwrap();
    assert_eq!(after.spec.assistant_id.as_deref(), Some("asst_1"));
    assert_eq!(
        after
            .status
            .and_then(|s| s.phase)
            .map(|p| format!("{p:?}"))
            .as_deref(),
        Some("Bound")
    );
    assert_eq!(after.metadata.generation, generation.map(|g| g + 1));
}

#[tokio::test]
async fn kubectl_explain_shows_the_field_docs() {
    let Some(env) = support::env() else { return };
    let out = env.kubectl(&["explain", "phonenumberclaim.spec.areaCode"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl explain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Three-digit area code"), "{text}");
    let out = env.kubectl(&["explain", "pnclass.spec.trial.onExpiry"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("buy a paid"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn kubectl_get_shows_the_printer_columns() {
    let Some(env) = support::env() else { return };
    let (client, ns) = env.namespace("columns").await;
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client, &ns);
    let claim: PhoneNumberClaim = serde_json::from_value(cases::claim(
        json!({"countryCode": "US", "className": "standard"}),
    ))
    .unwrap();
    claims.create(&PostParams::default(), &claim).await.unwrap();
    let status = PhoneNumberClaimStatus {
        phase: Some(talkturo_operator::api::v1alpha1::ClaimPhase::Bound),
        number: Some("+14155550101".into()),
        assistant_id: Some("asst_1".into()),
        // The class column shows the class in use (here as the operator would resolve it).
        class_name: Some("standard".into()),
        ..Default::default()
    };
    claims
        .patch_status(
            "c",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .unwrap();

    let out = env.kubectl(&["get", "pnc", "-n", &ns]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "PHASE",
            "NUMBER",
            "CLASS",
            "ASSISTANT",
            "READY",
            "AGE"
        ],
        "{text}"
    );
    let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..5],
        ["c", "Bound", "+14155550101", "standard", "asst_1"],
        "{text}"
    );

    let out = env.kubectl(&["get", "talkturo", "-n", &ns, "-o", "name"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("phonenumberclaim.telephony.talkturo.ai/c"),
        "category talkturo"
    );
}

/// The API server of the test environment (Kubernetes 1.34) streams initial lists, so the
/// operator's caches start with a watch and no list call (`tests/initial_list.rs` covers a server
/// that does not).
#[tokio::test]
async fn the_apiserver_streams_initial_lists() {
    let Some(env) = support::env() else { return };
    assert!(talkturo_operator::controller::run::streams_lists(&env.client()).await);
}

#[tokio::test]
async fn a_class_that_owns_numbers_keeps_its_team_and_account() {
    let Some(env) = support::env() else { return };
    let client = env.client();
    let classes: Api<talkturo_operator::api::v1alpha1::PhoneNumberClass> = Api::all(client);
    let mut obj = cases::class(json!({}));
    obj["metadata"]["name"] = json!("owns-numbers");
    let class = serde_json::from_value(obj).unwrap();
    let _ = classes.delete("owns-numbers", &Default::default()).await;
    classes
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    let change = |team: &str| {
        Patch::Merge(json!({"spec": {"teamId": team, "accountSlug": format!("{team}-slug")}}))
    };
    // No numbers yet: the account may still be corrected.
    classes
        .patch("owns-numbers", &PatchParams::default(), &change("team_2"))
        .await
        .unwrap();
    let totals = |n: i32| {
        Patch::Merge(
            json!({"status": {"totals": {"numbers": n, "bound": n, "available": 0, "trial": 0, "monthlyCost": "1.00"}}}),
        )
    };
    classes
        .patch_status("owns-numbers", &PatchParams::default(), &totals(2))
        .await
        .unwrap();
    let refused = classes
        .patch("owns-numbers", &PatchParams::default(), &change("team_3"))
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("teamId and accountSlug cannot change while the class owns numbers"),
        "{refused}"
    );
    // Other fields still change; and once it owns none, the account may change again.
    classes
        .patch(
            "owns-numbers",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"syncInterval": "2m"}})),
        )
        .await
        .unwrap();
    classes
        .patch_status("owns-numbers", &PatchParams::default(), &totals(0))
        .await
        .unwrap();
    classes
        .patch("owns-numbers", &PatchParams::default(), &change("team_3"))
        .await
        .unwrap();
    classes
        .delete("owns-numbers", &Default::default())
        .await
        .unwrap();
}

/// The control plane is handed out (and `make cluster` prints its KUBECONFIG line) only once
/// the API server's `/readyz` says `ok`: every post-start hook, the bootstrap RBAC roles
/// included, has run.
#[tokio::test]
async fn the_control_plane_is_ready_when_it_is_handed_out() {
    let Some(env) = support::env() else { return };
    let request = http::Request::get("/readyz?verbose")
        .body(Vec::new())
        .unwrap();
    let body = env.client().request_text(request).await.unwrap();
    assert!(
        body.contains("[+]poststarthook/rbac/bootstrap-roles ok"),
        "{body}"
    );
    assert!(body.trim_end().ends_with("readyz check passed"), "{body}");
}

/// Deleting a PhoneNumber: only NotFound means it is already gone; a refusal (403) is the step's
/// error, never taken for success.
#[tokio::test]
async fn deleting_a_phone_number_takes_only_not_found_for_already_gone() {
    use talkturo_operator::api::v1alpha1::PhoneNumber;
    use talkturo_operator::controller::Error;
    use talkturo_operator::controller::io::objects::delete_with;
    let Some(env) = support::env() else { return };
    let admin = env.client();
    let pn: PhoneNumber = serde_json::from_value(json!({
        "apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumber",
        "metadata": {"name": "tel-15550009991"},
        "spec": {"number": "+15550009991", "className": "delete-test", "managementPolicy": "ObserveOnly"},
    }))
    .unwrap();
    let api: Api<PhoneNumber> = Api::all(admin.clone());
    api.create(&PostParams::default(), &pn).await.unwrap();
    // A user the API server gives no right to delete it: 403, an error naming the step.
    let nobody: Api<PhoneNumber> = Api::all(support::tenants::client_as(env, "nobody"));
    let refused = delete_with(&nobody, "tel-15550009991", "deleting a test PhoneNumber").await;
    match refused {
        Err(Error::Kube {
            step,
            source: kube::Error::Api(s),
        }) => {
            assert_eq!((step, s.code), ("deleting a test PhoneNumber", 403));
        }
        other => panic!("a refused deletion must be an error, got {other:?}"),
    }
    assert!(
        api.get_opt("tel-15550009991").await.unwrap().is_some(),
        "still there"
    );
    // Deleted, then deleted again: the second finds it gone (404) and that is success.
    delete_with(&api, "tel-15550009991", "deleting")
        .await
        .unwrap();
    delete_with(&api, "tel-15550009991", "deleting")
        .await
        .unwrap();
    assert!(api.get_opt("tel-15550009991").await.unwrap().is_none());
}
