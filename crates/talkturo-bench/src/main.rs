//! `talkturo-bench`: the performance figures of BENCHMARKS.md (metrics M1–M8 of the
//! performance issue), measured against a real kube-apiserver + etcd and the simulator, with
//! the operator's release binary as a child process. `make bench` / `make bench-quick`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use talkturo_bench::{self as bench, Bench, Writes};
use talkturo_sim::Op;

#[derive(Parser)]
#[command(about = "Measure the operator: Talkturo calls, API writes, throughput, latency, memory")]
struct Args {
    /// Claims in the burst (M1, M2, M4).
    #[arg(long, default_value_t = 1000)]
    burst: usize,
    /// Claims (and so numbers) in the steady state (M3, M6, M7); at least --burst.
    #[arg(long, default_value_t = 10_000)]
    total: usize,
    /// Claims created one at a time for the apply → Bound latency (M5).
    #[arg(long, default_value_t = 50)]
    sequential: usize,
    /// Seconds of steady state observed for M3.
    #[arg(long, default_value_t = 120)]
    steady_secs: u64,
    /// Independent runs (fresh control plane each); times are reported as medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The operator binary to measure.
    #[arg(long, default_value = "target/release/talkturo-operator")]
    operator: PathBuf,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "target/bench/last-run.json")]
    out: PathBuf,
    /// The scale benchmark instead (`make bench-scale`): for each size, that many claims and
    /// PhoneNumbers filled straight into the API server, Bound, and the operator measured on
    /// them (comma-separated sizes, e.g. 1000,10000,100000).
    #[arg(long, value_delimiter = ',')]
    scale: Vec<usize>,
    /// Scale benchmark: claims applied one at a time on top of the fill (apply → Bound).
    #[arg(long, default_value_t = 20)]
    applies: usize,
    /// The active-active memory benchmark instead (`make bench-split`): two classes of this
    /// many claims and numbers each, served by one operator, then by two replicas.
    #[arg(long)]
    split: Option<usize>,
}

/// Claims created at once by the benchmark client.
const CREATE_CONCURRENCY: usize = 64;
/// The operator's default reconcile concurrency, also the floor's.
const WORK_CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() -> Result<(), bench::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    if !args.operator.exists() {
        return Err(format!(
            "{} does not exist: build it first (`cargo build --release --bin talkturo-operator`)",
            args.operator.display()
        )
        .into());
    }
    if !args.scale.is_empty() {
        return scale(&args).await;
    }
    if let Some(per_class) = args.split {
        return split(&args, per_class).await;
    }
    let total = args.total.max(args.burst);
    let mut runs = Vec::new();
    for run in 0..args.runs {
        eprintln!("run {}/{}", run + 1, args.runs);
        runs.push(one_run(&args, total, run).await?);
    }
    let report = summarize(&args, total, &runs);
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)?;
    println!("{}", bench::table(&report));
    Ok(())
}

/// `--scale`: one run per size, on a fresh control plane each; the table, and the figures in
/// `--out` (default `target/bench/scale-last-run.json`).
async fn scale(args: &Args) -> Result<(), bench::Error> {
    let mut runs = Vec::new();
    for &pairs in &args.scale {
        eprintln!("scale run: {pairs} claims + {pairs} PhoneNumbers");
        let dir = tempfile::Builder::new()
            .prefix(&format!("talkturo-bench-scale-{pairs}-"))
            .tempdir()?;
        let run = bench::scale::ScaleRun {
            pairs,
            applies: args.applies,
            operator: args.operator.clone(),
            sync_secs: 60,
            page: talkturo_sim::SimConfig::default().list_limit_cap,
        };
        let figures = run.run(dir.path()).await?;
        eprintln!("{}", serde_json::to_string(&figures)?);
        runs.push(figures);
    }
    let out = if args.out == std::path::Path::new("target/bench/last-run.json") {
        PathBuf::from("target/bench/scale-last-run.json")
    } else {
        args.out.clone()
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&runs)?)?;
    println!("{}", bench::scale_table(&runs));
    Ok(())
}

/// `--split`: one run; the table, and the figures in `target/bench/split-last-run.json`.
async fn split(args: &Args, per_class: usize) -> Result<(), bench::Error> {
    eprintln!("split run: 2 classes of {per_class} claims + {per_class} PhoneNumbers");
    let dir = tempfile::Builder::new()
        .prefix("talkturo-bench-split-")
        .tempdir()?;
    let run = bench::split::SplitRun {
        per_class,
        operator: args.operator.clone(),
    };
    let figures = run.run(dir.path()).await?;
    let out = PathBuf::from("target/bench/split-last-run.json");
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&figures)?)?;
    println!("{}", bench::split::table(&figures));
    Ok(())
}

