//! `check`: is the operator ready to provision? The CRDs are served, the operator holds its
//! Lease (leader election), and every PhoneNumberClass is Ready. `--wait` retries until all hold
//! or the time is up, like `cmctl check api --wait`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use super::{Error, Format, Part, encoded, part};
use crate::api::v1alpha1::PhoneNumberClass;

/// Where the operator runs, and how long to wait.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The namespace of the operator's Lease (its release namespace).
    pub operator_namespace: String,
    /// The Lease's name (`leaderElection` in the chart: the release's full name by default).
    pub lease_name: String,
    /// Retry until every check passes, for at most this long.
    pub wait: Option<Duration>,
    /// The classes that must be Ready (empty: every class).
    pub classes: Vec<String>,
}

/// One check's outcome.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub message: String,
}

/// Every check, and whether all passed.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// Runs the checks (again every 2 s under `--wait`); returns the report's text and whether all
/// passed.
pub async fn check(
    client: &Client,
    opts: &CheckOptions,
    format: Format,
) -> Result<(String, bool), Error> {
    let started = Instant::now();
    let report = loop {
        let report = once(client, opts).await?;
        let waited = started.elapsed();
        match opts.wait {
            Some(limit) if !report.ok && waited < limit => {
                tokio::time::sleep(Duration::from_secs(2).min(limit.saturating_sub(waited))).await;
            }
            _ => break report,
        }
    };
    let text = match encoded(&report, format)? {
        Some(t) => t,
        None => {
            let mut out = String::new();
            for c in &report.checks {
                let _ = writeln!(
                    out,
                    "{} {:<9} {}",
                    if c.ok { "ok  " } else { "FAIL" },
                    c.name,
                    c.message
                );
            }
            if !report.ok && opts.wait.is_some() {
                let _ = writeln!(out, "not ready after {}s", started.elapsed().as_secs());
            }
            out
        }
    };
    Ok((text, report.ok))
}

async fn once(client: &Client, opts: &CheckOptions) -> Result<CheckReport, Error> {
    // Listed once: the operator check (with active-active replicas) and the classes check
    // both read them.
    let api: Api<PhoneNumberClass> = Api::all(client.clone());
    let listed = part(api.list(&ListParams::default()), String::new)
        .await?
        .map(|l| l.items);
    let checks = vec![
        crds(client).await?,
        operator(client, opts, &listed).await?,
        classes(listed, &opts.classes),
    ];
    Ok(CheckReport {
        ok: checks.iter().all(|c| c.ok),
        checks,
    })
}

const GROUP_VERSION: &str = "telephony.talkturo.ai/v1alpha1";
const RESOURCES: [&str; 3] = ["phonenumberclasses", "phonenumberclaims", "phonenumbers"];

