use super::*;

fn class(extra: serde_json::Value) -> PhoneNumberClass {
    let mut spec = serde_json::json!({"apiBaseUrl": "https://x", "teamId": "t", "accountSlug": "a", "apiKeySecretRef": {"namespace": "n", "name": "s"}});
    if let (Some(s), serde_json::Value::Object(e)) = (spec.as_object_mut(), extra) {
        s.extend(e);
    }
    PhoneNumberClass::new(
        "shared",
        serde_json::from_value(spec).unwrap_or_else(|e| unreachable!("{e}")),
    )
}

fn ns(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> NamespaceMeta {
    let map = |kv: &[(&str, &str)]| {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    NamespaceMeta {
        labels: map(labels),
        annotations: map(annotations),
    }
}

#[test]
fn a_class_accepts_the_namespaces_its_selector_matches() {
    let open = class(serde_json::json!({}));
    assert!(class_allows(&open, "a", None).is_ok(), "no selector: all");
    let limited =
        class(serde_json::json!({"allowedNamespaces": {"matchLabels": {"telephony": "on"}}}));
    let on = ns(&[("telephony", "on")], &[]);
    let off = ns(&[("team", "b")], &[]);
    assert!(class_allows(&limited, "a", Some(&on)).is_ok());
    let e = class_allows(&limited, "b", Some(&off)).unwrap_err();
    assert!(e.contains("namespace b"), "{e}");
    assert!(
        class_allows(&limited, "c", None).is_err(),
        "unknown: fail closed"
    );
    let exprs = class(
        serde_json::json!({"allowedNamespaces": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}}),
    );
    assert!(class_allows(&exprs, "a", Some(&ns(&[("tier", "gold")], &[]))).is_ok());
    assert!(class_allows(&exprs, "a", Some(&on)).is_err());
}

#[test]
fn with_an_allow_list_only_the_namespaces_assistants_may_be_named() {
    let any = class(serde_json::json!({}));
    assert_eq!(
        assistant_allowed(&any, "a", None, Some("asst_x")),
        Ok(Some("asst_x"))
    );
    let listed = class(serde_json::json!({"assistantPolicy": "NamespaceAllowList"}));
    let meta = ns(&[], &[(ALLOWED_ASSISTANTS_ANNOTATION, "asst_a, asst_b")]);
    assert_eq!(
        assistant_allowed(&listed, "a", Some(&meta), Some("asst_b")),
        Ok(Some("asst_b"))
    );
    assert!(assistant_allowed(&listed, "a", Some(&meta), Some("asst_c")).is_err());
    assert!(assistant_allowed(&listed, "a", None, Some("asst_a")).is_err());
    assert_eq!(assistant_allowed(&listed, "a", Some(&meta), None), Ok(None));
}

#[test]
fn a_namespace_budget_that_is_not_a_price_fails_closed() {
    use std::str::FromStr;
    let d = |s: &str| Decimal::from_str(s).unwrap_or_default();
    let meta = |v: &str| ns(&[], &[(MONTHLY_BUDGET_ANNOTATION, v)]);
    assert_eq!(namespace_budget("a", None), Ok(None));
    assert_eq!(
        namespace_budget("a", Some(&meta("25.00"))),
        Ok(Some(d("25")))
    );
    assert_eq!(namespace_budget("a", Some(&meta("$3"))), Ok(Some(d("3"))));
    assert!(namespace_budget("a", Some(&meta("lots"))).is_err());
    assert!(namespace_budget("a", Some(&meta("-1"))).is_err());
}
