//! Builders for the objects the decision tests start from:
//! `PhoneNumber::test().owned("pn_1").purchasing()`, `PhoneNumberClaim::test().number(..)`,
//! `PhoneNumberClass::test().ready().budget("10")`, and the account's list (`listing`).

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde_json::{Value, json};

use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};
use crate::controller::decide::snapshot::Snapshot;
use crate::talkturo::{AvailableNumber, NumberRecord};

/// A time from RFC 3339.
pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// "Now" in every fixture: a minute after the objects were created.
pub const NOW: &str = "2026-01-01T00:01:00Z";
/// When every fixture object was created.
pub const CREATED: &str = "2026-01-01T00:00:00Z";

/// A condition as the API server stores it.
pub fn condition(type_: &str, status: bool, reason: &str, since: &str) -> Value {
    serde_json::to_value(Condition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: format!("{reason} message"),
        last_transition_time: Time(ts(since)),
        observed_generation: Some(1),
    })
    .unwrap_or_default()
}

/// Merges `patch` into `doc` (objects key by key, anything else replaced).
fn merge(doc: &mut Value, patch: Value) {
    match (doc, patch) {
        (Value::Object(d), Value::Object(p)) => {
            for (k, v) in p {
                merge(d.entry(k).or_insert(Value::Null), v);
            }
        }
        (d, p) => *d = p,
    }
}

/// A JSON document being built into a `K`.
#[derive(Clone, Debug)]
pub struct Builder<K> {
    doc: Value,
    kind: std::marker::PhantomData<K>,
}

impl<K: serde::de::DeserializeOwned> Builder<K> {
    fn new(doc: Value) -> Self {
        Self {
            doc,
            kind: std::marker::PhantomData,
        }
    }

    /// Merges `patch` into the object.
    pub fn with(mut self, patch: Value) -> Self {
        merge(&mut self.doc, patch);
        self
    }

    /// Adds a status condition.
    pub fn condition(mut self, type_: &str, status: bool, reason: &str, since: &str) -> Self {
        let c = condition(type_, status, reason, since);
        let list = &mut self.doc["status"]["conditions"];
        match list.as_array_mut() {
            Some(l) => l.push(c),
            None => *list = json!([c]),
        }
        self
    }

    /// Marked for deletion.
    pub fn deleting(self) -> Self {
        self.with(json!({"metadata": {"deletionTimestamp": NOW}}))
    }

    pub fn build(self) -> K {
        serde_json::from_value(self.doc).unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    pub fn arc(self) -> Arc<K> {
        Arc::new(self.build())
    }
}

impl PhoneNumber {
    /// A managed PhoneNumber for +14155550101 of class `standard`, bound to claim `app/line`,
    /// created at [`CREATED`], with no status.
    pub fn test() -> Builder<PhoneNumber> {
        Builder::new(json!({
            "apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumber",
            "metadata": {"name": "tel-14155550101", "generation": 1, "uid": "uid-pn", "creationTimestamp": CREATED},
            "spec": {"number": "+14155550101", "className": "standard", "claimRef": {"namespace": "app", "name": "line"}},
        }))
    }
}

impl Builder<PhoneNumber> {
    /// Another number (and its object name).
    pub fn number(self, n: &str) -> Self {
        let name = crate::api::v1alpha1::phone_number_name(n);
        self.with(json!({"metadata": {"name": name}, "spec": {"number": n}}))
    }

    /// Owned: the account holds it under record `id`, active.
    pub fn owned(self, id: &str) -> Self {
        self.with(json!({"status": {"id": id, "providerStatus": "active", "phase": "Bound"}}))
    }

    /// Owned and still being provisioned by Talkturo (`owned` first).
    pub fn purchasing(self) -> Self {
        self.with(json!({"status": {"providerStatus": "purchasing"}}))
    }

    /// A trial number expiring at `at`.
    pub fn trial(self, expires: &str) -> Self {
        self.with(json!({"status": {"isTrial": true, "trialExpiresAt": expires}}))
    }

    /// In a phase.
    pub fn phase(self, phase: &str) -> Self {
        self.with(json!({"status": {"phase": phase}}))
    }

    /// Released at Talkturo when its PhoneNumber goes.
    pub fn release_policy(self) -> Self {
        self.with(json!({"spec": {"reclaimPolicy": "Release"}}))
    }

    /// Imported: only mirrors the account.
    pub fn observe_only(self) -> Self {
        self.with(json!({"spec": {"managementPolicy": "ObserveOnly", "claimRef": null}}))
    }

