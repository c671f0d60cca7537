use super::*;

#[test]
fn the_key_and_any_bearer_credential_are_scrubbed_and_long_text_is_cut() {
    let token = "tk_live_0123456789";
    let echoed = format!(
        r#"{{"message":"bad request","headers":{{"Authorization":"Bearer {token}"}}}} also {token} and bearer=other_secret, BEARER:xyz"#
    );
    let s = scrub(&echoed, token);
    assert!(!s.contains(token), "{s}");
    assert!(!s.contains("other_secret"), "{s}");
    assert!(!s.contains("xyz"), "{s}");
    assert!(s.contains("[redacted]"));
    let long = "x".repeat(3 << 20);
    assert_eq!(scrub(&long, token).chars().count(), MAX_MESSAGE_CHARS + 1);
    assert_eq!(scrub("Bearer", token), "Bearer");
    assert_eq!(scrub("no secrets here", token), "no secrets here");
}

#[test]
fn a_redirect_is_definite_for_reads_and_unknown_for_a_purchase() {
    let r = |op| Error::Redirect {
        op,
        status: 302,
        target: "https://elsewhere.test".into(),
    };
    assert_eq!(r(Operation::List).outcome(), Outcome::Definite);
    assert_eq!(r(Operation::Purchase).outcome(), Outcome::Unknown);
    let m = Error::PurchaseMismatch {
        asked: "+14155550101".into(),
        answered: "+14155550199".into(),
        id: "pn_x".into(),
    };
    assert_eq!(m.outcome(), Outcome::Unknown);
}
