use super::*;

fn record(id: &str, number: &str, assistant: Option<&str>) -> NumberRecord {
    serde_json::from_value(serde_json::json!({
        "id": id, "phone_number": number, "status": "active", "assistant_id": assistant
    }))
    .unwrap_or_else(|e| unreachable!("{e}"))
}

#[test]
fn an_assistant_holds_only_the_records_carrying_its_id() {
    // The GET lists unassigned active numbers too (contract §2.6): they are not its set.
    let answer = [
        record("pn_1", "+14155550101", Some("asst_a")),
        record("pn_2", "+14155550102", None),
        record("pn_3", "+14155550103", Some("asst_a")),
        record("pn_4", "+14155550104", None),
    ];
    assert_eq!(held_by(&answer, "asst_a"), ["pn_1", "pn_3"]);
    assert!(held_by(&answer, "asst_b").is_empty());
}

#[test]
fn an_unverified_assignment_waits_out_its_back_off() {
    let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap_or_default();
    let later = |secs| at + jiff::SignedDuration::from_secs(secs);
    assert!(!backing_off(None, at));
    assert!(backing_off(Some(at), later(60)));
    assert!(!backing_off(Some(at), later(601)));
}

#[test]
fn the_next_step_follows_desired_observed_and_activity() {
    assert_eq!(step(Some("a"), Some("a"), true), Step::InSync);
    assert_eq!(step(None, None, false), Step::InSync);
    assert_eq!(
        step(Some("a"), None, false),
        Step::WaitActive { to: "a".into() }
    );
    assert_eq!(
        step(Some("a"), None, true),
        Step::Assign {
            to: "a".into(),
            from: None
        }
    );
    assert_eq!(
        step(Some("a"), Some("b"), true),
        Step::Assign {
            to: "a".into(),
            from: Some("b".into())
        }
    );
    assert_eq!(
        step(None, Some("b"), true),
        Step::Unassign { from: "b".into() }
    );
    assert_eq!(
        step(None, Some("b"), false),
        Step::Unassign { from: "b".into() },
        "unassigning needs no active number"
    );
}
