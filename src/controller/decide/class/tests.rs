use super::*;
use crate::api::v1alpha1::PhoneNumberClassSpec;

fn spec(url: &str, allow: bool) -> PhoneNumberClassSpec {
    let mut s: PhoneNumberClassSpec = serde_json::from_value(serde_json::json!({
        "apiBaseUrl": url, "teamId": "t", "accountSlug": "a",
        "apiKeySecretRef": {"namespace": "n", "name": "s"}
    }))
    .unwrap_or_else(|e| unreachable!("{e}"));
    s.allow_insecure_http = allow;
    s
}

#[test]
fn a_restart_reports_the_plan_limit_with_the_count_it_was_hit_at() {
    let class: PhoneNumberClass = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "c"},
        "spec": {"apiBaseUrl": "http://127.0.0.1:1", "teamId": "t", "accountSlug": "a",
                 "apiKeySecretRef": {"namespace": "n", "name": "s"}},
        "status": {
            "conditions": [{"type": "PlanLimitReached", "status": "True",
                "reason": "PlanLimitReached", "message": "m",
                "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            // The last successful purchase reported 19; the refusal came at 20.
            "account": {"numberCount": 19, "numbersAtLimit": 20},
        },
    }))
    .unwrap_or_else(|e| unreachable!("{e}"));
    let plan = persisted_plan(&class);
    assert_eq!(plan.limit_reached.map(|(n, _)| n), Some(20));
    // And the status written from that plan keeps the count.
    let now = Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::MIN);
    let unreachable = NotReady {
        reason: reasons::UNREACHABLE,
        message: "x".into(),
    };
    let observed = Observed {
        listed: Err(&unreachable),
        plan: &plan,
        numbers: &[],
        known: &BTreeSet::new(),
        identity: None,
        now,
    };
    let st = desired_status(&class, &observed);
    assert_eq!(st.account.and_then(|a| a.numbers_at_limit), Some(20));
}

#[test]
fn the_key_travels_in_clear_text_only_to_loopback_or_when_allowed() {
    for ok in [
        "https://app.talkturo.com",
        "http://127.0.0.1:8081",
        "http://localhost",
        "http://[::1]:9000/x",
    ] {
        assert_eq!(insecure_url(&spec(ok, false)), None, "{ok}");
    }
    let nr = insecure_url(&spec("http://app.talkturo.com", false));
    assert_eq!(nr.map(|n| n.reason), Some(reasons::INSECURE_URL));
    assert_eq!(insecure_url(&spec("http://proxy.internal", true)), None);
    assert!(insecure_url(&spec("http://127.0.0.1.evil.example", false)).is_some());
    let userinfo = insecure_url(&spec("https://user:pw@app.talkturo.com", false));
    assert_eq!(userinfo.map(|n| n.reason), Some(reasons::INVALID_SPEC));
}

mod status {
    use serde_json::json;

    use super::*;
    use crate::controller::fixtures::{NOW, listing, record, ts};

    fn reason(st: &PhoneNumberClassStatus, type_: &str) -> Option<(bool, String)> {
        conditions::find(&st.conditions, type_).map(|c| (c.status == "True", c.reason.clone()))
    }

    fn decide(
        class: &PhoneNumberClass,
        listed: Result<&Snapshot, &NotReady>,
        plan: &PlanState,
        numbers: &[Arc<PhoneNumber>],
    ) -> PhoneNumberClassStatus {
        let known = numbers.iter().map(|n| n.name_any()).collect();
        let o = Observed {
            listed,
            plan,
            numbers,
            known: &known,
            identity: None,
            now: ts(NOW),
        };
        desired_status(class, &o)
    }

