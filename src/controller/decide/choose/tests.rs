use serde_json::json;

use super::*;
use crate::api::DEFAULT_CLASS_ANNOTATION;
use crate::api::conditions::reasons;
use crate::controller::decide::claim::resolve_class;
use kube::ResourceExt;
use std::time::Duration;

fn claim(spec: serde_json::Value) -> PhoneNumberClaim {
    let mut c: PhoneNumberClaim = serde_json::from_value(
        json!({"metadata": {"name": "line", "namespace": "app"}, "spec": spec}),
    )
    .unwrap();
    c.metadata.uid = Some("uid-1".into());
    c
}

fn class(name: &str, extra: serde_json::Value) -> PhoneNumberClass {
    let mut spec = json!({"apiBaseUrl": "http://x", "teamId": "t", "accountSlug": "a", "apiKeySecretRef": {"namespace": "n", "name": "s"}});
    if let (Some(s), serde_json::Value::Object(e)) = (spec.as_object_mut(), extra) {
        s.extend(e);
    }
    PhoneNumberClass::new(name, serde_json::from_value(spec).unwrap())
}

fn offer(number: &str, monthly: &str, setup: &str, features: &[&str]) -> AvailableNumber {
    AvailableNumber {
        phone_number: number.into(),
        monthly_price: Some(monthly.parse().unwrap()),
        setup_price: Some(setup.parse().unwrap()),
        features: features.iter().map(|f| f.to_string()).collect(),
    }
}

fn offers() -> Vec<AvailableNumber> {
    vec![
        offer("+14155550105", "1.50", "0.50", &["voice", "sms"]),
        offer("+14155550103", "0.75", "1.00", &["voice"]),
        offer("+14155550102", "0.75", "1.00", &["voice"]),
        offer("+14155550101", "0.75", "0.25", &["voice"]),
        offer("+14155550104", "3.00", "0.00", &["voice", "sms", "mms"]),
    ]
}

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

#[test]
fn cheapest_picks_the_lowest_monthly_then_setup_then_number() {
    let pick = choose(
        &claim(json!({"countryCode": "US"})),
        &class("c", json!({})),
        &offers(),
        &none(),
    )
    .unwrap();
    assert_eq!(pick.phone_number, "+14155550101");
    let taken: BTreeSet<String> = ["+14155550101".to_owned()].into();
    let pick = choose(
        &claim(json!({"countryCode": "US"})),
        &class("c", json!({})),
        &offers(),
        &taken,
    )
    .unwrap();
    assert_eq!(
        pick.phone_number, "+14155550102",
        "equal prices: the lower number wins"
    );
}

fn unpriced(number: &str) -> AvailableNumber {
    AvailableNumber {
        phone_number: number.into(),
        monthly_price: None,
        setup_price: None,
        features: vec!["voice".into()],
    }
}

#[test]
fn an_unpriced_offer_is_chosen_only_when_no_priced_offer_matches() {
    let mut with_unpriced = vec![unpriced("+14155550100")];
    with_unpriced.extend(offers());
    for selection in ["Cheapest", "First"] {
        let c = class("c", json!({ "selection": selection }));
        let any = claim(json!({"countryCode": "US"}));
        let pick = choose(&any, &c, &with_unpriced, &none()).unwrap();
        assert_ne!(pick.phone_number, "+14155550100", "{selection}");
        assert!(pick.monthly_price.is_some());
        // Nothing priced matches (the others are taken): the unpriced one, with no caps.
        let taken: BTreeSet<String> = offers().into_iter().map(|o| o.phone_number).collect();
        let pick = choose(&any, &c, &with_unpriced, &taken).unwrap();
        assert_eq!(pick.phone_number, "+14155550100", "{selection}");
        // With a cap, never: an unknown price is over every cap.
        let capped = claim(json!({"countryCode": "US", "maxMonthlyPrice": "100000"}));
        let e = choose(&capped, &c, &with_unpriced, &taken).unwrap_err();
        assert_eq!(e.reason, reasons::OVER_PRICE, "{selection}");
    }
}

#[test]
fn a_claim_whose_offers_are_all_held_backs_off_and_says_so() {
    let c = claim(json!({"countryCode": "US"}));
    let all: BTreeSet<String> = offers().into_iter().map(|o| o.phone_number).collect();
    let taken = choose(&c, &class("c", json!({})), &offers(), &all).unwrap_err();
    assert!(
        taken.transient,
        "taken by purchases in flight: look again soon"
    );
    // Every one of them a number the account holds: nothing will free one.
    let p = held_back(taken.clone(), &c, &offers(), &all);
    assert!(!p.transient);
    assert_eq!(p.requeue, Duration::from_secs(60));
    assert!(p.message.contains("already holds"), "{}", p.message);
    // Some held by a purchase in flight only: unchanged.
    let mut some = all.clone();
    some.remove("+14155550101");
    assert_eq!(held_back(taken.clone(), &c, &offers(), &some), taken);
}

