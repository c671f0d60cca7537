//! The active-active memory benchmark (`make bench-split`): two classes of N numbers each (one
//! Talkturo account), filled straight into the API server as the scale benchmark does, served
//! first by one operator, then by two active-active replicas, one class each. Each replica
//! caches only its class's claims and PhoneNumbers, so its memory should be about half of the
//! one operator's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use talkturo_operator::api::v1alpha1::{PhoneNumberClaim, PhoneNumberClass};

use super::scale::{FILL_CLIENTS, anon_kib, memory_kib, metric_sum, settle, wait_active_number};
use super::{Bench, CLASS, Error, NAMESPACE, Operator, median};

/// The second class: the same account as the first.
const OTHER: &str = "bench-b";

/// How long memory is sampled once the caches hold what they should (one sample a second).
const SAMPLE: Duration = Duration::from_secs(30);

/// One run of the split benchmark.
pub struct SplitRun {
    /// Claims (and numbers) per class.
    pub per_class: usize,
    /// The operator binary.
    pub operator: PathBuf,
}

impl SplitRun {
    /// One run on a fresh control plane in `dir`.
    pub async fn run(&self, dir: &std::path::Path) -> Result<Value, Error> {
        let n = self.per_class;
        let mut b = Bench::start(dir, self.operator.clone(), |c| c.pool_size = 500, "60s").await?;
        b.active_within = Duration::from_secs(600);
        let fill = self.fill(&mut b).await?;
        let one = b.spawn_operator(&["--leader-election=false"]).await?;
        let single = steady(&[&one], 2 * n).await?;
        drop(one);
        let shard = |id: &'static str| {
            [
                "--shard-by-class=true",
                "--identity",
                id,
                "--lease-namespace",
                NAMESPACE,
                "--lease-duration-secs",
                "15",
            ]
        };
        let a = b.spawn_operator(&shard("replica-a")).await?;
        let c = b.spawn_operator(&shard("replica-b")).await?;
        let started = Instant::now();
        let switched = steady(&[&a, &c], n).await?;
        let switch_secs = started.elapsed().as_secs_f64();
        // Restarted on the labelled cluster: the replicas as they run from then on, without
        // the switch's relabelling of every claim and its handovers.
        drop((a, c));
        let a = b.spawn_operator(&shard("replica-c")).await?;
        let c = b.spawn_operator(&shard("replica-d")).await?;
        let replicas = steady(&[&a, &c], n).await?;
        Ok(json!({
            "perClass": n,
            "fillSecs": fill,
            "single": single,
            "switched": switched,
            "switchSecs": switch_secs,
            "replicas": replicas,
        }))
    }

    /// A claim of each class bought by the operator, then copied `per_class - 1` times each.
    async fn fill(&self, b: &mut Bench) -> Result<f64, Error> {
        let classes: Api<PhoneNumberClass> = Api::all(b.client.clone());
        let mut other = classes.get(CLASS).await?;
        other.metadata = serde_json::from_value(json!({"name": OTHER}))?;
        other.status = None;
        classes.create(&PostParams::default(), &other).await?;
        b.start_operator().await?;
        b.wait_class_ready(Duration::from_secs(60)).await?;
        let first = b.create_claims("template", 0..1, 1).await?;
        let claim: PhoneNumberClaim = serde_json::from_value(json!({
            "metadata": {"name": "template-b"},
            "spec": {"className": OTHER, "countryCode": "US"}}))?;
        b.claims().create(&PostParams::default(), &claim).await?;
        b.wait_bound(2, Duration::from_secs(60)).await?;
        wait_active_number(b, &first[0]).await?;
        wait_active_number(b, "template-b").await?;
        if let Some(mut o) = b.operator.take() {
            o.kill();
        }
        let n = self.per_class;
        let started = Instant::now();
        b.fill_like(&first[0], 1..n, FILL_CLIENTS).await?;
        b.fill_like("template-b", n..2 * n - 1, FILL_CLIENTS)
            .await?;
        settle(b, 2 * n).await?;
        Ok(started.elapsed().as_secs_f64())
    }
}

/// Waits until each operator caches `objects` claims and as many PhoneNumbers, then samples
/// their resident memory for [`SAMPLE`]: each one's median, in KiB, and its peak.
async fn steady(ops: &[&Operator], objects: usize) -> Result<Value, Error> {
    let want = objects as f64;
    let started = Instant::now();
    loop {
        let mut done = true;
        for op in ops {
            let m = op.metrics().await;
            let claims = metric_sum(&m, "talkturo_operator_cached_claims", "");
            let numbers = metric_sum(&m, "talkturo_operator_cached_phone_numbers", "");
            done &= claims == want && numbers == want;
        }
        if done {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(
                format!("the caches did not hold {objects} objects each in 10 minutes").into(),
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let cached_after = started.elapsed().as_secs_f64();
    // Settled: the lists and relabelling of the start are over, freed pages returned.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![Default::default(); ops.len()];
    for _ in 0..SAMPLE.as_secs() {
        for (op, (rss, anon)) in ops.iter().zip(samples.iter_mut()) {
            rss.push(memory_kib(op.pid()).0 as f64);
            anon.push(anon_kib(op.pid()) as f64);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let each: Vec<Value> = ops
        .iter()
        .zip(samples.iter_mut())
        .map(|(op, (rss, anon))| {
            json!({"rssKiB": median(rss), "anonKiB": median(anon), "peakKiB": op.memory_kib().1})
        })
        .collect();
    Ok(json!({"cachedAfterSecs": cached_after, "operators": each}))
}

/// The run as a Markdown table: each process's steady, own (anonymous) and peak memory, and
/// each replica's against the one operator's.
pub fn table(run: &Value) -> String {
    let mib = |v: &Value| v.as_f64().unwrap_or(0.0) / 1024.0;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let one = &run["single"]["operators"][0];
    let (single, single_anon) = (mib(&one["rssKiB"]), mib(&one["anonKiB"]));
    let mut out = format!(
        "| process (2 classes of {} numbers) | caches | steady RSS | vs. one | own (RssAnon) | vs. one | peak RSS |\n|---|---|---|---|---|---|---|\n",
        run["perClass"]
    );
    out += &format!(
        "| one operator, both classes | {} + {} | {single:.1} MiB | 1.00 | {single_anon:.1} MiB | 1.00 | {:.1} MiB |\n",
        2 * run["perClass"].as_u64().unwrap_or(0),
        2 * run["perClass"].as_u64().unwrap_or(0),
        mib(&one["peakKiB"]),
    );
    for (key, when) in [
        ("switched", "just switched from one operator"),
        ("replicas", "restarted on the labelled cluster"),
    ] {
        let replicas = run[key]["operators"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (i, r) in replicas.iter().enumerate() {
            let (rss, anon) = (mib(&r["rssKiB"]), mib(&r["anonKiB"]));
            out += &format!(
                "| replica {} (one class), {when} | {} + {} | {rss:.1} MiB | {:.2} | {anon:.1} MiB | {:.2} | {:.1} MiB |\n",
                i + 1,
                run["perClass"],
                run["perClass"],
                ratio(rss, single),
                ratio(anon, single_anon),
                mib(&r["peakKiB"]),
            );
        }
    }
    out
}
