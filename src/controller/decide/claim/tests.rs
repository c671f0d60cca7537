//! The claim plan as rows: binding an existing PhoneNumber, a lost binding, a recorded candidate,
//! a refused purchase.

use serde_json::json;

use super::*;
use crate::controller::fixtures::{NOW, ts};

fn word(b: Bind) -> String {
    match b {
        Bind::Ours => "ours".into(),
        Bind::Take => "take".into(),
        Bind::Refused(p) => p.reason.into(),
    }
}

#[test]
fn an_existing_phone_number_is_bound_only_when_free_managed_usable_and_of_the_class() {
    let claim = PhoneNumberClaim::test().build();
    let class = PhoneNumberClass::test().build();
    let other_class = PhoneNumberClass::test()
        .with(json!({"metadata": {"name": "premium"}}))
        .build();
    let rows: [(&str, PhoneNumber, Option<&PhoneNumberClass>, &str); 8] = [
        (
            "bound to this claim already: ours",
            PhoneNumber::test().build(),
            Some(&class),
            "ours",
        ),
        (
            "free and of the claim's class: taken",
            PhoneNumber::test().unbound().build(),
            Some(&class),
            "take",
        ),
        (
            "named by the claim (no class to match): taken",
            PhoneNumber::test().unbound().build(),
            None,
            "take",
        ),
        (
            "bound to another claim: refused",
            PhoneNumber::test().claimed_by("app", "other").build(),
            Some(&class),
            "NumberTaken",
        ),
        (
            "imported (ObserveOnly): only an admin gives it away",
            PhoneNumber::test().observe_only().build(),
            Some(&class),
            "PhoneNumberUnavailable",
        ),
        (
            "of another class: refused",
            PhoneNumber::test().unbound().build(),
            Some(&other_class),
            "PhoneNumberUnavailable",
        ),
        (
            "lost from the account: refused",
            PhoneNumber::test().unbound().phase("Lost").build(),
            Some(&class),
            "PhoneNumberUnavailable",
        ),
        (
            "a refused purchase: refused",
            PhoneNumber::test().unbound().phase("Failed").build(),
            Some(&class),
            "PhoneNumberUnavailable",
        ),
    ];
    for (case, pn, class, want) in rows {
        assert_eq!(word(bind_existing(&claim, &pn, class)), want, "{case}");
    }
}

#[test]
fn a_number_held_in_another_namespace_is_never_named() {
    let claim = PhoneNumberClaim::test().build();
    let theirs = PhoneNumber::test()
        .claimed_by("team-b", "secret-line")
        .build();
    let Bind::Refused(p) = bind_existing(&claim, &theirs, None) else {
        panic!("taken");
    };
    assert!(
        !p.message.contains("secret-line") && !p.message.contains("team-b"),
        "{}",
        p.message
    );
    assert!(
        p.message.contains("a claim in another namespace"),
        "{}",
        p.message
    );
    let mine = PhoneNumber::test().claimed_by("app", "other").build();
    let Bind::Refused(p) = bind_existing(&claim, &mine, None) else {
        panic!("taken");
    };
    assert!(p.message.contains("claim other"), "{}", p.message);
}

#[test]
fn a_claim_whose_phone_number_went_away_is_lost_and_buys_nothing_by_itself() {
    let bound = PhoneNumberClaim::test().bound_to("tel-14155550101").build();
    let trial = PhoneNumberClaim::test()
        .bound_to("tel-14155550101")
        .with(json!({"status": {"isTrial": true, "trialExpiresAt": "2026-01-01T00:00:30Z"}}))
        .build();
    let taken = PhoneNumber::test().claimed_by("app", "other").build();
    let unbound = PhoneNumber::test().unbound().build();
    let rows: [(&str, &PhoneNumberClaim, Option<&PhoneNumber>, Option<&str>); 5] = [
        (
            "its PhoneNumber was deleted",
            &bound,
            None,
            Some("PhoneNumberDeleted"),
        ),
        (
            "its expired trial number was released (onExpiry Release)",
            &trial,
            None,
            Some("TrialExpired"),
        ),
        (
            "its PhoneNumber is bound to another claim now",
            &bound,
            Some(&taken),
            Some("PhoneNumberDeleted"),
        ),
        (
            "its PhoneNumber was unbound by an admin: bound again, not lost",
            &bound,
            Some(&unbound),
            None,
        ),
        (
            "a claim never bound loses nothing",
            &PhoneNumberClaim::test().build(),
            None,
            None,
        ),
    ];
    for (case, claim, named, want) in rows {
        assert_eq!(
            lost_binding(claim, named, ts(NOW)).map(|(r, _)| r),
            want,
            "{case}"
        );
    }
}

