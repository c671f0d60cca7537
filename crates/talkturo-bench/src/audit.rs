//! What the API server's audit log says: the writes since a mark, by kind, and the API server's
//! own time on them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom};

use serde_json::Value;

use super::{Bench, Error};

/// Writes the apiserver saw, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// create/update/patch/delete of the operator's objects (PhoneNumbers, claim and class
    /// status, ConfigMaps), not counting the benchmark's own claim creations.
    pub state: u64,
    /// Events recorded.
    pub events: u64,
    /// Lease writes (leader election).
    pub leases: u64,
    /// Writes answered 409 Conflict.
    pub conflicts: u64,
    /// Every write by `verb resource/subresource`, for the breakdown.
    pub detail: BTreeMap<String, u64>,
    /// The objects written (`verb resource/subresource name`), for a failing assertion to name.
    pub objects: BTreeMap<String, u64>,
    /// The API server's own time on the operator's writes and Events (from receiving each
    /// request to completing its response, as its audit log records them), in microseconds.
    pub server_us: u64,
}

/// A position in the audit log.
#[derive(Clone, Copy, Debug)]
pub struct Mark(u64);

impl Bench {
    /// The audit log's current end.
    pub fn mark(&self) -> Mark {
        Mark(
            std::fs::metadata(self.plane.audit_log_path())
                .map(|m| m.len())
                .unwrap_or(0),
        )
    }

    /// Writes audited since `mark`. (The audit log is written synchronously: every answered
    /// request is in it.)
    pub fn writes_since(&self, mark: Mark) -> Result<Writes, Error> {
        let mut f = std::fs::File::open(self.plane.audit_log_path())?;
        f.seek(SeekFrom::Start(mark.0))?;
        let mut w = Writes::default();
        for line in BufReader::new(f).lines() {
            let v: Value = serde_json::from_str(&line?)?;
            let verb = v["verb"].as_str().unwrap_or_default();
            if !matches!(
                verb,
                "create" | "update" | "patch" | "delete" | "deletecollection"
            ) {
                continue;
            }
            let resource = v["objectRef"]["resource"].as_str().unwrap_or_default();
            let subresource = v["objectRef"]["subresource"].as_str().unwrap_or_default();
            *w.detail
                .entry(format!("{verb} {resource}/{subresource}"))
                .or_default() += 1;
            let name = v["objectRef"]["name"].as_str().unwrap_or_default();
            *w.objects
                .entry(format!("{verb} {resource}/{subresource} {name}"))
                .or_default() += 1;
            if v["responseStatus"]["code"].as_u64() == Some(409) {
                w.conflicts += 1;
            }
            let operator_write = match resource {
                "events" | "phonenumbers" | "phonenumberclasses" | "configmaps" => true,
                "phonenumberclaims" => verb != "create" || !subresource.is_empty(),
                _ => false,
            };
            if operator_write {
                w.server_us += server_us(&v);
            }
            match resource {
                "events" => w.events += 1,
                "leases" => w.leases += 1,
                // The benchmark's own claim creations.
                "phonenumberclaims" if verb == "create" && subresource.is_empty() => {}
                "phonenumbers" | "phonenumberclaims" | "phonenumberclasses" | "configmaps" => {
                    w.state += 1;
                }
                _ => {}
            }
        }
        Ok(w)
    }
}

/// How long the API server took over one request, by its audit entry: from receiving it to
/// completing the response, in microseconds (0 if the entry lacks either time).
fn server_us(entry: &Value) -> u64 {
    let at = |key: &str| {
        entry[key]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    };
    match (at("requestReceivedTimestamp"), at("stageTimestamp")) {
        (Some(from), Some(to)) => to.duration_since(from).as_micros().max(0) as u64,
        _ => 0,
    }
}
