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
}
