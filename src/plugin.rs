//! `kubectl talkturo`: what the operator sees, from the command line.
//!
//! - `status <claim>`: the claim → its PhoneNumber → its class, each with its conditions and
//!   recent Events, as a tree.
//! - `search <claim-file>`: what a claim would get — the candidates in the order provisioning
//!   would try them, with prices — without buying anything (one search call).
//! - `orphans`: numbers in each class's Talkturo account that no PhoneNumber represents.
//!
//! Read-only: it never writes to the cluster and never calls purchase, assign or release.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass, phone_number_name};
use crate::controller::preview;
use crate::talkturo::{self, ClientConfig};

/// A failure the plugin reports to its user (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("talkturo: {0}")]
    Talkturo(#[from] talkturo::Error),
}

/// How many Events per object `status` shows.
const RECENT_EVENTS: usize = 5;

/// `status`: the claim's tree.
pub async fn status(client: &Client, namespace: &str, claim: &str) -> Result<String, Error> {
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client.clone(), namespace);
    let Some(c) = claims.get_opt(claim).await? else {
        return Err(Error::Usage(format!(
            "PhoneNumberClaim {namespace}/{claim} not found"
        )));
    };
    let st = c.status.clone().unwrap_or_default();
    let mut out = String::new();
    let phase = st.phase.map_or("Pending".to_owned(), |p| format!("{p:?}"));
    let _ = writeln!(
        out,
        "PhoneNumberClaim {namespace}/{claim}  {phase}  {}",
        st.number.as_deref().unwrap_or("(no number yet)")
    );
    if let Some(a) = c.spec.assistant_id.as_deref() {
        let _ = writeln!(
            out,
            "│  assistant: wanted {a}, assigned {}",
            st.assistant_id.as_deref().unwrap_or("-")
        );
    }
    if let Some(p) = st.purchase.as_ref() {
        if let Some(cand) = &p.candidate {
            let _ = writeln!(out, "│  buying: {cand}");
        }
        if let Some(why) = &p.last_failure_reason {
            let _ = writeln!(out, "│  last failure: {why}");
        }
    }
    conditions(&mut out, "│  ", &st.conditions);
    events(
        &mut out,
        "│  ",
        client,
        "PhoneNumberClaim",
        claim,
        Some(namespace),
    )
    .await?;

    let numbers: Api<PhoneNumber> = Api::all(client.clone());
    let pn = match st.phone_number_name.as_deref() {
        Some(name) => numbers.get_opt(name).await?,
        None => None,
    };
    let class_name = match &pn {
        Some(pn) => {
            let ps = pn.status.clone().unwrap_or_default();
            let _ = writeln!(
                out,
                "└─ PhoneNumber {}  {}  id={}  status={}  trial={}{}",
                pn.name_any(),
                ps.phase.map_or("-".to_owned(), |p| format!("{p:?}")),
                ps.id.as_deref().unwrap_or("-"),
                ps.provider_status.as_deref().unwrap_or("-"),
                if ps.is_trial == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                ps.trial_expires_at
                    .as_ref()
                    .map(|t| format!(" (expires {})", t.0))
                    .unwrap_or_default(),
            );
            let _ = writeln!(
                out,
                "   │  {:?}, reclaimPolicy {:?}, ${}/month",
                pn.spec.management_policy,
                pn.spec.reclaim_policy,
                ps.monthly_price.as_deref().unwrap_or("?")
            );
            conditions(&mut out, "   │  ", &ps.conditions);
            events(
                &mut out,
                "   │  ",
                client,
                "PhoneNumber",
                &pn.name_any(),
                None,
            )
            .await?;
            Some(pn.spec.class_name.clone())
        }
        None => {
            if let Some(name) = st.phone_number_name.as_deref() {
                let _ = writeln!(out, "└─ PhoneNumber {name}  (does not exist)");
            } else {
                let _ = writeln!(out, "└─ (no PhoneNumber bound)");
            }
            c.spec.class_name.clone()
        }
    };
    let classes: Api<PhoneNumberClass> = Api::all(client.clone());
    let class = match class_name {
        Some(n) => classes.get_opt(&n).await?,
        None => preview::class_of(&c, &arcs(classes.list(&ListParams::default()).await?.items))
            .ok()
            .map(|a| (*a).clone()),
    };
    match class {
        Some(class) => {
            let cs = class.status.clone().unwrap_or_default();
            let _ = writeln!(
                out,
                "   └─ PhoneNumberClass {}  team {}  {} numbers, ${}/month{}",
                class.name_any(),
                class.spec.team_id,
                cs.totals.as_ref().map_or(0, |t| t.numbers),
                cs.totals
                    .as_ref()
                    .map_or("0.00", |t| t.monthly_cost.as_str()),
                class
                    .spec
                    .monthly_budget
                    .as_deref()
                    .map(|b| format!(" of ${b} budget"))
                    .unwrap_or_default()
            );
            conditions(&mut out, "      ", &cs.conditions);
            events(
                &mut out,
                "      ",
                client,
                "PhoneNumberClass",
                &class.name_any(),
                None,
            )
            .await?;
        }
        None => {
            let _ = writeln!(out, "   └─ (class not found)");
        }
    }
    Ok(out)
}

