//! `status`: one claim's tree (claim → PhoneNumber → class), or the claims of a namespace.

use std::fmt::Write as _;
use std::sync::Arc;

use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;

use super::{Error, EventLine, Format, Part, draw_conditions, draw_events, encoded, events, part};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use crate::controller::preview;

/// What `status` found about one claim.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub claim: PhoneNumberClaim,
    pub claim_events: Part<Vec<EventLine>>,
    pub phone_number: Part<PhoneNumber>,
    pub phone_number_events: Part<Vec<EventLine>>,
    pub class: Part<PhoneNumberClass>,
    pub class_events: Part<Vec<EventLine>>,
}

/// Without `managedFields`, which only make the output long.
fn clean<K: Resource>(mut k: K) -> K {
    k.meta_mut().managed_fields = None;
    k
}

/// `status <claim>`: the claim's tree, or its report as JSON or YAML.
pub async fn status(
    client: &Client,
    namespace: &str,
    claim: &str,
    format: Format,
) -> Result<String, Error> {
    let report = gather(client, namespace, claim).await?;
    Ok(match encoded(&report, format)? {
        Some(text) => text,
        None => draw(&report),
    })
}

async fn gather(client: &Client, namespace: &str, claim: &str) -> Result<StatusReport, Error> {
    let claims: Api<PhoneNumberClaim> = Api::namespaced(client.clone(), namespace);
    let c = match claims.get(claim).await {
        Ok(c) => clean(c),
        Err(kube::Error::Api(s)) if s.code == 404 => {
            return Err(Error::Usage(format!(
                "PhoneNumberClaim {namespace}/{claim} not found"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let st = c.status.clone().unwrap_or_default();
    let claim_events = events(client, "PhoneNumberClaim", claim, Some(namespace)).await?;
    let numbers: Api<PhoneNumber> = Api::all(client.clone());
    let phone_number = match st.phone_number_name.as_deref() {
        Some(name) => part(numbers.get(name), || {
            format!("PhoneNumber {name} does not exist")
        })
        .await?
        .map(clean),
        None => Part::Absent("no PhoneNumber bound".into()),
    };
    let phone_number_events = match phone_number.shown() {
        Some(pn) => events(client, "PhoneNumber", &pn.name_any(), None).await?,
        None => Part::Absent(String::new()),
    };
    // The class: the number's, else the one the claim's status names, else the claim resolves.
    let classes: Api<PhoneNumberClass> = Api::all(client.clone());
    let class_name = phone_number
        .shown()
        .map(|pn| pn.spec.class_name.clone())
        .or(st.class_name.clone())
        .or(c.spec.class_name.clone());
    let class = match class_name {
        Some(n) => part(classes.get(&n), || format!("class {n} does not exist")).await?,
        None => match part(classes.list(&ListParams::default()), String::new).await? {
            Part::Shown(list) => {
                let all: Vec<Arc<PhoneNumberClass>> =
                    list.items.into_iter().map(Arc::new).collect();
                match preview::class_of(&c, &all) {
                    Ok(a) => Part::Shown((*a).clone()),
                    Err(why) => Part::Absent(why),
                }
            }
            Part::Absent(why) => Part::Absent(why),
            Part::Forbidden(why) => Part::Forbidden(why),
        },
    }
    .map(clean);
    let class_events = match class.shown() {
        Some(k) => events(client, "PhoneNumberClass", &k.name_any(), None).await?,
        None => Part::Absent(String::new()),
    };
    Ok(StatusReport {
        claim: c,
        claim_events,
        phone_number,
        phone_number_events,
        class,
        class_events,
    })
}

/// The tree.
fn draw(r: &StatusReport) -> String {
    let c = &r.claim;
    let st = c.status.clone().unwrap_or_default();
    let mut out = String::new();
    let phase = st.phase.map_or("Pending".to_owned(), |p| format!("{p:?}"));
    let _ = writeln!(
        out,
        "PhoneNumberClaim {}/{}  {phase}  {}",
        c.namespace().unwrap_or_default(),
        c.name_any(),
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
    draw_conditions(&mut out, "│  ", &st.conditions);
    draw_events(&mut out, "│  ", &r.claim_events);
    let name = st.phone_number_name.as_deref().unwrap_or("-");
    draw_number(&mut out, r, name);
    draw_class(&mut out, r, st.class_name.as_deref().unwrap_or("-"));
    out
}

/// The claim's PhoneNumber, under the claim.
fn draw_number(out: &mut String, r: &StatusReport, name: &str) {
    match &r.phone_number {
        Part::Shown(pn) => {
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
            draw_conditions(out, "   │  ", &ps.conditions);
            draw_events(out, "   │  ", &r.phone_number_events);
        }
        Part::Absent(why) => {
            let _ = writeln!(out, "└─ ({why})");
        }
        Part::Forbidden(why) => {
            let _ = writeln!(out, "└─ PhoneNumber {name}  (not shown: {why})");
        }
    }
}

/// The class, under the PhoneNumber.
fn draw_class(out: &mut String, r: &StatusReport, class_name: &str) {
    match &r.class {
        Part::Shown(class) => {
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
            draw_conditions(out, "      ", &cs.conditions);
            draw_events(out, "      ", &r.class_events);
        }
        Part::Absent(why) => {
            let _ = writeln!(out, "   └─ (class not found: {why})");
        }
        Part::Forbidden(why) => {
            let _ = writeln!(
                out,
                "   └─ PhoneNumberClass {}  (not shown: {why})",
                class_name
            );
        }
    }
}

/// `status` without a name: the claims of `namespace` (every namespace when `None`), one per
/// line, or as a JSON/YAML list.
pub async fn list(
    client: &Client,
    namespace: Option<&str>,
    format: Format,
) -> Result<String, Error> {
    let api: Api<PhoneNumberClaim> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let items: Vec<PhoneNumberClaim> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(clean)
        .collect();
    if let Some(text) = encoded(&items, format)? {
        return Ok(text);
    }
    let rows: Vec<[String; 7]> = items
        .iter()
        .map(|c| {
            let st = c.status.clone().unwrap_or_default();
            let ready = st.conditions.iter().find(|c| c.type_ == "Ready");
            [
                c.namespace().unwrap_or_default(),
                c.name_any(),
                st.phase.map_or("Pending".to_owned(), |p| format!("{p:?}")),
                st.number.clone().unwrap_or_else(|| "-".into()),
                st.class_name.clone().unwrap_or_else(|| "-".into()),
                ready.map_or("-".into(), |r| r.reason.clone()),
                ready.map_or(String::new(), |r| r.message.clone()),
            ]
        })
        .collect();
    if rows.is_empty() {
        return Ok(match namespace {
            Some(ns) => format!("No PhoneNumberClaims in namespace {ns}.\n"),
            None => "No PhoneNumberClaims.\n".into(),
        });
    }
    let header = [
        "NAMESPACE",
        "NAME",
        "PHASE",
        "NUMBER",
        "CLASS",
        "REASON",
        "MESSAGE",
    ];
    let skip = usize::from(namespace.is_some());
    let mut widths = [0usize; 7];
    for row in std::iter::once(header.map(str::to_owned)).chain(rows.iter().cloned()) {
        for (w, cell) in widths.iter_mut().zip(&row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header.map(str::to_owned)).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .skip(skip)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("   ").trim_end());
    }
    Ok(out)
}
