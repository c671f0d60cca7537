//! Whether a number is released, as rows.

use super::*;
use crate::controller::fixtures::{NOW, ts};

fn check<'a>(
    pn: &'a PhoneNumber,
    status: &'a PhoneNumberStatus,
    claim_gone: bool,
    deleting: bool,
) -> ReleaseCheck<'a> {
    ReleaseCheck {
        pn,
        status,
        claim_gone,
        deleting,
        now: ts(NOW),
    }
}

#[rustfmt::skip]
#[test]
fn a_number_is_released_only_under_release_when_its_claim_or_object_goes_and_it_is_ours() {
    let owned = || PhoneNumber::test().release_policy().owned("pn_1");
    let release = owned().build();
    let retain = PhoneNumber::test().owned("pn_1").build();
    let imported = owned().observe_only().build();
    let never_bought = PhoneNumber::test().release_policy().build();
    let lost = owned().phase("Lost").build();
    let mismatch = owned().condition("Synced", false, "RecordMismatch", NOW).build();
    let refused_now = owned().condition("ReleaseFailed", true, "ReleaseFailed", "2026-01-01T00:00:30Z").build();
    let refused_long_ago = owned().condition("ReleaseFailed", true, "ReleaseFailed", "2025-12-31T22:00:00Z").build();
    let campaign_now = owned().condition("ReleaseFailed", true, "InUseByCampaign", "2026-01-01T00:00:30Z").build();
    let rows: [(&str, &PhoneNumber, bool, bool, bool); 11] = [
        ("Release, its claim gone: released", &release, true, false, true),
        ("Release, its PhoneNumber deleted: released", &release, false, true, true),
        ("Release, its claim still there: kept", &release, false, false, false),
        ("Retain: kept, whatever went", &retain, true, true, false),
        ("ObserveOnly (imported): never released", &imported, true, true, false),
        ("nothing bought (no record id): nothing to release", &never_bought, true, true, false),
        ("Lost: not released (it is not in the account)", &lost, true, true, false),
        ("its record id in question: not released until an admin checks", &mismatch, true, true, false),
        ("Talkturo refused it half a minute ago: not again within the hour", &refused_now, true, true, false),
        ("Talkturo refused it two hours ago: tried again", &refused_long_ago, true, true, true),
        ("held by a campaign: due again (the account paces it per sync interval)", &campaign_now, true, true, true),
    ];
    for (case, pn, claim_gone, deleting, want) in rows {
        let status = pn.status.clone().unwrap_or_default();
        assert_eq!(check(pn, &status, claim_gone, deleting).wants_release(), want, "{case}");
    }
}

#[test]
fn a_release_records_its_intent_then_its_answer() {
    let pn = PhoneNumber::test().release_policy().owned("pn_1").build();
    let mut status = pn.status.clone().unwrap_or_default();
    releasing(&pn, &mut status, Why::TrialExpired, ts(NOW));
    let ready = |s: &PhoneNumberStatus| {
        conditions::find(&s.conditions, types::READY).map(|c| c.reason.clone())
    };
    assert_eq!(ready(&status).as_deref(), Some("Releasing"));
    let mut done = status.clone();
    let note = released(&pn, &mut done, "pn_1", Why::TrialExpired, ts(NOW));
    assert_eq!(ready(&done).as_deref(), Some("Released"));
    assert!(
        note.message.contains("because its trial expired"),
        "{}",
        note.message
    );
    let mut refused = status.clone();
    let first = release_refused(&pn, &mut refused, "403 no", ts(NOW));
    assert_eq!(
        ready(&refused).as_deref(),
        Some("ReleaseFailed"),
        "no longer Releasing: an absence would be a loss"
    );
    assert!(first.is_some(), "a Warning the first time");
    let again = release_refused(&pn, &mut refused, "403 no", ts(NOW));
    assert!(again.is_none(), "not again while it stands");
}