/// `search`: the candidates a claim (read from YAML) would get. Buys nothing.
pub async fn search(client: &Client, claim_yaml: &str) -> Result<String, Error> {
    let claim: PhoneNumberClaim = serde_yaml::from_str(claim_yaml)
        .map_err(|e| Error::Usage(format!("not a PhoneNumberClaim: {e}")))?;
    let classes: Api<PhoneNumberClass> = Api::all(client.clone());
    let all = arcs(classes.list(&ListParams::default()).await?.items);
    let class = preview::class_of(&claim, &all).map_err(Error::Usage)?;
    let Some(filters) = preview::filters(&claim) else {
        return Err(Error::Usage(
            "the claim has no countryCode (or names a static phoneNumberName): nothing to search"
                .into(),
        ));
    };
    let account = account_client(client, &class).await?;
    let offers = account.search(&filters).await?.numbers;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "class {} ({:?} selection), search {} area {} type {}: {} offers",
        class.name_any(),
        class.spec.selection,
        filters.country_code,
        filters.area_code.as_deref().unwrap_or("any"),
        filters.number_type.as_deref().unwrap_or("any"),
        offers.len()
    );
    match preview::candidates(&claim, &class, &offers) {
        Ok(c) => {
            let _ = writeln!(
                out,
                "{:<4} {:<16} {:>10} {:>10}  features",
                "#", "number", "monthly", "setup"
            );
            for (i, o) in c.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{:<4} {:<16} {:>10} {:>10}  {}",
                    i + 1,
                    o.phone_number,
                    o.monthly_price.map_or("?".into(), |p| format!("${p}")),
                    o.setup_price.map_or("?".into(), |p| format!("${p}")),
                    o.features.join(",")
                );
            }
            let _ = writeln!(
                out,
                "the operator would buy {} (nothing was bought)",
                c.first().map_or("-", |o| o.phone_number.as_str())
            );
        }
        Err(why) => {
            let _ = writeln!(out, "no acceptable candidate: {why}");
        }
    }
    Ok(out)
}

/// `orphans`: account numbers without a PhoneNumber, per class (one list call per account).
pub async fn orphans(client: &Client) -> Result<String, Error> {
    let classes: Api<PhoneNumberClass> = Api::all(client.clone());
    let numbers: Api<PhoneNumber> = Api::all(client.clone());
    let known: BTreeSet<String> = numbers
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for class in classes.list(&ListParams::default()).await?.items {
        let key = (class.spec.api_base_url.clone(), class.spec.team_id.clone());
        if !seen.insert(key) {
            continue;
        }
        let account = match account_client(client, &class).await {
            Ok(a) => a,
            Err(e) => {
                let _ = writeln!(
                    out,
                    "class {}: cannot read the account: {e}",
                    class.name_any()
                );
                continue;
            }
        };
        let records = match account.list(&class.spec.team_id).await {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(out, "class {}: cannot list numbers: {e}", class.name_any());
                continue;
            }
        };
        for r in records
            .iter()
            .filter(|r| !known.contains(&phone_number_name(&r.phone_number)))
        {
            total += 1;
            let _ = writeln!(
                out,
                "{:<16} id={} status={:?} assistant={} class={} team={}",
                r.phone_number,
                r.id,
                r.status,
                r.assistant_id.as_deref().unwrap_or("-"),
                class.name_any(),
                class.spec.team_id
            );
        }
    }
    let _ = writeln!(out, "{total} orphaned numbers");
    Ok(out)
}

async fn account_client(
    client: &Client,
    class: &PhoneNumberClass,
) -> Result<talkturo::Client, Error> {
    let token = preview::fetch_token(client, class).await.map_err(|nr| {
        Error::Usage(format!(
            "class {}: {}: {}",
            class.name_any(),
            nr.reason,
            nr.message
        ))
    })?;
    Ok(talkturo::Client::new(ClientConfig::new(
        class.spec.api_base_url.clone(),
        token,
    ))?)
}

fn arcs<T>(items: Vec<T>) -> Vec<Arc<T>> {
    items.into_iter().map(Arc::new).collect()
}

fn conditions(out: &mut String, indent: &str, conds: &[Condition]) {
    for c in conds {
        let _ = writeln!(
            out,
            "{indent}{}={}  {}: {}",
            c.type_, c.status, c.reason, c.message
        );
    }
}

async fn events(
    out: &mut String,
    indent: &str,
    client: &Client,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
) -> Result<(), Error> {
    let api: Api<Event> = Api::all(client.clone());
    let mut selector = format!("involvedObject.kind={kind},involvedObject.name={name}");
    if let Some(ns) = namespace {
        let _ = write!(selector, ",involvedObject.namespace={ns}");
    }
    let lp = ListParams::default().fields(&selector);
    let mut items = api.list(&lp).await?.items;
    items.sort_by_key(|e| {
        e.event_time
            .as_ref()
            .map(|t| t.0)
            .or(e.last_timestamp.as_ref().map(|t| t.0))
    });
    for e in items.iter().rev().take(RECENT_EVENTS).rev() {
        let _ = writeln!(
            out,
            "{indent}event {} {}: {}",
            e.type_.as_deref().unwrap_or("Normal"),
            e.reason.as_deref().unwrap_or("-"),
            e.message.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