async fn one_run(args: &Args, total: usize, run: usize) -> Result<Value, bench::Error> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("talkturo-bench-{run}-"))
        .tempdir()?;
    let mut b = Bench::start(
        dir.path(),
        args.operator.clone(),
        |c| c.pool_size = (total * 3 / bench::AREAS.len()).max(200),
        "60s",
    )
    .await?;

    // The floor first, with no operator running; its objects are removed afterwards.
    let floor_work = floor(&b, args.burst).await?;

    // Idle.
    b.start_operator().await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_kib = op(&b)?.memory_kib().0;

    // M5 (and M1 for an isolated claim): one claim at a time.
    let (mut latencies, isolated) = sequential(&b, args.sequential).await?;

    // M4, M1, M2: the burst.
    let before = (b.calls(), b.mark(), b.sim.sim.world().purchases());
    let started = Instant::now();
    b.create_claims("burst", 0..args.burst, CREATE_CONCURRENCY)
        .await?;
    let burst_time = b
        .wait_bound(args.sequential + args.burst, Duration::from_secs(1800))
        .await?;
    let burst_secs = started
        .elapsed()
        .as_secs_f64()
        .max(burst_time.as_secs_f64());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let burst_calls = bench::delta(&b.calls(), &before.0);
    let burst_writes = b.writes_since(before.1)?;
    let burst_purchases = b.sim.sim.world().purchases() - before.2;
    let burst_peak_kib = op(&b)?.memory_kib().1;

    // The rest of the steady state's claims.
    if total > args.burst {
        b.create_claims("bulk", args.burst..total, CREATE_CONCURRENCY)
            .await?;
        b.wait_bound(args.sequential + total, Duration::from_secs(3600))
            .await?;
    }
    let numbers = args.sequential + total;

    // M3, M6: steady state (everything bound and active; nothing to do).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (calls, mark) = (b.calls(), b.mark());
    tokio::time::sleep(Duration::from_secs(args.steady_secs)).await;
    let steady_calls = bench::delta(&b.calls(), &calls);
    let steady_writes = b.writes_since(mark)?;
    let (steady_kib, peak_kib) = op(&b)?.memory_kib();

    // M7: restart with everything bound.
    let restart = restart(&mut b).await?;

    let per_number = |c: &BTreeMap<Op, u64>| {
        c.iter()
            .filter(|(op, _)| !matches!(op, Op::List))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    Ok(json!({
        "numbers": numbers,
        "floorSecs": floor_work.as_secs_f64(),
        "idleKiB": idle_kib,
        "isolatedCalls": isolated.0,
        "isolatedWrites": writes(&isolated.1),
        "applyToBoundMs": {"p50": bench::median(&mut latencies.clone()), "p99": bench::percentile(&mut latencies, 99.0)},
        "burst": {
            "claims": args.burst,
            "secs": burst_secs,
            "calls": bench::calls_json(&burst_calls),
            "purchases": burst_purchases,
            "writes": writes(&burst_writes),
            "peakKiB": burst_peak_kib,
        },
        "steady": {
            "secs": args.steady_secs,
            "calls": bench::calls_json(&steady_calls),
            "perNumberCalls": per_number(&steady_calls),
            "writes": writes(&steady_writes),
            "rssKiB": steady_kib,
            "peakKiB": peak_kib,
        },
        "restart": restart,
    }))
}

/// Claims created one at a time, each waited for until Bound: the latencies (ms), and the calls
/// and writes of the first.
async fn sequential(b: &Bench, count: usize) -> Result<(Vec<f64>, (u64, Writes)), bench::Error> {
    let mut latencies = Vec::new();
    let mut isolated = (0u64, Writes::default());
    b.wait_class_ready(Duration::from_secs(60)).await?;
    for i in 0..count {
        let (calls, mark) = (b.calls(), b.mark());
        latencies.push(b.apply_one("solo", i, Duration::from_secs(30)).await?);
        if i == 0 {
            // Let the purchase settle (active) before counting what one claim cost.
            tokio::time::sleep(Duration::from_secs(2)).await;
            isolated = (
                bench::total(&bench::delta(&b.calls(), &calls)),
                b.writes_since(mark)?,
            );
        }
    }
    Ok((latencies, isolated))
}

/// The operator killed and started again with everything bound: how long until it is ready,
/// and what it calls and writes.
async fn restart(b: &mut Bench) -> Result<Value, bench::Error> {
    if let Some(mut o) = b.operator.take() {
        o.kill();
    }
    let (calls, mark, purchases) = (b.calls(), b.mark(), b.sim.sim.world().purchases());
    let ready = b.start_operator().await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let restart_calls = bench::delta(&b.calls(), &calls);
    let restart_writes = b.writes_since(mark)?;
    let restart_purchases = b.sim.sim.world().purchases() - purchases;
    Ok(json!({
        "readySecs": ready.as_secs_f64(),
        "calls": bench::calls_json(&restart_calls),
        "writes": writes(&restart_writes),
        "purchases": restart_purchases,
    }))
}

