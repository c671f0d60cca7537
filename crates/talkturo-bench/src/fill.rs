//! Filling a cluster fast, for the scale benchmark: N owned numbers seeded into the simulator's
//! account directly (`POST /admin/numbers/copies`), and N claims and N PhoneNumbers created
//! directly in the API server, already Bound — instead of N purchases through the operator at
//! ~45 a second.
//!
//! While it fills, the two CRDs serve without the status subresource, so that a create carries
//! the status too (2 writes a pair instead of 4: the API server on 2 cores is what limits the
//! fill); the CRDs are put back as they were afterwards. The stored objects are the same either
//! way.
//!
//! Every pair is a copy of one the operator itself bought and bound (the template), with the
//! number, the record id, the names and the uids put in: so the filled cluster is what the
//! operator would have written, and a start on it must decide that nothing needs doing (0
//! writes, 0 purchases). The operator must not run during the fill.

use std::ops::Range;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use super::{AREAS, Bench, CLASS, Error, NAMESPACE};
use talkturo_operator::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, phone_number_name};

/// Numbers seeded per simulator request (its JSON body limit is 2 MB).
const SEED_CHUNK: usize = 5_000;

/// How a fill went: pairs created, and the time the simulator and the API server took.
#[derive(Clone, Debug, Default)]
pub struct Filled {
    pub pairs: usize,
    pub seed_secs: f64,
    pub api_secs: f64,
}

/// What is put into the template's copies.
struct Pair {
    number: String,
    id: String,
    claim: String,
}

/// The template pair as JSON, and the strings each copy replaces.
struct Template {
    claim: Value,
    number: Value,
    digits: String,
    id: String,
    claim_name: String,
    claim_uid: String,
}

/// The number a filled pair gets: `+1<area><7 digits>` with a first digit of 0 or 1, which
/// the simulator's inventory never offers (its numbers start with 2–9 after the area code), so
/// the fill never takes a number a claim could buy. Spread over the bench's area codes.
pub fn fill_number(i: usize) -> String {
    format!("+1{}{:07}", AREAS[i % AREAS.len()], i / AREAS.len())
}

