//! A claim's status from its PhoneNumber, and what the tenancy policies add, as rows.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::api::v1alpha1::PhoneNumberClass;
use crate::controller::decide::claim_policy::{apply_policy, tenant_policy};
use crate::controller::decide::tenancy::{ALLOWED_ASSISTANTS_ANNOTATION, NamespaceMeta};
use crate::controller::fixtures::{NOW, ts};

fn cond(st: &PhoneNumberClaimStatus, type_: &str) -> Option<(bool, String)> {
    conditions::find(&st.conditions, type_).map(|c| (c.status == "True", c.reason.clone()))
}

#[test]
fn a_bound_claim_mirrors_its_phone_number() {
    let claim = PhoneNumberClaim::test().build();
    type Row<'a> = (&'a str, PhoneNumber, ClaimPhase, (bool, &'a str));

    let rows: [Row<'_>; 4] = [
        (
            "being bought",
            PhoneNumber::test().build(),
            ClaimPhase::Pending,
            (false, "Purchasing"),
        ),
        (
            "bought and active",
            PhoneNumber::test().owned("pn_1").build(),
            ClaimPhase::Bound,
            (true, "Active"),
        ),
        (
            "bought, provisioning at Talkturo",
            PhoneNumber::test().owned("pn_1").purchasing().build(),
            ClaimPhase::Bound,
            (false, "ProviderStatus"),
        ),
        (
            "gone from the account",
            PhoneNumber::test().owned("pn_1").phase("Lost").build(),
            ClaimPhase::Lost,
            (false, "Lost"),
        ),
    ];
    for (case, pn, phase, ready) in rows {
        let st = desired_bound(&claim, &pn, ts(NOW));
        assert_eq!(st.phase, Some(phase), "{case}");
        assert_eq!(
            cond(&st, types::READY),
            Some((ready.0, ready.1.to_owned())),
            "{case}"
        );
    }
}

#[test]
fn a_claim_is_ready_only_once_its_assistant_holds_the_number() {
    let claim = PhoneNumberClaim::test()
        .spec(json!({"assistantId": "asst"}))
        .build();
    type Row<'a> = (&'a str, PhoneNumber, (bool, &'a str), (bool, &'a str));

    let rows: [Row<'_>; 3] = [
        (
            "the PhoneNumber does not want that assistant yet",
            PhoneNumber::test().owned("pn_1").build(),
            (false, "Assigning"),
            (false, "Assigning"),
        ),
        (
            "the PhoneNumber reports it assigned",
            PhoneNumber::test()
                .owned("pn_1")
                .assistant("asst")
                .condition("Assigned", true, "Assigned", NOW)
                .build(),
            (true, "Assigned"),
            (true, "Active"),
        ),
        (
            "the assistant does not exist",
            PhoneNumber::test()
                .owned("pn_1")
                .assistant("asst")
                .condition("Assigned", false, "AssistantNotFound", NOW)
                .build(),
            (false, "AssistantNotFound"),
            (false, "AssistantNotFound"),
        ),
    ];
    for (case, pn, assigned, ready) in rows {
        let st = desired_bound(&claim, &pn, ts(NOW));
        assert_eq!(
            cond(&st, types::ASSIGNED),
            Some((assigned.0, assigned.1.to_owned())),
            "{case}"
        );
        assert_eq!(
            cond(&st, types::READY),
            Some((ready.0, ready.1.to_owned())),
            "{case}"
        );
    }
}

#[test]
fn a_bought_number_fulfils_the_intent_and_keeps_the_history() {
    let claim = PhoneNumberClaim::test()
        .purchase(
            json!({"candidate": "+14155550101", "attempts": 2, "lastFailureReason": "sold out"}),
        )
        .build();
    let st = desired_bound(&claim, &PhoneNumber::test().owned("pn_1").build(), ts(NOW));
    let p = st.purchase.unwrap_or_default();
    assert_eq!(
        (p.candidate, p.attempts, p.last_failure_reason.as_deref()),
        (None, 2, Some("sold out"))
    );
    // A trial replacement being bought keeps its candidate.
    let replacing = PhoneNumberClaim::test()
        .purchase(json!({"candidate": "+14155550999"}))
        .build();
    let st = desired_bound(
        &replacing,
        &PhoneNumber::test().owned("pn_1").build(),
        ts(NOW),
    );
    assert_eq!(
        st.purchase.and_then(|p| p.candidate).as_deref(),
        Some("+14155550999")
    );
}

#[test]
fn the_tenancy_policies_refuse_an_assistant_and_say_when_the_class_no_longer_accepts_the_namespace()
{
    let limited = PhoneNumberClass::test()
        .spec(json!({"assistantPolicy": "NamespaceAllowList", "allowedNamespaces": {"matchLabels": {"telephony": "on"}}}))
        .build();
    let claim = PhoneNumberClaim::test()
        .spec(json!({"assistantId": "asst"}))
        .build();
    let meta = |labels: &[(&str, &str)], allowed: &str| NamespaceMeta {
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        annotations: BTreeMap::from([(
            ALLOWED_ASSISTANTS_ANNOTATION.to_owned(),
            allowed.to_owned(),
        )]),
    };
    let rows = [
        (
            "allowed namespace and assistant: nothing refused",
            meta(&[("telephony", "on")], "asst"),
            Some("asst"),
            false,
            false,
        ),
        (
            "an assistant the namespace may not name: refused, number kept",
            meta(&[("telephony", "on")], "other"),
            None,
            true,
            false,
        ),
        (
            "the class stopped accepting the namespace: said, number kept",
            meta(&[], "asst"),
            Some("asst"),
            false,
            true,
        ),
    ];
    for (case, meta, assistant, assistant_refused, class_refused) in rows {
        let policy = tenant_policy(&claim, Some(&limited), "app", Some(&meta));
        assert_eq!(policy.assistant.as_deref(), assistant, "{case}");
        assert_eq!(
            policy.assistant_refused.is_some(),
            assistant_refused,
            "{case}"
        );
        assert_eq!(policy.class_refused.is_some(), class_refused, "{case}");
        let pn = PhoneNumber::test().owned("pn_1").build();
        let mut status = desired_bound(&claim, &pn, ts(NOW));
        let notes = apply_policy(&claim, &mut status, &policy, ts(NOW));
        assert_eq!(
            notes.len(),
            usize::from(assistant_refused) + usize::from(class_refused),
            "{case}: a Warning per new refusal"
        );
        if assistant_refused {
            assert_eq!(
                cond(&status, types::READY),
                Some((false, "AssistantNotAllowed".into())),
                "{case}"
            );
        }
        assert_eq!(
            cond(&status, types::CLASS_ALLOWED).is_some(),
            class_refused,
            "{case}"
        );
    }
}

#[test]
fn a_waiting_claim_warns_once_per_reason_and_never_for_purchasing() {
    let rows = [
        (
            "a new reason",
            PhoneNumberClaim::test().build(),
            "OverPrice",
            true,
        ),
        (
            "the same reason again",
            PhoneNumberClaim::test()
                .condition("Ready", false, "OverPrice", NOW)
                .build(),
            "OverPrice",
            false,
        ),
        (
            "buying is news, not a warning",
            PhoneNumberClaim::test().build(),
            "Purchasing",
            false,
        ),
    ];
    for (case, claim, reason, warns) in rows {
        let p = Pending::new(reason, "m", std::time::Duration::from_secs(1));
        assert_eq!(pending_note(&claim, &p).is_some(), warns, "{case}");
    }
}