/// The floor: the same work done without the operator (`bench::floor`), then removed.
async fn floor(b: &Bench, burst: usize) -> Result<Duration, bench::Error> {
    let names = b
        .create_claims("floor", 0..burst, CREATE_CONCURRENCY)
        .await?;
    let work = bench::floor(b, &names, WORK_CONCURRENCY).await?;
    remove_floor(b, &names).await?;
    Ok(work)
}

fn op(b: &Bench) -> Result<&bench::Operator, bench::Error> {
    b.operator
        .as_ref()
        .ok_or_else(|| "the operator is not running".into())
}

async fn remove_floor(b: &Bench, names: &[String]) -> Result<(), bench::Error> {
    use kube::api::{Api, DeleteParams};
    let pns: Api<talkturo_operator::api::v1alpha1::PhoneNumber> = Api::all(b.client.clone());
    for pn in pns.list(&Default::default()).await?.items {
        pns.delete(&kube::ResourceExt::name_any(&pn), &DeleteParams::default())
            .await?;
    }
    for n in names {
        b.claims().delete(n, &DeleteParams::default()).await?;
    }
    Ok(())
}

fn writes(w: &Writes) -> Value {
    json!({"state": w.state, "events": w.events, "leases": w.leases, "conflicts": w.conflicts, "detail": w.detail})
}

fn summarize(args: &Args, total: usize, runs: &[Value]) -> Value {
    let med = |f: &dyn Fn(&Value) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        bench::median(&mut v)
    };
    let max = |f: &dyn Fn(&Value) -> f64| runs.iter().map(f).fold(0.0, f64::max);
    let burst = args.burst as f64;
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    let sum_calls = |v: &Value| v.as_object().map_or(0.0, |m| m.values().map(n).sum());
    let binary = std::fs::metadata(&args.operator).map_or(0, |m| m.len());
    json!({
        "commit": option_env!("GIT_COMMIT").unwrap_or("see BENCHMARKS.md"),
        "runs": runs.len(),
        "burst": args.burst,
        "total": total,
        "M1": {
            "callsPerClaimBurst": max(&|r| sum_calls(&r["burst"]["calls"]) / burst),
            "callsIsolated": max(&|r| n(&r["isolatedCalls"])),
            "duplicatePurchases": max(&|r| n(&r["burst"]["purchases"]) - burst),
        },
        "M2": {
            "stateWritesPerClaim": max(&|r| n(&r["burst"]["writes"]["state"]) / burst),
            "eventsPerClaim": max(&|r| n(&r["burst"]["writes"]["events"]) / burst),
            "conflictsBurst": max(&|r| n(&r["burst"]["writes"]["conflicts"])),
            "conflictsSteady": max(&|r| n(&r["steady"]["writes"]["conflicts"])),
        },
        "M3": {
            "numbers": runs.first().map_or(0.0, |r| n(&r["numbers"])),
            "callsPerHour": max(&|r| sum_calls(&r["steady"]["calls"]) * 3600.0 / n(&r["steady"]["secs"])),
            "perNumberCalls": max(&|r| n(&r["steady"]["perNumberCalls"])),
            "writes": max(&|r| n(&r["steady"]["writes"]["state"]) + n(&r["steady"]["writes"]["events"])),
        },
        "M4": {
            "claimsPerSec": med(&|r| burst / n(&r["burst"]["secs"])),
            "floorClaimsPerSec": med(&|r| burst / n(&r["floorSecs"])),
            "ratioToFloor": med(&|r| n(&r["burst"]["secs"]) / n(&r["floorSecs"])),
        },
        "M5": {
            "p50Ms": med(&|r| n(&r["applyToBoundMs"]["p50"])),
            "p99Ms": med(&|r| n(&r["applyToBoundMs"]["p99"])),
        },
        "M6": {
            "idleMiB": med(&|r| n(&r["idleKiB"]) / 1024.0),
            "steadyMiB": med(&|r| n(&r["steady"]["rssKiB"]) / 1024.0),
            "peakMiB": med(&|r| n(&r["steady"]["peakKiB"]) / 1024.0),
        },
        "M7": {
            "readySecs": med(&|r| n(&r["restart"]["readySecs"])),
            "listCalls": max(&|r| n(&r["restart"]["calls"]["list"])),
            "otherCalls": max(&|r| sum_calls(&r["restart"]["calls"]) - n(&r["restart"]["calls"]["list"])),
            "writes": max(&|r| n(&r["restart"]["writes"]["state"]) + n(&r["restart"]["writes"]["events"])),
            "purchases": max(&|r| n(&r["restart"]["purchases"])),
        },
        "M8": {"binaryMiB": binary as f64 / (1024.0 * 1024.0)},
        "raw": runs,
    })
}
