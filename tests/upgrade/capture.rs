//! Making a release's upgrade fixture (`make upgrade-fixture VERSION=x.y.z [OPERATOR=bin]
//! [CRDS=dir]`): that release's operator binary, on a fresh control plane with that release's
//! CRDs and today's simulator, provisions a small but complete installation (a default class
//! with assistants, ConfigMap outputs, a namespace budget and an imported number; a free team's
//! trial number under `onExpiry: Replace`), and what it wrote is saved in
//! `tests/upgrade/<version>/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, ListParams, PostParams};
use serde_json::{Value, json};
use talkturo_sim::{SimConfig, SimServer};
use talkturo_testenv::{Binaries, ControlPlane};

use super::fixture;
use crate::support::OperatorProcess;

const NS: &str = "shop";

/// The simulator the fixture's installation ran against: one account, a paid team and a free
/// one, two assistants, trials valid 30 days.
fn simulator() -> SimConfig {
    let yaml = r"
seed: 42
activationDelayMs: 300
trialDurationSecs: 2592000
releaseEnabled: true
accounts:
  - slug: demo
    accountId: acct_demo
    tokens: [tk_upgrade_token]
    teams:
      - {id: team_paid, subscribed: true, maxNumbers: 50}
      - {id: team_free, subscribed: false}
    assistants:
      - {id: asst_sales, name: Sales Agent}
      - {id: asst_support, name: Support Agent}
";
    SimConfig::from_yaml(yaml).unwrap()
}

/// The installation, as a user of the release would have applied it.
fn manifests(base_url: &str) -> Vec<Value> {
    let secret_ref =
        json!({"namespace": "talkturo-system", "name": "talkturo-api-key", "key": "apiKey"});
    let class = |name: &str, team: &str, extra: Value| {
        let mut spec = json!({"apiBaseUrl": base_url, "teamId": team, "accountSlug": "demo",
            "apiKeySecretRef": secret_ref, "syncInterval": "10s", "reclaimPolicy": "Release"});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClass",
            "metadata": {"name": name}, "spec": spec})
    };
    let claim = |name: &str, spec: Value| {
        json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClaim",
            "metadata": {"name": name, "namespace": NS}, "spec": spec})
    };
    let mut standard = class(
        "standard",
        "team_paid",
        json!({"importUnmanaged": true, "maxMonthlyPrice": "5.00", "monthlyBudget": "50.00"}),
    );
    standard["metadata"]["annotations"] = json!({"telephony.talkturo.ai/is-default-class": "true"});
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "talkturo-system"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS,
            "annotations": {"telephony.talkturo.ai/monthly-budget": "40.00"}}}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "talkturo-api-key", "namespace": "talkturo-system"},
            "stringData": {"apiKey": "tk_upgrade_token"}}),
        standard,
        class(
            "trial",
            "team_free",
            json!({"trial": {"warnBefore": "72h", "onExpiry": "Replace"}}),
        ),
        claim(
            "sales",
            json!({"className": "standard", "countryCode": "US", "areaCode": "415",
                "assistantId": "asst_sales", "configMapName": "sales-phone"}),
        ),
        claim(
            "support",
            json!({"className": "standard", "countryCode": "US", "assistantId": "asst_support"}),
        ),
        claim(
            "backoffice",
            json!({"countryCode": "US", "numberType": "toll-free"}),
        ),
        claim(
            "web",
            json!({"className": "standard", "countryCode": "GB", "configMapName": "web-phone"}),
        ),
        claim(
            "hotline",
            json!({"className": "trial", "countryCode": "US", "configMapName": "hotline-phone"}),
        ),
    ]
}

#[tokio::test]
#[ignore = "makes a release's upgrade fixture: make upgrade-fixture VERSION=x.y.z"]
async fn capture_fixture() {
    let version = std::env::var("UPGRADE_VERSION").expect("UPGRADE_VERSION (e.g. 0.2.0)");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let operator = set("UPGRADE_OPERATOR").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_talkturo-operator")),
        PathBuf::from,
    );
    let crds = set("UPGRADE_CRDS").map_or_else(|| root.join("crds"), PathBuf::from);
    let out = root.join("tests/upgrade").join(&version);
    let binaries = Binaries::locate().unwrap();
    let dir = std::env::temp_dir().join(format!("talkturo-capture-{}", std::process::id()));
    let plane = ControlPlane::start_with(&binaries, &dir, &[])
        .await
        .unwrap();
    let client = kube::Client::try_from(plane.config().await.unwrap()).unwrap();
    fixture::install_crds_as_helm(&client, &crds).await;
    let sim = SimServer::start(simulator()).await.unwrap();
    for m in manifests(&sim.base_url()) {
        fixture::api(&client, &m)
            .create(
                &PostParams::default(),
                &serde_json::from_value(m.clone()).unwrap(),
            )
            .await
            .unwrap();
    }
    let imported = {
        let mut world = sim.sim.world();
        let number = world.offered_in("212").into_iter().next().unwrap();
        let now = world.now();
        world
            .import("team_paid", &number, Some("asst_support".into()), now)
            .unwrap();
        number
    };
    let port = crate::support::free_port().to_string();
    let admin = format!("127.0.0.1:{port}");
    let mut op = OperatorProcess::spawn_bin(
        &operator,
        plane.kubeconfig_path(),
        &format!("capture-{version}"),
        &["--leader-election=false", "--admin-addr", &admin],
    );
    settled(&client, &imported).await;
    op.terminate();
    let _ = op.child.wait();
    write(&out, &crds, &client, &sim).await;
    eprintln!(
        "wrote {} (operator log: {})",
        out.display(),
        op.log.display()
    );
}

