//! The scale benchmark (`make bench-scale`): N claims and N PhoneNumbers, Bound, filled straight
//! into the API server (`fill`), then the operator started on them and measured: time to ready,
//! what a start calls and writes, memory, the steady state, one claim's apply → Bound, and a
//! number removed from the account reported `Lost`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::api::Api;
use serde_json::{Value, json};

use super::{Bench, Error, delta, median, percentile, total};
use talkturo_operator::api::v1alpha1::{NumberPhase, PhoneNumber};
use talkturo_sim::Op;

/// API clients, and requests in flight per client, during the fill.
pub(crate) const FILL_CLIENTS: (usize, usize) = (4, 24);
/// What one scale run measures.
pub struct ScaleRun {
    /// Claims (and numbers) in the cluster.
    pub pairs: usize,
    /// Claims applied one at a time on top, for apply → Bound.
    pub applies: usize,
    /// The operator binary.
    pub operator: PathBuf,
    /// The class's sync interval (`make bench-scale`: 60 s).
    pub sync_secs: u64,
    /// Most records a list page of the simulator holds (its default: 10,000).
    pub page: usize,
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    (status_kib(pid, "VmRSS:"), status_kib(pid, "VmHWM:"))
}

/// `RssAnon` of a process, in KiB: its own pages (heap, stacks), without the binary's and
/// libraries' file pages, which processes of one binary on one node share.
pub fn anon_kib(pid: u32) -> u64 {
    status_kib(pid, "RssAnon:")
}

