use super::*;

fn rule(
    op: Option<Op>,
    action: FaultAction,
    probability: f64,
    remaining: Option<u32>,
) -> FaultRule {
    FaultRule {
        op,
        action,
        probability,
        remaining,
    }
}

#[test]
fn a_counted_rule_hits_exactly_that_many_requests_of_its_operation() {
    let mut f = Faults::new(1);
    f.set(vec![rule(
        Some(Op::Purchase),
        FaultAction::Status {
            status: 503,
            retry_after_secs: None,
        },
        1.0,
        Some(2),
    )]);
    assert_eq!(f.plan(Op::List).reject, None);
    assert_eq!(f.plan(Op::Purchase).reject, Some((503, None)));
    assert_eq!(f.plan(Op::Purchase).reject, Some((503, None)));
    assert_eq!(f.plan(Op::Purchase).reject, None);
}

#[test]
fn latencies_add_up_and_the_first_decisive_rule_wins() {
    let mut f = Faults::new(1);
    f.set(vec![
        rule(None, FaultAction::Latency { ms: 5 }, 1.0, None),
        rule(None, FaultAction::Latency { ms: 7 }, 1.0, None),
        rule(
            None,
            FaultAction::LostResponse {
                mode: LostMode::Drop,
            },
            1.0,
            None,
        ),
        rule(
            None,
            FaultAction::Status {
                status: 500,
                retry_after_secs: None,
            },
            1.0,
            None,
        ),
    ]);
    let p = f.plan(Op::Search);
    assert_eq!(p.latency, Duration::from_millis(12));
    assert_eq!(
        p.after,
        Some(FaultAction::LostResponse {
            mode: LostMode::Drop
        })
    );
    assert_eq!(p.reject, None);
}

#[test]
fn probabilistic_rules_replay_identically_from_the_same_seed() {
    let run = |seed| {
        let mut f = Faults::new(seed);
        f.set(vec![rule(
            None,
            FaultAction::Status {
                status: 500,
                retry_after_secs: None,
            },
            0.3,
            None,
        )]);
        (0..200)
            .map(|_| f.plan(Op::List).reject.is_some())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(9), run(9));
    let hits = run(9).iter().filter(|h| **h).count();
    assert!(
        (30..90).contains(&hits),
        "about 30% of 200 expected, got {hits}"
    );
}
