//! The table `make bench` prints (and BENCHMARKS.md holds) from a run's summary.

use serde_json::Value;

/// A row of the table: id, metric, target, measured.
type Row = (&'static str, &'static str, &'static str, String);

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// M1–M3: calls and writes.
fn calls_rows(r: &Value) -> [Row; 3] {
    let f = num;
    [
        (
            "M1",
            "Talkturo calls per bound claim (burst / isolated); duplicate purchases",
            "≤ 1.2 / ≤ 3; 0",
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
            "≤ 5; 0 steady",
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
            "≤ 50 / 250 ms",
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
            "≤ 12 MiB",
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
