//! Tenancy policies: which namespaces may use a class (`spec.allowedNamespaces`), which
//! assistants a namespace's claims may name (class `spec.assistantPolicy: NamespaceAllowList` and
//! the Namespace annotation [`ALLOWED_ASSISTANTS_ANNOTATION`]), and what a namespace may spend
//! per month (the Namespace annotation [`MONTHLY_BUDGET_ANNOTATION`]). App teams cannot edit
//! their Namespace, so the platform team holds these. Pure: the Namespace's metadata comes from
//! the operator's cache. Messages name only the claim's own namespace.

use std::collections::BTreeMap;

use kube::core::{Selector, SelectorExt};
use rust_decimal::Decimal;

use crate::api::v1alpha1::{AssistantPolicy, PhoneNumberClass};

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

#[cfg(test)]
mod tests;
