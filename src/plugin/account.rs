//! `search` and `orphans`: the two commands that read a class's Talkturo account (with the API
//! key from the class's Secret, so only for users who may read that Secret).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use super::{Error, Format, encoded};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass, phone_number_name};
use crate::controller::preview;
use crate::talkturo::{self, ClientConfig};

/// What `search` found: the offers a claim would get, in the order the operator would try them.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchReport {
    pub class: String,
    pub country_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_type: Option<String>,
    /// How many numbers Talkturo offered.
    pub offers: usize,
    /// The acceptable ones, first the one the operator would buy.
    pub candidates: Vec<talkturo::AvailableNumber>,
    /// Why none is acceptable, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub none_because: Option<String>,
}

/// `search`: the candidates a claim (read from YAML) would get. Buys nothing.
pub async fn search(client: &Client, claim_yaml: &str, format: Format) -> Result<String, Error> {
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
    let (candidates, none_because) = match preview::candidates(&claim, &class, &offers) {
        Ok(c) => (c, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let report = SearchReport {
        class: class.name_any(),
        country_code: filters.country_code.clone(),
        area_code: filters.area_code.clone(),
        number_type: filters.number_type.clone(),
        offers: offers.len(),
        candidates,
        none_because,
    };
    if let Some(text) = encoded(&report, format)? {
        return Ok(text);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "class {} ({:?} selection), search {} area {} type {}: {} offers",
        report.class,
        class.spec.selection,
        report.country_code,
        report.area_code.as_deref().unwrap_or("any"),
        report.number_type.as_deref().unwrap_or("any"),
        report.offers
    );
    if let Some(why) = &report.none_because {
        let _ = writeln!(out, "no acceptable candidate: {why}");
        return Ok(out);
    }
    let _ = writeln!(
        out,
        "{:<4} {:<16} {:>10} {:>10}  features",
        "#", "number", "monthly", "setup"
    );
    for (i, o) in report.candidates.iter().enumerate() {
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
        report
            .candidates
            .first()
            .map_or("-", |o| o.phone_number.as_str())
    );
    Ok(out)
}

/// One number in an account that no PhoneNumber represents.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Orphan {
    pub number: String,
    pub id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    pub class: String,
    pub team: String,
}

/// What `orphans` found, and the classes whose account it could not read.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphansReport {
    pub orphans: Vec<Orphan>,
    pub unreadable: Vec<String>,
}

/// `orphans`: account numbers without a PhoneNumber, per class (one list call per account).
pub async fn orphans(client: &Client, format: Format) -> Result<String, Error> {
    let classes: Api<PhoneNumberClass> = Api::all(client.clone());
    let numbers: Api<PhoneNumber> = Api::all(client.clone());
    let known: BTreeSet<String> = numbers
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let mut report = OrphansReport::default();
    let mut seen = BTreeSet::new();
    for class in classes.list(&ListParams::default()).await?.items {
        let key = (class.spec.api_base_url.clone(), class.spec.team_id.clone());
        if !seen.insert(key) {
            continue;
        }
        let account = match account_client(client, &class).await {
            Ok(a) => a,
            Err(e) => {
                report.unreadable.push(format!(
                    "class {}: cannot read the account: {e}",
                    class.name_any()
                ));
                continue;
            }
        };
        let records = match account.list(&class.spec.team_id).await {
            Ok(r) => r,
            Err(e) => {
                report.unreadable.push(format!(
                    "class {}: cannot list numbers: {e}",
                    class.name_any()
                ));
                continue;
            }
        };
        report.orphans.extend(
            records
                .iter()
                .filter(|r| !known.contains(&phone_number_name(&r.phone_number)))
                .map(|r| Orphan {
                    number: r.phone_number.clone(),
                    id: r.id.clone(),
                    status: format!("{:?}", r.status),
                    assistant_id: r.assistant_id.clone(),
                    class: class.name_any(),
                    team: class.spec.team_id.clone(),
                }),
        );
    }
    if let Some(text) = encoded(&report, format)? {
        return Ok(text);
    }
    let mut out = String::new();
    for line in &report.unreadable {
        let _ = writeln!(out, "{line}");
    }
    for o in &report.orphans {
        let _ = writeln!(
            out,
            "{:<16} id={} status={} assistant={} class={} team={}",
            o.number,
            o.id,
            o.status,
            o.assistant_id.as_deref().unwrap_or("-"),
            o.class,
            o.team
        );
    }
    let _ = writeln!(out, "{} orphaned numbers", report.orphans.len());
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
