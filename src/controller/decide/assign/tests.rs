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

#[test]
fn taking_a_number_off_an_assistant_sends_back_every_other_number_it_holds() {
    let held = [
        record("pn_1", "+14155550101", Some("a")),
        record("pn_2", "+14155550102", Some("a")),
        record("pn_3", "+14155550103", None),
    ];
    let mut suspended = record("pn_4", "+14155550104", Some("a"));
    suspended.status = crate::talkturo::NumberStatus::Suspended;
    let listed = [&suspended];
    let rows: [(&str, &str, Option<Vec<&str>>); 2] = [
        (
            "ours is there: the rest, plus the suspended one the GET does not list",
            "pn_1",
            Some(vec!["pn_2", "pn_4"]),
        ),
        ("ours is not there: no call at all", "pn_9", None),
    ];
    for (case, id, want) in rows {
        let got = keep_without(&held, &listed, "a", id);
        let want: Option<Vec<String>> = want.map(|v| v.into_iter().map(str::to_owned).collect());
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn a_refused_assignment_says_which_refusal_it_was() {
    for (status, reason) in [
        (Some(404), "AssistantNotFound"),
        (Some(400), "NumberNotActive"),
        (Some(422), "AssignmentFailed"),
        (None, "AssignmentFailed"),
    ] {
        assert_eq!(
            refused("+14155550101", "a", status, "no").reason,
            reason,
            "{status:?}"
        );
    }
}
