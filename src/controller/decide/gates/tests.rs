//! Each gate as rows: the situation in a sentence, what it is given, what it decides.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::api::v1alpha1::PhoneNumberClaim;
use crate::controller::fixtures::{CREATED, NOW, ts};

const RECHECK: Duration = Duration::from_secs(3600);

fn observed<'a>(
    claim: &'a PhoneNumberClaim,
    class: &'a PhoneNumberClass,
    account_built: bool,
    plan_blocked: Option<u64>,
) -> Observed<'a> {
    Observed {
        claim,
        class,
        namespace: "app",
        namespace_meta: None,
        account_built,
        plan_blocked,
        plan_limit_recheck: RECHECK,
        now: ts(NOW),
    }
}

/// What a gate decided, in a word: passed, a quiet wait of so long, or a reason.
fn word(r: Result<(), Stop>) -> String {
    match r {
        Ok(()) => "pass".into(),
        Err(Stop::Wait(d)) => format!("wait {}ms", d.as_millis()),
        Err(Stop::Pending(p)) => p.reason.to_owned(),
    }
}

#[test]
fn class_ready_fails_closed_and_waits_quietly_only_for_what_is_moments_away() {
    let claim = PhoneNumberClaim::test().build();
    let rows: [(&str, PhoneNumberClass, bool, &str); 6] = [
        (
            "a Ready class whose account is built passes",
            PhoneNumberClass::test().ready().build(),
            true,
            "pass",
        ),
        (
            "a Ready class whose account this process has not built yet is a class reconcile away",
            PhoneNumberClass::test().ready().build(),
            false,
            "wait 1000ms",
        ),
        (
            "a class created moments ago and never reconciled is a class reconcile away",
            PhoneNumberClass::test()
                .created("2026-01-01T00:00:50Z")
                .build(),
            false,
            "wait 1000ms",
        ),
        (
            "a class never reconciled, created long ago, is not ready (nothing is bought on hope)",
            PhoneNumberClass::test().build(),
            true,
            "ClassNotReady",
        ),
        (
            "a class whose key is refused is not ready, whatever this process built",
            PhoneNumberClass::test()
                .condition("Ready", false, "Unauthorized", CREATED)
                .build(),
            true,
            "ClassNotReady",
        ),
        (
            "a class that cannot reach its account is not ready",
            PhoneNumberClass::test()
                .condition("Ready", false, "Unreachable", CREATED)
                .build(),
            false,
            "ClassNotReady",
        ),
    ];
    for (case, class, built, want) in rows {
        let got = word(class_ready(&observed(&claim, &class, built, None)));
        assert_eq!(got, want, "{case}");
    }
    // The reason the class gives is in the message.
    let refused = PhoneNumberClass::test()
        .condition("Ready", false, "Unauthorized", CREATED)
        .build();
    let Err(Stop::Pending(p)) = class_ready(&observed(&claim, &refused, true, None)) else {
        panic!("a refused class stops the claim");
    };
    assert!(p.message.contains("Unauthorized"), "{}", p.message);
}

#[test]
fn the_plan_limit_holds_every_claim_until_the_recheck_with_the_count_it_was_hit_at() {
    let claim = PhoneNumberClaim::test().build();
    let class = PhoneNumberClass::test().ready().build();
    for (case, blocked, want) in [
        ("no limit reached: pass", None, "pass"),
        ("the limit stands: wait", Some(20), "PlanLimitReached"),
    ] {
        assert_eq!(
            word(plan_limit(&observed(&claim, &class, true, blocked))),
            want,
            "{case}"
        );
    }
    let Err(Stop::Pending(p)) = plan_limit(&observed(&claim, &class, true, Some(20))) else {
        panic!("blocked");
    };
    assert!(p.message.contains("20 numbers"), "{}", p.message);
    assert_eq!(
        p.requeue, RECHECK,
        "it looks again when the plan is probed again"
    );
}