#[test]
fn first_picks_in_search_order_and_features_filter() {
    let first = class("c", json!({"selection": "First"}));
    assert_eq!(
        choose(
            &claim(json!({"countryCode": "US"})),
            &first,
            &offers(),
            &none()
        )
        .unwrap()
        .phone_number,
        "+14155550105"
    );
    let sms = claim(json!({"countryCode": "US", "features": ["voice", "sms"]}));
    assert_eq!(
        choose(&sms, &class("c", json!({})), &offers(), &none())
            .unwrap()
            .phone_number,
        "+14155550105"
    );
}

#[test]
fn the_stricter_of_the_claim_and_class_caps_applies() {
    let c = claim(
        json!({"countryCode": "US", "features": ["voice", "sms"], "maxMonthlyPrice": "5.00"}),
    );
    let strict_class = class(
        "c",
        json!({"maxMonthlyPrice": "2.00", "maxSetupPrice": "0.10"}),
    );
    assert_eq!(
        choose(&c, &strict_class, &offers(), &none())
            .unwrap_err()
            .reason,
        reasons::OVER_PRICE
    );
    let loose_class = class(
        "c",
        json!({"maxMonthlyPrice": "9.00", "maxSetupPrice": "0.10"}),
    );
    assert_eq!(
        choose(&c, &loose_class, &offers(), &none())
            .unwrap()
            .phone_number,
        "+14155550104"
    );
}

#[test]
fn over_price_and_no_candidates_say_why() {
    let e = choose(
        &claim(json!({"countryCode": "US", "maxMonthlyPrice": "0.50"})),
        &class("c", json!({})),
        &offers(),
        &none(),
    )
    .unwrap_err();
    assert_eq!(e.reason, reasons::OVER_PRICE);
    assert!(
        e.message.contains("$0.50") && e.message.contains("$0.75"),
        "{}",
        e.message
    );
    let e = choose(
        &claim(json!({"countryCode": "US", "features": ["fax"]})),
        &class("c", json!({})),
        &offers(),
        &none(),
    )
    .unwrap_err();
    assert_eq!(
        (e.reason, e.requeue, e.transient),
        (reasons::NO_CANDIDATES, Duration::from_secs(60), false)
    );
    let all: BTreeSet<String> = offers().into_iter().map(|o| o.phone_number).collect();
    let e = choose(
        &claim(json!({"countryCode": "US"})),
        &class("c", json!({})),
        &offers(),
        &all,
    )
    .unwrap_err();
    assert_eq!(
        (e.reason, e.requeue, e.transient),
        (reasons::NO_CANDIDATES, Duration::from_secs(1), true),
        "taken by in-flight purchases: look again soon, quietly"
    );
    let e = choose(
        &claim(json!({"number": "+14155550199"})),
        &class("c", json!({})),
        &offers(),
        &none(),
    )
    .unwrap_err();
    assert!(e.message.contains("not offered"), "{}", e.message);
}

#[test]
fn an_exact_number_is_the_only_candidate() {
    let pick = choose(
        &claim(json!({"number": "+14155550104"})),
        &class("c", json!({})),
        &offers(),
        &none(),
    )
    .unwrap();
    assert_eq!(pick.phone_number, "+14155550104");
}

#[test]
fn the_class_is_the_named_one_or_the_single_default() {
    let default = {
        let mut c = class("std", json!({}));
        c.metadata.annotations =
            Some([(DEFAULT_CLASS_ANNOTATION.to_owned(), "true".to_owned())].into());
        Arc::new(c)
    };
    let other = Arc::new(class("premium", json!({})));
    let named = claim(json!({"countryCode": "US", "className": "premium"}));
    let unnamed = claim(json!({"countryCode": "US"}));
    assert_eq!(
        resolve_class(&named, &[default.clone(), other.clone()])
            .unwrap()
            .name_any(),
        "premium"
    );
    assert_eq!(
        resolve_class(&unnamed, &[default.clone(), other.clone()])
            .unwrap()
            .name_any(),
        "std"
    );
    assert_eq!(
        resolve_class(&unnamed, std::slice::from_ref(&other))
            .unwrap_err()
            .reason,
        reasons::NO_DEFAULT_CLASS
    );
    let mut second = (*default).clone();
    second.metadata.name = Some("std2".into());
    assert_eq!(
        resolve_class(&unnamed, &[default, Arc::new(second)])
            .unwrap_err()
            .reason,
        reasons::MULTIPLE_DEFAULT_CLASSES
    );
    let missing = claim(json!({"countryCode": "US", "className": "nope"}));
    assert_eq!(
        resolve_class(&missing, &[]).unwrap_err().reason,
        reasons::CLASS_NOT_FOUND
    );
}

#[test]
fn search_filters_follow_the_criteria_or_the_exact_number() {
    let f = filters(&claim(
        json!({"countryCode": "CA", "areaCode": "604", "numberType": "toll-free"}),
    ))
    .unwrap();
    assert_eq!(
        (
            f.country_code.as_str(),
            f.area_code.as_deref(),
            f.number_type.as_deref()
        ),
        ("CA", Some("604"), Some("toll-free"))
    );
    let f = filters(&claim(json!({"number": "+12125550101"}))).unwrap();
    assert_eq!(
        (f.country_code.as_str(), f.area_code.as_deref()),
        ("US", Some("212"))
    );
    assert!(
        filters(&claim(json!({"number": "+442071234567"}))).is_none(),
        "a non-NANP number needs its country"
    );
}
