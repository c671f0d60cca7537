//! The CRD schemas, checked client-side: the OpenAPI part (patterns, enums, lengths) with a JSON
//! Schema validator and the CEL rules (`x-kubernetes-validations`, including transition rules)
//! with kube's CEL evaluator. The same cases run against a real kube-apiserver in the
//! integration tests; this layer is fast and needs no control plane.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kube::CustomResourceExt;
use serde_json::{Value, json};
use talkturo_operator::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// Every error the schema of `K` gives for `obj` (and `old`, for an update), as text.
fn errors<K: CustomResourceExt>(obj: &Value, old: Option<&Value>) -> Vec<String> {
    let crd = K::crd();
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap(),
    )
    .unwrap();
    let structural = jsonschema::draft4::new(&schema).unwrap();
    let mut out: Vec<String> = structural
        .iter_errors(obj)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect();
    if let Err(errs) = kube::core::cel::Validator::new().validate(&schema, obj, old) {
        out.extend(
            errs.into_iter()
                .map(|e| format!("{}: {}", e.field_path, e.message)),
        );
    }
    out
}

fn claim(spec: Value) -> Value {
    json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClaim",
           "metadata": {"name": "c", "namespace": "default"}, "spec": spec})
}

fn class(spec_patch: Value) -> Value {
    let mut spec = json!({"apiBaseUrl": "https://app.talkturo.com", "teamId": "team_1",
        "accountSlug": "acme", "apiKeySecretRef": {"namespace": "ops", "name": "talkturo", "key": "apiKey"}});
    merge(&mut spec, spec_patch);
    json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClass",
           "metadata": {"name": "standard"}, "spec": spec})
}

fn number(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumber",
           "metadata": {"name": name}, "spec": spec})
}

fn merge(base: &mut Value, patch: Value) {
    if let (Some(b), Value::Object(p)) = (base.as_object_mut(), patch) {
        for (k, v) in p {
            b.insert(k, v);
        }
    }
}

/// Asserts that exactly the expected message appears among the errors.
fn assert_rejected(errs: &[String], expected: &str, case: &str) {
    assert!(
        errs.iter().any(|e| e.contains(expected)),
        "{case}: expected an error containing {expected:?}, got {errs:?}"
    );
}

#[test]
fn valid_claims_classes_and_numbers_are_accepted() {
    let claims = [
        json!({"countryCode": "US", "areaCode": "415", "maxMonthlyPrice": "2.00"}),
        json!({"countryCode": "GB", "numberType": "toll-free", "features": ["voice", "sms"]}),
        json!({"number": "+14155550101", "countryCode": "US"}),
        json!({"phoneNumberName": "tel-14155550101", "assistantId": "asst_1", "configMapName": "phone"}),
        json!({"countryCode": "CA", "areaCode": "604", "maxSetupPrice": "0", "maxMonthlyPrice": "1.5"}),
    ];
    for spec in claims {
        let errs = errors::<PhoneNumberClaim>(&claim(spec.clone()), None);
        assert!(errs.is_empty(), "{spec}: {errs:?}");
    }
    let errs = errors::<PhoneNumberClass>(
        &class(
            json!({"monthlyBudget": "100", "syncInterval": "5m", "trial": {"warnBefore": "1h30m", "onExpiry": "Replace"}}),
        ),
        None,
    );
    assert!(errs.is_empty(), "{errs:?}");
    let errs = errors::<PhoneNumber>(
        &number(
            "tel-14155550101",
            json!({"number": "+14155550101", "className": "standard"}),
        ),
        None,
    );
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn every_example_custom_resource_passes_its_schema() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let obj: Value = serde::Deserialize::deserialize(doc).unwrap();
            let errs = match obj["kind"].as_str() {
                Some("PhoneNumberClaim") => errors::<PhoneNumberClaim>(&obj, None),
                Some("PhoneNumberClass") => errors::<PhoneNumberClass>(&obj, None),
                Some("PhoneNumber") => errors::<PhoneNumber>(&obj, None),
                _ => continue,
            };
            assert!(errs.is_empty(), "{}: {errs:?}", path.display());
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "expected the examples to hold at least 4 custom resources, found {checked}"
    );
}

