//! The CRD schemas, checked client-side: the OpenAPI part (patterns, enums, required fields)
//! with a JSON Schema validator and the CEL rules (`x-kubernetes-validations`, including
//! transition rules) with kube's CEL evaluator. `tests/apiserver.rs` runs the same table against
//! a real kube-apiserver; this layer is fast and needs no control plane.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kube::CustomResourceExt;
use serde_json::{Value, json};
use support::cases::{self, claim, class, number};
use talkturo_operator::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// Every error the schema of `obj`'s kind gives (for an update when `old` is given), as text.
fn errors(obj: &Value, old: Option<&Value>) -> Vec<String> {
    let crd = match obj["kind"].as_str().unwrap() {
        "PhoneNumberClaim" => PhoneNumberClaim::crd(),
        "PhoneNumberClass" => PhoneNumberClass::crd(),
        "PhoneNumber" => PhoneNumber::crd(),
        other => panic!("not a kind of ours: {other}"),
    };
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
        let errs = errors(&claim(spec.clone()), None);
        assert!(errs.is_empty(), "{spec}: {errs:?}");
    }
    let c = class(
        json!({"monthlyBudget": "100", "syncInterval": "5m", "trial": {"warnBefore": "1h30m", "onExpiry": "Replace"}}),
    );
    assert_eq!(errors(&c, None), Vec::<String>::new());
    // Plain http:// only to loopback, or when the class says so.
    for spec in [
        json!({"apiBaseUrl": "http://127.0.0.1:8081"}),
        json!({"apiBaseUrl": "http://localhost/tenant"}),
        json!({"apiBaseUrl": "http://[::1]:9000"}),
        json!({"apiBaseUrl": "http://proxy.internal", "allowInsecureHTTP": true}),
    ] {
        let errs = errors(&class(spec.clone()), None);
        assert!(errs.is_empty(), "{spec}: {errs:?}");
    }
    let n = number(
        "tel-14155550101",
        json!({"number": "+14155550101", "className": "standard"}),
    );
    assert_eq!(errors(&n, None), Vec::<String>::new());
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
            if obj["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("telephony.talkturo.ai/"))
            {
                let errs = errors(&obj, None);
                assert!(errs.is_empty(), "{}: {errs:?}", path.display());
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 4,
        "expected at least 4 custom resources in examples/, found {checked}"
    );
}

#[test]
fn invalid_objects_are_rejected_with_a_specific_message() {
    for case in cases::invalid() {
        if let Some(old) = &case.old {
            assert_eq!(
                errors(old, None),
                Vec::<String>::new(),
                "{}: the old object must be valid",
                case.name
            );
        }
        let errs = errors(&case.obj, case.old.as_ref());
        assert!(
            errs.iter().any(|e| e.contains(&case.client)),
            "{}: expected an error containing {:?}, got {errs:?}",
            case.name,
            case.client
        );
    }
}

#[test]
fn assistant_and_configmap_stay_mutable() {
    let old = claim(
        json!({"countryCode": "US", "areaCode": "415", "assistantId": "asst_1", "numberType": "local", "features": ["voice"]}),
    );
    let mut moved = old.clone();
    moved["spec"]["assistantId"] = json!("asst_2");
    moved["spec"]["configMapName"] = json!("phone");
    assert_eq!(errors(&moved, Some(&old)), Vec::<String>::new());
    let mut cleared = old.clone();
    cleared["spec"]
        .as_object_mut()
        .unwrap()
        .remove("assistantId");
    assert_eq!(errors(&cleared, Some(&old)), Vec::<String>::new());
}
