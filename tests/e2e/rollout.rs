//! Phase: a number tied to a Deployment on the real node. A Deployment labelled for rollouts
//! reads a claim's ConfigMap with `envFrom`; its pods print the number their environment holds.
//! A trial `Replace` rolls it exactly once (one new ReplicaSet, whose pods print the new
//! number) before the trial number is released; an unlabelled Deployment reading the same
//! ConfigMap keeps its generation; resyncs and an operator restart change no generation.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use serde_json::json;
use talkturo_operator::api::v1alpha1::{PhoneNumberClaim, PhoneNumberClass};
use talkturo_sim::{SimConfig, SimServer};
use talkturo_testenv::node;

use super::{Clock, E2e, NS, RELEASE, T, create_ns};

const ROLL_NS: &str = "rollout";

/// A Deployment of the echo image reading ConfigMap `phone`.
fn echo_deployment(name: &str, labelled: bool) -> Deployment {
    let labels = if labelled {
        json!({"telephony.talkturo.ai/rollout": "true"})
    } else {
        json!({})
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "hostNetwork": true,
                    "automountServiceAccountToken": false,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "app", "image": node::ECHO_ENV_IMAGE,
                        "imagePullPolicy": "Never",
                        "envFrom": [{"configMapRef": {"name": "phone"}}]}],
                },
            },
        },
    }))
    .unwrap()
}

fn rolled_out(d: &Deployment) -> bool {
    let s = d.status.clone().unwrap_or_default();
    s.observed_generation == d.metadata.generation
        && s.updated_replicas == Some(1)
        && s.available_replicas == Some(1)
        && s.replicas == Some(1)
}

fn hash(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get("telephony.talkturo.ai/numbers-hash")
        .cloned()
}

async fn wait_deployment(
    api: &Api<Deployment>,
    name: &str,
    what: &str,
    pred: impl Fn(&Deployment) -> bool,
) -> Deployment {
    let started = Instant::now();
    loop {
        let d = api.get(name).await.unwrap();
        if pred(&d) {
            return d;
        }
        assert!(
            started.elapsed() < T,
            "{name}: {what}; it is {:?}",
            d.status
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The ReplicaSets of Deployment `name`.
async fn replica_sets(client: &kube::Client, name: &str) -> Vec<ReplicaSet> {
    Api::<ReplicaSet>::namespaced(client.clone(), ROLL_NS)
        .list(&ListParams::default().labels(&format!("app={name}")))
        .await
        .unwrap()
        .items
}

/// What the Ready pods of Deployment `name` printed (their environment's number).
async fn printed(client: &kube::Client, name: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ROLL_NS);
    let mut out = Vec::new();
    for p in pods
        .list(&ListParams::default().labels(&format!("app={name}")))
        .await
        .unwrap()
        .items
    {
        let ready = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready && p.metadata.deletion_timestamp.is_none() {
            let name = p.metadata.name.clone().unwrap();
            out.push(pods.logs(&name, &LogParams::default()).await.unwrap());
        }
    }
    out
}

pub(super) async fn phase_rollout(e: &E2e, clock: &mut Clock) {
    let client = e.client.clone();
    let (sim, trial) = trial_claim(&client).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ROLL_NS);
    let (web_gen, plain_gen) = deploy(&client, &deployments, &trial).await;
    clock.mark("rollout: labelled and unlabelled Deployments running the trial number");
    let sets_before = replica_sets(&client, "web").await.len();
    let paid = replaced(&sim, &deployments, &trial, web_gen).await;
    clock.mark("rollout: trial replaced, web rolled out once, then the trial number released");
    assert_eq!(
        replica_sets(&client, "web").await.len(),
        sets_before + 1,
        "one new ReplicaSet"
    );
    let out = printed(&client, "web").await;
    assert!(
        !out.is_empty()
            && out
                .iter()
                .all(|o| o.contains(&format!("PHONE_NUMBER={paid} "))),
        "web's pods printed {out:?}, not {paid}"
    );
    assert_eq!(
        deployments.get("plain").await.unwrap().metadata.generation,
        plain_gen
    );

    // Resyncs (sync interval 5 s) and an operator restart: no generation changes.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    for p in e.operator_pods().await {
        pods.delete(&p.metadata.name.unwrap(), &DeleteParams::default())
            .await
            .unwrap();
    }
    e.ready_pod().await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        deployments.get("web").await.unwrap().metadata.generation,
        web_gen.map(|g| g + 1)
    );
    assert_eq!(
        deployments.get("plain").await.unwrap().metadata.generation,
        plain_gen
    );
    assert_eq!(replica_sets(&client, "web").await.len(), sets_before + 1);
    clock.mark("rollout: 40 s of resyncs and an operator restart rolled nothing");
    clean_up(&client, &sim, &paid).await;
}

