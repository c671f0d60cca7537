//! `make e2e`: the chart installed with Helm on a real one-node Kubernetes (kubelet, containerd,
//! runc) built here, the operator running from its image under the chart's security context,
//! RBAC and ServiceAccount token, against the Talkturo simulator on the host. Each scenario
//! asserts counts at the simulator: nothing is ever bought twice.
//!
//! Runs only under `make e2e` (`E2E=1`), which builds the node binaries and checks the
//! prerequisites; plain `cargo test` says it skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use talkturo_operator::api::v1alpha1::{ClaimPhase, PhoneNumber, PhoneNumberClaim};
use talkturo_sim::{FaultAction, FaultRule, Op, SimConfig, SimServer};
use talkturo_testenv::image;
use talkturo_testenv::node::{self, NodeCluster};
use talkturo_testenv::{Binaries, free_ports};

#[path = "e2e/replicas.rs"]
mod replicas;
#[path = "e2e/rollout.rs"]
mod rollout;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const NS: &str = "talkturo-system";
const RELEASE: &str = "talkturo-operator";
const T: Duration = Duration::from_secs(120);

/// Phase timings, printed at the end.
struct Clock {
    started: Instant,
    phases: Vec<(String, Duration)>,
}

impl Clock {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            phases: Vec::new(),
        }
    }

    fn mark(&mut self, what: &str) {
        let at = self.started.elapsed();
        eprintln!("[e2e] {at:>7.1?}  {what}");
        self.phases.push((what.to_owned(), at));
    }
}

struct E2e {
    cluster: NodeCluster,
    client: kube::Client,
    sim: SimServer,
    helm: PathBuf,
    admin_port: u16,
}