/// The API server serves the three kinds (discovery, which every authenticated user may read).
async fn crds(client: &Client) -> Result<Check, Error> {
    let served = match client.list_api_group_resources(GROUP_VERSION).await {
        Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let missing: Vec<&str> = RESOURCES
        .into_iter()
        .filter(|r| !served.iter().any(|s| s == r))
        .collect();
    Ok(Check {
        name: "crds",
        ok: missing.is_empty(),
        message: if missing.is_empty() {
            format!("{GROUP_VERSION} serves {}", RESOURCES.join(", "))
        } else {
            format!(
                "{GROUP_VERSION} does not serve {}: install the CRDs (kubectl apply --server-side -f crds/)",
                missing.join(", ")
            )
        },
    })
}

/// A process holds the operator's Lease and renewed it within its duration; with active-active
/// replicas (class Leases present), every class is served by a replica that renewed its Lease.
async fn operator(
    client: &Client,
    opts: &CheckOptions,
    listed: &Part<Vec<PhoneNumberClass>>,
) -> Result<Check, Error> {
    let (ns, name) = (&opts.operator_namespace, &opts.lease_name);
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    let class_leases = ListParams::default().labels("telephony.talkturo.ai/lease=class");
    if let Part::Shown(list) = part(api.list(&class_leases), String::new).await?
        && !list.items.is_empty()
    {
        let classes: Vec<String> = listed
            .shown()
            .map(|l| l.iter().map(ResourceExt::name_any).collect())
            .unwrap_or_default();
        let (ok, message) = spread(&list.items, &classes, Timestamp::now());
        return Ok(Check {
            name: "operator",
            ok,
            message,
        });
    }
    let lease = part(api.get(name), || {
        format!(
            "no Lease {ns}/{name}: is the operator installed there (--operator-namespace, --lease-name) with leader election on?"
        )
    })
    .await?;
    let (ok, message) = match lease {
        Part::Shown(l) => held(&l, Timestamp::now()),
        Part::Absent(why) => (false, why),
        Part::Forbidden(why) => (false, format!("cannot read Lease {ns}/{name}: {why}")),
    };
    Ok(Check {
        name: "operator",
        ok,
        message,
    })
}

/// Whether a Lease is held now, and what it says. Pure.
pub fn held(lease: &Lease, now: Timestamp) -> (bool, String) {
    let name = format!(
        "{}/{}",
        lease.namespace().unwrap_or_default(),
        lease.name_any()
    );
    let spec = lease.spec.clone().unwrap_or_default();
    let Some(holder) = spec.holder_identity.filter(|h| !h.is_empty()) else {
        return (
            false,
            format!("Lease {name} has no holder: no replica leads"),
        );
    };
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let Some(renewed) = spec.renew_time.map(|t| t.0) else {
        return (
            false,
            format!("Lease {name} held by {holder} was never renewed"),
        );
    };
    let age = now.duration_since(renewed).as_secs();
    if age > duration {
        (
            false,
            format!("Lease {name} held by {holder} expired: renewed {age}s ago, valid {duration}s"),
        )
    } else {
        (
            true,
            format!("{holder} leads (Lease {name} renewed {}s ago)", age.max(0)),
        )
    }
}

/// Active-active replicas: every class has a class Lease renewed within its duration; the
/// message counts the classes each replica serves. Pure.
pub fn spread(leases: &[Lease], classes: &[String], now: Timestamp) -> (bool, String) {
    let mut by_replica: std::collections::BTreeMap<String, usize> = Default::default();
    let mut unserved = Vec::new();
    for class in classes {
        let lease = leases
            .iter()
            .find(|l| l.annotations().get("telephony.talkturo.ai/class") == Some(class));
        match lease.map(|l| (held(l, now).0, l)) {
            Some((true, l)) => {
                let holder = l.spec.as_ref().and_then(|s| s.holder_identity.clone());
                *by_replica.entry(holder.unwrap_or_default()).or_default() += 1;
            }
            _ => unserved.push(class.as_str()),
        }
    }
    let counts: Vec<String> = by_replica
        .iter()
        .map(|(r, n)| format!("{r} ({n})"))
        .collect();
    if unserved.is_empty() {
        let replicas = by_replica.len();
        (
            true,
            format!(
                "{replicas} active replica(s) serve {} classes: {}",
                classes.len(),
                counts.join(", ")
            ),
        )
    } else {
        (
            false,
            format!(
                "no replica serves {} (no class Lease, or one not renewed in time); serving: {}",
                unserved.join(", "),
                if counts.is_empty() {
                    "none".to_owned()
                } else {
                    counts.join(", ")
                }
            ),
        )
    }
}

/// Every PhoneNumberClass (or each one named) exists and is Ready, and there is at least one.
fn classes(listed: Part<Vec<PhoneNumberClass>>, named: &[String]) -> Check {
    let list = match listed {
        Part::Shown(l) => l,
        Part::Absent(_) => Vec::new(),
        Part::Forbidden(why) => {
            return Check {
                name: "classes",
                ok: false,
                message: format!("cannot list PhoneNumberClasses: {why}"),
            };
        }
    };
    let missing: Vec<&str> = named
        .iter()
        .filter(|n| !list.iter().any(|c| c.name_any() == **n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Check {
            name: "classes",
            ok: false,
            message: format!("no PhoneNumberClass {}", missing.join(", ")),
        };
    }
    let list: Vec<PhoneNumberClass> = list
        .into_iter()
        .filter(|c| named.is_empty() || named.contains(&c.name_any()))
        .collect();
    if list.is_empty() {
        return Check {
            name: "classes",
            ok: false,
            message: "no PhoneNumberClass: claims have nothing to buy from".into(),
        };
    }
    let not_ready: Vec<String> = list
        .iter()
        .filter_map(|c| {
            let ready = c
                .status
                .as_ref()
                .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"));
            match ready {
                Some(r) if r.status == "True" => None,
                Some(r) => Some(format!("{} ({}: {})", c.name_any(), r.reason, r.message)),
                None => Some(format!("{} (not checked yet)", c.name_any())),
            }
        })
        .collect();
    Check {
        name: "classes",
        ok: not_ready.is_empty(),
        message: if not_ready.is_empty() {
            format!("{} Ready", list.len())
        } else {
            format!("not Ready: {}", not_ready.join("; "))
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renewed: Option<&str>) -> Lease {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "talkturo-operator", "namespace": "ops"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed},
        }))
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn a_lease_is_held_only_by_a_holder_that_renewed_within_its_duration() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap_or(Timestamp::MIN);
        let renewed = "2026-01-01T00:00:50.000000Z";
        assert!(held(&lease(Some("pod-a"), Some(renewed)), now).0);
        let (ok, msg) = held(
            &lease(Some("pod-a"), Some("2026-01-01T00:00:30.000000Z")),
            now,
        );
        assert!(!ok && msg.contains("expired"), "{msg}");
        let (ok, msg) = held(&lease(None, Some(renewed)), now);
        assert!(!ok && msg.contains("no holder"), "{msg}");
    }

    fn class_lease(class: &str, holder: &str, renewed: &str) -> Lease {
        let mut l = lease(Some(holder), Some(renewed));
        l.metadata.annotations =
            Some([("telephony.talkturo.ai/class".into(), class.into())].into());
        l
    }

    #[test]
    fn every_class_needs_a_replica_serving_it() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap_or(Timestamp::MIN);
        let fresh = "2026-01-01T00:00:55.000000Z";
        let leases = [
            class_lease("a", "pod-1", fresh),
            class_lease("b", "pod-2", fresh),
            class_lease("c", "pod-1", "2026-01-01T00:00:10.000000Z"),
        ];
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (ok, msg) = spread(&leases, &names(&["a", "b"]), now);
        assert!(ok && msg.contains("pod-1 (1), pod-2 (1)"), "{msg}");
        let (ok, msg) = spread(&leases, &names(&["a", "b", "c", "d"]), now);
        assert!(!ok && msg.contains("no replica serves c, d"), "{msg}");
    }
}