/// Until every claim is Bound and assigned as asked, every ConfigMap written and the imported
/// number represented, then 15 s more for the operator to finish its writes.
async fn settled(client: &kube::Client, imported: &str) {
    let claims = dynamic(client, "PhoneNumberClaim", Some(NS));
    let numbers = dynamic(client, "PhoneNumber", None);
    let started = Instant::now();
    loop {
        let cs = claims.list(&ListParams::default()).await.unwrap().items;
        let ns = numbers.list(&ListParams::default()).await.unwrap().items;
        let bound = cs.len() == 5
            && cs.iter().all(|c| {
                let s = &c.data["status"];
                s["phase"] == "Bound"
                    && (c.data["spec"]["assistantId"].is_null()
                        || s["assistantId"] == c.data["spec"]["assistantId"])
            });
        let outputs =
            ["sales-phone", "web-phone", "hotline-phone"].len() == configmaps(client).await.len();
        let import = ns.iter().any(|n| n.data["spec"]["number"] == imported);
        if bound && outputs && import {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not settled: {:?}",
            cs.iter().map(|c| &c.data["status"]).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
}

fn dynamic(client: &kube::Client, kind: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let obj = json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": kind,
        "metadata": {"namespace": ns}});
    fixture::api(client, &obj)
}

/// The ConfigMaps the operator wrote (owned by a claim).
async fn configmaps(client: &kube::Client) -> Vec<Value> {
    let api: Api<DynamicObject> = fixture::api(
        client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": NS}}),
    );
    let items = api.list(&ListParams::default()).await.unwrap().items;
    items
        .into_iter()
        .filter(|c| c.metadata.owner_references.is_some())
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap();
            v["apiVersion"] = json!("v1");
            v["kind"] = json!("ConfigMap");
            v
        })
        .collect()
}

/// objects.yaml (in creation order, metadata trimmed to what a user or the operator set),
/// simulator.yaml, records.json and the CRDs.
async fn write(out: &Path, crds: &Path, client: &kube::Client, sim: &SimServer) {
    std::fs::create_dir_all(out.join("crds")).unwrap();
    for e in std::fs::read_dir(crds).unwrap().flatten() {
        std::fs::copy(e.path(), out.join("crds").join(e.file_name())).unwrap();
    }
    let mut objects = Vec::new();
    for m in manifests("") {
        let kind = m["kind"].as_str().unwrap();
        if kind == "PhoneNumberClaim" {
            continue; // listed below, with the PhoneNumbers after them
        }
        let api = fixture::api(client, &m);
        let name = m["metadata"]["name"].as_str().unwrap();
        objects.push(trimmed(
            serde_json::to_value(api.get(name).await.unwrap()).unwrap(),
            &m,
        ));
    }
    for kind in ["PhoneNumberClaim", "PhoneNumber"] {
        let ns = (kind == "PhoneNumberClaim").then_some(NS);
        let mut items = dynamic(client, kind, ns)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let like = json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": kind});
        objects.extend(
            items
                .into_iter()
                .map(|o| trimmed(serde_json::to_value(o).unwrap(), &like)),
        );
    }
    let like = json!({"apiVersion": "v1", "kind": "ConfigMap"});
    objects.extend(
        configmaps(client)
            .await
            .into_iter()
            .map(|c| trimmed(c, &like)),
    );
    std::fs::write(
        out.join("objects.yaml"),
        serde_yaml::to_string(&objects).unwrap(),
    )
    .unwrap();
    std::fs::write(
        out.join("simulator.yaml"),
        serde_yaml::to_string(&simulator()).unwrap(),
    )
    .unwrap();
    let world = sim.sim.world();
    let records = json!({"capturedAt": world.now(), "baseUrl": sim.base_url(),
        "numbers": world.records().collect::<Vec<_>>()});
    std::fs::write(
        out.join("records.json"),
        serde_json::to_string_pretty(&records).unwrap() + "\n",
    )
    .unwrap();
}

/// `obj` as the release left it, with its field managers, uid and generation (the test maps the
/// latter two), without what the API server adds (resource version, creation time).
fn trimmed(mut obj: Value, like: &Value) -> Value {
    obj["apiVersion"] = like["apiVersion"].clone();
    obj["kind"] = like["kind"].clone();
    let meta = obj["metadata"].as_object_mut().unwrap();
    meta.retain(|k, _| {
        [
            "name",
            "namespace",
            "uid",
            "generation",
            "labels",
            "annotations",
            "finalizers",
            "ownerReferences",
            "managedFields",
        ]
        .contains(&k.as_str())
    });
    if obj["kind"] == "Namespace" {
        obj.as_object_mut().unwrap().remove("spec");
        obj.as_object_mut().unwrap().remove("status");
    }
    obj
}
