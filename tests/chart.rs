//! The Helm chart, proven against the real kube-apiserver: it renders to objects the server
//! accepts, installs and uninstalls (keeping CRDs and numbers), rejects a wrong value with its
//! schema's message, and its RBAC is exactly what the operator needs: the operator, running as
//! the chart's ServiceAccount (impersonated), provisions end to end, every verb the chart grants
//! shows up in the apiserver's audit log, and removing one makes the operator fail with a 403.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::TestEnv;
use support::operator::{
    Fixture, claim_condition, condition, run_in_process_opts, run_in_process_with, test_config,
};
use talkturo_operator::api::v1alpha1::PhoneNumber;
use talkturo_operator::controller::run::{LeaderElection, RunOptions};
use talkturo_operator::controller::shard::ShardConfig;
use talkturo_operator::controller::{Config, InitialList};
use talkturo_sim::{FaultAction, FaultRule, Op};
use talkturo_testenv::Binaries;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/talkturo-operator");
const T: Duration = Duration::from_secs(40);

/// Held by each test that runs an operator: two at once would both reconcile every class in the
/// cluster (each refused the other's Secret, but writing statuses over each other).
static ONE_OPERATOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn helm_bin() -> Option<PathBuf> {
    let bin = Binaries::locate().ok()?.path("helm");
    match bin.is_file() {
        true => Some(bin),
        false if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "helm is missing at {} (CI=true); run make testenv",
            bin.display()
        ),
        false => {
            eprintln!("*** SKIPPED: helm not built; run make testenv");
            None
        }
    }
}

