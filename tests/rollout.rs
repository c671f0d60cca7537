//! Rollouts against the real API server and the simulator: a Deployment or StatefulSet labelled
//! `telephony.talkturo.ai/rollout: "true"` that reads a claim's ConfigMap gets one pod-template
//! annotation, `numbers-hash`, set once per number change (one new generation), never on a
//! resync or a restart; a replaced trial number is let go only after the workload rolled out the
//! replacement. Unlabelled workloads, workloads of other namespaces and look-alike ConfigMaps
//! are never touched, also when a tenant (an impersonated user) drives the claim.
//!
//! This control plane runs no controller-manager: the test plays the Deployment controller where
//! a rollout must complete (its status), as `make e2e` does for real on a node.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::TestEnv;
use support::operator::{Fixture, claim_condition, run_in_process, wait};
use support::tenants::{bind, client_as, install_tenant_roles};
use talkturo_sim::SimConfig;

const T: Duration = Duration::from_secs(60);
const HASH: &str = "telephony.talkturo.ai/numbers-hash";

/// The operator of this test binary, which one test stops and starts again.
static OPERATOR: Mutex<Option<tokio::sync::oneshot::Sender<()>>> = Mutex::new(None);

fn env() -> Option<&'static TestEnv> {
    let env = support::env()?;
    let mut op = OPERATOR.lock().unwrap();
    if op.is_none() {
        *op = Some(run_in_process(env.config(), None));
    }
    Some(env)
}

/// A Deployment (or, with `stateful`, a StatefulSet) reading ConfigMap `cm` with `envFrom`.
fn workload(name: &str, cm: &str, labelled: bool) -> Value {
    let labels = if labelled {
        json!({"telephony.talkturo.ai/rollout": "true"})
    } else {
        json!({})
    };
    json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1",
                    "envFrom": [{"configMapRef": {"name": cm}}]}]},
            },
        },
    })
}

async fn deployment(client: &kube::Client, ns: &str, name: &str, cm: &str, labelled: bool) {
    let d: Deployment = serde_json::from_value(workload(name, cm, labelled)).unwrap();
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
}

fn hash_of(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(HASH)
        .cloned()
}

fn generation(d: &Deployment) -> i64 {
    d.metadata.generation.unwrap()
}

