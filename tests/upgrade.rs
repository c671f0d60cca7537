//! Upgrading from every earlier release (`tests/upgrade/<version>/`, see its README) is quiet.
//! For each: a fresh control plane gets that release's CRDs as `helm install` created them and
//! the objects as that release wrote them (with their status), and the simulator the numbers
//! the account held. The upgrade is then done as CHANGELOG.md says (label the API-key Secret,
//! `kubectl apply --server-side --force-conflicts -f crds/`), today's operator binary starts, and:
//! 0 purchases, 0 releases, 0 assistant changes, 0 Warning Events, at most one write per object,
//! every claim still Bound to its number; then a restart with 0 writes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "upgrade/capture.rs"]
mod capture;
#[path = "upgrade/fixture.rs"]
mod fixture;
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use serde_json::{Value, json};
use support::OperatorProcess;
use talkturo_sim::{Op, SimServer};
use talkturo_testenv::{Binaries, ControlPlane};

/// Writes seen per object (`Kind namespace/name`), by watches started before the operator: what
/// each left (labels, annotations, spec, data and status), for the failure message.
type Writes = Arc<Mutex<BTreeMap<String, Vec<Value>>>>;

fn binaries() -> Option<Binaries> {
    match Binaries::locate() {
        Ok(b) => Some(b),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("control plane binaries missing (CI=true): {e}")
        }
        Err(e) => {
            eprintln!("*** SKIPPED: {e}; run `make testenv`");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_earlier_release_upgrades_without_a_purchase_release_move_or_warning() {
    let Some(binaries) = binaries() else { return };
    let releases = fixture::releases();
    assert!(!releases.is_empty(), "no release in tests/upgrade/");
    for r in &releases {
        eprintln!("[upgrade] from {}", r.version);
        upgrade_from(&binaries, r).await;
    }
}

async fn upgrade_from(binaries: &Binaries, r: &fixture::Release) {
    let dir = std::env::temp_dir().join(format!(
        "talkturo-upgrade-{}-{}",
        r.version,
        std::process::id()
    ));
    let plane = ControlPlane::start_with(binaries, &dir, &[]).await.unwrap();
    let client = kube::Client::try_from(plane.config().await.unwrap()).unwrap();
    fixture::install_crds_as_helm(&client, &r.dir.join("crds")).await;
    let f = fixture::load(&r.dir);
    let sim = SimServer::start(f.sim.clone()).await.unwrap();
    let mut objects = f.objects.clone();
    fixture::repoint(&mut objects, &f.base_url, &sim.base_url());
    restore(&sim, &f.records).await;
    let count = fixture::create_all(&client, &objects).await;
    eprintln!("[upgrade] {count} objects as {} left them", r.version);
    documented_upgrade(&plane);
    fixture::wait_crds(&client).await;

    let writes = Writes::default();
    let watches = watch_writes(&client, &writes).await;
    let (op, admin) = start(&plane, &r.version, "first");
    wait_active(&admin).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    quiet(&client, &sim, &f, &objects).await;
    let first = writes.lock().unwrap().clone();
    let over: Vec<_> = first.iter().filter(|(_, w)| w.len() > 1).collect();
    assert!(
        over.is_empty(),
        "written more than once after the upgrade: {over:#?} (written: {:?}; log {})",
        first.keys().collect::<Vec<_>>(),
        op.log.display()
    );
    eprintln!(
        "[upgrade] first start: {} objects written once: {:?}",
        first.len(),
        first.keys().collect::<Vec<_>>()
    );

    op.terminate();
    drop(op);
    writes.lock().unwrap().clear();
    sim.sim.reset_counters();
    let (op, admin) = start(&plane, &r.version, "second");
    wait_active(&admin).await;
    tokio::time::sleep(Duration::from_secs(25)).await;
    quiet(&client, &sim, &f, &objects).await;
    let second = writes.lock().unwrap().clone();
    assert!(
        second.is_empty(),
        "a second restart wrote {second:#?} (log {})",
        op.log.display()
    );
    watches.iter().for_each(tokio::task::JoinHandle::abort);
}

/// The account as the release left it, through the simulator's admin API.
async fn restore(sim: &SimServer, records: &[Value]) {
    let url = format!("{}/admin/numbers/restore", sim.base_url());
    let res = reqwest::Client::new()
        .post(url)
        .json(&json!({ "numbers": records }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

/// CHANGELOG.md's upgrade steps: the API-key Secret labelled, the CRDs applied server-side.
fn documented_upgrade(plane: &ControlPlane) {
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    for args in [
        vec![
            "label",
            "secret",
            "-n",
            "talkturo-system",
            "talkturo-api-key",
            "telephony.talkturo.ai/api-key=true",
            "--overwrite",
        ],
        vec![
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            crds.to_str().unwrap(),
        ],
    ] {
        let bin = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let out = std::process::Command::new(bin)
            .arg("--kubeconfig")
            .arg(plane.kubeconfig_path())
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn start(plane: &ControlPlane, version: &str, run: &str) -> (OperatorProcess, String) {
    let admin = format!("127.0.0.1:{}", support::free_port());
    let op = OperatorProcess::spawn_bin(
        std::path::Path::new(env!("CARGO_BIN_EXE_talkturo-operator")),
        plane.kubeconfig_path(),
        &format!("upgrade-{version}-{run}"),
        &["--leader-election=false", "--admin-addr", &admin],
    );
    (op, admin)
}

async fn wait_active(admin: &str) {
    let started = Instant::now();
    loop {
        let text = match reqwest::get(format!("http://{admin}/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.lines().any(|l| l == "talkturo_operator_active 1") {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not active in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Watches of every kind the operator writes, counting writes per object from now on.
async fn watch_writes(client: &kube::Client, writes: &Writes) -> Vec<tokio::task::JoinHandle<()>> {
    let mut out = Vec::new();
    for (api_version, kind) in [
        ("telephony.talkturo.ai/v1alpha1", "PhoneNumberClass"),
        ("telephony.talkturo.ai/v1alpha1", "PhoneNumberClaim"),
        ("telephony.talkturo.ai/v1alpha1", "PhoneNumber"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
    ] {
        let api: Api<DynamicObject> = fixture::api(
            client,
            &json!({"apiVersion": api_version, "kind": kind, "metadata": {}}),
        );
        let rv = api
            .list_metadata(&ListParams::default().limit(1))
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap_or_default();
        let mut stream = api
            .watch(&WatchParams::default().timeout(290), &rv)
            .await
            .unwrap()
            .boxed();
        let writes = writes.clone();
        out.push(tokio::spawn(async move {
            while let Some(Ok(event)) = stream.next().await {
                if let WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) =
                    event
                {
                    let ns = o.metadata.namespace.clone().unwrap_or_default();
                    let name = o.metadata.name.clone().unwrap_or_default();
                    let left = json!({"labels": o.metadata.labels,
                        "annotations": o.metadata.annotations, "spec": o.data["spec"],
                        "data": o.data["data"], "status": o.data["status"]});
                    let key = format!("{kind} {ns}/{name}");
                    writes.lock().unwrap().entry(key).or_default().push(left);
                }
            }
        }));
    }
    out
}

/// Nothing bought, released or moved, no Warning, every claim and number as the release left
/// them.
async fn quiet(client: &kube::Client, sim: &SimServer, f: &fixture::Fixture, objects: &[Value]) {
    for op in [
        Op::Purchase,
        Op::Release,
        Op::Assign,
        Op::SetAssistantNumbers,
    ] {
        assert_eq!(sim.sim.calls(op), 0, "{op:?} calls after the upgrade");
    }
    {
        let world = sim.sim.world();
        assert_eq!((world.purchases(), world.releases()), (0, 0));
        let now: BTreeMap<String, Value> = world
            .records()
            .map(|r| (r.phone_number.clone(), json!(r.assistant_id)))
            .collect();
        let then: BTreeMap<String, Value> = f
            .records
            .iter()
            .map(|r| {
                (
                    r["phone_number"].as_str().unwrap().to_owned(),
                    r["assistant_id"].clone(),
                )
            })
            .collect();
        assert_eq!(now, then, "the account's numbers and their assistants");
    }
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::all(client.clone());
    let warnings: Vec<_> = events
        .list(&ListParams::default().fields("type=Warning"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.reason, e.message))
        .collect();
    assert!(
        warnings.is_empty(),
        "Warnings after the upgrade: {warnings:?}"
    );
    for o in objects
        .iter()
        .filter(|o| o["kind"] == "PhoneNumberClaim" || o["kind"] == "PhoneNumber")
    {
        let name = o["metadata"]["name"].as_str().unwrap();
        let now = fixture::api(client, o).get(name).await.unwrap();
        for field in ["phase", "number", "id", "providerId", "assistantId"] {
            if !o["status"][field].is_null() {
                assert_eq!(
                    now.data["status"][field], o["status"][field],
                    "{} {name}: status.{field}",
                    o["kind"]
                );
            }
        }
    }
}
