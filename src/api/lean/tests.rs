use super::*;

#[test]
fn only_the_entries_asked_for_are_kept() {
    let labels = r#"{"telephony.talkturo.ai/class": "gold", "app": "x", "team": "y"}"#;
    let read = |json: &str, keep: &dyn Fn(&str) -> bool| {
        kept(&mut serde_json::Deserializer::from_str(json), keep).unwrap()
    };
    let class = read(labels, &|k| k == CLASS_LABEL).unwrap();
    assert_eq!(class.len(), 1);
    assert_eq!(class[CLASS_LABEL], "gold");
    assert_eq!(read(labels, &|_| false), None, "no empty map");
    assert_eq!(read("null", &|_| true), None);
}

/// A PhoneNumber as the API server sends it: two managers' `managedFields`, a label, two
/// other tools' annotations, and everything the operator reads.
const SERVED: &str = r#"{
  "apiVersion": "telephony.talkturo.ai/v1alpha1",
  "kind": "PhoneNumber",
  "metadata": {
    "annotations": {
      "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"telephony.talkturo.ai/v1alpha1\"}",
      "argocd.argoproj.io/tracking-id": "numbers:telephony.talkturo.ai/PhoneNumber:/tel-12122046957",
      "telephony.talkturo.ai/offer": "{\"monthlyPrice\":\"0.80\"}"
    },
    "creationTimestamp": "2026-11-27T09:54:34Z",
    "deletionTimestamp": "2026-11-27T10:00:00Z",
    "deletionGracePeriodSeconds": 0,
    "finalizers": ["telephony.talkturo.ai/number-protection"],
    "generation": 3,
    "labels": {"telephony.talkturo.ai/class": "bench"},
    "managedFields": [
      {"apiVersion": "telephony.talkturo.ai/v1alpha1", "fieldsType": "FieldsV1",
       "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:message": {}}}}},
       "manager": "talkturo-operator", "operation": "Apply", "subresource": "status",
       "time": "2026-11-27T09:54:34Z"},
      {"apiVersion": "telephony.talkturo.ai/v1alpha1", "fieldsType": "FieldsV1",
       "fieldsV1": {"f:spec": {"f:number": {}}}, "manager": "talkturo-operator",
       "operation": "Update", "time": "2026-11-27T09:54:34Z"}
    ],
    "name": "tel-12122046957",
    "ownerReferences": [{"apiVersion": "v1", "kind": "Namespace", "name": "bench", "uid": "u-1"}],
    "resourceVersion": "8818",
    "uid": "d48b9418-c106-4413-9eef-eabde881dadb"
  },
  "spec": {
    "claimRef": {"name": "burst-170", "namespace": "bench", "uid": "1de88e21"},
    "className": "bench",
    "managementPolicy": "Managed",
    "number": "+12122046957",
    "reclaimPolicy": "Retain"
  },
  "status": {
    "conditions": [{"lastTransitionTime": "2026-11-27T09:54:34Z", "message": "+12122046957 is active",
                    "observedGeneration": 1, "reason": "Active", "status": "True", "type": "Ready"}],
    "id": "pn_e3d7b39a939f1564",
    "phase": "Bound",
    "providerStatus": "active"
  }
}"#;

#[test]
fn a_lean_object_is_the_full_object_less_managed_fields_labels_and_foreign_annotations()
-> anyhow::Result<()> {
    let mut full: PhoneNumber = serde_json::from_str(SERVED)?;
    let Lean(lean) = serde_json::from_str::<Lean<PhoneNumber>>(SERVED)?;
    assert!(
        full.metadata
            .managed_fields
            .as_ref()
            .is_some_and(|m| m.len() == 2)
    );
    assert_eq!(
        full.metadata.annotations.as_ref().map(BTreeMap::len),
        Some(3)
    );
    assert!(full.metadata.labels.is_some());
    full.metadata.managed_fields = None;
    full.metadata.labels = None;
    if let Some(a) = full.metadata.annotations.as_mut() {
        a.retain(|k, _| k.starts_with(OWN_ANNOTATIONS));
    }
    assert_eq!(lean, full);
    assert_eq!(
        lean.metadata
            .annotations
            .as_ref()
            .map(|a| a.keys().collect::<Vec<_>>()),
        Some(vec![&"telephony.talkturo.ai/offer".to_owned()]),
        "the operator's own annotations stay"
    );
    Ok(())
}

#[test]
fn only_other_tools_annotations_or_null_ones_leave_none() -> anyhow::Result<()> {
    for annotations in [
        r#"{"kubectl.kubernetes.io/last-applied-configuration": "{}"}"#,
        "null",
        "{}",
    ] {
        let served = format!(
            r#"{{"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClass",
            "metadata": {{"name": "c", "annotations": {annotations}, "labels": {{"a": "b"}}}},
            "spec": {{"apiBaseUrl": "http://x", "teamId": "t", "accountSlug": "a",
                      "apiKeySecretRef": {{"namespace": "n", "name": "s"}}}}}}"#
        );
        let Lean(lean) = serde_json::from_str::<Lean<PhoneNumberClass>>(&served)?;
        assert_eq!(lean.metadata.annotations, None, "{annotations}");
        assert_eq!(lean.metadata.labels, None);
    }
    Ok(())
}

