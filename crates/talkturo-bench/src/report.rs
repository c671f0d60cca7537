//! The table `make bench` prints (and BENCHMARKS.md holds) from a run's summary.

use serde_json::Value;

/// A row of the table: id, metric, target, measured.
type Row = (&'static str, &'static str, &'static str, String);

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// M1–M3: calls and writes. (Targets as issue #24 set them.)
fn calls_rows(r: &Value) -> [Row; 3] {
    let f = num;
    [
        (
            "M1",
            "Talkturo calls per bound claim (burst / isolated); duplicate purchases",
            "≤ 1.08 / ≤ 3; 0",
            format!(
                "{:.2} / {} ; {}",
                f(&r["M1"]["callsPerClaimBurst"]),
                f(&r["M1"]["callsIsolated"]),
                f(&r["M1"]["duplicatePurchases"])
            ),
        ),
        (
            "M2",
            "API writes per bound claim (state + Events); conflicts burst / steady",
            "≤ 3; 0 steady",
            format!(
                "{:.2} + {:.2}; {} / {}",
                f(&r["M2"]["stateWritesPerClaim"]),
                f(&r["M2"]["eventsPerClaim"]),
                f(&r["M2"]["conflictsBurst"]),
                f(&r["M2"]["conflictsSteady"])
            ),
        ),
        (
            "M3",
            "steady state: Talkturo calls/hour (1 class, 60 s sync); per-number calls; writes",
            "≤ 60; 0; 0",
            format!(
                "{:.0} with {} numbers; {}; {}",
                f(&r["M3"]["callsPerHour"]),
                f(&r["M3"]["numbers"]),
                f(&r["M3"]["perNumberCalls"]),
                f(&r["M3"]["writes"])
            ),
        ),
    ]
}

/// M4–M8: speed, memory, restart, size.
fn speed_rows(r: &Value) -> [Row; 5] {
    let f = num;
    [
        (
            "M4",
            "claims bound per second, burst; ratio to the floor",
            "≥ 100/s; ≤ 2×",
            format!(
                "{:.0}/s (floor {:.0}/s); {:.2}×",
                f(&r["M4"]["claimsPerSec"]),
                f(&r["M4"]["floorClaimsPerSec"]),
                f(&r["M4"]["ratioToFloor"])
            ),
        ),
        (
            "M5",
            "apply → Bound, one at a time (p50 / p99)",
            "≤ 25 / 100 ms",
            format!(
                "{:.0} / {:.0} ms",
                f(&r["M5"]["p50Ms"]),
                f(&r["M5"]["p99Ms"])
            ),
        ),
        (
            "M6",
            "memory: steady / peak / idle",
            "≤ 64 / 96 / 12 MiB",
            format!(
                "{:.1} / {:.1} / {:.1} MiB",
                f(&r["M6"]["steadyMiB"]),
                f(&r["M6"]["peakMiB"]),
                f(&r["M6"]["idleMiB"])
            ),
        ),
        (
            "M7",
            "restart: ready; list calls; other calls; writes; purchases",
            "≤ 2 s; 1; 0; 0; 0",
            format!(
                "{:.2} s; {}; {}; {}; {}",
                f(&r["M7"]["readySecs"]),
                f(&r["M7"]["listCalls"]),
                f(&r["M7"]["otherCalls"]),
                f(&r["M7"]["writes"]),
                f(&r["M7"]["purchases"])
            ),
        ),
        (
            "M8",
            "release binary size",
            "≤ 10 MiB",
            format!("{:.1} MiB", f(&r["M8"]["binaryMiB"])),
        ),
    ]
}

/// The eight measures as a Markdown table, after a line saying what was run.
pub fn table(r: &Value) -> String {
    let rows = calls_rows(r).into_iter().chain(speed_rows(r));
    let mut out = format!(
        "burst {} claims, steady {} numbers, {} run(s)\n\n| # | metric | target | measured |\n|---|---|---|---|\n",
        r["burst"], r["M3"]["numbers"], r["runs"]
    );
    for (id, what, target, got) in rows {
        out.push_str(&format!("| {id} | {what} | {target} | {got} |\n"));
    }
    out
}

fn mib(v: &Value) -> f64 {
    num(v) / 1024.0
}

type ScaleRow = (&'static str, fn(&Value) -> String);

/// The scale table's rows about the fill and the start.
fn start_rows() -> [ScaleRow; 8] {
    [
        ("fill: simulator seed; API server (pairs/s)", |r| {
            let api = num(&r["fill"]["apiSecs"]);
            format!(
                "{:.1} s; {:.0} s ({:.0}/s)",
                num(&r["fill"]["seedSecs"]),
                api,
                num(&r["pairs"]) / api.max(0.001)
            )
        }),
        ("first start after the fill: first pass done; writes", |r| {
            format!(
                "{:.2} s; {}",
                num(&r["firstStart"]["readySecs"]),
                num(&r["firstStart"]["writes"])
            )
        }),
        ("restart: caches synced; first pass done", |r| {
            format!(
                "{:.2} s; {:.2} s",
                num(&r["start"]["syncedSecs"]),
                num(&r["start"]["readySecs"])
            )
        }),
        (
            "API server alone: one list of the claims; of the PhoneNumbers (MB)",
            |r| {
                let l = &r["serveLists"];
                format!(
                    "{:.2} s ({:.0}); {:.2} s ({:.0})",
                    num(&l["claims"]["secs"]),
                    num(&l["claims"]["bytes"]) / 1e6,
                    num(&l["phoneNumbers"]["secs"]),
                    num(&l["phoneNumbers"]["bytes"]) / 1e6
                )
            },
        ),
        (
            "restart: list page calls; other calls; writes; Events; purchases",
            |r| {
                let calls = &r["start"]["calls"];
                let all: f64 = calls.as_object().map_or(0.0, |m| m.values().map(num).sum());
                let lists = num(&calls["list"]);
                format!(
                    "{lists}; {}; {}; {}; {}",
                    all - lists,
                    num(&r["start"]["writes"]),
                    num(&r["start"]["events"]),
                    num(&r["start"]["purchases"])
                )
            },
        ),
        ("operator RSS: idle; at ready", |r| {
            format!(
                "{:.1}; {:.1} MiB",
                mib(&r["idleKiB"]),
                mib(&r["start"]["rssReadyKiB"])
            )
        }),
        ("operator RSS: steady (2 intervals); peak", |r| {
            format!(
                "{:.1}; {:.1} MiB",
                mib(&r["steady"]["rssKiB"]),
                mib(&r["operatorPeakKiB"])
            )
        }),
        ("bytes per object (steady − idle) / 2N", |r| {
            let per = (num(&r["steady"]["rssKiB"]) - num(&r["idleKiB"])) * 1024.0
                / (2.0 * num(&r["pairs"]));
            format!("{per:.0} B")
        }),
    ]
}

/// The scale table's rows about the steady state, a claim, a loss and the API server.
fn later_rows() -> [ScaleRow; 7] {
    [
        (
            "steady: Talkturo calls per hour (list pages); writes; Events",
            |r| {
                format!(
                    "{:.0}; {}; {}",
                    num(&r["steady"]["callsPerHour"]),
                    num(&r["steady"]["writes"]),
                    num(&r["steady"]["events"])
                )
            },
        ),
        ("one claim applied: apply → Bound p50 / p99", |r| {
            format!(
                "{:.0} / {:.0} ms",
                num(&r["applies"]["p50Ms"]),
                num(&r["applies"]["p99Ms"])
            )
        }),
        ("… claims applied; purchases", |r| {
            format!(
                "{}; {}",
                num(&r["applies"]["count"]),
                num(&r["applies"]["purchases"])
            )
        }),
        (
            "… per claim: mean apply → Bound; the API server's own time on its writes (writes)",
            |r| {
                let a = &r["applies"];
                format!(
                    "{:.0} ms; {:.0} ms ({:.1})",
                    num(&a["meanMs"]),
                    num(&a["serverMsPerClaim"]),
                    num(&a["writesPerClaim"])
                )
            },
        ),
        ("a number removed from the account: Lost after", |r| {
            format!(
                "{:.1} s (sync {} s)",
                num(&r["lost"]["secs"]),
                num(&r["lost"]["syncSecs"])
            )
        }),
        ("API server RSS after the fill; at the end", |r| {
            format!(
                "{:.0}; {:.0} MiB",
                mib(&r["fill"]["apiserverKiB"]),
                mib(&r["apiserverKiB"])
            )
        }),
        ("etcd RSS at the end", |r| {
            format!("{:.0} MiB", mib(&r["etcdKiB"]))
        }),
    ]
}

/// The scale benchmark's table: one column per size.
pub fn scale_table(runs: &[Value]) -> String {
    let mut out = String::from("| measure |");
    for r in runs {
        out.push_str(&format!(" {} + {} |", r["pairs"], r["pairs"]));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(runs.len()));
    out.push('\n');
    for (what, f) in start_rows().into_iter().chain(later_rows()) {
        out.push_str(&format!("| {what} |"));
        for r in runs {
            out.push_str(&format!(" {} |", f(r)));
        }
        out.push('\n');
    }
    out
}