    #[test]
    fn ready_follows_the_list_and_a_suspect_list_is_said_until_confirmed() {
        let class = PhoneNumberClass::test().build();
        let ok = listing(NOW, vec![record("+14155550101", "pn_1")]);
        let mut suspect = listing(NOW, vec![]);
        suspect.unconfirmed.insert("+14155550102".into());
        let mut held = listing(NOW, vec![]);
        held.unconfirmed.insert("+14155550102".into());
        held.hold = Some(crate::controller::decide::snapshot::Held {
            since: ts(NOW),
            confirm_after: ts("2026-01-01T01:01:00Z"),
            changed: false,
        });
        let down = NotReady {
            reason: reasons::UNREACHABLE,
            message: "refused".into(),
        };
        let plan = PlanState::default();
        type Row<'a> = (
            &'a str,
            Result<&'a Snapshot, &'a NotReady>,
            (bool, &'a str),
            Option<(bool, &'a str)>,
        );

        let rows: [Row<'_>; 4] = [
            (
                "a list: Ready, consistent",
                Ok(&ok),
                (true, "AccountReachable"),
                Some((false, "ListConsistent")),
            ),
            (
                "a list lacking numbers held before: Ready, suspect",
                Ok(&suspect),
                (true, "AccountReachable"),
                Some((true, "NumbersMissing")),
            ),
            (
                "a list holding numbers: not Ready, SuspectList",
                Ok(&held),
                (false, "SuspectList"),
                Some((true, "NumbersMissing")),
            ),
            (
                "no list: not Ready, for the reason; nothing said of the list",
                Err(&down),
                (false, "Unreachable"),
                None,
            ),
        ];
        for (case, listed, ready, list) in rows {
            let st = decide(&class, listed, &plan, &[]);
            assert_eq!(
                reason(&st, types::READY),
                Some((ready.0, ready.1.to_owned())),
                "{case}"
            );
            assert_eq!(
                reason(&st, types::SUSPECT_LIST),
                list.map(|(s, r)| (s, r.to_owned())),
                "{case}"
            );
        }
        // Without a list, what was said last stands.
        let was_suspect = PhoneNumberClass::test()
            .condition("SuspectList", true, "NumbersMissing", NOW)
            .build();
        let st = decide(&was_suspect, Err(&down), &plan, &[]);
        assert_eq!(
            reason(&st, types::SUSPECT_LIST),
            Some((true, "NumbersMissing".into()))
        );
    }

    #[test]
    fn the_plan_limit_and_the_budget_are_reported_as_the_gates_count_them() {
        let ok = listing(NOW, vec![]);
        let held = |price: &str, phase: &str| {
            PhoneNumber::test()
                .owned("pn_1")
                .phase(phase)
                .with(json!({"status": {"monthlyPrice": price}}))
                .arc()
        };
        let limited = PlanState {
            eligibility: None,
            limit_reached: Some((5, ts(NOW))),
        };
        type Row<'a> = (
            &'a str,
            PhoneNumberClass,
            PlanState,
            Vec<Arc<PhoneNumber>>,
            bool,
            Option<(bool, &'a str)>,
        );

        let rows: [Row<'_>; 4] = [
            (
                "no limit, no budget",
                PhoneNumberClass::test().build(),
                PlanState::default(),
                vec![],
                false,
                None,
            ),
            (
                "the limit hit",
                PhoneNumberClass::test().build(),
                limited,
                vec![],
                true,
                None,
            ),
            (
                "within the budget",
                PhoneNumberClass::test().budget("10").build(),
                PlanState::default(),
                vec![held("4.00", "Bound")],
                false,
                Some((false, "WithinBudget")),
            ),
            (
                "a Lost number still counts against the budget",
                PhoneNumberClass::test().budget("3").build(),
                PlanState::default(),
                vec![held("4.00", "Lost")],
                false,
                Some((true, "BudgetExceeded")),
            ),
        ];
        for (case, class, plan, numbers, limit, budget) in rows {
            let st = decide(&class, Ok(&ok), &plan, &numbers);
            assert_eq!(
                reason(&st, types::PLAN_LIMIT_REACHED).map(|r| r.0),
                Some(limit),
                "{case}"
            );
            assert_eq!(
                reason(&st, types::BUDGET_EXCEEDED),
                budget.map(|(s, r)| (s, r.to_owned())),
                "{case}"
            );
        }
    }

    #[test]
    fn a_readiness_change_is_an_event_and_a_steady_one_is_not() {
        let ok = listing(NOW, vec![]);
        let down = NotReady {
            reason: reasons::UNAUTHORIZED,
            message: "401".into(),
        };
        let plan = PlanState::default();
        let fresh = PhoneNumberClass::test().build();
        let ready = PhoneNumberClass::test().ready().build();
        type Row<'a> = (
            &'a str,
            &'a PhoneNumberClass,
            Result<&'a Snapshot, &'a NotReady>,
            Option<(bool, &'a str)>,
        );

        let rows: [Row<'_>; 4] = [
            (
                "first decided, reachable: Normal",
                &fresh,
                Ok(&ok),
                Some((false, "AccountReachable")),
            ),
            ("Ready and still reachable: nothing", &ready, Ok(&ok), None),
            (
                "Ready, now refused: Warning with the reason",
                &ready,
                Err(&down),
                Some((true, "Unauthorized")),
            ),
            (
                "first decided, refused: Warning",
                &fresh,
                Err(&down),
                Some((true, "Unauthorized")),
            ),
        ];
        for (case, class, listed, want) in rows {
            let st = decide(class, listed, &plan, &[]);
            let note = ready_note(class, &st, listed);
            assert_eq!(note.map(|n| (n.warning, n.reason)), want, "{case}");
        }
    }
}
