//! The budget gates as rows: what is held, what is in flight, the offer, the decision.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::controller::OFFER_ANNOTATION;
use crate::controller::fixtures::offer;

fn d(s: &str) -> Option<Decimal> {
    Some(s.parse().unwrap_or_default())
}

/// A PhoneNumber of class `standard`, bound in `app`, in `phase` at `price` a month.
fn held(number: &str, phase: &str, price: Option<&str>) -> Arc<PhoneNumber> {
    PhoneNumber::test()
        .number(number)
        .phase(phase)
        .with(json!({"status": {"monthlyPrice": price}}))
        .arc()
}

#[test]
fn the_class_budget_counts_what_is_held_and_in_flight_and_fails_closed_on_unknown_prices() {
    let class = PhoneNumberClass::test().budget("10.00").build();
    let one_dollar = [held("+14155550001", "Bound", Some("1.00"))];
    type Row<'a> = (
        &'a str,
        Vec<Arc<PhoneNumber>>,
        Vec<Option<Decimal>>,
        Option<&'a str>,
        bool,
    );

    let rows: [Row<'_>; 7] = [
        (
            "room left: bought",
            one_dollar.to_vec(),
            vec![],
            Some("2.00"),
            true,
        ),
        (
            "exactly the budget: bought",
            one_dollar.to_vec(),
            vec![d("7.00")],
            Some("2.00"),
            true,
        ),
        (
            "a purchase in flight takes the room: not bought",
            one_dollar.to_vec(),
            vec![d("8.00")],
            Some("2.00"),
            false,
        ),
        (
            "a Lost number still counts (it may still be billed)",
            vec![held("+14155550001", "Lost", Some("9.00"))],
            vec![],
            Some("2.00"),
            false,
        ),
        (
            "a refused purchase (Failed) does not count",
            vec![held("+14155550001", "Failed", Some("9.00"))],
            vec![],
            Some("2.00"),
            true,
        ),
        (
            "an offer of unknown price is not bought under a budget",
            one_dollar.to_vec(),
            vec![],
            None,
            false,
        ),
        (
            "a held number of unknown price makes the total unknown: nothing bought",
            vec![held("+14155550001", "Bound", None)],
            vec![],
            Some("0.50"),
            false,
        ),
    ];
    for (case, numbers, in_flight, price, ok) in rows {
        let pick = offer("+14155550999", price, &[]);
        let got = class_gate(&class, &numbers, &in_flight, &pick);
        assert_eq!(got.is_ok(), ok, "{case}: {got:?}");
        if let Err(p) = got {
            assert_eq!(p.reason, "BudgetExceeded", "{case}");
        }
    }
    let unlimited = PhoneNumberClass::test().build();
    let pick = offer("+14155550999", None, &[]);
    assert!(
        class_gate(&unlimited, &[], &[], &pick).is_ok(),
        "no budget: no gate"
    );
}

#[test]
fn the_namespace_budget_counts_the_namespace_across_classes_and_refuses_a_bad_annotation() {
    let meta = |budget: &str| NamespaceMeta {
        labels: BTreeMap::new(),
        annotations: BTreeMap::from([(
            tenancy::MONTHLY_BUDGET_ANNOTATION.to_owned(),
            budget.to_owned(),
        )]),
    };
    let in_app = held("+14155550001", "Bound", Some("4.00"));
    let elsewhere = PhoneNumber::test()
        .number("+14155550002")
        .claimed_by("other", "line")
        .with(json!({"status": {"monthlyPrice": "100.00"}}))
        .arc();
    let numbers = vec![in_app, elsewhere];
    let rows = [
        ("no annotation: no gate", None, vec![], "1.00", true),
        (
            "within: another namespace's numbers do not count",
            Some(meta("5.00")),
            vec![],
            "1.00",
            true,
        ),
        (
            "over with what is in flight",
            Some(meta("5.00")),
            vec![d("0.50")],
            "1.00",
            false,
        ),
        (
            "an annotation that is not a price refuses every purchase",
            Some(meta("lots")),
            vec![],
            "0.01",
            false,
        ),
    ];
    for (case, meta, in_flight, price, ok) in rows {
        let pick = offer("+14155550999", Some(price), &[]);
        let got = namespace_gate("app", meta.as_ref(), &numbers, &in_flight, &pick);
        assert_eq!(got.is_ok(), ok, "{case}: {got:?}");
    }
}

#[test]
fn a_price_comes_from_the_status_else_from_the_offer_it_was_bought_from() {
    let annotated = PhoneNumber::test()
        .with(
            json!({"metadata": {"annotations": {OFFER_ANNOTATION: "{\"monthlyPrice\":\"2.50\"}"}}}),
        )
        .build();
    assert_eq!(monthly_price(&annotated), d("2.50"), "the offer");
    let both = PhoneNumber::test()
        .with(
            json!({"metadata": {"annotations": {OFFER_ANNOTATION: "{\"monthlyPrice\":\"2.50\"}"}},
                     "status": {"monthlyPrice": "3.00"}}),
        )
        .build();
    assert_eq!(monthly_price(&both), d("3.00"), "the status first");
    assert_eq!(monthly_price(&PhoneNumber::test().build()), None, "neither");
}

#[test]
fn reservations_count_until_their_number_is_cached_or_they_are_ten_minutes_old() {
    let now: jiff::Timestamp = "2026-12-07T12:00:00Z".parse().unwrap_or_default();
    let at = |mins: i64| now - jiff::SignedDuration::from_mins(mins);
    let r = |mins| Reservation {
        price: Some(Decimal::ONE),
        at: at(mins),
    };
    let all: BTreeMap<String, Reservation> = [
        ("+15550000001".to_owned(), r(1)),
        ("+15550000002".to_owned(), r(1)),
        ("+15550000003".to_owned(), r(11)),
    ]
    .into();
    let live = live_reservations(&all, |n| n == "+15550000002", now);
    assert_eq!(live.keys().collect::<Vec<_>>(), vec!["+15550000001"]);
}