#[test]
fn a_recorded_candidate_is_carried_on_created_or_dropped() {
    let claim = PhoneNumberClaim::test().build();
    let ours = PhoneNumber::test().build();
    let theirs = PhoneNumber::test().claimed_by("app", "other").build();
    let unbound = PhoneNumber::test()
        .with(serde_json::json!({"spec": {"claimRef": null}}))
        .build();
    let rows: [(&str, Option<&PhoneNumber>, bool, Candidate); 5] = [
        (
            "its PhoneNumber is ours: the watch brings the purchase",
            Some(&ours),
            false,
            Candidate::InProgress,
        ),
        (
            "created moments ago by this process, not cached yet",
            None,
            true,
            Candidate::InProgress,
        ),
        (
            "no PhoneNumber (a crash between intent and creation): create it",
            None,
            false,
            Candidate::Create,
        ),
        (
            "taken by another claim: dropped",
            Some(&theirs),
            false,
            Candidate::Taken("+14155550101 was taken by claim other".into()),
        ),
        (
            // chaos_replicas seed 4259641583821848689: the number a mismatched purchase answer
            // named got an ObserveOnly PhoneNumber; a claim later chose it from a search, found
            // the PhoneNumber there, and waited for it for ever without a word.
            "tracked by a PhoneNumber bound to no claim: dropped",
            Some(&unbound),
            false,
            Candidate::Taken(
                "+14155550101 is already tracked by PhoneNumber tel-14155550101, bound to no claim"
                    .into(),
            ),
        ),
    ];
    for (case, pn, just_created, want) in rows {
        assert_eq!(
            candidate(&claim, "+14155550101", pn, just_created),
            want,
            "{case}"
        );
    }
    // Dropping it: a claim for that exact number waits; any other tries the next at once.
    let exact = PhoneNumberClaim::test().number("+14155550101").build();
    assert_eq!(
        drop_candidate(&exact, "taken".into())
            .map(drop)
            .unwrap_err()
            .reason,
        "NumberTaken"
    );
    let (progress, p) = drop_candidate(&claim, "taken".into()).unwrap();
    assert_eq!(
        (progress.candidate, p.reason, p.requeue),
        (None, "Purchasing", requeue::NEXT_STEP)
    );
}

#[test]
fn a_refused_purchase_backs_off_doubling_up_to_the_longest_wait() {
    let base = Duration::from_secs(5);
    let max = Duration::from_secs(600);
    for (attempts, secs) in [
        (1, 5),
        (2, 10),
        (3, 20),
        (8, 600),
        (40, 600),
        (0, 5),
        (-3, 5),
    ] {
        assert_eq!(
            backoff(attempts, base, max),
            Duration::from_secs(secs),
            "attempt {attempts}"
        );
    }
}

#[test]
fn a_refusal_counts_against_the_claim_only_when_it_was_its_candidate() {
    let refused = PhoneNumber::test()
        .phase("Failed")
        .with(json!({"status": {"purchase": {"failureReason": "PurchaseFailed", "failureMessage": "sold out"}}}))
        .build();
    let limit = PhoneNumber::test()
        .phase("Failed")
        .with(json!({"status": {"purchase": {"failureReason": "PlanLimitReached", "failureMessage": "plan full"}}}))
        .build();
    let buying = PhoneNumberClaim::test()
        .purchase(json!({"candidate": "+14155550101", "attempts": 1}))
        .build();
    let retry = (Duration::from_secs(5), Duration::from_secs(600));
    let r = refusal(&buying, &refused, retry, ts(NOW));
    assert!(r.warn, "the claim's own refusal is a Warning");
    assert_eq!(r.progress.attempts, 2);
    assert_eq!(r.progress.candidate, None);
    assert_eq!(
        r.progress.next_retry_time.map(|t| t.0),
        Some(ts("2026-01-01T00:01:10Z")),
        "10s: the second attempt"
    );
    let p = r.pending.unwrap();
    assert_eq!(
        (p.reason, p.message.as_str()),
        ("PurchaseFailed", "sold out; next attempt in 10s")
    );
    let p = refusal(&buying, &limit, retry, ts(NOW)).pending.unwrap();
    assert_eq!(p.reason, "PlanLimitReached", "the plan limit says so");
    // A number the claim had already let go of (another candidate now): nothing counted.
    let moved_on = PhoneNumberClaim::test()
        .purchase(json!({"candidate": "+14155550999", "attempts": 1}))
        .build();
    let r = refusal(&moved_on, &refused, retry, ts(NOW));
    assert_eq!((r.warn, r.pending, r.progress.attempts), (false, None, 1));
    // Bound to it (its name in status): let go of it before it goes.
    let bound = PhoneNumberClaim::test()
        .bound_to("tel-14155550101")
        .purchase(json!({"candidate": "+14155550999"}))
        .build();
    let r = refusal(&bound, &refused, retry, ts(NOW));
    assert_eq!(r.pending.map(|p| p.reason), Some("Purchasing"));
}
