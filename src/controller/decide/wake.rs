//! Which changes concern which objects: a change that concerns none wakes none.

use kube::ResourceExt;

use crate::api::conditions::types;
use crate::api::v1alpha1::PhoneNumberClass;

/// What a claim reads of its class, as one value: a class change that leaves it the same (the
/// totals, the list's count in `Ready`'s message, the monthly cost: every purchase changes
/// them) concerns none of the class's claims, and waking every claim of a class of 100,000 for
/// it would be 100,000 reconciles a second in a burst. The spec (through `generation`), the
/// operator's annotations, whether a status exists, each condition's type, status and reason,
/// and `Ready`'s message while it is not `True` (a pending claim repeats it).
pub fn seen_by_claims(class: &PhoneNumberClass) -> String {
    let own = own_annotations(class);
    let conditions: Vec<(&str, &str, &str, &str)> = class
        .status
        .as_ref()
        .map(|s| {
            s.conditions
                .iter()
                .map(|c| {
                    let message = if c.type_ == types::READY && c.status != "True" {
                        c.message.as_str()
                    } else {
                        ""
                    };
                    (
                        c.type_.as_str(),
                        c.status.as_str(),
                        c.reason.as_str(),
                        message,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{:?}|{own:?}|{}|{conditions:?}",
        class.metadata.generation,
        class.status.is_some()
    )
}

/// What a PhoneNumber reads of its class, as one value: the spec (through `generation`) and the
/// operator's annotations. Its status concerns no number.
pub fn seen_by_numbers(class: &PhoneNumberClass) -> String {
    format!(
        "{:?}|{:?}",
        class.metadata.generation,
        own_annotations(class)
    )
}

fn own_annotations(class: &PhoneNumberClass) -> Vec<(&String, &String)> {
    class
        .annotations()
        .iter()
        .filter(|(k, _)| k.starts_with(crate::api::lean::OWN_ANNOTATIONS))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::fixtures::CREATED;

    fn class(ready: bool, reason: &str, message: &str, bound: i32) -> PhoneNumberClass {
        let mut c = crate::controller::fixtures::condition("Ready", ready, reason, CREATED);
        c["message"] = json!(message);
        PhoneNumberClass::test()
            .with(json!({"metadata": {"generation": 1},
                "status": {"conditions": [c], "totals": {"numbers": bound, "bound": bound, "available": 0, "trial": 0, "monthlyCost": "0"}}}))
            .build()
    }

    #[test]
    fn totals_and_a_ready_count_concern_no_claim_but_readiness_and_the_spec_do() {
        let up = |n: &str, bound| class(true, "AccountReachable", n, bound);
        let base = seen_by_claims(&up("team t lists 5 numbers", 5));
        assert_eq!(base, seen_by_claims(&up("team t lists 6 numbers", 6)));
        let down = class(false, "KeyRejected", "the key was refused", 5);
        assert_ne!(base, seen_by_claims(&down));
        let other = class(false, "KeyRejected", "the key is gone", 5);
        assert_ne!(seen_by_claims(&down), seen_by_claims(&other));
        let mut respec = up("team t lists 5 numbers", 5);
        respec.metadata.generation = Some(2);
        assert_ne!(base, seen_by_claims(&respec));
        let mut default = up("team t lists 5 numbers", 5);
        default
            .annotations_mut()
            .insert(crate::api::DEFAULT_CLASS_ANNOTATION.into(), "true".into());
        assert_ne!(base, seen_by_claims(&default));
        // Numbers: the spec and the annotations, never the status.
        let numbers = seen_by_numbers(&up("team t lists 5 numbers", 5));
        assert_eq!(numbers, seen_by_numbers(&down));
        assert_ne!(numbers, seen_by_numbers(&respec));
        assert_ne!(numbers, seen_by_numbers(&default));
    }
}