fn helm(env: &TestEnv, args: &[&str]) -> Output {
    let bin = helm_bin().unwrap();
    Command::new(bin)
        .args(args)
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn kubectl_stdin(env: &TestEnv, args: &[&str], input: &[u8]) -> Output {
    let bin = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let mut child = Command::new(bin)
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    helm_bin()?;
    Some(env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_lints_and_renders_objects_the_api_server_accepts() {
    let Some(env) = env() else { return };
    let out = helm(env, &["lint", "--strict", CHART]);
    assert!(out.status.success(), "helm lint --strict:\n{}", text(&out));
    let ns = renders_and_dry_runs(env).await;
    let monitor = helm(
        env,
        &[
            "template",
            "rel",
            CHART,
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ],
    );
    assert!(String::from_utf8_lossy(&monitor.stdout).contains("kind: ServiceMonitor"));
    rollouts_off_grant_nothing_in_apps(env);
    names_the_crate_version(env);
    active_active_replicas_are_evicted_one_at_a_time(env);
    more_than_one_replica_is_active_active(env);
    a_port_per_pod_needs_host_network_and_no_service(env);

    platform_values(env, &ns).await;
    // Two replicas without leader election could both buy: refused, with the reason.
    let out = helm(
        env,
        &[
            "template",
            "rel",
            CHART,
            "--set",
            "replicaCount=2,leaderElection.enabled=false",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("could buy the same number twice"),
        "{}",
        text(&out)
    );
}

/// `helm template rel <chart> <args>`: whether it rendered, and what it printed.
fn template(env: &TestEnv, args: &[&str]) -> (bool, String) {
    let out = helm(env, &[&["template", "rel", CHART], args].concat());
    (out.status.success(), text(&out))
}

/// [`template`] with `--set set`, which must render: the objects.
fn rendered(env: &TestEnv, set: &str, extra: &[&str]) -> String {
    let (ok, out) = template(env, &[&["--set", set], extra].concat());
    assert!(ok, "helm template --set {set}:\n{out}");
    out
}

/// Three active-active replicas get a PodDisruptionBudget of one unavailable at a time (each
/// hands its classes over before the next is evicted); a leader and standbys keep `minAvailable`.
fn active_active_replicas_are_evicted_one_at_a_time(env: &TestEnv) {
    let pdb = |set: &str| rendered(env, set, &["--show-only", "templates/pdb.yaml"]);
    // Three replicas are active-active by default.
    let active = pdb("replicaCount=3");
    assert!(
        active.contains("maxUnavailable: 1") && !active.contains("minAvailable"),
        "{active}"
    );
    let standby = pdb("replicaCount=3,activeActive.enabled=false");
    assert!(
        standby.contains("minAvailable: 1") && !standby.contains("maxUnavailable"),
        "{standby}"
    );
}

/// `replicaCount` > 1 runs active-active replicas by default; one replica is not sharded (no
/// class Leases, no new grants: an upgraded single-replica install changes nothing), nor are
/// replicas with `activeActive.enabled=false`.
fn more_than_one_replica_is_active_active(env: &TestEnv) {
    for (set, sharded) in [
        ("replicaCount=1", false),
        ("replicaCount=3", true),
        ("replicaCount=3,activeActive.enabled=false", false),
    ] {
        let out = rendered(env, set, &[]);
        assert!(
            out.contains(&format!("--shard-by-class={sharded}")),
            "{set}: --shard-by-class={sharded} not rendered"
        );
        let lease_grants = out.contains(r#"verbs: ["get", "list", "update", "delete"]"#);
        assert_eq!(lease_grants, sharded, "{set}: class Lease grants");
    }
    // Before Kubernetes 1.30 (no field selectors on PhoneNumbers): a leader and standbys.
    let out = rendered(env, "replicaCount=3", &["--kube-version", "1.29.5"]);
    assert!(out.contains("--shard-by-class=false"), "{out}");
}

/// `adminPort=0`: each pod's admin server takes a free port, written to a file in the pod that
/// its exec probes read; it declares no port (the scheduler would keep a second host-network
/// replica off the node for it). Refused without `hostNetwork`, and with a Service,
/// ServiceMonitor or NetworkPolicy (none could name the port), with the reason.
fn a_port_per_pod_needs_host_network_and_no_service(env: &TestEnv) {
    let render = |set: &str| template(env, &["--set", set]);
    let (ok, out) = render("adminPort=0");
    assert!(!ok && out.contains("is for hostNetwork pods"), "{out}");
    for off in ["metrics.service.enabled", "networkPolicy.enabled"] {
        let (ok, out) = render(&format!(
            "adminPort=0,hostNetwork=true,metrics.service.enabled=false,{off}=true"
        ));
        assert!(
            !ok && out.contains("no Service, ServiceMonitor or NetworkPolicy can name"),
            "{out}"
        );
    }
    let (ok, out) = render("adminPort=0,hostNetwork=true,metrics.service.enabled=false");
    assert!(ok, "{out}");
    for want in [
        "--admin-addr=0.0.0.0:0",
        "--admin-addr-file=/run/talkturo/admin-addr",
        "command: [/usr/local/bin/talkturo-operator, probe, /readyz, --admin-addr-file=/run/talkturo/admin-addr]",
        "mountPath: /run/talkturo",
    ] {
        assert!(out.contains(want), "{want} not in\n{out}");
    }
    assert!(
        !out.contains("containerPort") && !out.contains("httpGet"),
        "{out}"
    );
}

/// `helm show chart` and the default image tag name the crate's version (tests/versions.rs
/// checks the files; this is what Helm makes of them).
fn names_the_crate_version(env: &TestEnv) {
    let version = env!("CARGO_PKG_VERSION");
    let shown = text(&helm(env, &["show", "chart", CHART]));
    for line in [
        format!("version: {version}"),
        format!("appVersion: {version}"),
    ] {
        assert!(shown.lines().any(|l| l == line), "{line} not in\n{shown}");
    }
    let rendered = text(&helm(env, &["template", "rel", CHART]));
    let image = format!("image: \"ghcr.io/talkturo/talkturo-operator:{version}\"");
    assert!(rendered.contains(&image), "{image} not rendered");
}

/// `workloadRollout.enabled=false`: the operator is told so, and its ClusterRole holds no rule on
/// `apps` (with the default, it holds exactly get/list/watch/patch on deployments and
/// statefulsets).
fn rollouts_off_grant_nothing_in_apps(env: &TestEnv) {
    let role = |set: &str| {
        let out = helm(
            env,
            &[
                "template",
                "rel",
                CHART,
                "--set",
                set,
                "--show-only",
                "templates/clusterrole.yaml",
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        granted(&String::from_utf8_lossy(&out.stdout))
    };
    let apps = |grants: &Grants| -> Vec<(String, String)> {
        grants
            .iter()
            .filter(|(g, _, _)| g == "apps")
            .map(|(_, r, v)| (r.clone(), v.clone()))
            .collect()
    };
    assert!(apps(&role("workloadRollout.enabled=false")).is_empty());
    let on = apps(&role("workloadRollout.enabled=true"));
    assert_eq!(on.len(), 8, "{on:?}");
    let args = helm(
        env,
        &[
            "template",
            "rel",
            CHART,
            "--set",
            "workloadRollout.enabled=false",
            "--show-only",
            "templates/deployment.yaml",
        ],
    );
    assert!(String::from_utf8_lossy(&args.stdout).contains("--workload-rollout=false"));
}

/// The chart with its defaults and with everything set, through a server-side dry run. Returns the namespace.
async fn renders_and_dry_runs(env: &TestEnv) -> String {
    let (_, ns) = env.namespace("render").await;
    let full = "replicaCount=2,apiKey.create=true,apiKey.value=tk_x,defaultClass.create=true,defaultClass.name=render-default,defaultClass.teamId=team_x,defaultClass.accountSlug=x,defaultClass.monthlyBudget=50.00,rbac.secretNamespaces={default}";
    // Three active replicas on one node's network, each admin server on a port of its own.
    let per_pod = "replicaCount=3,activeActive.enabled=true,hostNetwork=true,adminPort=0,metrics.service.enabled=false,extraVolumes[0].name=ca,extraVolumes[0].emptyDir.medium=Memory,extraVolumeMounts[0].name=ca,extraVolumeMounts[0].mountPath=/etc/ca";
    for set in ["", full, per_pod] {
        let mut args = vec![
            "template",
            "rel",
            CHART,
            "--namespace",
            &ns,
            "--kube-version",
            "1.34.0",
        ];
        if !set.is_empty() {
            args.extend(["--set", set]);
        }
        let rendered = helm(env, &args);
        assert!(
            rendered.status.success(),
            "helm template {set}:\n{}",
            text(&rendered)
        );
        let applied = kubectl_stdin(
            env,
            &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
            &rendered.stdout,
        );
        assert!(
            applied.status.success(),
            "server-side dry-run of the chart ({set}):\n{}",
            text(&applied)
        );
        let out = String::from_utf8_lossy(&applied.stdout);
        assert!(
            out.contains("deployment.apps/rel-talkturo-operator created (server dry run)"),
            "{out}"
        );
        if set == full {
            assert!(
                out.contains("poddisruptionbudget.policy/rel-talkturo-operator created"),
                "{out}"
            );
            assert!(
                out.contains("phonenumberclass.telephony.talkturo.ai/render-default created"),
                "{out}"
            );
        }
    }
    ns
}

/// What platforms set: host network, a loopback admin server, extra env and volumes, an image
/// by digest, spread constraints, a NetworkPolicy, a full name and a subchart's `global`.
async fn platform_values(env: &TestEnv, ns: &str) {
    let values = dir_with_values(
        r#"
fullnameOverride: telephony
global: {imageRegistry: registry.example}
replicaCount: 2
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
hostNetwork: true
adminBindAddress: 127.0.0.1
adminPort: 29080
extraEnv: [{name: KUBERNETES_SERVICE_HOST, value: "127.0.0.1"}, {name: SSL_CERT_FILE, value: /ca/ca.crt}]
extraVolumes: [{name: ca, configMap: {name: corp-ca}}]
extraVolumeMounts: [{name: ca, mountPath: /ca, readOnly: true}]
topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}]
networkPolicy: {enabled: true, apiServer: {cidrs: [10.0.0.1/32]}, metricsFrom: [{namespaceSelector: {matchLabels: {name: monitoring}}}]}
"#,
    );
    let rendered = helm(
        env,
        &[
            "template",
            "rel",
            CHART,
            "--namespace",
            ns,
            "-f",
            values.1.to_str().unwrap(),
        ],
    );
    assert!(rendered.status.success(), "{}", text(&rendered));
    let applied = kubectl_stdin(
        env,
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        &rendered.stdout,
    );
    let out = text(&applied);
    assert!(applied.status.success(), "{out}");
    for want in [
        "deployment.apps/telephony created",
        "networkpolicy.networking.k8s.io/telephony created",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    the_pod_has_what_platforms_set(&rendered.stdout).await;
}

/// The rendered Deployment's pod carries every platform value.
async fn the_pod_has_what_platforms_set(rendered: &[u8]) {
    let docs: Vec<Value> = serde_yaml::Deserializer::from_slice(rendered)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect();
    let deploy = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deploy["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(pod["hostNetwork"], json!(true));
    assert_eq!(pod["dnsPolicy"], json!("ClusterFirstWithHostNet"));
    assert!(
        c["image"]
            .as_str()
            .unwrap()
            .ends_with("@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );
    assert!(
        c["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--admin-addr=127.0.0.1:29080"))
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["host"], json!("127.0.0.1"));
    assert_eq!(c["env"][2]["name"], json!("KUBERNETES_SERVICE_HOST"));
    assert_eq!(c["volumeMounts"][0]["mountPath"], json!("/ca"));
    assert_eq!(pod["volumes"][0]["configMap"]["name"], json!("corp-ca"));
    assert_eq!(
        pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"],
        json!("rel"),
        "a constraint without a selector gets the chart's pod labels"
    );
    assert!(
        pod["affinity"]["podAntiAffinity"].is_object(),
        "two replicas prefer different nodes"
    );
    assert!(
        c["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--lease-name=telephony"))
    );
}

/// A values file in a temporary directory (kept alive by the returned guard).
fn dir_with_values(yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("values.yaml");
    std::fs::write(&path, yaml).unwrap();
    (dir, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_value_type_fails_the_install_with_the_schema_message() {
    let Some(env) = env() else { return };
    let (_, ns) = env.namespace("badvalue").await;
    for (set, expected) in [
        ("replicaCount=two", "replicaCount"),
        ("defaultClass.reclaimPolicy=Delete", "reclaimPolicy"),
        ("logFormat=xml", "logFormat"),
        ("unknownKey=1", "unknownKey"),
    ] {
        let out = helm(env, &["install", "bad", CHART, "-n", &ns, "--set", set]);
        assert!(!out.status.success(), "{set} was accepted");
        let msg = text(&out);
        assert!(
            msg.contains("values don't meet the specifications of the schema")
                && msg.contains(expected),
            "{set}: {msg}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_creates_the_objects_and_uninstall_keeps_crds_and_numbers() {
    let Some(env) = env() else { return };
    let (client, ns) = env.namespace("install").await;
    let class = format!("installed-{ns}");
    let set = format!(
        "apiKey.create=true,apiKey.value=tk_installed,defaultClass.create=true,defaultClass.name={class},defaultClass.teamId=team_i,defaultClass.accountSlug=i"
    );
    let out = helm(env, &["install", "op", CHART, "-n", &ns, "--set", &set]);
    assert!(out.status.success(), "helm install:\n{}", text(&out));
    assert!(
        text(&out).contains("uninstalling never releases a number"),
        "NOTES.txt is shown"
    );

    the_deployment_is_hardened(&client, &ns).await;
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get("op-talkturo-operator-api-key")
        .await
        .unwrap();
    assert!(secret.data.unwrap().contains_key("apiKey"));
    let pnclass: Api<talkturo_operator::api::v1alpha1::PhoneNumberClass> = Api::all(client.clone());
    let created = pnclass.get(&class).await.unwrap();
    assert_eq!(
        created.spec.api_key_secret_ref.name,
        "op-talkturo-operator-api-key"
    );
    Api::<ClusterRole>::all(client.clone())
        .get("op-talkturo-operator")
        .await
        .unwrap();

    uninstall_keeps_crds_and_numbers(env, &client, &ns, &class).await;
}

/// A number exists; uninstalling must keep it and the CRDs.
async fn uninstall_keeps_crds_and_numbers(
    env: &TestEnv,
    client: &kube::Client,
    ns: &str,
    class: &str,
) {
    // A number exists; uninstalling must keep it and the CRDs.
    let number = format!("+1415{:07}", std::process::id() % 10_000_000);
    let pn: PhoneNumber = serde_json::from_value(json!({"metadata": {"name": talkturo_operator::api::v1alpha1::phone_number_name(&number)}, "spec": {"number": number, "className": class}})).unwrap();
    let numbers: Api<PhoneNumber> = Api::all(client.clone());
    numbers.create(&PostParams::default(), &pn).await.unwrap();
    let out = helm(env, &["uninstall", "op", "-n", ns]);
    assert!(out.status.success(), "helm uninstall:\n{}", text(&out));
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    for name in [
        "phonenumbers.telephony.talkturo.ai",
        "phonenumberclaims.telephony.talkturo.ai",
        "phonenumberclasses.telephony.talkturo.ai",
    ] {
        assert!(
            crds.get_opt(name).await.unwrap().is_some(),
            "{name} was deleted by helm uninstall"
        );
    }
    assert!(
        numbers
            .get_opt(&pn.metadata.name.clone().unwrap())
            .await
            .unwrap()
            .is_some(),
        "the PhoneNumber survived uninstall"
    );
}

/// The Deployment: Recreate, probes, a read-only non-root container with a memory limit, its Lease.
async fn the_deployment_is_hardened(client: &kube::Client, ns: &str) {
    let deploy = Api::<Deployment>::namespaced(client.clone(), ns)
        .get("op-talkturo-operator")
        .await
        .unwrap();
    let spec = deploy.spec.unwrap();
    assert_eq!(
        spec.strategy.and_then(|s| s.type_).as_deref(),
        Some("Recreate"),
        "one replica: Recreate"
    );
    let pod = spec.template.spec.unwrap();
    let c = &pod.containers[0];
    assert_eq!(
        c.liveness_probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .map(|h| h.path.clone()),
        Some(Some("/healthz".into()))
    );
    assert_eq!(
        c.readiness_probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .map(|h| h.path.clone()),
        Some(Some("/readyz".into()))
    );
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(
        (sc.read_only_root_filesystem, sc.allow_privilege_escalation),
        (Some(true), Some(false))
    );
    assert_eq!(
        pod.security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root),
        Some(true)
    );
    assert!(
        c.resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .is_some_and(|l| l.contains_key("memory"))
    );
    assert!(
        c.args
            .as_ref()
            .unwrap()
            .contains(&"--lease-name=op-talkturo-operator".to_owned())
    );
}

/// (apiGroup, resource[/subresource], verb).
type Permission = (String, String, String);
/// Permission triples.
type Grants = BTreeSet<Permission>;
/// One audited request: what it needed, the response code, and its namespace.
type Audited = (Permission, u16, Option<String>);

/// What the chart's Roles and ClusterRoles grant.
fn granted(rendered: &str) -> Grants {
    let mut out = Grants::new();
    for doc in serde_yaml::Deserializer::from_str(rendered) {
        let Ok(v) = <Value as serde::Deserialize>::deserialize(doc) else {
            continue;
        };
        // The operator's own roles; those the chart gives app teams are not its grants.
        if !matches!(v["kind"].as_str(), Some("ClusterRole" | "Role"))
            || v["metadata"]["labels"]["telephony.talkturo.ai/rbac"] == "tenants"
        {
            continue;
        }
        for rule in v["rules"].as_array().into_iter().flatten() {
            for g in rule["apiGroups"].as_array().into_iter().flatten() {
                for r in rule["resources"].as_array().into_iter().flatten() {
                    for verb in rule["verbs"].as_array().into_iter().flatten() {
                        out.insert((
                            g.as_str().unwrap().to_owned(),
                            r.as_str().unwrap().to_owned(),
                            verb.as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The requests `user` made, from the audit log: (triple, response code, namespace).
fn audited(log: &std::path::Path, user: &str) -> Vec<Audited> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            e["impersonatedUser"]["username"].as_str() == Some(user)
                || e["user"]["username"].as_str() == Some(user)
        })
        .filter_map(|e| {
            let o = &e["objectRef"];
            let resource = match o["subresource"].as_str() {
                Some(sub) => format!("{}/{sub}", o["resource"].as_str()?),
                None => o["resource"].as_str()?.to_owned(),
            };
            let triple = (
                o["apiGroup"].as_str().unwrap_or("").to_owned(),
                resource,
                e["verb"].as_str()?.to_owned(),
            );
            let ns = o["namespace"].as_str().map(str::to_owned);
            Some((
                triple,
                e["responseStatus"]["code"].as_u64().unwrap_or(0) as u16,
                ns,
            ))
        })
        .collect()
}

/// Runs the operator in-process as `user`, until the returned sender is dropped.
fn run_as(
    env: &TestEnv,
    user: &str,
    lease_ns: &str,
    lease: &str,
) -> tokio::sync::oneshot::Sender<()> {
    let mut config = env.config();
    config.auth_info.impersonate = Some(user.to_owned());
    let le = LeaderElection {
        lease_name: lease.into(),
        namespace: lease_ns.into(),
        identity: "rbac-test".into(),
        lease_duration_secs: 4,
        renew_grace_secs: 1,
    };
    // Initial lists by list calls: the fallback for API servers without streaming lists makes
    // every request the streaming mode makes (watches) and the list calls besides, so the chart
    // must grant both and this run proves each grant is used.
    let operator = Config {
        initial_list: InitialList::List,
        ..test_config()
    };
    run_in_process_with(config, Some(le), operator)
}

/// Waits until the apiserver's authorizer has picked up the chart's bindings (its RBAC cache
/// lags a fresh install by a moment; requests before that would be denied).
async fn wait_rbac_effective(client: &kube::Client, user: &str, ns: &str) {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
    };
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let groups = vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{ns}"),
        "system:authenticated".to_owned(),
    ];
    let checks = [
        ("telephony.talkturo.ai", "phonenumbers", "list", None),
        ("coordination.k8s.io", "leases", "create", Some(ns)),
        ("", "secrets", "get", Some(ns)),
    ];
    let started = std::time::Instant::now();
    for (group, resource, verb, namespace) in checks {
        loop {
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(user.to_owned()),
                    groups: Some(groups.clone()),
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(group.into()),
                        resource: Some(resource.into()),
                        verb: Some(verb.into()),
                        namespace: namespace.map(Into::into),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let allowed = reviews
                .create(&PostParams::default(), &review)
                .await
                .unwrap()
                .status
                .is_some_and(|s| s.allowed);
            if allowed {
                break;
            }
            assert!(
                started.elapsed() < T,
                "{verb} {resource} never became allowed for {user}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn set_token(f: &Fixture, token: &str) {
    let secrets: Api<Secret> = Api::namespaced(f.client.clone(), &f.ns);
    secrets
        .patch(
            "talkturo",
            &PatchParams::default(),
            &Patch::Merge(&json!({"stringData": {"apiKey": token}})),
        )
        .await
        .unwrap();
}

async fn wait_ready_reason(f: &Fixture, reason: &str) {
    f.wait_class(T, |c| {
        condition(
            c.status.as_ref().map_or(&[][..], |s| &s.conditions),
            "Ready",
        )
        .is_some_and(|r| r.1 == reason)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_needs_exactly_the_charts_rbac() {
    let Some(env) = env() else { return };
    let _alone = ONE_OPERATOR.lock().await;
    let audit = env.audit_log.clone().expect("the RBAC test needs the harness's own control plane (with its audit log), not TESTENV_KUBECONFIG");
    let f = Fixture::new(env, "rbac", |_| {}, json!({})).await;
    let out = helm(env, &["install", "rbac", CHART, "-n", &f.ns]);
    assert!(out.status.success(), "helm install:\n{}", text(&out));
    let rendered =
        String::from_utf8_lossy(&helm(env, &["template", "rbac", CHART, "-n", &f.ns]).stdout)
            .into_owned();
    let user = format!("system:serviceaccount:{}:rbac-talkturo-operator", f.ns);

    wait_rbac_effective(&f.client, &user, &f.ns).await;
    set_token(&f, "tk_wrong").await;
    let stop = run_as(env, &user, &f.ns, "rbac-talkturo-operator");
    exercise_every_grant(&f).await;
    drop(stop);

    every_grant_used(&f, &audit, &user, &rendered).await;
    one_missing_grant_fails(env, &f, &audit, &user).await;
}

/// What the operator does with the chart's RBAC: readiness flapping (Events patched as a series), a refused purchase, a purchase, a ConfigMap found again.
async fn exercise_every_grant(f: &Fixture) {
    // Unauthorized, reachable, Unauthorized again (the repeated Event is patched as a series).
    wait_ready_reason(f, "Unauthorized").await;
    set_token(f, "tk_demo_token").await;
    wait_ready_reason(f, "AccountReachable").await;
    set_token(f, "tk_wrong").await;
    wait_ready_reason(f, "Unauthorized").await;
    set_token(f, "tk_demo_token").await;
    wait_ready_reason(f, "AccountReachable").await;
    // A refused purchase (the PhoneNumber is deleted), then the number bought and bound.
    let gone = FaultAction::Status {
        status: 410,
        retry_after_secs: None,
    };
    f.sim
        .sim
        .set_faults(vec![FaultRule::on(Op::Purchase, gone, Some(1))]);
    f.claim(
        "line",
        json!({"countryCode": "US", "configMapName": "line-phone"}),
    )
    .await;
    f.wait_claim("line", T, |c| {
        claim_condition(c, "Ready").is_some_and(|r| r.0 == "True")
    })
    .await;
    // A ConfigMap write the status lost (as after a crash between the two): the operator finds
    // its own ConfigMap and updates it (patch), where a foreign one would be left alone.
    f.claims()
        .patch_status(
            "line",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"configMapName": null}})),
        )
        .await
        .unwrap();
    f.wait_claim("line", T, |c| {
        c.status.as_ref().and_then(|s| s.config_map_name.as_deref()) == Some("line-phone")
    })
    .await;
    // Workloads labelled for rollouts that read the claim's ConfigMap: watched, read back and
    // patched (the numbers-hash annotation), a Deployment and a StatefulSet.
    let reads = json!([{"name": "app", "image": "registry.invalid/app:1",
        "envFrom": [{"configMapRef": {"name": "line-phone"}}]}]);
    let spec = |name: &str| {
        json!({"metadata": {"name": name, "labels": {"telephony.talkturo.ai/rollout": "true"}},
            "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": reads}}}})
    };
    let hashed = |t: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>| {
        t.and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .is_some_and(|a| a.contains_key("telephony.talkturo.ai/numbers-hash"))
    };
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), &f.ns);
    let d: Deployment = serde_json::from_value(spec("web")).unwrap();
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let sets: Api<StatefulSet> = Api::namespaced(f.client.clone(), &f.ns);
    let s: StatefulSet = serde_json::from_value(spec("db")).unwrap();
    sets.create(&PostParams::default(), &s).await.unwrap();
    support::operator::wait(&deployments, "web", T, |d| {
        hashed(d.spec.as_ref().map(|s| &s.template))
    })
    .await;
    support::operator::wait(&sets, "db", T, |s| {
        hashed(s.spec.as_ref().map(|s| &s.template))
    })
    .await;
}

/// Nothing the operator did was denied, and everything the chart grants was used.
async fn every_grant_used(f: &Fixture, audit: &std::path::Path, user: &str, rendered: &str) {
    let requests = audited(audit, user);
    // Other tests' classes reference Secrets in namespaces this ServiceAccount may not read: the
    // operator is right to be refused there (it reports Forbidden on those classes).
    let denied: BTreeSet<_> = requests
        .iter()
        .filter(|(_, code, ns)| *code == 403 && ns.as_deref().is_none_or(|n| n == f.ns))
        .map(|(t, _, ns)| (t.clone(), ns.clone()))
        .collect();
    assert!(
        denied.is_empty(),
        "the chart's RBAC denied the operator: {denied:?}"
    );
    // A server-side apply that creates its object (answered 201) is authorized for create too.
    let created_by_apply = requests
        .iter()
        .filter(|((_, _, verb), code, _)| verb == "patch" && *code == 201)
        .map(|((g, r, _), _, _)| (g.clone(), r.clone(), "create".to_owned()));
    let used: Grants = created_by_apply.collect::<Grants>();
    let used: Grants = used
        .into_iter()
        .chain(
            requests
                .iter()
                .filter(|(_, code, _)| *code < 400)
                .map(|(t, _, _)| t.clone()),
        )
        .collect();
    let unused: Vec<_> = granted(rendered).difference(&used).cloned().collect();
    assert!(
        unused.is_empty(),
        "the chart grants what the operator never used: {unused:?}\nused: {used:?}"
    );
}

/// Without one permission it needs, the same flow fails with a 403.
async fn one_missing_grant_fails(env: &TestEnv, f: &Fixture, audit: &std::path::Path, user: &str) {
    let roles: Api<ClusterRole> = Api::all(f.client.clone());
    let mut role = roles.get("rbac-talkturo-operator").await.unwrap();
    for rule in role.rules.iter_mut().flatten() {
        if rule
            .resources
            .as_ref()
            .is_some_and(|r| r.contains(&"phonenumbers".to_owned()))
        {
            rule.verbs.retain(|v| v != "create");
        }
    }
    roles
        .replace("rbac-talkturo-operator", &PostParams::default(), &role)
        .await
        .unwrap();
    let stop = run_as(env, user, &f.ns, "rbac-talkturo-operator");
    f.claim("second", json!({"countryCode": "US"})).await;
    let wanted = (
        "telephony.talkturo.ai".to_owned(),
        "phonenumbers".to_owned(),
        "create".to_owned(),
    );
    let started = std::time::Instant::now();
    while !audited(audit, user)
        .iter()
        .any(|(t, code, _)| *t == wanted && *code == 403)
    {
        assert!(
            started.elapsed() < T,
            "no 403 on creating a PhoneNumber was observed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second = f.claims().get("second").await.unwrap();
    assert!(
        second
            .status
            .as_ref()
            .and_then(|s| s.number.clone())
            .is_none(),
        "nothing may be bound without the permission"
    );
    drop(stop);
}

/// The chart's README documents every value of `values.yaml` with its default: each row's value
/// exists with that default, and every value is covered by a row (itself or an ancestor
/// documented as a whole).
#[test]
fn the_chart_readme_lists_every_value_with_its_default() {
    let values: Value =
        serde_yaml::from_str(&std::fs::read_to_string(format!("{CHART}/values.yaml")).unwrap())
            .unwrap();
    let readme = std::fs::read_to_string(format!("{CHART}/README.md")).unwrap();
    let mut documented = BTreeSet::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let key = cells[0].trim_start_matches("| ").trim_matches('`');
        let default: Value = serde_json::from_str(cells[1].trim_matches('`'))
            .unwrap_or_else(|e| panic!("{key}: default {:?}: {e}", cells[1]));
        let actual = key
            .split('.')
            .try_fold(&values, |v, k| v.get(k))
            .unwrap_or_else(|| panic!("README documents {key}, which values.yaml lacks"));
        assert_eq!(
            actual, &default,
            "{key}: README default differs from values.yaml"
        );
        assert!(
            cells
                .get(2)
                .is_some_and(|d| d.trim_end_matches(" |").len() > 10),
            "{key} has no description"
        );
        documented.insert(key.to_owned());
    }
    fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v.as_object() {
            Some(map) if !map.is_empty() => {
                for (k, x) in map {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&p, x, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut all = Vec::new();
    leaves("", &values, &mut all);
    let undocumented: Vec<&String> = all
        .iter()
        .filter(|leaf| {
            !documented
                .iter()
                .any(|d| *leaf == d || leaf.starts_with(&format!("{d}.")))
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "values missing from the chart README: {undocumented:?}"
    );
    assert!(documented.len() > 50, "{} rows", documented.len());
}

/// `activeActive.enabled=true`: the operator serves its classes by Leases and shares a
/// namespace's budget through a ConfigMap, as the chart's ServiceAccount, without one denied
/// request; every Lease verb the chart adds for it is used (a graceful stop releases and
/// deletes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_active_replicas_need_only_the_charts_rbac() {
    let Some(env) = env() else { return };
    let _alone = ONE_OPERATOR.lock().await;
    let audit = env
        .audit_log
        .clone()
        .expect("needs the harness's own control plane");
    let f = Fixture::new(env, "aarbac", |_| {}, json!({})).await;
    let out = helm(
        env,
        &[
            "install",
            "aa",
            CHART,
            "-n",
            &f.ns,
            "--set",
            "replicaCount=2",
        ],
    );
    assert!(out.status.success(), "helm install:\n{}", text(&out));
    let deployment: Api<Deployment> = Api::namespaced(f.client.clone(), &f.ns);
    let args = deployment
        .get("aa-talkturo-operator")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers[0]
        .args
        .clone()
        .unwrap_or_default();
    assert!(
        args.contains(&"--shard-by-class=true".to_owned()),
        "{args:?}"
    );
    let budget =
        json!({"metadata": {"annotations": {"telephony.talkturo.ai/monthly-budget": "50.00"}}});
    Api::<Namespace>::all(f.client.clone())
        .patch(&f.ns, &PatchParams::default(), &Patch::Merge(&budget))
        .await
        .unwrap();
    let user = format!("system:serviceaccount:{}:aa-talkturo-operator", f.ns);
    wait_rbac_effective(&f.client, &user, &f.ns).await;
    let stop = run_sharded_as(env, &user, &f.ns);
    f.claim("shared", json!({"countryCode": "US"})).await;
    f.wait_bound("shared", T).await;
    drop(stop);
    // The graceful stop: the class Lease released (update), the member Lease deleted.
    let leases: Api<Lease> = Api::namespaced(f.client.clone(), &f.ns);
    let started = std::time::Instant::now();
    while leases
        .get_opt("aa-talkturo-operator-member-aa-0")
        .await
        .unwrap()
        .is_some()
    {
        assert!(started.elapsed() < T, "the member Lease was never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    lease_grants_used(&audit, &user, &f.ns);
    let budget_cm = format!("aa-talkturo-operator-budget-{}", f.ns);
    Api::<ConfigMap>::namespaced(f.client.clone(), &f.ns)
        .get(&budget_cm)
        .await
        .unwrap();
}

/// The operator in-process as `user`, one of active-active replicas (Leases in `ns`).
fn run_sharded_as(env: &TestEnv, user: &str, ns: &str) -> tokio::sync::oneshot::Sender<()> {
    let mut config = env.config();
    config.auth_info.impersonate = Some(user.to_owned());
    let sharding = ShardConfig {
        identity: "aa-0".into(),
        namespace: ns.to_owned(),
        prefix: "aa-talkturo-operator".into(),
        duration: Duration::from_secs(4),
        margin: Duration::from_secs(1),
    };
    run_in_process_opts(
        config,
        RunOptions {
            config: Config {
                initial_list: InitialList::List,
                ..test_config()
            },
            admin_addr: None,
            admin_addr_file: None,
            leader_election: None,
            reporter: "talkturo-operator".into(),
            sharding: Some(sharding),
        },
    )
}

/// No request of `user` was denied in `ns`, and every Lease verb active-active adds was used.
fn lease_grants_used(audit: &std::path::Path, user: &str, ns: &str) {
    let requests = audited(audit, user);
    let denied: Vec<_> = requests
        .iter()
        .filter(|(_, code, n)| *code == 403 && n.as_deref().is_none_or(|n| n == ns))
        .collect();
    assert!(denied.is_empty(), "denied: {denied:?}");
    let lease_verbs: BTreeSet<&str> = requests
        .iter()
        .filter(|((g, r, _), code, _)| g == "coordination.k8s.io" && r == "leases" && *code < 400)
        .map(|((_, _, v), _, _)| v.as_str())
        .collect();
    for verb in ["get", "list", "create", "update", "delete"] {
        assert!(
            lease_verbs.contains(verb),
            "{verb} on leases never used: {lease_verbs:?}"
        );
    }
}
