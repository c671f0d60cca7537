//! An earlier release's state, kept in `tests/upgrade/<version>/`: its CRDs (`crds/`), the
//! objects it wrote with their status (`objects.yaml`), the simulator's accounts
//! (`simulator.yaml`) and the numbers they held (`records.json`, with the time they were
//! captured). Loading it moves every timestamp by the time since the capture (a trial valid for
//! 30 days stays valid for 30 days) and gives objects the uids the API server assigns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use talkturo_sim::SimConfig;

/// One earlier release's folder.
pub struct Release {
    pub version: String,
    pub dir: PathBuf,
}

/// Every release folder under `tests/upgrade/`, oldest first.
pub fn releases() -> Vec<Release> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upgrade");
    let mut out: Vec<Release> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("objects.yaml").exists())
        .map(|e| Release {
            version: e.file_name().to_string_lossy().into_owned(),
            dir: e.path(),
        })
        .collect();
    out.sort_by_key(|r| semver(&r.version));
    out
}

fn semver(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// What a release folder holds, moved to now.
pub struct Fixture {
    pub objects: Vec<Value>,
    /// The simulator's URL at capture (the classes' `apiBaseUrl`), for [`repoint`].
    pub base_url: String,
    pub sim: SimConfig,
    pub records: Vec<Value>,
}

pub fn load(dir: &Path) -> Fixture {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let mut objects: Vec<Value> = serde_yaml::from_str(&read("objects.yaml")).unwrap();
    let saved: Value = serde_json::from_str(&read("records.json")).unwrap();
    let captured: Timestamp = saved["capturedAt"].as_str().unwrap().parse().unwrap();
    let by = SignedDuration::from_secs(Timestamp::now().duration_since(captured).as_secs());
    let mut records = saved["numbers"].as_array().cloned().unwrap_or_default();
    for v in objects.iter_mut().chain(records.iter_mut()) {
        shift_times(v, by);
    }
    Fixture {
        objects,
        base_url: saved["baseUrl"].as_str().unwrap().to_owned(),
        sim: SimConfig::from_yaml(&read("simulator.yaml")).unwrap(),
        records,
    }
}

/// Every RFC 3339 timestamp in `v`, moved by `by`: values, and words of messages ("expires at
/// 2027-01-06T12:13:11Z").
pub fn shift_times(v: &mut Value, by: SignedDuration) {
    match v {
        Value::String(s) => {
            let shifted = shift_words(s, by);
            if shifted != *s {
                *s = shifted;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| shift_times(x, by)),
        Value::Object(o) => o.values_mut().for_each(|x| shift_times(x, by)),
        _ => {}
    }
}

fn shift_words(s: &str, by: SignedDuration) -> String {
    s.split(' ')
        .map(|word| {
            let trimmed = word
                .trim_start_matches('(')
                .trim_end_matches([')', ',', '.', ';', ':']);
            let moved = trimmed
                .parse::<Timestamp>()
                .ok()
                .filter(|_| trimmed.len() >= 20 && trimmed.as_bytes()[10] == b'T')
                .and_then(|t| t.checked_add(by).ok());
            match moved {
                Some(t) => word.replacen(trimmed, &t.to_string(), 1),
                None => word.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The simulator's URL at capture replaced by today's, wherever it appears (classes'
/// `apiBaseUrl`, the account identity a release recorded, messages).
pub fn repoint(objects: &mut [Value], from: &str, to: &str) {
    fn walk(v: &mut Value, from: &str, to: &str) {
        match v {
            Value::String(s) if s.contains(from) => *s = s.replace(from, to),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, from, to)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, from, to)),
            _ => {}
        }
    }
    objects.iter_mut().for_each(|o| walk(o, from, to));
}

/// Every occurrence of an old uid in `v` replaced by the new one: owner references, claim
/// references, and the keys of managed fields (`k:{"uid":"..."}`).
fn remap(v: &mut Value, uids: &BTreeMap<String, String>) {
    let mut text = v.to_string();
    for (old, new) in uids {
        text = text.replace(old.as_str(), new);
    }
    *v = serde_json::from_str(&text).unwrap();
}

/// An object's resource, from its apiVersion and kind.
pub fn resource(obj: &Value) -> ApiResource {
    let (group, version) = match obj["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (
            String::new(),
            obj["apiVersion"].as_str().unwrap().to_owned(),
        ),
    };
    let kind = obj["kind"].as_str().unwrap();
    ApiResource::from_gvk(&GroupVersionKind::gvk(&group, &version, kind))
}

pub fn api(client: &kube::Client, obj: &Value) -> Api<DynamicObject> {
    let ar = resource(obj);
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// Creates the objects in order, each with the status it had (through the status
/// subresource, for the custom resources), and answers how many there are.
pub async fn create_all(client: &kube::Client, objects: &[Value]) -> usize {
    let mut uids = BTreeMap::new();
    for original in objects {
        let mut obj = original.clone();
        remap(&mut obj, &uids);
        let old_uid = obj["metadata"]["uid"].as_str().map(str::to_owned);
        let old_generation = obj["metadata"]["generation"].as_i64().unwrap_or(1);
        let status = obj.as_object_mut().unwrap().remove("status");
        // managedFields stay: the release's field managers own what they wrote.
        for k in ["uid", "generation", "resourceVersion", "creationTimestamp"] {
            obj["metadata"].as_object_mut().unwrap().remove(k);
        }
        let api = api(client, &obj);
        let created = api
            .create(
                &PostParams::default(),
                &serde_json::from_value(obj.clone()).unwrap(),
            )
            .await
            .unwrap_or_else(|e| panic!("creating {}: {e}", obj["metadata"]));
        if let (Some(old), Some(new)) = (old_uid, created.metadata.uid.clone()) {
            uids.insert(old, new);
        }
        let custom = obj["apiVersion"].as_str().unwrap().contains("talkturo.ai");
        if let (true, Some(mut status)) = (custom, status) {
            let generation = created.metadata.generation.unwrap_or(1);
            regenerate(&mut status, generation - old_generation);
            let name = created.metadata.name.clone().unwrap();
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .unwrap_or_else(|e| panic!("status of {name}: {e}"));
        }
        // A create records its own manager; the release's field managers are put back after.
        if let Some(managed) = obj["metadata"]
            .get("managedFields")
            .filter(|m| !m.is_null())
        {
            let name = created.metadata.name.clone().unwrap();
            let patch = json!({"metadata": {"managedFields": managed}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .unwrap_or_else(|e| panic!("managed fields of {name}: {e}"));
        }
    }
    objects.len()
}

/// The status's observed generations moved by `delta`: they keep their distance from the
/// object's generation, which a new object restarts at 1.
fn regenerate(status: &mut Value, delta: i64) {
    let shift = |v: &mut Value| {
        if let Some(g) = v.as_i64() {
            *v = json!(g + delta);
        }
    };
    if let Some(g) = status.get_mut("observedGeneration") {
        shift(g);
    }
    if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conditions {
            if let Some(g) = c.get_mut("observedGeneration") {
                shift(g);
            }
        }
    }
}

/// The CRDs of `dir` created the way `helm install` creates a chart's `crds/` (a plain create
/// under Helm's field manager), then waited for.
pub async fn install_crds_as_helm(client: &kube::Client, dir: &Path) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let pp = PostParams {
        field_manager: Some("helm".into()),
        ..PostParams::default()
    };
    for f in files {
        let crd: CustomResourceDefinition =
            serde_yaml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        api.create(&pp, &crd).await.unwrap();
    }
    wait_crds(client).await;
}

/// Until the three CRDs are established and their new schema is served.
pub async fn wait_crds(client: &kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for _ in 0..100 {
        let crds = api.list(&Default::default()).await.unwrap().items;
        let established = crds.iter().filter(|c| {
            c.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        });
        if established.count() == 3 {
            // The API server's handlers pick a new schema up a moment after the condition.
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the CRDs were not established in 20 s");
}