impl Bench {
    /// Copies the Bound claim `template` (and its PhoneNumber, which the operator bought and
    /// settled) into claims `fill-<i>` for `i` in `range`, each with a number of its own that the
    /// account owns, with `clients` API clients of `per_client` requests in flight each. The
    /// operator must be stopped.
    pub async fn fill_like(
        &self,
        template: &str,
        range: Range<usize>,
        (clients, per_client): (usize, usize),
    ) -> Result<Filled, Error> {
        let t = self.template(template).await?;
        let started = Instant::now();
        let numbers: Vec<String> = range.clone().map(fill_number).collect();
        let ids = self.seed(&format!("+{}", t.digits), &numbers).await?;
        let seed_secs = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let config = self.plane.config().await?;
        let apis = (0..clients.max(1))
            .map(|_| kube::Client::try_from(config.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let restore = StatusOff::apply(&self.client).await?;
        let pairs = range
            .clone()
            .zip(numbers)
            .zip(ids)
            .map(|((i, number), id)| Pair {
                number,
                id,
                claim: format!("fill-{i}"),
            });
        let t = &t;
        let results: Vec<Result<(), Error>> = futures::stream::iter(pairs.enumerate())
            .map(|(k, pair)| {
                let client = apis[k % apis.len()].clone();
                async move { create_pair(&client, t, &pair).await }
            })
            .buffer_unordered(clients.max(1) * per_client.max(1))
            .collect()
            .await;
        restore.undo().await?;
        for r in results {
            r?;
        }
        Ok(Filled {
            pairs: range.len(),
            seed_secs,
            api_secs: started.elapsed().as_secs_f64(),
        })
    }

    /// Seeds the account with copies of the record of `from`, one per number; their ids.
    async fn seed(&self, from: &str, numbers: &[String]) -> Result<Vec<String>, Error> {
        let mut ids = Vec::with_capacity(numbers.len());
        let url = format!("{}/admin/numbers/copies", self.sim.base_url());
        let http = reqwest::Client::new();
        for chunk in numbers.chunks(SEED_CHUNK) {
            let answer: Value = http
                .post(&url)
                .json(&json!({"from": from, "numbers": chunk}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let copies = answer["copies"].as_array().cloned().unwrap_or_default();
            if copies.len() != chunk.len() {
                return Err(
                    format!("the simulator seeded {} of {}", copies.len(), chunk.len()).into(),
                );
            }
            ids.extend(
                copies
                    .iter()
                    .map(|c| c["id"].as_str().unwrap_or_default().to_owned()),
            );
        }
        Ok(ids)
    }

    /// The template pair: a Bound claim and its PhoneNumber, as JSON.
    async fn template(&self, name: &str) -> Result<Template, Error> {
        let claim = self.claims().get(name).await?;
        let pn_name = claim
            .status
            .as_ref()
            .and_then(|s| s.phone_number_name.clone())
            .ok_or_else(|| format!("claim {name} is not bound"))?;
        let number = Api::<PhoneNumber>::all(self.client.clone())
            .get(&pn_name)
            .await?;
        let id = number
            .status
            .as_ref()
            .and_then(|s| s.id.clone())
            .ok_or_else(|| format!("PhoneNumber {pn_name} has no record id"))?;
        Ok(Template {
            digits: number.spec.number.trim_start_matches('+').to_owned(),
            id,
            claim_name: name.to_owned(),
            claim_uid: claim.metadata.uid.clone().unwrap_or_default(),
            claim: serde_json::to_value(&claim)?,
            number: serde_json::to_value(&number)?,
        })
    }
}

/// One pair: the claim, then its PhoneNumber, each created with its status (the status
/// subresource is off during the fill).
async fn create_pair(client: &kube::Client, t: &Template, p: &Pair) -> Result<(), Error> {
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client.clone(), NAMESPACE);
    let numbers: Api<PhoneNumber> = Api::all(client.clone());
    let area = &p.number[2..5];
    let digits = p.number.trim_start_matches('+');
    let put = |v: &Value, claim_uid: &str| {
        substitute(
            v,
            &[
                (t.digits.as_str(), digits),
                (t.id.as_str(), p.id.as_str()),
                (t.claim_name.as_str(), p.claim.as_str()),
                (t.claim_uid.as_str(), claim_uid),
            ],
        )
    };
    let mut claim = fresh(&t.claim, &p.claim);
    claim["spec"] = json!({"className": CLASS, "countryCode": "US", "areaCode": area});
    claim["status"] = put(&t.claim["status"], "");
    let claim: PhoneNumberClaim = serde_json::from_value(claim)?;
    let claim = claims.create(&PostParams::default(), &claim).await?;
    let claim_uid = claim.metadata.uid.clone().unwrap_or_default();
    let mut number = fresh(&t.number, &phone_number_name(&p.number));
    number["metadata"] = put(&number["metadata"], &claim_uid);
    number["spec"] = put(&t.number["spec"], &claim_uid);
    number["status"] = put(&t.number["status"], &claim_uid);
    let number: PhoneNumber = serde_json::from_value(number)?;
    numbers.create(&PostParams::default(), &number).await?;
    Ok(())
}

/// The two CRDs as they were before their status subresource was turned off.
struct StatusOff {
    api: Api<CustomResourceDefinition>,
    saved: Vec<CustomResourceDefinition>,
}

impl StatusOff {
    const CRDS: [&str; 2] = [
        "phonenumbers.telephony.talkturo.ai",
        "phonenumberclaims.telephony.talkturo.ai",
    ];

    /// Turns the status subresource off and waits until a create keeps a status.
    async fn apply(client: &kube::Client) -> Result<Self, Error> {
        let api: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut saved = Vec::new();
        for name in Self::CRDS {
            let crd = api.get(name).await?;
            let mut off = crd.clone();
            for v in &mut off.spec.versions {
                v.subresources = None;
            }
            api.replace(name, &PostParams::default(), &off).await?;
            saved.push(crd);
        }
        wait_served(client, false).await?;
        Ok(Self { api, saved })
    }

    /// Puts the CRDs back and waits until the status subresource is served again.
    async fn undo(self) -> Result<(), Error> {
        for crd in self.saved {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let mut back = crd;
            back.metadata.resource_version = self.api.get(&name).await?.metadata.resource_version;
            self.api
                .replace(&name, &PostParams::default(), &back)
                .await?;
        }
        wait_served(&self.api.clone().into_client(), true).await
    }
}

/// Waits until the API server's discovery shows the claims' status subresource as `served`.
async fn wait_served(client: &kube::Client, served: bool) -> Result<(), Error> {
    let group = "telephony.talkturo.ai/v1alpha1";
    for _ in 0..300 {
        let list = client.list_api_group_resources(group).await?;
        let has = |r: &str| list.resources.iter().any(|x| x.name == r);
        if has("phonenumbers/status") == served && has("phonenumberclaims/status") == served {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!(
        "the status subresource was not {} in 30 s",
        if served { "served" } else { "removed" }
    )
    .into())
}

/// The template's object as a new one named `name`: no uid, version, creation time, managed
/// fields or status (labels, annotations and finalizers kept).
fn fresh(template: &Value, name: &str) -> Value {
    let mut v = template.clone();
    if let Some(meta) = v["metadata"].as_object_mut() {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "generation",
        ] {
            meta.remove(field);
        }
        meta.insert("name".into(), json!(name));
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

/// `v` with every `(from, to)` replaced in every string (skipping empty `from`s).
fn substitute(v: &Value, pairs: &[(&str, &str)]) -> Value {
    match v {
        Value::String(s) => {
            let mut s = s.clone();
            for (from, to) in pairs.iter().filter(|(f, _)| !f.is_empty()) {
                if s.contains(from) {
                    s = s.replace(from, to);
                }
            }
            Value::String(s)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, pairs)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, pairs)))
                .collect(),
        ),
        other => other.clone(),
    }
}
