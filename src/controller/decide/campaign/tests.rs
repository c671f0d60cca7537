//! What a campaign's hold on a number says, and when it warns.

use super::*;
use crate::controller::fixtures::{NOW, ts};

fn reason(s: &PhoneNumberStatus, type_: &str) -> Option<(String, String)> {
    conditions::find(&s.conditions, type_).map(|c| (c.status.clone(), c.reason.clone()))
}

#[test]
fn a_held_release_names_the_campaign_and_warns_once_per_reason() {
    let pn = PhoneNumber::test().release_policy().owned("pn_1").build();
    let mut status = pn.status.clone().unwrap_or_default();
    let in_use = Hold::InUse("camp_1 (\"Spring\", running)".into());
    let first = release_held(&pn, &mut status, &in_use, ts(NOW));
    let note = first.expect("a Warning the first time");
    assert_eq!(note.reason, "InUseByCampaign");
    assert!(
        note.message.contains("camp_1 (\"Spring\", running)"),
        "{}",
        note.message
    );
    assert_eq!(
        reason(&status, types::RELEASE_FAILED),
        Some(("True".into(), "InUseByCampaign".into()))
    );
    assert_eq!(
        reason(&status, types::READY),
        Some(("False".into(), "InUseByCampaign".into()))
    );
    // Talkturo's 409 for the same campaign is the same reason: no second Warning.
    let refused = Hold::Refused("409: in use by camp_1".into());
    assert!(release_held(&pn, &mut status, &refused, ts(NOW)).is_none());
    // An unreadable campaigns list is a new reason: one Warning.
    let unreadable = Hold::Unreadable("503".into());
    let note = release_held(&pn, &mut status, &unreadable, ts(NOW)).expect("new reason");
    assert_eq!(note.reason, "CampaignCheckFailed");
    assert!(release_held(&pn, &mut status, &unreadable, ts(NOW)).is_none());
}

#[test]
fn a_held_move_says_where_the_number_stays_and_where_it_goes() {
    let hold = Hold::InUse("camp_1 (\"Spring\", paused)".into());
    let moved = move_held("+14155550100", "asst_a", Some("asst_b"), &hold);
    assert_eq!((moved.status, moved.reason), (false, "InUseByCampaign"));
    assert!(
        moved.message.contains("stays on assistant asst_a")
            && moved.message.contains("moves to assistant asst_b")
            && moved.message.contains("camp_1"),
        "{}",
        moved.message
    );
    let unassigned = move_held("+14155550100", "asst_a", None, &hold);
    assert!(
        unassigned.message.contains("it is unassigned"),
        "{}",
        unassigned.message
    );
}

#[test]
fn only_campaign_reasons_are_holds() {
    assert!(is_hold_reason("InUseByCampaign") && is_hold_reason("CampaignCheckFailed"));
    assert!(!is_hold_reason("ReleaseFailed"));
}

#[test]
fn a_release_still_held_keeps_ready_saying_so() {
    let pn = PhoneNumber::test().release_policy().owned("pn_1").build();
    let mut status = pn.status.clone().unwrap_or_default();
    let hold = Hold::InUse("camp_1".into());
    release_held(&pn, &mut status, &hold, ts(NOW));
    // The next reconcile's plan says Ready again; the hold puts it back.
    let active = Desired::new(types::READY, true, reasons::ACTIVE, "active".to_owned());
    number_status::merge(&pn, &mut status, &[active], &[], ts(NOW));
    release_still_held(&pn, &mut status, ts(NOW));
    assert_eq!(
        reason(&status, types::READY),
        Some(("False".into(), "InUseByCampaign".into()))
    );
}
