//! Tenancy policies: which namespaces may use a class (`spec.allowedNamespaces`), which
//! assistants a namespace's claims may name (class `spec.assistantPolicy: NamespaceAllowList` and
//! the Namespace annotation [`ALLOWED_ASSISTANTS_ANNOTATION`]), and what a namespace may spend
//! per month (the Namespace annotation [`MONTHLY_BUDGET_ANNOTATION`]). App teams cannot edit
//! their Namespace, so the platform team holds these. Pure: the Namespace's metadata comes from
//! the operator's cache. Messages name only the claim's own namespace.

use std::collections::BTreeMap;

use kube::core::{Selector, SelectorExt};
use rust_decimal::Decimal;

use super::money::Spend;
use crate::api::v1alpha1::{AssistantPolicy, NumberPhase, PhoneNumber, PhoneNumberClass};

/// Namespace annotation: the assistant ids its claims may name (comma-separated), when the
/// class's `assistantPolicy` is `NamespaceAllowList`.
pub const ALLOWED_ASSISTANTS_ANNOTATION: &str = "telephony.talkturo.ai/allowed-assistants";
/// Namespace annotation: the most, in USD, the numbers bound to its claims may cost per month
/// (all classes together).
pub const MONTHLY_BUDGET_ANNOTATION: &str = "telephony.talkturo.ai/monthly-budget";

/// What the operator knows of a namespace: its labels and annotations (`None`: not in the cache,
/// so nothing is allowed that depends on it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceMeta {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Whether claims of namespace `ns` may use `class`; `Err` says why not.
pub fn class_allows(
    class: &PhoneNumberClass,
    ns: &str,
    meta: Option<&NamespaceMeta>,
) -> Result<(), String> {
    let Some(selector) = class.spec.allowed_namespaces.clone() else {
        return Ok(());
    };
    let name = kube::ResourceExt::name_any(class);
    let selector: Selector = selector.try_into().map_err(|e| {
        format!(
            "class {name} has an invalid allowedNamespaces selector ({e}); it accepts no claims"
        )
    })?;
    let Some(meta) = meta else {
        return Err(format!(
            "namespace {ns} is not known to the operator yet; class {name} limits its namespaces"
        ));
    };
    if selector.matches(&meta.labels) {
        Ok(())
    } else {
        Err(format!(
            "class {name} does not accept claims from namespace {ns} (its allowedNamespaces selector does not match the namespace's labels)"
        ))
    }
}

/// The assistant a claim's number may be given: `Ok(None)` for none asked, `Err` when the class
/// limits assistants per namespace and this one is not in the namespace's list.
pub fn assistant_allowed<'a>(
    class: &PhoneNumberClass,
    ns: &str,
    meta: Option<&NamespaceMeta>,
    asked: Option<&'a str>,
) -> Result<Option<&'a str>, String> {
    let Some(assistant) = asked else {
        return Ok(None);
    };
    if class.spec.assistant_policy == AssistantPolicy::Any {
        return Ok(Some(assistant));
    }
    let listed = meta
        .and_then(|m| m.annotations.get(ALLOWED_ASSISTANTS_ANNOTATION))
        .is_some_and(|list| list.split(',').any(|a| a.trim() == assistant));
    if listed {
        Ok(Some(assistant))
    } else {
        Err(format!(
            "assistant {assistant} is not in namespace {ns}'s annotation {ALLOWED_ASSISTANTS_ANNOTATION}; the number stays unassigned"
        ))
    }
}

/// The namespace's monthly budget: `Ok(None)` when it has none, `Err` when the annotation is not
/// a price (then nothing is bought: a budget that cannot be read is not no budget).
pub fn namespace_budget(ns: &str, meta: Option<&NamespaceMeta>) -> Result<Option<Decimal>, String> {
    let Some(text) = meta.and_then(|m| m.annotations.get(MONTHLY_BUDGET_ANNOTATION)) else {
        return Ok(None);
    };
    super::money::parse_price(text.trim().trim_start_matches('$'))
        .map(Some)
        .ok_or_else(|| {
            format!(
                "namespace {ns}'s annotation {MONTHLY_BUDGET_ANNOTATION} is {text:?}, not a price in USD like \"25.00\"; nothing is bought until it is"
            )
        })
}

/// What the numbers bound to claims of `ns` cost per month, all classes together: numbers being
/// bought and `Lost` ones included, refused purchases (`Failed`) not.
pub fn namespace_spend(numbers: &[std::sync::Arc<PhoneNumber>], ns: &str) -> Spend {
    let mut spend = Spend::default();
    for n in numbers {
        if n.spec.claim_ref.as_ref().is_none_or(|r| r.namespace != ns)
            || n.status.as_ref().and_then(|s| s.phase) == Some(NumberPhase::Failed)
        {
            continue;
        }
        spend.add(super::claim::monthly_price(n));
    }
    spend
}

#[cfg(test)]
mod tests {
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
}
