use super::*;

fn t(s: &str) -> Time {
    Time(s.parse().unwrap())
}

#[test]
fn the_transition_time_moves_only_when_the_status_flips() {
    let d = |status, reason| vec![Desired::new("Ready", status, reason, "m")];
    let first = merge(
        &[],
        &d(false, "Purchasing"),
        &["Ready"],
        Some(1),
        &t("2026-01-01T00:00:00Z"),
    );
    let same = merge(
        &first,
        &d(false, "Waiting"),
        &["Ready"],
        Some(1),
        &t("2026-01-02T00:00:00Z"),
    );
    assert_eq!(same[0].last_transition_time, t("2026-01-01T00:00:00Z"));
    assert_eq!(same[0].reason, "Waiting");
    let flipped = merge(
        &same,
        &d(true, "Active"),
        &["Ready"],
        Some(2),
        &t("2026-01-03T00:00:00Z"),
    );
    assert_eq!(flipped[0].last_transition_time, t("2026-01-03T00:00:00Z"));
    assert_eq!(flipped[0].observed_generation, Some(2));
}

#[test]
fn unmanaged_conditions_are_kept_and_managed_ones_dropped() {
    let now = t("2026-01-01T00:00:00Z");
    let current = merge(
        &[],
        &[
            Desired::new("Foreign", true, "X", ""),
            Desired::new("Old", true, "Y", ""),
        ],
        &[],
        None,
        &now,
    );
    let out = merge(
        &current,
        &[Desired::new("Ready", true, "Z", "")],
        &["Ready", "Old"],
        None,
        &now,
    );
    let types: Vec<_> = out.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Ready", "Foreign"]);
}