/// Plays the Deployment controller: the latest template rolled out on every replica.
async fn complete_rollout(api: &Api<Deployment>, name: &str) {
    let d = api.get(name).await.unwrap();
    let status = json!({"status": {"observedGeneration": generation(&d), "replicas": 1,
        "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// A free team (its one number is a trial valid `secs`) that may subscribe later.
fn free_team(secs: u64) -> impl FnOnce(&mut SimConfig) {
    move |c| {
        c.trial_duration_secs = secs;
        c.release_enabled = true;
        for a in &mut c.accounts {
            for t in &mut a.teams {
                t.subscribed = false;
            }
        }
    }
}

fn owned(f: &Fixture, number: &str) -> bool {
    f.sim
        .sim
        .world()
        .records()
        .any(|r| r.phone_number == number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_trial_rolls_the_labelled_deployment_once_before_the_trial_number_goes() {
    let Some(env) = env() else { return };
    let f = Fixture::new(
        env,
        "roll-trial",
        free_team(30),
        json!({"reclaimPolicy": "Release", "trial": {"warnBefore": "24s", "onExpiry": "Replace"}}),
    )
    .await;
    f.claim(
        "line",
        json!({"countryCode": "US", "configMapName": "phone"}),
    )
    .await;
    let trial = f.wait_bound("line", T).await.status.unwrap();
    let trial_number = trial.number.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(f.client.clone(), &f.ns);
    deployment(&f.client, &f.ns, "web", "phone", true).await;
    deployment(&f.client, &f.ns, "plain", "phone", false).await;
    let web = wait(&deployments, "web", T, |d| hash_of(d).is_some()).await;
    let (first_hash, first_generation) = (hash_of(&web).unwrap(), generation(&web));
    complete_rollout(&deployments, "web").await;
    let events = f.events("Deployment", "web").await;
    let rolled: Vec<_> = events
        .iter()
        .filter(|(_, r, _)| r == "NumberRolledOut")
        .collect();
    assert_eq!(rolled.len(), 1, "{events:?}");
    assert!(rolled[0].2.contains(&trial_number), "{}", rolled[0].2);

    // The team subscribes: the replacement is bought, the ConfigMap switched, web rolled.
    f.sim.sim.world().team_mut("team_demo").unwrap().subscribed = true;
    let web = wait(&deployments, "web", T, |d| {
        hash_of(d).is_some_and(|h| h != first_hash)
    })
    .await;
    assert_eq!(generation(&web), first_generation + 1, "one rollout");
    // Until web has rolled out, the trial number stays (and the claim says why).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(owned(&f, &trial_number), "released before the rollout");
    let c = f.claims().get("line").await.unwrap();
    let (_, reason, message) = claim_condition(&c, "TrialExpiring").unwrap();
    assert_eq!(reason, "Replacing", "{message}");
    assert!(message.contains("Deployment web"), "{message}");
    let cm = Api::<ConfigMap>::namespaced(f.client.clone(), &f.ns)
        .get("phone")
        .await
        .unwrap();
    let paid = cm.data.unwrap()["PHONE_NUMBER"].clone();
    assert_ne!(paid, trial_number, "the ConfigMap holds the replacement");

    complete_rollout(&deployments, "web").await;
    let c = f
        .wait_claim("line", T, |c| {
            c.status.as_ref().unwrap().number.as_deref() == Some(paid.as_str())
        })
        .await;
    assert_eq!(c.status.unwrap().is_trial, Some(false));
    let started = std::time::Instant::now();
    while owned(&f, &trial_number) {
        assert!(started.elapsed() < T, "the trial number was never released");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Two sync intervals: no second rollout; the unlabelled Deployment was never touched.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        generation(&deployments.get("web").await.unwrap()),
        first_generation + 1
    );
    let plain = deployments.get("plain").await.unwrap();
    assert_eq!((generation(&plain), hash_of(&plain)), (1, None));
    let rolled = f.event_reasons("Deployment", "web").await;
    assert_eq!(
        rolled.iter().filter(|r| *r == "NumberRolledOut").count(),
        2,
        "{rolled:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_the_operator_was_stopped_rolls_once_and_a_restart_alone_never() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "roll-restart", |_| {}, json!({})).await;
    f.claim(
        "line",
        json!({"countryCode": "US", "configMapName": "phone"}),
    )
    .await;
    f.wait_bound("line", T).await;
    let sets: Api<StatefulSet> = Api::namespaced(f.client.clone(), &f.ns);
    let mut spec = workload("db", "phone", true);
    spec["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("envFrom");
    spec["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "n", "configMap": {"name": "phone"}}]);
    let set: StatefulSet = serde_json::from_value(spec).unwrap();
    sets.create(&PostParams::default(), &set).await.unwrap();
    let annotated = |s: &StatefulSet| {
        s.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(HASH))
            .cloned()
    };
    let db = wait(&sets, "db", T, |s| annotated(s).is_some()).await;
    let (hash, gen1) = (annotated(&db).unwrap(), db.metadata.generation.unwrap());

    // Stopped: a restart alone changes nothing.
    OPERATOR.lock().unwrap().take();
    tokio::time::sleep(Duration::from_secs(2)).await;
    *OPERATOR.lock().unwrap() = Some(run_in_process(env.config(), None));
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        sets.get("db").await.unwrap().metadata.generation,
        Some(gen1)
    );

    // Stopped again, and the ConfigMap changed meanwhile (as if the operator had written a new
    // number and stopped before rolling): rolled once after the start.
    OPERATOR.lock().unwrap().take();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns);
    let patch = json!({"data": {"PHONE_NUMBER_ID": "pn_changed_while_stopped"}});
    cms.patch("phone", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    *OPERATOR.lock().unwrap() = Some(run_in_process(env.config(), None));
    let db = wait(&sets, "db", T, |s| annotated(s).is_some_and(|h| h != hash)).await;
    assert_eq!(db.metadata.generation, Some(gen1 + 1));
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        sets.get("db").await.unwrap().metadata.generation,
        Some(gen1 + 1),
        "once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_roll_other_namespaces_unlabelled_workloads_or_through_a_look_alike() {
    let Some(env) = env() else { return };
    let f = Fixture::new(env, "roll-tenant", |_| {}, json!({})).await;
    let admin = f.client.clone();
    install_tenant_roles(&admin, &format!("t-{}", f.ns)).await;
    let (_, other_ns) = env.namespace("roll-victim").await;
    // The tenant may create claims and Deployments in its namespace, and nothing elsewhere.
    let role: k8s_openapi::api::rbac::v1::ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": format!("deployer-{}", f.ns)},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"],
            "verbs": ["get", "list", "create", "patch", "update"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create"]}],
    }))
    .unwrap();
    Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(admin.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let user = format!("alice-{}", f.ns);
    bind(&admin, &f.ns, &user, &format!("deployer-{}", f.ns)).await;
    bind(
        &admin,
        &f.ns,
        &user,
        &format!("t-{}-talkturo-operator-claims-edit", f.ns),
    )
    .await;
    let alice = client_as(env, &user);

    // Another namespace: a labelled Deployment reading a ConfigMap of the same name (data copied,
    // not controlled by any claim), and one of the tenant's own reading a look-alike.
    let look_alike: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "phone"}, "data": {"PHONE_NUMBER": "+14155550100"}}))
    .unwrap();
    Api::<ConfigMap>::namespaced(admin.clone(), &other_ns)
        .create(&PostParams::default(), &look_alike)
        .await
        .unwrap();
    deployment(&admin, &other_ns, "victim", "phone", true).await;

    let claim: talkturo_operator::api::v1alpha1::PhoneNumberClaim = serde_json::from_value(json!({
        "metadata": {"name": "line"},
        "spec": {"className": f.class, "countryCode": "US", "configMapName": "phone"}}))
    .unwrap();
    Api::<talkturo_operator::api::v1alpha1::PhoneNumberClaim>::namespaced(alice.clone(), &f.ns)
        .create(&PostParams::default(), &claim)
        .await
        .unwrap();
    f.wait_bound("line", T).await;
    let fake: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "fake", "ownerReferences": [{"apiVersion": "telephony.talkturo.ai/v1alpha1",
            "kind": "PhoneNumberClaim", "name": "line", "uid": "00000000-0000-4000-8000-000000000000", "controller": true}]},
        "data": {"PHONE_NUMBER": "+14155550199"}}))
    .unwrap();
    Api::<ConfigMap>::namespaced(alice.clone(), &f.ns)
        .create(&PostParams::default(), &fake)
        .await
        .unwrap();
    deployment(&alice, &f.ns, "web", "phone", true).await;
    deployment(&alice, &f.ns, "unlabelled", "phone", false).await;
    deployment(&alice, &f.ns, "faked", "fake", true).await;
    let mine: Api<Deployment> = Api::namespaced(admin.clone(), &f.ns);
    wait(&mine, "web", T, |d| hash_of(d).is_some()).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    for (ns, name) in [
        (&other_ns, "victim"),
        (&f.ns, "unlabelled"),
        (&f.ns, "faked"),
    ] {
        let d = Api::<Deployment>::namespaced(admin.clone(), ns)
            .get(name)
            .await
            .unwrap();
        assert_eq!((generation(&d), hash_of(&d)), (1, None), "{ns}/{name}");
    }
    // Nor can the tenant label the other namespace's workloads, or claim there.
    let label = json!({"metadata": {"labels": {"telephony.talkturo.ai/rollout": "true"}}});
    let denied = Api::<Deployment>::namespaced(alice.clone(), &other_ns)
        .patch("victim", &PatchParams::default(), &Patch::Merge(&label))
        .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{denied:?}"
    );
}
