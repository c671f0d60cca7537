//! Invalid objects and what each schema layer must answer: the client-side check (JSON Schema +
//! kube's CEL evaluator) and the real kube-apiserver.

use serde_json::{Value, json};

/// One invalid object (or update), with the message each layer must give.
pub struct Case {
    pub name: &'static str,
    pub obj: Value,
    /// For an update: the object as it was, which must itself be valid.
    pub old: Option<Value>,
    /// A substring of the client-side error.
    pub client: String,
    /// A substring of the apiserver's error.
    pub server: String,
}

fn pattern(name: &'static str, obj: Value, field: &str) -> Case {
    Case {
        name,
        obj,
        old: None,
        client: "does not match".into(),
        server: format!("{field} in body should match"),
    }
}

fn one_of(name: &'static str, obj: Value, field: &str) -> Case {
    Case {
        name,
        obj,
        old: None,
        client: "is not one of".into(),
        server: format!("{field}: Unsupported value"),
    }
}

fn cel(name: &'static str, obj: Value, message: &str) -> Case {
    Case {
        name,
        obj,
        old: None,
        client: message.into(),
        server: message.into(),
    }
}

fn update(name: &'static str, old: Value, obj: Value, message: &str) -> Case {
    Case {
        name,
        obj,
        old: Some(old),
        client: message.into(),
        server: message.into(),
    }
}

pub fn claim(spec: Value) -> Value {
    json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClaim",
           "metadata": {"name": "c"}, "spec": spec})
}

pub fn class(spec_patch: Value) -> Value {
    let mut spec = json!({"apiBaseUrl": "https://app.talkturo.com", "teamId": "team_1", "accountSlug": "acme",
        "apiKeySecretRef": {"namespace": "ops", "name": "talkturo", "key": "apiKey"}});
    if let (Some(s), Value::Object(p)) = (spec.as_object_mut(), spec_patch) {
        s.extend(p);
    }
    json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClass",
           "metadata": {"name": "standard"}, "spec": spec})
}

pub fn number(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumber",
           "metadata": {"name": name}, "spec": spec})
}

/// Claim specs the apiserver fills in defaults for; both sides of an update carry them.
fn defaulted(mut spec: Value) -> Value {
    if spec.get("numberType").is_none() {
        spec["numberType"] = json!("local");
    }
    if spec.get("features").is_none() {
        spec["features"] = json!(["voice"]);
    }
    claim(spec)
}

/// A claim's criteria for a US local number in area 415, with an assistant.
fn us415() -> Value {
    json!({"countryCode": "US", "areaCode": "415", "assistantId": "asst_1"})
}

/// A class without its `teamId`.
fn without_team() -> Value {
    let mut c = class(json!({}));
    c["spec"].as_object_mut().unwrap().remove("teamId");
    c
}

/// Every invalid object of the table.
pub fn invalid() -> Vec<Case> {
    let mut all = invalid_claims();
    all.extend(invalid_classes_and_numbers());
    all.extend(invalid_updates());
    all
}

/// The first half of the objects the schema refuses.
fn invalid_claims() -> Vec<Case> {
    vec![
        pattern(
            "number without +",
            claim(json!({"number": "14155550101"})),
            "spec.number",
        ),
        pattern(
            "lowercase country",
            claim(json!({"countryCode": "us"})),
            "spec.countryCode",
        ),
        cel(
            "area code with GB",
            claim(json!({"countryCode": "GB", "areaCode": "207"})),
            "areaCode is only allowed with countryCode US or CA",
        ),
        cel(
            "area code with an exact number",
            claim(json!({"number": "+14155550101", "areaCode": "415"})),
            "cannot be combined with areaCode",
        ),
        pattern(
            "price -1",
            claim(json!({"countryCode": "US", "maxMonthlyPrice": "-1"})),
            "spec.maxMonthlyPrice",
        ),
        pattern(
            "price 1.234",
            claim(json!({"countryCode": "US", "maxSetupPrice": "1.234"})),
            "spec.maxSetupPrice",
        ),
        one_of(
            "numberType mobile",
            claim(json!({"countryCode": "US", "numberType": "mobile"})),
            "spec.numberType",
        ),
        cel(
            "no criteria at all",
            claim(json!({"assistantId": "asst_1"})),
            "one of countryCode",
        ),
        cel(
            "static binding plus criteria",
            claim(json!({"phoneNumberName": "tel-1", "countryCode": "US"})),
            "cannot be combined with countryCode",
        ),
        cel(
            "US number not +1",
            claim(json!({"number": "+442071234567", "countryCode": "US"})),
            "a US or CA number starts with +1",
        ),
        pattern(
            "four-digit area code",
            claim(json!({"countryCode": "US", "areaCode": "4155"})),
            "spec.areaCode",
        ),
        pattern(
            "uppercase feature",
            claim(json!({"countryCode": "US", "features": ["Voice"]})),
            "spec.features[0]",
        ),
        pattern(
            "ConfigMap name with capitals",
            claim(json!({"countryCode": "US", "configMapName": "Phone"})),
            "spec.configMapName",
        ),
    ]
}

