//! `kubectl talkturo`: what the operator sees, from the command line, with kubectl's manners
//! (`--kubeconfig`, `--context`, `--as`, `-n`, `-A`, `-o table|json|yaml`).
//!
//! - `status [claim]`: the claim → its PhoneNumber → its class, each with its conditions and
//!   recent Events, as a tree; without a name, the claims of the namespace (or, with `-A`, of
//!   every namespace) one per line. A part the user's RBAC does not let them read becomes a
//!   one-line note; the rest is still shown.
//! - `search <claim-file>`: what a claim would get — the candidates in the order provisioning
//!   would try them, with prices — without buying anything (one search call).
//! - `orphans`: numbers in each class's Talkturo account that no PhoneNumber represents.
//! - `check`: the CRDs are served, the operator holds its Lease, every class is Ready; with
//!   `--wait` it retries until then (for scripts and CI).
//!
//! Read-only: it never writes to the cluster and never calls purchase, assign or release.

mod account;
mod check;
mod status;

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Serialize;

pub use account::{orphans, search};
pub use check::{CheckOptions, check};
pub use status::{list, status};

use crate::talkturo;

/// A failure the plugin reports to its user (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{}", kube_message(.0))]
    Kube(#[from] kube::Error),
    #[error("talkturo: {0}")]
    Talkturo(#[from] talkturo::Error),
    #[error("encoding the output: {0}")]
    Encode(String),
}

/// The API server's own message for an API error (`... is forbidden: User "alice" cannot get
/// ...`), not the error's debug dump.
fn kube_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.reason),
        other => format!("kubernetes: {other}"),
    }
}

/// The output format (`-o`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable: a tree for one claim, columns for lists.
    #[default]
    Table,
    Json,
    Yaml,
}

/// `value` as JSON or YAML (`None` for the table format, which each command draws itself).
pub fn encoded<T: Serialize>(value: &T, format: Format) -> Result<Option<String>, Error> {
    match format {
        Format::Table => Ok(None),
        Format::Json => serde_json::to_string_pretty(value)
            .map(|s| Some(s + "\n"))
            .map_err(|e| Error::Encode(e.to_string())),
        Format::Yaml => serde_yaml::to_string(value)
            .map(Some)
            .map_err(|e| Error::Encode(e.to_string())),
    }
}

/// A part of a report: shown, absent for a reason, or not readable with the user's RBAC.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase", tag = "state", content = "value")]
pub enum Part<T> {
    Shown(T),
    /// Nothing to show (e.g. no PhoneNumber bound yet), and why.
    Absent(String),
    /// The API server refused the read (403): its message.
    Forbidden(String),
}

impl<T> Part<T> {
    pub fn shown(&self) -> Option<&T> {
        match self {
            Part::Shown(v) => Some(v),
            _ => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Part<U> {
        match self {
            Part::Shown(v) => Part::Shown(f(v)),
            Part::Absent(m) => Part::Absent(m),
            Part::Forbidden(m) => Part::Forbidden(m),
        }
    }
}

/// Reads one part: a 403 becomes [`Part::Forbidden`], a 404 [`Part::Absent`] with `missing`;
/// any other error fails the command.
pub async fn part<T>(
    read: impl Future<Output = Result<T, kube::Error>>,
    missing: impl FnOnce() -> String,
) -> Result<Part<T>, Error> {
    match read.await {
        Ok(v) => Ok(Part::Shown(v)),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(Part::Forbidden(s.message)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Part::Absent(missing())),
        Err(e) => Err(e.into()),
    }
}

/// One Event, as `status` shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLine {
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    pub count: i32,
}

/// How many Events per object `status` shows.
const RECENT_EVENTS: usize = 5;

/// The recent Events about one object, read in the namespace they are recorded in: the
/// object's own, or `default` for a cluster-scoped object (where the operator records them).
pub async fn events(
    client: &Client,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
) -> Result<Part<Vec<EventLine>>, Error> {
    let ns = namespace.unwrap_or("default");
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let selector = format!("involvedObject.kind={kind},involvedObject.name={name}");
    let listed = part(api.list(&ListParams::default().fields(&selector)), || {
        String::new()
    })
    .await?;
    Ok(match listed {
        Part::Forbidden(m) => Part::Forbidden(m),
        // No list is no Event.
        Part::Absent(_) => Part::Shown(Vec::new()),
        Part::Shown(list) => {
            let mut items = list.items;
            let at = |e: &Event| {
                e.event_time
                    .as_ref()
                    .map(|t| t.0)
                    .or(e.last_timestamp.as_ref().map(|t| t.0))
                    .or(e.first_timestamp.as_ref().map(|t| t.0))
            };
            items.sort_by_key(at);
            let skip = items.len().saturating_sub(RECENT_EVENTS);
            Part::Shown(
                items
                    .iter()
                    .skip(skip)
                    .map(|e| EventLine {
                        type_: e.type_.clone().unwrap_or_else(|| "Normal".into()),
                        reason: e.reason.clone().unwrap_or_default(),
                        message: e.message.clone().unwrap_or_default(),
                        time: at(e).map(|t| t.to_string()),
                        count: e
                            .series
                            .as_ref()
                            .map_or(e.count.unwrap_or(1), |s| s.count.unwrap_or(1)),
                    })
                    .collect(),
            )
        }
    })
}

/// Conditions as tree lines.
fn draw_conditions(out: &mut String, indent: &str, conds: &[Condition]) {
    for c in conds {
        let _ = writeln!(
            out,
            "{indent}{}={}  {}: {}",
            c.type_, c.status, c.reason, c.message
        );
    }
}

/// Events as tree lines, or the one-line note saying why they are not shown.
fn draw_events(out: &mut String, indent: &str, events: &Part<Vec<EventLine>>) {
    match events {
        Part::Shown(list) => {
            for e in list {
                let _ = writeln!(out, "{indent}event {} {}: {}", e.type_, e.reason, e.message);
            }
        }
        Part::Absent(why) => {
            let _ = writeln!(out, "{indent}events: {why}");
        }
        Part::Forbidden(why) => {
            let _ = writeln!(out, "{indent}events: not shown: {why}");
        }
    }
}
