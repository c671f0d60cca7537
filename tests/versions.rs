//! One version everywhere: the workspace's (Cargo.toml) is the crate's, the chart's `version`
//! and `appVersion` (and so the image tag the chart defaults to), what `talkturo-operator
//! --version` and `kubectl talkturo version` print, and the newest release in CHANGELOG.md, whose
//! predecessor has its upgrade fixture in `tests/upgrade/`. The build-info metric is checked in
//! the metrics unit tests; the rendered image tag in tests/chart.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The released versions CHANGELOG.md lists (`## [x.y.z] - date`), newest first.
fn changelog_releases() -> Vec<String> {
    read("CHANGELOG.md")
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .filter_map(|l| l.split_once(']'))
        .filter(|(v, rest)| *v != "Unreleased" && rest.starts_with(" - "))
        .map(|(v, _)| v.to_owned())
        .collect()
}

#[test]
fn the_workspace_chart_and_changelog_name_one_version() {
    let cargo = read("Cargo.toml");
    let workspace = cargo
        .split("[workspace.package]")
        .nth(1)
        .and_then(|s| s.lines().find(|l| l.starts_with("version")))
        .and_then(|l| l.split('"').nth(1));
    assert_eq!(workspace, Some(VERSION), "Cargo.toml's workspace version");
    let chart: serde_yaml::Value =
        serde_yaml::from_str(&read("charts/talkturo-operator/Chart.yaml")).unwrap();
    assert_eq!(
        chart["version"].as_str(),
        Some(VERSION),
        "Chart.yaml version"
    );
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(VERSION),
        "Chart.yaml appVersion"
    );
    let values: serde_yaml::Value =
        serde_yaml::from_str(&read("charts/talkturo-operator/values.yaml")).unwrap();
    assert_eq!(
        values["image"]["tag"].as_str(),
        Some(""),
        "image.tag must default to the chart's appVersion (empty), not pin another version"
    );
    let releases = changelog_releases();
    assert_eq!(
        releases.first().map(String::as_str),
        Some(VERSION),
        "CHANGELOG.md's newest release"
    );
    let changelog = read("CHANGELOG.md");
    let newest = changelog
        .split(&format!("## [{VERSION}]"))
        .nth(1)
        .and_then(|s| s.split("\n## [").next())
        .unwrap_or_default();
    assert!(
        releases.len() < 2 || newest.contains("### Upgrading"),
        "CHANGELOG.md's {VERSION} entry has no \"### Upgrading\" section"
    );
    let readme = read("README.md");
    assert!(
        readme.contains("(CHANGELOG.md)"),
        "the README links CHANGELOG.md"
    );
    // Versions the README quotes: "(now `x.y.z`)" and "kubectl-talkturo x.y.z".
    for before in ["(now `", "kubectl-talkturo "] {
        for found in readme.split(before).skip(1) {
            let version: String = found
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            assert!(
                version.is_empty() || version == VERSION,
                "the README says {before}{version}"
            );
        }
    }
}

#[test]
fn every_earlier_release_has_an_upgrade_fixture() {
    for v in changelog_releases().iter().skip(1) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/upgrade")
            .join(v);
        for part in ["crds", "objects.yaml", "simulator.yaml", "records.json"] {
            assert!(
                dir.join(part).exists(),
                "release {v} has no {part} in {} (make upgrade-fixture)",
                dir.display()
            );
        }
    }
}

#[test]
fn the_binaries_print_the_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_talkturo-operator"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("talkturo-operator {VERSION}")
    );
    let plugin = env!("CARGO_BIN_EXE_kubectl-talkturo");
    let out = Command::new(plugin).arg("version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("kubectl-talkturo {VERSION}\n")
    );
    let out = Command::new(plugin)
        .args(["version", "-o", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], VERSION);
}