/// Class URLs the schema refuses.
fn invalid_class_urls() -> Vec<Case> {
    vec![
        cel(
            "class URL without scheme",
            class(json!({"apiBaseUrl": "app.talkturo.com"})),
            "must be an http:// or https:// URL",
        ),
        cel(
            "class URL in clear text to another host",
            class(json!({"apiBaseUrl": "http://app.talkturo.com"})),
            "apiBaseUrl must be https://",
        ),
        cel(
            "class URL in clear text to a look-alike of loopback",
            class(json!({"apiBaseUrl": "http://127.0.0.1.evil.example"})),
            "apiBaseUrl must be https://",
        ),
        cel(
            "class URL with user:password",
            class(json!({"apiBaseUrl": "https://user:pw@app.talkturo.com"})),
            "apiBaseUrl must not contain user:password; the key comes from apiKeySecretRef",
        ),
        cel(
            "class URL with user:password in clear text: the credentials are the reason given",
            class(json!({"apiBaseUrl": "http://user:pw@127.0.0.1:8080"})),
            "apiBaseUrl must not contain user:password",
        ),
    ]
}

/// The second half of the objects the schema refuses.
fn invalid_classes_and_numbers() -> Vec<Case> {
    let mut all = invalid_class_urls();
    all.extend([
        pattern(
            "class connectionId with a space",
            class(json!({"connectionId": "fqdn conn"})),
            "spec.connectionId",
        ),
        pattern(
            "class lostConfirmation not a duration",
            class(json!({"lostConfirmation": "an hour"})),
            "spec.lostConfirmation",
        ),
        cel(
            "class sync interval 1s",
            class(json!({"syncInterval": "1s"})),
            "must be at least 5s",
        ),
        pattern(
            "class sync interval not a duration",
            class(json!({"syncInterval": "soon"})),
            "spec.syncInterval",
        ),
        pattern(
            "class warnBefore in days",
            class(json!({"trial": {"warnBefore": "1d"}})),
            "spec.trial.warnBefore",
        ),
        one_of(
            "class unknown reclaim policy",
            class(json!({"reclaimPolicy": "Delete"})),
            "spec.reclaimPolicy",
        ),
        one_of(
            "class unknown trial action",
            class(json!({"trial": {"onExpiry": "Ignore"}})),
            "spec.trial.onExpiry",
        ),
        pattern(
            "class budget with currency",
            class(json!({"monthlyBudget": "$100"})),
            "spec.monthlyBudget",
        ),
        Case {
            name: "class without team",
            obj: without_team(),
            old: None,
            client: "\"teamId\" is a required property".into(),
            server: "spec.teamId: Required value".into(),
        },
        cel(
            "number name not derived from the number",
            number(
                "my-number",
                json!({"number": "+14155550101", "className": "standard"}),
            ),
            "metadata.name must be 'tel-'",
        ),
        pattern(
            "number not E.164",
            number(
                "tel-0415",
                json!({"number": "+0415", "className": "standard"}),
            ),
            "spec.number",
        ),
        one_of(
            "unknown management policy",
            number(
                "tel-14155550101",
                json!({"number": "+14155550101", "className": "standard", "managementPolicy": "Adopt"}),
            ),
            "spec.managementPolicy",
        ),
    ]);
    all
}

/// Updates the schema refuses (transition rules).
fn invalid_updates() -> Vec<Case> {
    vec![
        update(
            "changing countryCode",
            defaulted(us415()),
            defaulted(json!({"countryCode": "CA", "areaCode": "415", "assistantId": "asst_1"})),
            "countryCode is immutable",
        ),
        update(
            "changing areaCode",
            defaulted(us415()),
            defaulted(json!({"countryCode": "US", "areaCode": "510", "assistantId": "asst_1"})),
            "areaCode is immutable",
        ),
        update(
            "changing numberType",
            defaulted(us415()),
            defaulted(json!({"countryCode": "US", "areaCode": "415", "numberType": "toll-free"})),
            "numberType is immutable",
        ),
        update(
            "changing features",
            defaulted(us415()),
            defaulted(
                json!({"countryCode": "US", "areaCode": "415", "features": ["voice", "sms"]}),
            ),
            "features is immutable",
        ),
        update(
            "adding a price cap",
            defaulted(us415()),
            defaulted(json!({"countryCode": "US", "areaCode": "415", "maxMonthlyPrice": "1.00"})),
            "cannot be added or removed",
        ),
        update(
            "removing the area code",
            defaulted(us415()),
            defaulted(json!({"countryCode": "US"})),
            "cannot be added or removed",
        ),
        update(
            "changing a number's class",
            number(
                "tel-14155550101",
                json!({"number": "+14155550101", "className": "standard"}),
            ),
            number(
                "tel-14155550101",
                json!({"number": "+14155550101", "className": "premium"}),
            ),
            "className is immutable",
        ),
        update(
            "adding a class",
            defaulted(us415()),
            defaulted(json!({"countryCode": "US", "areaCode": "415", "className": "premium"})),
            "cannot be added or removed",
        ),
    ]
}
