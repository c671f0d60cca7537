//! The chart's alerts and dashboard, checked by the tools that will read them: the rendered
//! PrometheusRule by `promtool check rules` and by the rule unit tests in
//! `tests/monitoring/alerts.test.yaml` (`promtool test rules`); the dashboard ConfigMap by
//! `dashcheck` (Grafana's dashboard schema, strictly, and Prometheus's PromQL parser). Every
//! metric either one uses must be one the operator exports.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_yaml::Value;
use talkturo_operator::controller::{ClassFigures, Metrics};
use talkturo_testenv::Binaries;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/talkturo-operator");
const TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/monitoring");

/// The built tool, or `None` (skip) outside CI when the test environment is not built.
fn tool(name: &str) -> Option<PathBuf> {
    let bin = Binaries::locate().ok().map(|b| b.path(name));
    match bin {
        Some(b) if b.is_file() => Some(b),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{name} is missing (CI=true); run hack/testenv/build.sh")
        }
        _ => {
            eprintln!("*** SKIPPED: {name} not built; run hack/testenv/build.sh");
            None
        }
    }
}

fn run(bin: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The chart rendered with the alerts and the dashboard on, release namespace `talkturo`.
fn rendered(helm: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "template",
        "t",
        CHART,
        "-n",
        "talkturo",
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--set",
        "metrics.grafanaDashboard.enabled=true",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(helm).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    serde_yaml::Deserializer::from_slice(&out.stdout)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

/// The series names the operator can export: gauges by name, counters with `_total`,
/// histograms with `_bucket`, `_sum` and `_count`.
fn exported() -> BTreeSet<String> {
    // A family is exposed once it has a series: give each one.
    let m = Metrics::default();
    m.observe_class(
        "c",
        &ClassFigures {
            phases: vec![("Bound", 1)],
            budget: Some(1.0),
            plan_limit: Some(1),
            plan_numbers: Some(1),
            listed_at: Some(1.0),
            ..Default::default()
        },
    );
    m.purchase("c", "bought");
    m.drift_corrected("c");
    m.reconciled("phonenumber", "ok", 0.1);
    m.queue.queued("phonenumber", "/x".into());
    m.talkturo.calls("list", "ok");
    let text = m.encode();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if (w.next(), w.next()) != (Some("#"), Some("TYPE")) {
            continue;
        }
        let (Some(name), Some(kind)) = (w.next(), w.next()) else {
            continue;
        };
        match kind {
            "counter" => {
                names.insert(format!("{name}_total"));
            }
            "histogram" => {
                for s in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{s}"));
                }
            }
            _ => {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// `talkturo_operator_*` names in a PromQL text.
fn used(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("talkturo_operator_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

#[test]
fn the_charts_alert_rules_pass_promtool_and_their_unit_tests() {
    let (Some(helm), Some(promtool)) = (tool("helm"), tool("promtool")) else {
        return;
    };
    let docs = rendered(&helm, &[]);
    let rule = kind(&docs, "PrometheusRule");
    let dir = tempfile::tempdir().unwrap();
    let groups = serde_yaml::to_string(&serde_yaml::Mapping::from_iter([(
        Value::from("groups"),
        rule["spec"]["groups"].clone(),
    )]))
    .unwrap();
    std::fs::write(dir.path().join("rules.yaml"), &groups).unwrap();
    let check = run(&promtool, &["check", "rules", "rules.yaml"], dir.path());
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("SUCCESS: 8 rules found"),
        "{}",
        text(&check)
    );

    // The alerts the chart promises, each with a severity.
    let names: Vec<&str> = rule["spec"]["groups"][0]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| {
            let sev = r["labels"]["severity"].as_str().unwrap();
            assert!(["info", "warning", "critical"].contains(&sev), "{r:?}");
            r["alert"].as_str().unwrap()
        })
        .collect();
    for alert in [
        "TalkturoOperatorNotActive",
        "TalkturoPurchaseOutcomeUnknown",
        "TalkturoBudgetNearlySpent",
        "TalkturoBudgetExceeded",
        "TalkturoPlanLimitReached",
        "TalkturoTrialNumbersExpiring",
        "TalkturoNumbersLost",
        "TalkturoClassNotReady",
    ] {
        assert!(names.contains(&alert), "{alert} missing: {names:?}");
    }
    // Every metric the rules read is one the operator exports.
    let exported = exported();
    let unknown: Vec<String> = used(&groups)
        .into_iter()
        .filter(|n| !exported.contains(n))
        .collect();
    assert!(
        unknown.is_empty(),
        "rules read unexported metrics: {unknown:?}"
    );

    // Each alert fires when, and only when, it should (promtool's rule unit tests).
    std::fs::copy(
        Path::new(TESTS).join("alerts.test.yaml"),
        dir.path().join("alerts.test.yaml"),
    )
    .unwrap();
    let tests = run(
        &promtool,
        &["test", "rules", "alerts.test.yaml"],
        dir.path(),
    );
    assert!(tests.status.success(), "{}", text(&tests));

    // Values shape the rules: extra alert labels and a stricter budget line.
    let docs = rendered(
        &helm,
        &[
            "--set",
            "metrics.prometheusRule.additionalLabels.team=telephony",
            "--set",
            "metrics.prometheusRule.budgetWarningRatio=0.75",
        ],
    );
    let rule = kind(&docs, "PrometheusRule");
    for r in rule["spec"]["groups"][0]["rules"].as_sequence().unwrap() {
        assert_eq!(r["labels"]["team"].as_str(), Some("telephony"), "{r:?}");
    }
    let text_rules = serde_yaml::to_string(rule).unwrap();
    assert!(text_rules.contains(">= 0.75"), "{text_rules}");
}

#[test]
fn the_charts_dashboard_is_a_valid_grafana_dashboard_of_exported_metrics() {
    let (Some(helm), Some(dashcheck)) = (tool("helm"), tool("dashcheck")) else {
        return;
    };
    let docs = rendered(&helm, &[]);
    let cm = docs
        .iter()
        .find(|d| {
            d["kind"].as_str() == Some("ConfigMap")
                && d["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-dashboard"))
        })
        .expect("the dashboard ConfigMap");
    assert_eq!(
        cm["metadata"]["labels"]["grafana_dashboard"].as_str(),
        Some("1"),
        "the Grafana sidecar's default label"
    );
    let json = cm["data"]["talkturo-operator.json"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dashboard.json"), json).unwrap();
    let out = run(&dashcheck, &["dashboard.json"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let selected: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let exported = exported();
    let unknown: Vec<&String> = selected.difference(&exported).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard reads unexported metrics: {unknown:?}"
    );
    // It shows what the issue asks a platform engineer to see.
    for metric in [
        "talkturo_operator_phone_numbers",
        "talkturo_operator_monthly_cost_dollars",
        "talkturo_operator_monthly_budget_dollars",
        "talkturo_operator_plan_numbers",
        "talkturo_operator_trial_numbers_expiring",
        "talkturo_operator_purchases_total",
        "talkturo_operator_assistant_drift_corrections_total",
        "talkturo_operator_account_last_list_timestamp_seconds",
        "talkturo_operator_reconciles_total",
        "talkturo_operator_queue_depth",
    ] {
        assert!(selected.contains(metric), "{metric} not on the dashboard");
    }

    // A broken dashboard is caught: an unknown panel field and a query that does not parse.
    let mut bad: serde_json::Value = serde_json::from_str(json).unwrap();
    bad["panels"][1]["bogus"] = serde_json::json!(1);
    std::fs::write(dir.path().join("bad.json"), bad.to_string()).unwrap();
    let out = run(&dashcheck, &["bad.json"], dir.path());
    assert!(
        !out.status.success() && text(&out).contains("unexpected field 'bogus'"),
        "{}",
        text(&out)
    );
    let mut bad: serde_json::Value = serde_json::from_str(json).unwrap();
    bad["panels"][2]["targets"][0]["expr"] = serde_json::json!("sum(rate(x[5m])");
    std::fs::write(dir.path().join("bad.json"), bad.to_string()).unwrap();
    let out = run(&dashcheck, &["bad.json"], dir.path());
    assert!(
        !out.status.success() && text(&out).contains("not valid PromQL"),
        "{}",
        text(&out)
    );
}
