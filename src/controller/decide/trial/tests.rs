use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn trial(expires: &str) -> PhoneNumberStatus {
    PhoneNumberStatus {
        is_trial: Some(true),
        trial_expires_at: Some(Time(ts(expires))),
        ..Default::default()
    }
}

#[test]
fn paid_numbers_have_no_stage() {
    let st = PhoneNumberStatus {
        is_trial: Some(false),
        ..Default::default()
    };
    assert_eq!(
        stage(&st, Duration::from_secs(60), ts("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn the_window_opens_exactly_warn_before_the_expiry() {
    let st = trial("2026-01-02T00:00:00Z");
    let day = Duration::from_secs(24 * 3600);
    let before = stage(&st, day, ts("2025-12-31T23:59:59Z"));
    assert_eq!(
        before,
        Some(Stage::Early {
            warn_at: ts("2026-01-01T00:00:00Z")
        })
    );
    assert_eq!(
        wake(before.unwrap(), ts("2025-12-31T23:59:59Z")),
        Some(Duration::from_millis(1050))
    );
    let at = stage(&st, day, ts("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        at,
        Stage::Expiring {
            expires_at: ts("2026-01-02T00:00:00Z")
        }
    );
    assert_eq!(
        wake(at, ts("2026-01-01T00:00:00Z")),
        Some(day + Duration::from_millis(50))
    );
    assert_eq!(
        stage(&st, day, ts("2026-01-02T00:00:00Z")),
        Some(Stage::Expired)
    );
    assert_eq!(wake(Stage::Expired, ts("2026-01-02T00:00:00Z")), None);
}

#[test]
fn the_early_wake_is_the_window_start() {
    let st = trial("2026-01-02T00:00:00Z");
    let s = stage(&st, Duration::from_secs(3600), ts("2026-01-01T12:00:00Z")).unwrap();
    assert_eq!(
        wake(s, ts("2026-01-01T12:00:00Z")),
        Some(Duration::from_secs(11 * 3600) + Duration::from_millis(50))
    );
}

mod replacement {
    use serde_json::json;

    use super::*;
    use crate::controller::fixtures::NOW;

    /// The step, in a word.
    fn word(s: &ReplaceStep) -> String {
        match s {
            ReplaceStep::None => "none".into(),
            ReplaceStep::Report { condition, .. } => format!("report {}", condition.reason),
            ReplaceStep::Start => "start".into(),
            ReplaceStep::Create { number } => format!("create {number}"),
            ReplaceStep::Drop {
                delete, blocked, ..
            } => {
                format!(
                    "drop delete={} blocked={}",
                    delete.is_some(),
                    blocked.is_some()
                )
            }
            ReplaceStep::Assign { assistant } => format!("assign {assistant}"),
            ReplaceStep::Switch { release } => format!("switch release={release}"),
        }
    }

    /// A trial number expiring in 10 minutes (inside the hour's window).
    fn trial_number() -> PhoneNumber {
        PhoneNumber::test()
            .owned("pn_1")
            .trial("2026-01-01T00:11:00Z")
            .build()
    }

    /// The replacement, bought for the claim.
    fn next() -> crate::controller::fixtures::Builder<PhoneNumber> {
        PhoneNumber::test().number("+14155550999")
    }

    #[rustfmt::skip]
    #[test]
    fn a_trial_number_is_replaced_step_by_step_before_it_expires() {
        let replace = PhoneNumberClass::test().trial("Replace", "1h").build();
        let notify = PhoneNumberClass::test().trial("Notify", "1h").build();
        let claim = PhoneNumberClaim::test().build();
        let buying = PhoneNumberClaim::test().purchase(json!({"candidate": "+14155550999"})).build();
        let blocked = PhoneNumberClaim::test().purchase(json!({"replacementBlocked": "no subscription"})).build();
        let exact = PhoneNumberClaim::test().number("+14155550101").build();
        let pn = trial_number();
        let early = PhoneNumber::test().owned("pn_1").trial("2026-01-03T00:00:00Z").build();
        let paid = PhoneNumber::test().owned("pn_1").build();
        let purchasing = next().owned("pn_2").purchasing().build();
        let active = next().owned("pn_2").build();
        let refused = next().phase("Failed").with(json!({"status": {"purchase": {"failureReason": "PurchaseFailed", "failureMessage": "sold out"}}})).build();
        let limit = next().phase("Failed").with(json!({"status": {"purchase": {"failureReason": "PlanLimitReached", "failureMessage": "trial plan"}}})).build();
        let theirs = next().claimed_by("app", "other").build();
        let on_assistant = next().owned("pn_2").assistant("asst").condition("Assigned", true, "Assigned", NOW).build();
        let moving = next().owned("pn_2").assistant("asst").build();
        type Row<'a> = (&'a str, &'a PhoneNumberClaim, &'a PhoneNumber, &'a PhoneNumberClass, Option<&'a PhoneNumber>, Option<&'a str>, &'a str);
        let rows: [Row; 14] = [
            ("a paid number: nothing", &claim, &paid, &replace, None, None, "none"),
            ("before the window: nothing", &claim, &early, &replace, None, None, "none"),
            ("onExpiry Notify: nothing (the condition says it)", &claim, &pn, &notify, None, None, "none"),
            ("in the window: start buying a replacement", &claim, &pn, &replace, None, None, "start"),
            ("no subscription found before: fall back to Notify", &blocked, &pn, &replace, None, None, "report NoSubscription"),
            ("a claim for this exact number: not replaceable", &exact, &pn, &replace, None, None, "report ReplacementNotPossible"),
            ("intent recorded, no PhoneNumber yet: create it", &buying, &pn, &replace, None, None, "create +14155550999"),
            ("the replacement is being bought: report", &buying, &pn, &replace, Some(&purchasing), None, "report Replacing"),
            ("the replacement was refused: drop and delete it", &buying, &pn, &replace, Some(&refused), None, "drop delete=true blocked=false"),
            ("refused for the plan limit: the account has no subscription", &buying, &pn, &replace, Some(&limit), None, "drop delete=true blocked=true"),
            ("taken by another claim: drop it, delete nothing", &buying, &pn, &replace, Some(&theirs), None, "drop delete=false blocked=false"),
            ("active, the claim names an assistant: put it on the replacement first", &buying, &pn, &replace, Some(&active), Some("asst"), "assign asst"),
            ("active, the assistant being moved: wait for it", &buying, &pn, &replace, Some(&moving), Some("asst"), "report Replacing"),
            ("active and assigned: switch the claim over", &buying, &pn, &replace, Some(&on_assistant), Some("asst"), "switch release=false"),
        ];
        for (case, claim, pn, class, next, assistant, want) in rows {
            let step = replacement(&Replacing { claim, pn, class, next, assistant, now: ts(NOW) });
            assert_eq!(word(&step), want, "{case}");
        }
        let released = PhoneNumber::test().owned("pn_1").release_policy().trial("2026-01-01T00:11:00Z").build();
        let step = replacement(&Replacing { claim: &buying, pn: &released, class: &replace, next: Some(&active), assistant: None, now: ts(NOW) });
        assert_eq!(word(&step), "switch release=true", "under reclaimPolicy Release the trial number is released");
    }

    #[test]
    fn a_replacement_that_cannot_start_says_why_and_the_plan_limit_blocks_it_for_good() {
        let claim = PhoneNumberClaim::test().build();
        let pn = trial_number();
        let limit = Pending::new(
            reasons::PLAN_LIMIT_REACHED,
            "plan full",
            Duration::from_secs(60),
        );
        let (step, warn) = not_started(&claim, &pn, &limit);
        let ReplaceStep::Report {
            progress: Some(p), ..
        } = &step
        else {
            panic!("blocked: {step:?}");
        };
        assert!(
            p.replacement_blocked
                .as_deref()
                .is_some_and(|b| b.contains("plan full"))
        );
        assert_eq!(warn.as_deref(), Some("plan full"));
        let budget = Pending::new(
            reasons::BUDGET_EXCEEDED,
            "over budget",
            Duration::from_secs(60),
        );
        let (step, warn) = not_started(&claim, &pn, &budget);
        assert_eq!(word(&step), "report Replacing");
        assert_eq!(warn, None, "waits, saying why, no Warning");
    }
}
