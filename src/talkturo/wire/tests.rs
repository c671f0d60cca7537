use super::*;
use serde_json::json;

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(normalize_keys(v)).unwrap()
}

#[test]
fn records_decode_from_snake_and_camel_case_alike() {
    let snake = json!({"id": "pn_1", "phone_number": "+14155550101", "status": "active", "is_trial": true,
        "trial_expires_at": "2026-12-01T00:00:00Z", "assistant_id": "asst_1", "extra": {"x": 1}});
    let camel = json!({"id": "pn_1", "phoneNumber": "+14155550101", "status": "ACTIVE", "isTrial": "true",
        "trialExpiresAt": "2026-12-01T00:00:00Z", "assistantId": "asst_1"});
    let a: NumberRecord = decode(snake);
    let b: NumberRecord = decode(camel);
    assert_eq!(a, b);
    assert_eq!(a.status, NumberStatus::Active);
    assert!(a.is_trial);
}

#[test]
fn prices_are_read_exactly_from_strings_and_numbers() {
    let n: AvailableNumber =
        decode(json!({"phoneNumber": "+1", "monthlyPrice": 1.1, "setupPrice": "$0.75"}));
    assert_eq!(n.monthly_price, Some(Decimal::new(110, 2)));
    assert_eq!(n.setup_price, Some(Decimal::new(75, 2)));
    for odd in [
        json!("free"),
        json!("1,50"),
        json!("NaN"),
        json!({}),
        json!("-1"),
        json!(-0.5),
    ] {
        let n: AvailableNumber = decode(json!({"phoneNumber": "+1", "monthlyPrice": odd}));
        assert_eq!(n.monthly_price, None, "{odd}");
    }
    let zero: AvailableNumber = decode(json!({"phoneNumber": "+1", "setupPrice": "0.00"}));
    assert_eq!(zero.setup_price, Some(Decimal::ZERO));
    let top: AvailableNumber = decode(json!({"phoneNumber": "+1", "monthlyPrice": "100000"}));
    assert_eq!(top.monthly_price, Some(MAX_SANE_PRICE));
}

#[test]
fn absurd_prices_fail_the_answer() {
    for bad in [
        json!("100000.01"),
        json!(1e30),
        json!("79228162514264337593543950335"),
    ] {
        let r = serde_json::from_value::<AvailableNumber>(normalize_keys(
            json!({"phoneNumber": "+14155550101", "monthlyPrice": bad}),
        ));
        assert!(r.is_err(), "{bad} was accepted");
    }
}

#[test]
fn records_need_an_e164_number_a_usable_id_and_one_id_per_number() {
    let rec = |id: &str, n: &str| -> NumberRecord {
        decode(json!({"id": id, "phone_number": n, "status": "active"}))
    };
    assert!(check_record(&rec("pn_1", "+14155550101")).is_ok());
    for (id, n) in [
        ("pn_1", "14155550101"),
        ("pn_1", "+0415555"),
        ("pn_1", "+1415555010199999"),
        ("pn_1", "+1 415 555 0101"),
        ("pn 1", "+14155550101"),
        ("", "+14155550101"),
    ] {
        assert!(check_record(&rec(id, n)).is_err(), "{id:?} {n:?}");
    }
    let twins = [rec("pn_1", "+14155550101"), rec("pn_2", "+14155550101")];
    let e = check_records(&twins).unwrap_err();
    assert!(e.contains("listed twice"), "{e}");
    let one_id = [rec("pn_1", "+14155550101"), rec("pn_1", "+14155550102")];
    assert!(check_records(&one_id).is_err());
    let fine = [rec("pn_1", "+14155550101"), rec("pn_2", "+14155550102")];
    assert!(check_records(&fine).is_ok());
}

#[test]
fn search_answers_are_checked_for_numbers_duplicates_and_count() {
    let r = |v: Value| -> SearchResult { decode(v) };
    let ok = r(json!({"numbers": [{"phoneNumber": "+14155550101"}], "count": 1}));
    assert!(ok.check().is_ok());
    assert!(
        r(json!({"numbers": [{"phoneNumber": "4155550101"}]}))
            .check()
            .is_err()
    );
    assert!(
        r(json!({"numbers": [{"phoneNumber": "+14155550101"}], "count": 3}))
            .check()
            .is_err()
    );
    assert!(
        r(json!({"numbers": [{"phoneNumber": "+14155550101"}, {"phoneNumber": "+14155550101"}]}))
            .check()
            .is_err()
    );
}

#[test]
fn cut_keeps_at_most_that_many_characters() {
    assert_eq!(cut("abcdef", 3), "abc…");
    assert_eq!(cut("abc", 3), "abc");
    assert_eq!(cut("ééé", 2), "éé…");
}

#[test]
fn a_record_without_an_id_fails_the_whole_list() {
    let r = serde_json::from_value::<ListPage>(normalize_keys(
        json!({"numbers": [{"phone_number": "+1"}]}),
    ));
    assert!(r.is_err());
}

#[test]
fn unknown_statuses_and_null_fields_are_tolerated() {
    let r: NumberRecord = decode(
        json!({"id": "pn_1", "phone_number": "+1", "status": "porting", "trial_expires_at": null, "assistant_id": null}),
    );
    assert_eq!(r.status, NumberStatus::Other("porting".into()));
    assert_eq!(r.trial_expires_at, None);
}

#[test]
fn error_messages_are_found_in_any_body_shape() {
    assert_eq!(
        error_message(r#"{"success":false,"message":"plan limit"}"#),
        "plan limit"
    );
    assert_eq!(error_message(r#"{"error":"Unauthorized"}"#), "Unauthorized");
    assert_eq!(error_message(r#"{"error":{"message":"nope"}}"#), "nope");
    assert_eq!(
        error_message("<html>Bad Gateway</html>"),
        "<html>Bad Gateway</html>"
    );
    assert_eq!(error_message(""), "(empty body)");
}