/// One KiB figure of `/proc/<pid>/status` (0 when unreadable).
fn status_kib(pid: u32, name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The sum of a metric's samples whose labels contain `labels` (Prometheus text format).
pub fn metric_sum(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

impl ScaleRun {
    /// One run on a fresh control plane in `dir`.
    pub async fn run(&self, dir: &std::path::Path) -> Result<Value, Error> {
        let mut b = Bench::start(
            dir,
            self.operator.clone(),
            |c| {
                c.pool_size = 500;
                c.list_limit_cap = self.page;
            },
            &format!("{}s", self.sync_secs),
        )
        .await?;
        // At 100,000 + 100,000 the caches' initial lists alone take about a minute here.
        b.active_within = Duration::from_secs(600);
        let fill = self.fill(&mut b).await?;
        // The first start after the fill writes the class's totals (the fill changed them behind
        // its back); the restart after the steady state is the one with everything correct.
        // What a start calls and writes is counted until a few seconds after its first pass (at
        // most half a sync interval: the next periodic list is not the start's).
        let after = Duration::from_secs((self.sync_secs / 2).min(10));
        let first = start(&mut b, self.pairs, after).await?;
        let steady = steady(&b, self.sync_secs).await?;
        if let Some(mut o) = b.operator.take() {
            o.kill();
        }
        let serve = serve_lists(&b).await?;
        let start = start(&mut b, self.pairs, after).await?;
        let applies = applies(&b, self.applies).await?;
        let lost = lost(&b, self.sync_secs).await?;
        let op = b.operator.as_ref().ok_or("the operator is not running")?;
        let [etcd, apiserver] = b.plane.pids();
        Ok(json!({
            "pairs": self.pairs,
            "idleKiB": fill["idleKiB"],
            "fill": fill,
            "firstStart": first,
            "start": start,
            "serveLists": serve,
            "steady": steady,
            "applies": applies,
            "lost": lost,
            "operatorPeakKiB": op.memory_kib().1,
            "apiserverKiB": memory_kib(apiserver).0,
            "etcdKiB": memory_kib(etcd).0,
        }))
    }

    /// One claim bought and bound by the operator, then copied `pairs - 1` times with the
    /// operator stopped.
    async fn fill(&self, b: &mut Bench) -> Result<Value, Error> {
        b.start_operator().await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle = b.operator.as_ref().map_or(0, |o| o.memory_kib().0);
        b.wait_class_ready(Duration::from_secs(60)).await?;
        let names = b.create_claims("template", 0..1, 1).await?;
        b.wait_bound(1, Duration::from_secs(60)).await?;
        wait_active_number(b, &names[0]).await?;
        if let Some(mut o) = b.operator.take() {
            o.kill();
        }
        let filled = b.fill_like(&names[0], 1..self.pairs, FILL_CLIENTS).await?;
        settle(b, self.pairs).await?;
        let [_, apiserver] = b.plane.pids();
        Ok(json!({
            "idleKiB": idle,
            "seedSecs": filled.seed_secs,
            "apiSecs": filled.api_secs,
            "apiserverKiB": memory_kib(apiserver).0,
        }))
    }
}

/// Waits until the API server serves every filled object from its watch cache (it rebuilds the
/// caches when the CRDs change back), then lets it settle for 5 s: the operator's start is not to
/// be measured against an API server still busy with the fill.
pub(crate) async fn settle(b: &Bench, pairs: usize) -> Result<(), Error> {
    let params = kube::api::ListParams::default().match_any();
    let numbers: Api<PhoneNumber> = Api::all(b.client.clone());
    for _ in 0..600 {
        let claims = b.claims().list_metadata(&params).await?.items.len();
        let pns = numbers.list_metadata(&params).await?.items.len();
        if claims >= pairs && pns >= pairs {
            tokio::time::sleep(Duration::from_secs(5)).await;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(
        format!("the API server did not serve {pairs} claims and PhoneNumbers in 10 minutes")
            .into(),
    )
}

/// Waits until the claim's PhoneNumber shows the record `active` and nothing is queued.
pub(crate) async fn wait_active_number(b: &Bench, claim: &str) -> Result<(), Error> {
    let numbers: Api<PhoneNumber> = Api::all(b.client.clone());
    for _ in 0..600 {
        let c = b.claims().get(claim).await?;
        if let Some(pn) = c.status.and_then(|s| s.phone_number_name) {
            let pn = numbers.get(&pn).await?;
            if pn.status.and_then(|s| s.provider_status).as_deref() == Some("active") {
                tokio::time::sleep(Duration::from_secs(2)).await;
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("claim {claim}'s number never became active").into())
}

/// The API server's share of a start, with no operator running: one list of every claim and
/// one of every PhoneNumber, served from its cache (`resourceVersion=0`), read to the last byte
/// and not decoded. Seconds each, and the bytes.
async fn serve_lists(b: &Bench) -> Result<Value, Error> {
    use kube::Resource;
    use talkturo_operator::api::v1alpha1::PhoneNumberClaim;
    let mut out = serde_json::Map::new();
    for (kind, path) in [
        ("claims", PhoneNumberClaim::url_path(&(), None)),
        ("phoneNumbers", PhoneNumber::url_path(&(), None)),
    ] {
        let request = http::Request::get(format!("{path}?resourceVersion=0")).body(Vec::new())?;
        let started = Instant::now();
        let body = b.client.request_text(request).await?;
        out.insert(
            kind.to_owned(),
            json!({"secs": started.elapsed().as_secs_f64(), "bytes": body.len()}),
        );
    }
    Ok(Value::Object(out))
}

/// The operator started on the filled cluster: caches synced, then the first pass over every
/// object done (every claim and PhoneNumber reconciled once, nothing queued, the class listed);
/// what it called and wrote until 10 s after that.
async fn start(b: &mut Bench, pairs: usize, after: Duration) -> Result<Value, Error> {
    let (calls, mark, purchases) = (b.calls(), b.mark(), b.sim.sim.world().purchases());
    let started = Instant::now();
    let synced = b.start_operator().await?;
    let op = b.operator.as_ref().ok_or("the operator is not running")?;
    let n = pairs as f64;
    let ready = loop {
        let m = op.metrics().await;
        let done = |controller: &str| {
            metric_sum(
                &m,
                "talkturo_operator_reconciles_total",
                &format!("controller=\"{controller}\""),
            )
        };
        let queued = metric_sum(&m, "talkturo_operator_queue_depth", "");
        let listed = b.calls().get(&Op::List).copied().unwrap_or(0)
            > calls.get(&Op::List).copied().unwrap_or(0);
        if done("phonenumber") >= n
            && done("phonenumberclaim") >= n
            && done("phonenumberclass") >= 1.0
            && queued == 0.0
            && listed
        {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err("the first pass was not done within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rss_ready = op.memory_kib().0;
    tokio::time::sleep(after).await;
    let w = b.writes_since(mark)?;
    Ok(json!({
        "syncedSecs": synced.as_secs_f64(),
        "readySecs": ready.as_secs_f64(),
        "rssReadyKiB": rss_ready,
        "calls": super::calls_json(&delta(&b.calls(), &calls)),
        "writes": w.state,
        "events": w.events,
        "writesDetail": w.objects,
        "purchases": b.sim.sim.world().purchases() - purchases,
    }))
}

/// Two sync intervals with nothing to do: calls, pages, writes, memory.
async fn steady(b: &Bench, sync_secs: u64) -> Result<Value, Error> {
    let (calls, mark) = (b.calls(), b.mark());
    let secs = 2 * sync_secs;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let d = delta(&b.calls(), &calls);
    let w = b.writes_since(mark)?;
    let op = b.operator.as_ref().ok_or("the operator is not running")?;
    let (rss, peak) = op.memory_kib();
    Ok(json!({
        "secs": secs,
        "calls": super::calls_json(&d),
        "callsPerHour": total(&d) as f64 * 3600.0 / secs as f64,
        "writes": w.state,
        "events": w.events,
        "rssKiB": rss,
        "peakKiB": peak,
    }))
}

/// `count` claims applied one at a time on top of the fill: apply → Bound, the purchases, and
/// where the time goes: the API server's own time on the operator's writes and Events meanwhile,
/// per claim.
async fn applies(b: &Bench, count: usize) -> Result<Value, Error> {
    let (purchases, mark) = (b.sim.sim.world().purchases(), b.mark());
    let mut ms = Vec::new();
    for i in 0..count {
        ms.push(b.apply_one("apply", i, Duration::from_secs(120)).await?);
    }
    let w = b.writes_since(mark)?;
    let n = count.max(1) as f64;
    Ok(json!({
        "count": count,
        "meanMs": ms.iter().sum::<f64>() / n,
        "p50Ms": median(&mut ms.clone()),
        "p99Ms": percentile(&mut ms, 99.0),
        "purchases": b.sim.sim.world().purchases() - purchases,
        "writesPerClaim": (w.state + w.events) as f64 / n,
        "serverMsPerClaim": w.server_us as f64 / 1000.0 / n,
    }))
}

/// One filled number removed from the account behind the operator's back: how long until its
/// PhoneNumber is `Lost` (at most one sync interval and the list's time).
async fn lost(b: &Bench, sync_secs: u64) -> Result<Value, Error> {
    let number = super::fill_number(1);
    b.sim
        .sim
        .world()
        .vanish(&number)
        .ok_or_else(|| format!("{number} was not in the account"))?;
    let started = Instant::now();
    let name = talkturo_operator::api::v1alpha1::phone_number_name(&number);
    let is_lost = |pn: Option<&PhoneNumber>| {
        pn.and_then(|p| p.status.as_ref())
            .is_some_and(|s| s.phase == Some(NumberPhase::Lost))
    };
    let numbers: Api<PhoneNumber> = Api::all(b.client.clone());
    tokio::time::timeout(
        Duration::from_secs(3 * sync_secs),
        kube::runtime::wait::await_condition(numbers, &name, is_lost),
    )
    .await
    .map_err(|_| format!("{name} was not Lost within {} s", 3 * sync_secs))??;
    Ok(json!({"secs": started.elapsed().as_secs_f64(), "syncSecs": sync_secs}))
}