#[test]
fn a_refused_purchase_holds_the_claim_until_its_retry_time() {
    let rows = [
        ("never refused: pass", json!({}), "pass"),
        (
            "retry time in the future: wait, saying why",
            json!({"nextRetryTime": "2026-01-01T00:01:30Z", "lastFailureReason": "no"}),
            "PurchaseFailed",
        ),
        (
            "retry time passed: pass",
            json!({"nextRetryTime": "2026-01-01T00:00:30Z"}),
            "pass",
        ),
        (
            "retry time now: pass",
            json!({"nextRetryTime": NOW}),
            "pass",
        ),
    ];
    for (case, progress, want) in rows {
        let claim = PhoneNumberClaim::test().purchase(progress).build();
        assert_eq!(word(backoff(&claim, ts(NOW))), want, "{case}");
    }
    let claim = PhoneNumberClaim::test()
        .purchase(json!({"nextRetryTime": "2026-01-01T00:01:30Z", "lastFailureReason": "refused: no stock"}))
        .build();
    let Err(Stop::Pending(p)) = backoff(&claim, ts(NOW)) else {
        panic!("waiting");
    };
    assert_eq!(
        p.requeue,
        Duration::from_secs(30),
        "exactly until the retry time"
    );
    assert_eq!(p.message, "retrying in 30s after: refused: no stock");
}

#[test]
fn a_claim_is_searchable_when_its_country_is_known() {
    let rows = [
        (
            "criteria with a country",
            PhoneNumberClaim::test().build(),
            true,
        ),
        (
            "an exact +1 number (the country follows)",
            PhoneNumberClaim::test()
                .spec(json!({"countryCode": null, "number": "+14155550101"}))
                .build(),
            true,
        ),
        (
            "an exact number outside +1 without a country",
            PhoneNumberClaim::test()
                .spec(json!({"countryCode": null, "number": "+442071234567"}))
                .build(),
            false,
        ),
    ];
    for (case, claim, ok) in rows {
        let got = searchable(&claim);
        assert_eq!(got.is_ok(), ok, "{case}");
        if let Err(p) = got {
            assert_eq!(p.reason, "InvalidSpec", "{case}");
        }
    }
}

#[test]
fn the_tenant_gate_passes_only_namespaces_the_class_accepts() {
    let open = PhoneNumberClass::test().build();
    let limited = PhoneNumberClass::test()
        .spec(json!({"allowedNamespaces": {"matchLabels": {"telephony": "on"}}}))
        .build();
    let on = NamespaceMeta {
        labels: BTreeMap::from([("telephony".to_owned(), "on".to_owned())]),
        annotations: BTreeMap::new(),
    };
    let off = NamespaceMeta::default();
    let rows = [
        (
            "a class without a selector accepts every namespace",
            &open,
            None,
            true,
        ),
        (
            "a matching namespace is accepted",
            &limited,
            Some(&on),
            true,
        ),
        (
            "a namespace without the label is refused",
            &limited,
            Some(&off),
            false,
        ),
        (
            "a namespace the cache has not seen is refused (fail closed)",
            &limited,
            None,
            false,
        ),
    ];
    for (case, class, meta, ok) in rows {
        let got = tenant(class, "app", meta);
        assert_eq!(got.is_ok(), ok, "{case}");
        if let Err(p) = got {
            assert_eq!(p.reason, "ClassNotAllowed", "{case}");
        }
    }
}

#[test]
fn the_gates_run_in_order_and_the_first_that_stops_says_why() {
    let refused = PhoneNumberClaim::test()
        .purchase(json!({"nextRetryTime": "2026-01-01T00:01:30Z"}))
        .build();
    let fine = PhoneNumberClaim::test().build();
    let ready = PhoneNumberClass::test().ready().build();
    let not_ready = PhoneNumberClass::test()
        .condition("Ready", false, "Unreachable", CREATED)
        .build();
    let limited = PhoneNumberClass::test()
        .ready()
        .spec(json!({"allowedNamespaces": {"matchLabels": {"telephony": "on"}}}))
        .build();
    let rows: [(
        &str,
        &PhoneNumberClaim,
        &PhoneNumberClass,
        Option<u64>,
        &str,
    ); 5] = [
        (
            "everything passes: the claim searches",
            &fine,
            &ready,
            None,
            "pass",
        ),
        (
            "a refused namespace comes before all else",
            &refused,
            &limited,
            Some(3),
            "ClassNotAllowed",
        ),
        (
            "an unready class comes before the plan limit",
            &refused,
            &not_ready,
            Some(3),
            "ClassNotReady",
        ),
        (
            "the plan limit comes before the claim's own back-off",
            &refused,
            &ready,
            Some(3),
            "PlanLimitReached",
        ),
        (
            "the back-off, when nothing else stops it",
            &refused,
            &ready,
            None,
            "PurchaseFailed",
        ),
    ];
    for (case, claim, class, blocked, want) in rows {
        let got = word(before_search(&observed(claim, class, true, blocked)).map(drop));
        assert_eq!(got, want, "{case}");
    }
}
