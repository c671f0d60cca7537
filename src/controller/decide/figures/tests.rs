use super::*;
use serde_json::json;

fn number(n: &str, status: serde_json::Value) -> Arc<PhoneNumber> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("tel-{n}")},
            "spec": {"number": format!("+{n}"), "className": "c"},
            "status": status,
        }))
        .unwrap_or_else(|e| unreachable!("{e}")),
    )
}

#[test]
fn figures_count_cost_trials_and_unsettled_purchases() {
    let now = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::MIN);
    let at = |secs: i64| {
        now.checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap_or(now)
            .to_string()
    };
    let class: PhoneNumberClass = serde_json::from_value(json!({
        "metadata": {"name": "c"},
        "spec": {"apiBaseUrl": "http://127.0.0.1:1", "teamId": "t", "accountSlug": "a",
                 "apiKeySecretRef": {"namespace": "n", "name": "s"},
                 "monthlyBudget": "10.00", "trial": {"warnBefore": "1h"}},
    }))
    .unwrap_or_else(|e| unreachable!("{e}"));
    let numbers = [
        number(
            "14150000001",
            json!({"id": "a", "phase": "Bound", "monthlyPrice": "1.15"}),
        ),
        number(
            "14150000002",
            json!({"id": "b", "phase": "Available", "monthlyPrice": "2.00",
            "isTrial": true, "trialExpiresAt": at(600)}),
        ),
        number(
            "14150000003",
            json!({"id": "c", "phase": "Bound",
            "isTrial": true, "trialExpiresAt": at(7200)}),
        ),
        number(
            "14150000004",
            json!({"id": "d", "phase": "Lost", "monthlyPrice": "9.00"}),
        ),
        number(
            "14150000005",
            json!({"phase": "Purchasing",
            "purchase": {"attempts": 1, "outcomeUnknownSince": at(-700)}}),
        ),
        number(
            "14150000006",
            json!({"phase": "Purchasing",
            "purchase": {"attempts": 1, "outcomeUnknownSince": at(-5)}}),
        ),
    ];
    let status = PhoneNumberClassStatus::default();
    let f = of(
        &class,
        &status,
        &numbers,
        None,
        now,
        Duration::from_secs(600),
    );
    assert_eq!(
        f.monthly_cost, 12.15,
        "the Lost number's price still counts"
    );
    assert_eq!(f.unpriced, 1, "the managed number without a price");
    assert_eq!(f.budget, Some(10.0));
    assert_eq!(f.trials_expiring, 1, "only the one inside warnBefore");
    assert_eq!(f.outcome_unknown, 1, "only the one past the alert delay");
    assert_eq!(f.listed_at, None);
    assert_eq!(f.plan_limit, None);
    let phases: Vec<_> = f.phases.iter().map(|(p, _)| *p).collect();
    assert_eq!(phases, PHASES.map(|(_, label)| label));
    let count = |p: &str| f.phases.iter().find(|(q, _)| *q == p).map(|(_, c)| *c);
    assert_eq!(
        (count("Bound"), count("Purchasing"), count("Lost")),
        (Some(2), Some(2), Some(1))
    );
}