#[test]
fn an_object_without_status_or_optional_metadata_decodes() -> anyhow::Result<()> {
    let served = r#"{"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClaim",
        "metadata": {"name": "c", "namespace": "n"}, "spec": {}}"#;
    let full: PhoneNumberClaim = serde_json::from_str(served)?;
    let Lean(lean) = serde_json::from_str::<Lean<PhoneNumberClaim>>(served)?;
    assert_eq!(lean, full);
    assert!(lean.status.is_none());
    Ok(())
}

#[test]
fn it_is_the_same_resource_to_the_api() {
    assert_eq!(
        Lean::<PhoneNumber>::url_path(&(), None),
        PhoneNumber::url_path(&(), None)
    );
    assert_eq!(
        Lean::<PhoneNumberClaim>::url_path(&(), Some("ns")),
        PhoneNumberClaim::url_path(&(), Some("ns"))
    );
    assert_eq!(
        Lean::<PhoneNumberClass>::kind(&()),
        PhoneNumberClass::kind(&())
    );
}

/// `SERVED` with its labels replaced by `labels` (JSON) and its class by `class`.
fn number_with(labels: &str, class: &str) -> anyhow::Result<PhoneNumber> {
    let mut v: serde_json::Value = serde_json::from_str(SERVED)?;
    v["metadata"]["labels"] = serde_json::from_str(labels)?;
    v["spec"]["className"] = class.into();
    Ok(serde_json::from_value(v)?)
}

#[test]
fn the_label_of_an_objects_own_class_is_kept_without_a_map_and_read_back() -> anyhow::Result<()> {
    let mut own = number_with(r#"{"telephony.talkturo.ai/class": "bench"}"#, "bench")?;
    compact_class_label(&mut own);
    assert_eq!(
        own.metadata.labels,
        Some(BTreeMap::new()),
        "no entry allocated"
    );
    assert_eq!(class_label(&own).as_deref(), Some("bench"));

    let long = format!("{}.example.com", "team-a".repeat(20));
    let value = value_of(&long).into_owned();
    let mut own = number_with(&format!(r#"{{"{CLASS_LABEL}": "{value}"}}"#), &long)?;
    compact_class_label(&mut own);
    assert_eq!(own.metadata.labels, Some(BTreeMap::new()));
    assert_eq!(class_label(&own).as_deref(), Some(value.as_str()));
    Ok(())
}

#[test]
fn a_label_naming_another_class_or_none_reads_as_it_is() -> anyhow::Result<()> {
    let mut other = number_with(r#"{"telephony.talkturo.ai/class": "gold"}"#, "bench")?;
    compact_class_label(&mut other);
    assert_eq!(other.metadata.labels.as_ref().map(BTreeMap::len), Some(1));
    assert_eq!(class_label(&other).as_deref(), Some("gold"));

    let mut unlabelled = number_with("null", "bench")?;
    compact_class_label(&mut unlabelled);
    assert_eq!(unlabelled.metadata.labels, None);
    assert_eq!(class_label(&unlabelled), None);

    // Decoded whole, with other labels only: no class label.
    let whole = number_with(r#"{"app": "x"}"#, "bench")?;
    assert_eq!(class_label(&whole), None);
    Ok(())
}

#[test]
fn a_claims_own_class_is_the_one_its_status_recorded_else_its_own() -> anyhow::Result<()> {
    let claim = |spec: &str, status: &str| -> anyhow::Result<PhoneNumberClaim> {
        Ok(serde_json::from_str(&format!(
            r#"{{"metadata": {{"name": "c", "namespace": "n",
                 "labels": {{"{CLASS_LABEL}": "gold"}}}},
               "spec": {spec}, "status": {status}}}"#
        ))?)
    };
    for (spec, status, compacted) in [
        (r#"{"className": "gold"}"#, "null", true),
        ("{}", r#"{"className": "gold"}"#, true),
        (
            r#"{"className": "gold"}"#,
            r#"{"className": "silver"}"#,
            false,
        ),
        // The default class, resolved but not yet recorded: the label stays a map.
        ("{}", "null", false),
    ] {
        let mut c = claim(spec, status)?;
        compact_class_label(&mut c);
        let entries = c.metadata.labels.as_ref().map(BTreeMap::len);
        assert_eq!(entries, Some(usize::from(!compacted)), "{spec} {status}");
        assert_eq!(class_label(&c).as_deref(), Some("gold"), "{spec} {status}");
    }
    Ok(())
}