impl E2e {
    fn helm(&self, args: &[&str]) -> String {
        let out = Command::new(&self.helm)
            .args(args)
            .arg("--kubeconfig")
            .arg(self.cluster.kubeconfig_path())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "helm {}:\n{text}", args.join(" "));
        text
    }

    /// `helm install`/`upgrade` of the chart from `charts/`, with only documented values: the
    /// image imported on the node, a host-network pod (the node has no pod network) whose admin
    /// server listens on loopback, the API server's address (no kube-proxy), and a default class
    /// pointing at the simulator.
    fn install(&self, verb: &str, tag: &str, extra: &[&str]) -> String {
        let api_port = self.cluster.api_port().to_string();
        let sets = [
            "image.repository=localhost/talkturo-operator".to_owned(),
            format!("image.tag={tag}"),
            "image.pullPolicy=Never".to_owned(),
            "hostNetwork=true".to_owned(),
            "adminBindAddress=127.0.0.1".to_owned(),
            format!("adminPort={}", self.admin_port),
            "extraEnv[0].name=KUBERNETES_SERVICE_HOST".to_owned(),
            "extraEnv[0].value=127.0.0.1".to_owned(),
            "extraEnv[1].name=KUBERNETES_SERVICE_PORT".to_owned(),
            format!("extraEnv[1].value={api_port}"),
            "apiKey.create=true".to_owned(),
            "apiKey.value=tk_demo_token".to_owned(),
            "defaultClass.create=true".to_owned(),
            format!("defaultClass.apiBaseUrl={}", self.sim.base_url()),
            "defaultClass.teamId=team_demo".to_owned(),
            "defaultClass.accountSlug=demo".to_owned(),
            "defaultClass.maxMonthlyPrice=5.00".to_owned(),
            "defaultClass.syncInterval=5s".to_owned(),
        ];
        let chart = format!("{ROOT}/charts/talkturo-operator");
        let mut args = vec![
            verb,
            RELEASE,
            chart.as_str(),
            "-n",
            NS,
            "--wait",
            "--timeout",
            "180s",
        ];
        if verb == "install" {
            args.push("--create-namespace");
        }
        for s in &sets {
            // Env values are strings, whatever they look like.
            let flag = if s.starts_with("extraEnv") {
                "--set-string"
            } else {
                "--set"
            };
            args.extend([flag, s.as_str()]);
        }
        args.extend_from_slice(extra);
        self.helm(&args)
    }

    /// Purchases answer after 1.5 s from now on, so a pod change lands while they are in flight.
    fn slow_purchases(&self) {
        self.sim.sim.set_faults(vec![FaultRule::on(
            Op::Purchase,
            FaultAction::Latency { ms: 1500 },
            None,
        )]);
    }

    fn purchases(&self) -> u64 {
        self.sim.sim.world().purchases()
    }

    fn claims(&self, ns: &str) -> Api<PhoneNumberClaim> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// How many of `ns`'s claims are Bound.
    async fn bound(&self, ns: &str) -> usize {
        let list = self.claims(ns).list(&ListParams::default()).await.unwrap();
        list.items
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.phase) == Some(ClaimPhase::Bound))
            .count()
    }

    async fn wait_bound(&self, ns: &str, n: usize) {
        let started = Instant::now();
        loop {
            let bound = self.bound(ns).await;
            if bound >= n {
                return;
            }
            assert!(
                started.elapsed() < T,
                "{bound} of {n} claims Bound in {ns} after {T:?}; operator log:\n{}",
                self.operator_log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn operator_pods(&self) -> Vec<Pod> {
        Api::<Pod>::namespaced(self.client.clone(), NS)
            .list(&ListParams::default().labels("app.kubernetes.io/name=talkturo-operator"))
            .await
            .unwrap()
            .items
    }

    async fn ready_pod(&self) -> Pod {
        let started = Instant::now();
        loop {
            let ready: Vec<Pod> = self
                .operator_pods()
                .await
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
                .collect();
            if let Some(p) = ready.into_iter().next() {
                return p;
            }
            assert!(started.elapsed() < T, "no operator pod Ready after {T:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The tail of the operator containers' logs (for failure messages).
    fn operator_log(&self) -> String {
        let mut out = String::new();
        for f in walk(&self.cluster.dir().join("pod-logs")) {
            if !f.display().to_string().contains("talkturo-operator") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("== {}\n", f.display()));
            for l in &lines[lines.len().saturating_sub(20)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    async fn lease_holder(&self) -> Option<String> {
        Api::<Lease>::namespaced(self.client.clone(), NS)
            .get_opt(RELEASE)
            .await
            .ok()
            .flatten()?
            .spec?
            .holder_identity
    }

    /// Waits until the Lease's holder satisfies `pred`; returns it.
    async fn wait_holder(&self, pred: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            if let Some(h) = self.lease_holder().await
                && pred(&h)
            {
                return h;
            }
            assert!(
                started.elapsed() < T,
                "Lease holder {:?} after {T:?}; operator log:\n{}",
                self.lease_holder().await,
                self.operator_log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for an operator pod the scheduler cannot place for lack of its host port; returns
    /// its name.
    async fn unschedulable_pod(&self) -> String {
        let started = Instant::now();
        loop {
            for p in self.operator_pods().await {
                let unschedulable = p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| {
                        c.iter().any(|c| {
                            c.type_ == "PodScheduled"
                                && c.reason.as_deref() == Some("Unschedulable")
                                && c.message
                                    .as_deref()
                                    .is_some_and(|m| m.contains("free ports"))
                        })
                    });
                if unschedulable {
                    return p.metadata.name.unwrap();
                }
            }
            assert!(
                started.elapsed() < T,
                "no replica Pending for its host port after {T:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = reqwest::get(format!("http://127.0.0.1:{}{path}", self.admin_port))
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Applies every example claim to `ns`.
async fn apply_examples(client: &kube::Client, ns: &str) -> usize {
    let api: Api<PhoneNumberClaim> = Api::namespaced(client.clone(), ns);
    let mut n = 0;
    for entry in std::fs::read_dir(format!("{ROOT}/examples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("claim-") {
            continue;
        }
        let claim: PhoneNumberClaim =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        api.create(&PostParams::default(), &claim).await.unwrap();
        n += 1;
    }
    n
}

async fn create_ns(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

async fn create_claims(client: &kube::Client, ns: &str, prefix: &str, n: usize) {
    let api: Api<PhoneNumberClaim> = Api::namespaced(client.clone(), ns);
    for i in 0..n {
        let claim: PhoneNumberClaim = serde_json::from_value(json!({
            "metadata": {"name": format!("{prefix}-{i}")},
            "spec": {"countryCode": "US"},
        }))
        .unwrap();
        api.create(&PostParams::default(), &claim).await.unwrap();
    }
}

/// Phase 1, install: the pod Ready under the chart's security context, the Lease held, the example
/// claims Bound. Returns the pod and how many example claims there are.
async fn phase_install(e: &E2e, clock: &mut Clock) -> (Pod, usize) {
    let client = e.client.clone();
    // 1. Install: the pod Ready under the chart's security context, the Lease held, the
    //    example claims Bound.
    e.install("install", "e2e-1", &[]);
    let pod = e.ready_pod().await;
    clock.mark("helm install: operator pod Ready");
    let spec = pod.spec.clone().unwrap();
    let c = &spec.containers[0];
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let psc = spec.security_context.clone().unwrap();
    assert_eq!(
        (psc.run_as_user, psc.run_as_non_root),
        (Some(65532), Some(true))
    );
    assert_eq!(
        c.resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("memory"))
            .map(|q| q.0.clone()),
        Some("128Mi".to_owned())
    );
    assert_eq!(spec.service_account_name.as_deref(), Some(RELEASE));
    let pod_name = pod.metadata.name.clone().unwrap();
    let started = Instant::now();
    while e.lease_holder().await.as_deref() != Some(pod_name.as_str()) {
        assert!(started.elapsed() < T, "the pod never took the Lease");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    create_ns(&client, "demo").await;
    let examples = apply_examples(&client, "demo").await;
    e.wait_bound("demo", examples).await;
    clock.mark(&format!("{examples} example claims Bound"));
    assert_eq!(e.purchases(), examples as u64, "one purchase per claim");
    (pod, examples)
}

/// Phase 6: the operator's own endpoints, through the pod's declared port.
async fn phase_endpoints(e: &E2e, pod: &Pod) {
    let c = &pod.spec.as_ref().unwrap().containers[0];
    // 6. The operator's own endpoints, through the pod's declared port.
    let port = c.ports.as_ref().unwrap()[0].container_port;
    assert_eq!(port, i32::from(e.admin_port));
    let (code, metrics) = e.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("talkturo_operator_active 1"), "{metrics}");
    assert!(
        metrics.contains("talkturo_operator_phone_numbers{class=\"standard\",phase=\"Bound\"}"),
        "{metrics}"
    );
    assert_eq!(e.get("/readyz").await.0, 200);
    assert_eq!(e.get("/healthz").await.0, 200);
}

/// Phase 2: the operator's pod deleted: a replacement takes over; a new claim is Bound.
async fn phase_pod_deletion(e: &E2e, clock: &mut Clock, pod_name: &str, examples: usize) {
    let client = e.client.clone();
    // 2. The operator's pod deleted: a replacement takes over; a new claim is Bound; nothing
    //    bought twice.
    Api::<Pod>::namespaced(client.clone(), NS)
        .delete(pod_name, &DeleteParams::default())
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let p = e.ready_pod().await;
        if p.metadata.name.as_deref() != Some(pod_name) {
            break;
        }
        assert!(started.elapsed() < T);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    clock.mark("pod deleted: replacement Ready");
    create_claims(&client, "demo", "after-delete", 1).await;
    e.wait_bound("demo", examples + 1).await;
    clock.mark("a new claim Bound by the replacement");
    assert_eq!(e.purchases(), examples as u64 + 1);
}

/// Phase 4: the CRD upgrade path, then `helm upgrade` while 20 claims are being provisioned.
async fn phase_upgrade(e: &E2e, clock: &mut Clock, dir: &Path, examples: usize) {
    let client = e.client.clone();
    // 4. The documented CRD upgrade path with a changed CRD, then `helm upgrade` to a second
    //    image while 20 claims are being provisioned.
    let changed = dir.join("crds-next");
    std::fs::create_dir_all(&changed).unwrap();
    for entry in std::fs::read_dir(format!("{ROOT}/charts/talkturo-operator/crds")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut crd: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        crd["metadata"]["labels"]["telephony.talkturo.ai/crd-revision"] = "next".into();
        std::fs::write(
            changed.join(path.file_name().unwrap()),
            serde_yaml::to_string(&crd).unwrap(),
        )
        .unwrap();
    }
    let out = Command::new("kubectl")
        .args(["apply", "--server-side", "--force-conflicts", "-f"])
        .arg(&changed)
        .arg("--kubeconfig")
        .arg(e.cluster.kubeconfig_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get("phonenumberclaims.telephony.talkturo.ai")
        .await
        .unwrap();
    assert_eq!(
        crd.metadata
            .labels
            .unwrap_or_default()
            .get("telephony.talkturo.ai/crd-revision")
            .map(String::as_str),
        Some("next")
    );
    // Purchases answer slowly, so the upgrade lands while they are in flight: the old pod
    // stops with purchases sent and unanswered, the new one settles them from the list.
    e.slow_purchases();
    create_ns(&client, "burst").await;
    create_claims(&client, "burst", "line", 20).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bound_before = e.bound("burst").await;
    assert!(bound_before < 20, "the upgrade must overlap provisioning");
    e.install("upgrade", "e2e-2", &[]);
    let pod = e.ready_pod().await;
    assert!(
        pod.spec.unwrap().containers[0]
            .image
            .as_deref()
            .unwrap()
            .ends_with(":e2e-2")
    );
    clock.mark("helm upgrade to a second image: pod Ready");
    e.wait_bound("burst", 20).await;
    clock.mark(&format!(
        "20 claims Bound across the upgrade ({bound_before} before it)"
    ));
    e.sim.sim.set_faults(Vec::new());
    assert_eq!(
        e.purchases(),
        examples as u64 + 21,
        "no double purchase across the upgrade"
    );
}

/// Phase 5: uninstall, then install again with two replicas. Returns the leader's and the standby's
/// pod names.
async fn phase_reinstall(e: &E2e, clock: &mut Clock, examples: usize) -> (String, String) {
    let client = e.client.clone();
    // 5. Uninstall: CRDs, PhoneNumbers and the numbers at Talkturo stay; installing again
    //    adopts them without a purchase.
    let numbers_before = Api::<PhoneNumber>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    let records_before = e.sim.sim.world().records().count();
    e.helm(&["uninstall", RELEASE, "-n", NS, "--wait"]);
    clock.mark("helm uninstall");
    assert!(
        e.operator_pods().await.is_empty() || {
            tokio::time::sleep(Duration::from_secs(5)).await;
            e.operator_pods().await.is_empty()
        }
    );
    assert!(
        Api::<CustomResourceDefinition>::all(client.clone())
            .get_opt("phonenumbers.telephony.talkturo.ai")
            .await
            .unwrap()
            .is_some(),
        "the CRDs stay"
    );
    let numbers_after = Api::<PhoneNumber>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(numbers_after, numbers_before, "the PhoneNumbers stay");
    assert_eq!(
        e.sim.sim.world().records().count(),
        records_before,
        "nothing released"
    );
    let purchases = e.purchases();
    // Installed again with two replicas. On one node with host networking both declare the same
    // host port, so the scheduler runs one and keeps the other Pending: the standby here starts
    // once the leader's pod is gone (with a pod network it would be running, waiting on the Lease).
    e.install(
        "install",
        "e2e-2",
        &[
            "--set",
            "replicaCount=2,activeActive.enabled=false",
            "--wait=false",
        ],
    );
    let leader = e.ready_pod().await;
    let leader_name = leader.metadata.name.clone().unwrap();
    e.wait_holder(|h| h == leader_name).await;
    let standby = e.unschedulable_pod().await;
    clock.mark("helm install again, 2 replicas: one Ready and holding the Lease, one Pending");
    create_claims(&client, "demo", "after-reinstall", 1).await;
    e.wait_bound("demo", examples + 2).await;
    e.wait_bound("burst", 20).await;
    clock.mark("adopted: every claim Bound, a new one too");
    assert_eq!(
        e.purchases(),
        purchases + 1,
        "only the new claim was bought"
    );
    (leader_name, standby)
}

/// Phase 3, failover: the leader's pod deleted while 10 claims are being bought.
async fn phase_failover(e: &E2e, clock: &mut Clock, leader_name: &str, standby: &str) {
    let client = e.client.clone();
    // 3. Failover: the leader's pod deleted while 10 claims are being bought; another replica
    //    takes the Lease and settles them; nothing is bought twice.
    let purchases = e.purchases();
    let sent = e.sim.sim.calls(Op::Purchase);
    e.slow_purchases();
    create_ns(&client, "failover").await;
    create_claims(&client, "failover", "line", 10).await;
    let started = Instant::now();
    while e.sim.sim.calls(Op::Purchase) == sent {
        assert!(started.elapsed() < T, "no purchase was sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bound_before = e.bound("failover").await;
    assert!(bound_before < 10, "the failover must overlap provisioning");
    Api::<Pod>::namespaced(client.clone(), NS)
        .delete(leader_name, &DeleteParams::default())
        .await
        .unwrap();
    let taken_by = e.wait_holder(|h| h != leader_name).await;
    clock.mark(&format!(
        "leader's pod deleted mid-purchase: the Lease taken by {} ({})",
        taken_by,
        if taken_by == standby {
            "the Pending replica"
        } else {
            "the Deployment's replacement"
        }
    ));
    e.wait_bound("failover", 10).await;
    clock.mark(&format!(
        "10 claims Bound across the failover ({bound_before} before it)"
    ));
    e.sim.sim.set_faults(Vec::new());
    assert_eq!(
        e.purchases(),
        purchases + 10,
        "no double purchase across the failover"
    );
    let calls: BTreeMap<_, _> = e
        .sim
        .sim
        .counters()
        .into_iter()
        .map(|(op, c)| (format!("{op:?}"), c.calls))
        .collect();
    eprintln!("[e2e] Talkturo calls: {calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_on_a_real_node_installs_survives_deletion_upgrade_reinstall_and_failover() {
    if std::env::var("E2E").as_deref() != Ok("1") {
        eprintln!("*** SKIPPED: the real-node e2e runs under `make e2e` (E2E=1)");
        return;
    }
    let missing = node::missing_prerequisites();
    assert!(
        missing.is_empty(),
        "make e2e needs {}; missing: {}",
        node::PREREQUISITES,
        missing.join(", ")
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut clock = Clock::new();
    let binaries = Binaries::locate().unwrap();
    let dir = PathBuf::from(ROOT).join(".cache/e2e");
    let cluster = NodeCluster::start(&binaries, &dir).await.unwrap();
    clock.mark("cluster up (node Ready)");
    let client = kube::Client::try_from(cluster.config().await.unwrap()).unwrap();

    // The operator's image, from the binary the tests already built, under two tags.
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_talkturo-operator"));
    for tag in ["e2e-1", "e2e-2"] {
        let tar = image::operator_image(
            binary,
            &format!("localhost/talkturo-operator:{tag}"),
            &images.join(tag),
        );
        let tar = tar.unwrap();
        cluster.import_image(&tar).unwrap();
    }
    clock.mark("operator image imported (2 tags)");

    let sim = SimServer::start(SimConfig {
        activation_delay_ms: 200,
        pool_size: 500,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let [admin_port] = free_ports::<1>().unwrap();
    let e = E2e {
        cluster,
        client: client.clone(),
        sim,
        helm: binaries.path("helm"),
        admin_port,
    };

    let (pod, examples) = phase_install(&e, &mut clock).await;
    phase_endpoints(&e, &pod).await;
    let pod_name = pod.metadata.name.clone().unwrap();
    phase_pod_deletion(&e, &mut clock, &pod_name, examples).await;
    phase_upgrade(&e, &mut clock, &dir, examples).await;
    let (leader_name, standby) = phase_reinstall(&e, &mut clock, examples).await;
    phase_failover(&e, &mut clock, &leader_name, &standby).await;
    rollout::phase_rollout(&e, &mut clock).await;
    replicas::phase_active_active(&e, &mut clock).await;

    drop(e);
    // Nothing of the run is left: no process, mount or cgroup.
    nothing_left(&dir);

    // A run that dies without cleaning up (here: the cluster is leaked with a pod running, so
    // nothing is stopped) is cleaned up by the next start, by the pids it recorded, the shims of
    // its socket, the mounts under its folder and the kubelet's cgroups.
    let crashed = NodeCluster::start(&binaries, &dir).await.unwrap();
    let client = kube::Client::try_from(crashed.config().await.unwrap()).unwrap();
    run_pause_pod(&client).await;
    assert!(
        !node::mounts_under(&dir).is_empty(),
        "the pod mounted something"
    );
    std::mem::forget(crashed);
    let again = NodeCluster::start(&binaries, &dir).await.unwrap();
    drop(again);
    nothing_left(&dir);
    clock.mark("a crashed run's leftovers cleaned up by the next start");
    eprintln!("[e2e] phase timings:");
    let mut last = Duration::ZERO;
    for (what, at) in &clock.phases {
        eprintln!(
            "[e2e]   {:>7.1?} (+{:>6.1?})  {what}",
            at,
            at.saturating_sub(last)
        );
        last = *at;
    }
}

fn nothing_left(dir: &Path) {
    let procs = node::processes_under(dir);
    assert!(procs.is_empty(), "processes left: {procs:?}");
    let mounts = node::mounts_under(dir);
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
    let cgroups = node::cgroups_left();
    assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
}

/// A host-network pod running the sandbox image, Running.
async fn run_pause_pod(client: &kube::Client) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "sleeper"},
        "spec": {"hostNetwork": true, "automountServiceAccountToken": false,
                 "containers": [{"name": "sleep", "image": node::PAUSE_IMAGE, "imagePullPolicy": "Never"}]},
    }))
    .unwrap();
    let started = Instant::now();
    // The ServiceAccount admission waits for the controller-manager's `default` account.
    while let Err(e) = pods.create(&PostParams::default(), &pod).await {
        assert!(started.elapsed() < T, "{e}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    loop {
        let p = pods.get("sleeper").await.unwrap();
        if p.status.and_then(|s| s.phase).as_deref() == Some("Running") {
            return;
        }
        assert!(started.elapsed() < T, "the pod never ran");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