#[test]
fn invalid_objects_are_rejected_with_a_specific_message() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "number without +",
            claim(json!({"number": "14155550101"})),
            "does not match",
        ),
        (
            "lowercase country",
            claim(json!({"countryCode": "us"})),
            "does not match",
        ),
        (
            "area code with GB",
            claim(json!({"countryCode": "GB", "areaCode": "207"})),
            "areaCode is only allowed with countryCode US or CA",
        ),
        (
            "area code without country",
            claim(json!({"number": "+14155550101", "areaCode": "415"})),
            "cannot be combined with areaCode",
        ),
        (
            "price -1",
            claim(json!({"countryCode": "US", "maxMonthlyPrice": "-1"})),
            "does not match",
        ),
        (
            "price 1.234",
            claim(json!({"countryCode": "US", "maxSetupPrice": "1.234"})),
            "does not match",
        ),
        (
            "numberType mobile",
            claim(json!({"countryCode": "US", "numberType": "mobile"})),
            "is not one of",
        ),
        (
            "no criteria at all",
            claim(json!({"assistantId": "asst_1"})),
            "one of countryCode",
        ),
        (
            "static binding plus criteria",
            claim(json!({"phoneNumberName": "tel-1", "countryCode": "US"})),
            "cannot be combined with countryCode",
        ),
        (
            "US number not +1",
            claim(json!({"number": "+442071234567", "countryCode": "US"})),
            "a US or CA number starts with +1",
        ),
        (
            "four-digit area code",
            claim(json!({"countryCode": "US", "areaCode": "4155"})),
            "does not match",
        ),
        (
            "uppercase feature",
            claim(json!({"countryCode": "US", "features": ["Voice"]})),
            "does not match",
        ),
        (
            "class URL without scheme",
            class(json!({"apiBaseUrl": "app.talkturo.com"})),
            "must be an http:// or https:// URL",
        ),
        (
            "class sync interval 1s",
            class(json!({"syncInterval": "1s"})),
            "must be at least 5s",
        ),
        (
            "class sync interval not a duration",
            class(json!({"syncInterval": "soon"})),
            "does not match",
        ),
        (
            "class warnBefore in days",
            class(json!({"trial": {"warnBefore": "1d"}})),
            "does not match",
        ),
        (
            "class unknown reclaim policy",
            class(json!({"reclaimPolicy": "Delete"})),
            "is not one of",
        ),
        (
            "class budget with currency",
            class(json!({"monthlyBudget": "$100"})),
            "does not match",
        ),
        (
            "class without team",
            {
                let mut c = class(json!({}));
                c["spec"].as_object_mut().unwrap().remove("teamId");
                c
            },
            "\"teamId\" is a required property",
        ),
        (
            "number name not derived from the number",
            number(
                "my-number",
                json!({"number": "+14155550101", "className": "standard"}),
            ),
            "metadata.name must be 'tel-'",
        ),
        (
            "number not E.164",
            number(
                "tel-0415",
                json!({"number": "+0415", "className": "standard"}),
            ),
            "does not match",
        ),
        (
            "unknown management policy",
            number(
                "tel-14155550101",
                json!({"number": "+14155550101", "className": "standard", "managementPolicy": "Adopt"}),
            ),
            "is not one of",
        ),
    ];
    for (case, obj, expected) in cases {
        let errs = match obj["kind"].as_str().unwrap() {
            "PhoneNumberClaim" => errors::<PhoneNumberClaim>(&obj, None),
            "PhoneNumberClass" => errors::<PhoneNumberClass>(&obj, None),
            _ => errors::<PhoneNumber>(&obj, None),
        };
        assert_rejected(&errs, expected, case);
    }
}

#[test]
fn selection_fields_are_immutable_but_assistant_and_configmap_are_not() {
    let old = claim(json!({"countryCode": "US", "areaCode": "415", "assistantId": "asst_1"}));
    let updates: Vec<(&str, Value, &str)> = vec![
        (
            "changing countryCode",
            claim(json!({"countryCode": "CA", "areaCode": "415", "assistantId": "asst_1"})),
            "countryCode is immutable",
        ),
        (
            "changing areaCode",
            claim(json!({"countryCode": "US", "areaCode": "510", "assistantId": "asst_1"})),
            "areaCode is immutable",
        ),
        (
            "changing numberType",
            claim(json!({"countryCode": "US", "areaCode": "415", "numberType": "toll-free"})),
            "numberType is immutable",
        ),
        (
            "adding a price cap",
            claim(json!({"countryCode": "US", "areaCode": "415", "maxMonthlyPrice": "1.00"})),
            "cannot be added or removed",
        ),
        (
            "removing the area code",
            claim(json!({"countryCode": "US"})),
            "cannot be added or removed",
        ),
        (
            "adding a class",
            claim(json!({"countryCode": "US", "areaCode": "415", "className": "premium"})),
            "cannot be added or removed",
        ),
    ];
    for (case, new, expected) in updates {
        // numberType defaults to local on the server; give both sides the defaulted value.
        let (mut new, mut old) = (new, old.clone());
        for obj in [&mut new, &mut old] {
            if obj["spec"].get("numberType").is_none() {
                obj["spec"]["numberType"] = json!("local");
            }
        }
        let errs = errors::<PhoneNumberClaim>(&new, Some(&old));
        assert_rejected(&errs, expected, case);
    }
    let mut old = old;
    old["spec"]["numberType"] = json!("local");
    let mut moved = old.clone();
    moved["spec"]["assistantId"] = json!("asst_2");
    moved["spec"]["configMapName"] = json!("phone");
    assert!(errors::<PhoneNumberClaim>(&moved, Some(&old)).is_empty());
    let mut cleared = old.clone();
    cleared["spec"]
        .as_object_mut()
        .unwrap()
        .remove("assistantId");
    assert!(errors::<PhoneNumberClaim>(&cleared, Some(&old)).is_empty());

    let pn_old = number(
        "tel-14155550101",
        json!({"number": "+14155550101", "className": "standard"}),
    );
    let pn_new = number(
        "tel-14155550101",
        json!({"number": "+14155550101", "className": "premium"}),
    );
    assert_rejected(
        &errors::<PhoneNumber>(&pn_new, Some(&pn_old)),
        "className is immutable",
        "changing a number's class",
    );
}
