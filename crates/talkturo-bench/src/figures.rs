//! The figures a bench run reports: call counts, the floor (the same work without the operator),
//! medians and percentiles.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;

use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{AREAS, Bench, CLASS, Error, NAMESPACE};
use talkturo_operator::api::v1alpha1::{PhoneNumber, phone_number_name};
use talkturo_sim::Op;

/// Total of a call-count map.
pub fn total(calls: &BTreeMap<Op, u64>) -> u64 {
    calls.values().sum()
}

/// `after - before`, per operation.
pub fn delta(after: &BTreeMap<Op, u64>, before: &BTreeMap<Op, u64>) -> BTreeMap<Op, u64> {
    after
        .iter()
        .map(|(op, n)| (*op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The floor for a burst: only the unavoidable work for each of `names` (already created
/// claims) — one purchase of a distinct number and the minimum writes (the PhoneNumber, its
/// status, the claim's status) — with the same kube client, `concurrency` at a time, no
/// controller. Returns its wall time.
pub async fn floor(bench: &Bench, names: &[String], concurrency: usize) -> Result<Duration, Error> {
    // The numbers, picked up front from the inventory (choosing is not the floor's work).
    let numbers: Vec<String> = {
        let world = bench.sim.sim.world();
        let per_area: Vec<Vec<String>> = AREAS.iter().map(|a| world.offered_in(a)).collect();
        let mut out = Vec::new();
        for i in 0.. {
            if out.len() == names.len() {
                break;
            }
            let Some(n) = per_area[i % AREAS.len()].get(i / AREAS.len()) else {
                return Err("the inventory ran out for the floor".into());
            };
            out.push(n.clone());
        }
        out
    };
    let talkturo = talkturo_client(bench)?;
    let started = Instant::now();
    let pns: Api<PhoneNumber> = Api::all(bench.client.clone());
    let claims = bench.claims();
    let results: Vec<Result<(), Error>> = futures::stream::iter(names.iter().zip(numbers))
        .map(|(claim, number)| {
            let (pns, claims, talkturo) = (pns.clone(), claims.clone(), talkturo.clone());
            async move {
                let bought = talkturo.purchase(&number, "team_demo").await?;
                let name = phone_number_name(&number);
                let pn: PhoneNumber = serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "spec": {"number": number, "className": CLASS,
                             "claimRef": {"namespace": NAMESPACE, "name": claim}}}))?;
                pns.create(&PostParams::default(), &pn).await?;
                pns.patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"id": bought.phone_number.id, "phase": "Bound"}})),
                )
                .await?;
                claims
                    .patch_status(
                        claim,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": {"phase": "Bound", "phoneNumberName": name, "number": number}})),
                    )
                    .await?;
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let took = started.elapsed();
    for r in results {
        r?;
    }
    Ok(took)
}

fn talkturo_client(bench: &Bench) -> Result<talkturo_operator::talkturo::Client, Error> {
    Ok(talkturo_operator::talkturo::Client::new(
        talkturo_operator::talkturo::ClientConfig::new(
            bench.sim.base_url(),
            secrecy::SecretString::from("tk_demo_token"),
        ),
    )?)
}

/// Median of a sample (sorted in place); zero when empty.
pub fn median(v: &mut [f64]) -> f64 {
    percentile(v, 50.0)
}

/// The `p`th percentile (nearest rank) of a sample (sorted in place); zero when empty.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}
