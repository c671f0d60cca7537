//! Each answer to a purchase call, as rows: what the status records.

use super::*;
use crate::controller::decide::time::time_ceil;
use crate::controller::fixtures::{NOW, record, ts};

#[rustfmt::skip]
#[test]
fn every_answer_records_the_attempt_and_only_a_success_records_the_number() {
    let pn = PhoneNumber::test().build();
    let at = time_ceil(ts(NOW));
    let grace = Duration::from_secs(3);
    let (_, bought) = bought(&pn, &record("+14155550101", "pn_1"), ClaimLink::Present, &at, ts(NOW));
    let owned = already_owned(&pn, &at, grace);
    let refused_limit = refused(&pn, true, "403 plan", &at, ts(NOW));
    let refused_other = refused(&pn, false, "404 gone", &at, ts(NOW));
    let unknown = unknown(&pn, "timed out", &at, grace, ts(NOW));
    let mismatched = mismatch(&pn, ("+14155550999", "pn_9"), "tracked", &at, ts(NOW));
    type Row<'a> = (&'a str, &'a PhoneNumberStatus, Option<&'a str>, bool, Option<NumberPhase>);
    let rows: [Row; 6] = [
        ("bought: the record, mirrored", &bought.status, Some("pn_1"), false, Some(NumberPhase::Bound)),
        ("already owned: settled from the list", &owned.status, None, true, None),
        ("refused for the plan limit: Failed", &refused_limit.status, None, false, Some(NumberPhase::Failed)),
        ("refused otherwise: Failed", &refused_other.status, None, false, Some(NumberPhase::Failed)),
        ("unknown outcome: settled from the list", &unknown.status, None, true, Some(NumberPhase::Purchasing)),
        ("an answer about another number: settled, never taken as this one", &mismatched, None, true, Some(NumberPhase::Purchasing)),
    ];
    for (case, st, id, settling, phase) in rows {
        let p = st.purchase.clone().unwrap_or_default();
        assert_eq!(p.attempts, 1, "{case}: the attempt is counted");
        assert_eq!(p.last_attempt_time.as_ref(), Some(&at), "{case}: when it came back");
        assert_eq!(st.id.as_deref(), id, "{case}");
        assert_eq!(p.outcome_unknown_since.is_some(), settling, "{case}");
        assert_eq!(st.phase, phase, "{case}");
    }
    assert_eq!(refused_limit.note.map(|n| n.reason), Some("PlanLimitReached"));
    assert_eq!(refused_other.requeue, requeue::REFUSED);
    assert!(!unknown.note.is_some_and(|n| n.warning), "an unknown outcome is not a Warning yet");
    assert!(mismatch_note(&mismatched).message.contains("+14155550999"));
}

/// A purchase of unknown outcome, settled as not taken (absent from two lists) and sent again,
/// refused this time: the refusal settles it (nothing is in doubt any more). Left in doubt, a
/// deleted PhoneNumber waited for it for ever (chaos_replicas seed 1665241289411983647: a 500,
/// then a 400).
#[test]
fn a_refusal_after_an_unknown_outcome_leaves_nothing_in_doubt() {
    let at = time_ceil(ts(NOW));
    let grace = Duration::from_secs(3);
    let first = unknown(
        &PhoneNumber::test().build(),
        "HTTP 500",
        &at,
        grace,
        ts(NOW),
    );
    let mut pn = PhoneNumber::test().build();
    pn.status = Some(first.status);
    if let Some(p) = pn.status.as_mut().and_then(|s| s.purchase.as_mut()) {
        p.absent_listings = 2;
        p.last_listing_time = Some(at.clone());
    }
    let refused = refused(&pn, false, "400 bad request", &at, ts(NOW));
    let p = refused.status.purchase.unwrap_or_default();
    assert_eq!(p.attempts, 2);
    assert_eq!(p.outcome_unknown_since, None);
    assert_eq!((p.absent_listings, p.last_listing_time), (0, None));
    assert_eq!(refused.status.phase, Some(NumberPhase::Failed));
}
