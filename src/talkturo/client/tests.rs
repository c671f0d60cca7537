use reqwest::StatusCode;
use reqwest::header::HeaderValue;

use super::transport::*;
use super::*;
use crate::talkturo::Outcome;
use crate::talkturo::wire::ListPage;

#[test]
fn a_list_page_decodes_the_same_straight_or_through_the_lenient_path() {
    let snake = br#"{"success":true,"numbers":[{"id":"n1","phone_number":"+14155550100","provider_id":"p1","status":"active","is_trial":"true","trial_expires_at":"2026-01-01T00:00:00Z","assistant_id":7,"created_at":"2025-12-01T00:00:00Z","team_id":"t"}],"count":1}"#;
    let camel = br#"{"success":true,"phoneNumbers":[{"id":"n1","phoneNumber":"+14155550100","providerId":"p1","status":"ACTIVE","isTrial":true,"trialExpiresAt":"2026-01-01T00:00:00Z","assistantId":"7","createdAt":"2025-12-01T00:00:00Z","teamId":"t"}],"count":1}"#;
    let ok = StatusCode::OK;
    let lenient = |b: &[u8]| -> ListPage {
        serde_json::from_value(decode_success(Operation::List, ok, b).unwrap()).unwrap()
    };
    let straight = decode_page(Operation::List, ok, snake).unwrap();
    assert_eq!(straight, lenient(snake));
    assert_eq!(decode_page(Operation::List, ok, camel).unwrap(), straight);
    assert_eq!(straight.numbers[0].assistant_id.as_deref(), Some("7"));
    assert!(straight.numbers[0].is_trial);
    // Odd spellings the aliases do not cover still decode (the lenient path).
    let odd = br#"{"Numbers":[{"Id":"n1","PhoneNumber":"+14155550100"}]}"#;
    let page = decode_page(Operation::List, ok, odd).unwrap();
    assert_eq!(page.numbers[0].phone_number, "+14155550100");
    // A refusal in a 200 and a body that is not an object are errors, as before.
    let refused = decode_page(Operation::List, ok, br#"{"success":false,"message":"no"}"#);
    assert!(matches!(refused, Err(Error::InvalidResponse { .. })));
    assert!(decode_page(Operation::List, ok, b"[1,2]").is_err());
    assert!(
        decode_page(Operation::List, ok, b" ")
            .unwrap()
            .numbers
            .is_empty()
    );
}

#[test]
fn retry_after_is_read_as_seconds_or_a_date() {
    assert_eq!(
        parse_retry_after(&HeaderValue::from_static("7")),
        Some(Duration::from_secs(7))
    );
    assert_eq!(
        parse_retry_after(&HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT")),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after(&HeaderValue::from_static("soon")), None);
}

#[test]
fn success_bodies_must_be_json_objects_that_do_not_say_failure() {
    let ok = StatusCode::OK;
    assert!(decode_success(Operation::List, ok, b"{\"success\":true}").is_ok());
    assert!(decode_success(Operation::List, ok, b"").is_ok());
    assert!(decode_success(Operation::List, ok, b"[1]").is_err());
    assert!(decode_success(Operation::List, ok, b"{\"numbers\": [").is_err());
    let e = decode_success(
        Operation::Purchase,
        ok,
        b"{\"success\":false,\"message\":\"no\"}",
    )
    .unwrap_err();
    assert_eq!(e.outcome(), Outcome::Unknown);
}

#[test]
fn a_path_segment_is_escaped_and_a_base_path_is_kept() {
    let c = Client::new(ClientConfig::new(
        "https://example.test/tenant/",
        SecretString::from("t"),
    ))
    .unwrap();
    let u = c
        .url(Operation::Assign, &["assistants", "a/b?c", "telephony"])
        .unwrap();
    assert_eq!(
        u.as_str(),
        "https://example.test/tenant/api/assistants/a%2Fb%3Fc/telephony"
    );
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    assert!(Client::new(ClientConfig::new("ftp://x", SecretString::from("t"))).is_err());
    assert!(Client::new(ClientConfig::new("not a url", SecretString::from("t"))).is_err());
}