    /// Bound to no claim.
    pub fn unbound(self) -> Self {
        self.with(json!({"spec": {"claimRef": null}}))
    }

    /// Bound to claim `ns/name`.
    pub fn claimed_by(self, ns: &str, name: &str) -> Self {
        self.with(json!({"spec": {"claimRef": {"namespace": ns, "name": name}}}))
    }

    /// Its assistant.
    pub fn assistant(self, a: &str) -> Self {
        self.with(json!({"spec": {"assistantId": a}}))
    }
}

impl PhoneNumberClaim {
    /// Claim `app/line` (uid `uid-claim`) for a US local number of class `standard`, created at
    /// [`CREATED`], with no status.
    pub fn test() -> Builder<PhoneNumberClaim> {
        Builder::new(json!({
            "apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClaim",
            "metadata": {"name": "line", "namespace": "app", "uid": "uid-claim", "generation": 1, "resourceVersion": "7", "creationTimestamp": CREATED},
            "spec": {"className": "standard", "countryCode": "US"},
        }))
    }
}

impl Builder<PhoneNumberClaim> {
    /// For this exact number.
    pub fn number(self, n: &str) -> Self {
        self.with(json!({"spec": {"number": n}}))
    }

    /// With a spec field set (`spec(json!({"maxMonthlyPrice": "1.00"}))`).
    pub fn spec(self, spec: Value) -> Self {
        self.with(json!({"spec": spec}))
    }

    /// With its provisioning progress.
    pub fn purchase(self, progress: Value) -> Self {
        self.with(json!({"status": {"purchase": progress}}))
    }

    /// Bound (or once bound) to PhoneNumber `name`.
    pub fn bound_to(self, name: &str) -> Self {
        self.with(json!({"status": {"phoneNumberName": name, "phase": "Bound"}}))
    }
}

impl PhoneNumberClass {
    /// Class `standard` (sync 60s, Cheapest), created at [`CREATED`], never reconciled.
    pub fn test() -> Builder<PhoneNumberClass> {
        Builder::new(json!({
            "apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClass",
            "metadata": {"name": "standard", "generation": 1, "creationTimestamp": CREATED},
            "spec": {"apiBaseUrl": "https://api.talkturo.test", "teamId": "t", "accountSlug": "a",
                     "apiKeySecretRef": {"namespace": "ops", "name": "key"}, "syncInterval": "60s"},
        }))
    }
}

impl Builder<PhoneNumberClass> {
    /// Reaches its account (`Ready` True).
    pub fn ready(self) -> Self {
        self.with(json!({"status": {}}))
            .condition("Ready", true, "AccountReachable", CREATED)
    }

    /// With a spec field set.
    pub fn spec(self, spec: Value) -> Self {
        self.with(json!({"spec": spec}))
    }

    /// A monthly budget, USD.
    pub fn budget(self, b: &str) -> Self {
        self.spec(json!({"monthlyBudget": b}))
    }

    /// Created at `at` (the fixtures' default is [`CREATED`]).
    pub fn created(self, at: &str) -> Self {
        self.with(json!({"metadata": {"creationTimestamp": at}}))
    }

    /// `onExpiry` and `warnBefore` for trial numbers.
    pub fn trial(self, on_expiry: &str, warn_before: &str) -> Self {
        self.spec(json!({"trial": {"onExpiry": on_expiry, "warnBefore": warn_before}}))
    }
}

/// A record of the account, active, for `number` under `id`.
pub fn record(number: &str, id: &str) -> NumberRecord {
    serde_json::from_value(json!({"id": id, "phone_number": number, "status": "active"}))
        .unwrap_or_else(|e| panic!("record: {e}"))
}

/// The account's list, sent at `at`.
pub fn listing(at: &str, records: Vec<NumberRecord>) -> Snapshot {
    let records: BTreeMap<String, NumberRecord> = records
        .into_iter()
        .map(|r| (r.phone_number.clone(), r))
        .collect();
    Snapshot::new(ts(at), records)
}

/// An offer of the carrier.
pub fn offer(number: &str, monthly: Option<&str>, features: &[&str]) -> AvailableNumber {
    AvailableNumber {
        phone_number: number.to_owned(),
        monthly_price: monthly.map(|m| m.parse().unwrap_or_default()),
        setup_price: Some(rust_decimal::Decimal::ONE),
        features: features.iter().map(|f| (*f).to_owned()).collect(),
    }
}