/// A second simulator (a free team: its number is a trial valid 60 s, replaced 30 s before it
/// expires), a class on it and a claim with a ConfigMap: the simulator and the trial number.
async fn trial_claim(client: &kube::Client) -> (SimServer, String) {
    let mut config = SimConfig {
        activation_delay_ms: 200,
        trial_duration_secs: 60,
        release_enabled: true,
        // Numbers are unique across Talkturo: this one must not offer the first one's.
        seed: 7,
        ..SimConfig::default()
    };
    for a in &mut config.accounts {
        for t in &mut a.teams {
            t.subscribed = false;
        }
    }
    let sim = SimServer::start(config).await.unwrap();
    let class: PhoneNumberClass = serde_json::from_value(json!({
        "metadata": {"name": "rollout"},
        "spec": {"apiBaseUrl": sim.base_url(), "teamId": "team_demo", "accountSlug": "demo",
            "apiKeySecretRef": {"namespace": NS, "name": format!("{RELEASE}-api-key"), "key": "apiKey"},
            "syncInterval": "5s", "reclaimPolicy": "Release",
            "trial": {"warnBefore": "30s", "onExpiry": "Replace"}},
    }))
    .unwrap();
    Api::<PhoneNumberClass>::all(client.clone())
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    create_ns(client, ROLL_NS).await;
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client.clone(), ROLL_NS);
    let claim: PhoneNumberClaim = serde_json::from_value(json!({
        "metadata": {"name": "line"},
        "spec": {"className": "rollout", "countryCode": "US", "configMapName": "phone"},
    }))
    .unwrap();
    claims.create(&PostParams::default(), &claim).await.unwrap();
    let started = Instant::now();
    loop {
        let c = claims.get("line").await.unwrap();
        let written = c.status.as_ref().filter(|s| s.config_map_name.is_some());
        if let Some(n) = written.and_then(|s| s.number.clone()) {
            return (sim, n);
        }
        assert!(
            started.elapsed() < T,
            "the claim never got its trial number: {:?}",
            c.status
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `web` (labelled) and `plain` (not), both running and printing the trial number: their
/// generations.
async fn deploy(
    client: &kube::Client,
    deployments: &Api<Deployment>,
    trial: &str,
) -> (Option<i64>, Option<i64>) {
    for (name, labelled) in [("web", true), ("plain", false)] {
        deployments
            .create(&PostParams::default(), &echo_deployment(name, labelled))
            .await
            .unwrap();
    }
    let web = wait_deployment(deployments, "web", "rolled out with its hash", |d| {
        hash(d).is_some() && rolled_out(d)
    })
    .await;
    let plain = wait_deployment(deployments, "plain", "rolled out", rolled_out).await;
    assert_eq!(hash(&plain), None);
    for name in ["web", "plain"] {
        let out = printed(client, name).await;
        assert!(
            !out.is_empty()
                && out
                    .iter()
                    .all(|o| o.contains(&format!("PHONE_NUMBER={trial} "))),
            "{name} printed {out:?}, not {trial}"
        );
    }
    (web.metadata.generation, plain.metadata.generation)
}

/// The team subscribes before the window opens: the replacement is bought when it opens, web
/// rolls once, and only then is the trial number released. The paid number.
async fn replaced(
    sim: &SimServer,
    deployments: &Api<Deployment>,
    trial: &str,
    web_gen: Option<i64>,
) -> String {
    sim.sim.world().team_mut("team_demo").unwrap().subscribed = true;
    let started = Instant::now();
    let owns = |n: &str| sim.sim.world().records().any(|r| r.phone_number == n);
    while owns(trial) {
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "the trial number was never released"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let web = deployments.get("web").await.unwrap();
    assert!(
        rolled_out(&web) && web.metadata.generation == web_gen.map(|g| g + 1),
        "the trial number was released before web rolled out its replacement: {:?}",
        web.status
    );
    let mut numbers = sim
        .sim
        .world()
        .records()
        .map(|r| r.phone_number.clone())
        .collect::<Vec<_>>();
    assert_eq!(numbers.len(), 1, "{numbers:?}");
    numbers.remove(0)
}

/// The namespace deleted (the claim's number released), the class gone.
async fn clean_up(client: &kube::Client, sim: &SimServer, paid: &str) {
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .delete(ROLL_NS, &DeleteParams::default())
        .await
        .unwrap();
    let started = Instant::now();
    while sim.sim.world().records().any(|r| r.phone_number == paid) {
        assert!(started.elapsed() < T, "the claim's number was not released");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Api::<PhoneNumberClass>::all(client.clone())
        .delete("rollout", &DeleteParams::default())
        .await
        .unwrap();
}
