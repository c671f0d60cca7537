use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ObjectMeta;

use super::*;
use crate::controller::decide::events::Note;
use std::time::Duration;

use crate::api::v1alpha1::NumberPurchase;
use crate::api::v1alpha1::{ClaimRef, PhoneNumberSpec, ReclaimPolicy};
use crate::controller::decide::freshness::{
    absence_undecided, presence_undecided, required_freshness,
};
use crate::controller::decide::number_status::trusted;
use crate::talkturo::NumberRecord;
use jiff::SignedDuration;

#[test]
fn only_a_release_recorded_or_intended_explains_an_absent_number() {
    let with_ready = |reason: &str| PhoneNumberStatus {
        conditions: vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
            type_: "Ready".into(),
            status: "False".into(),
            reason: reason.into(),
            message: String::new(),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
            observed_generation: None,
        }],
        ..Default::default()
    };
    for (reason, ours) in [
        // Talkturo confirmed the release.
        ("Released", true),
        // The intent was recorded; the process stopped (or the API server was away) before
        // the outcome was: the absence is the release's.
        ("Releasing", true),
        // A refused release keeps the number: its absence would be a loss.
        ("ReleaseFailed", false),
        ("Active", false),
        ("Lost", false),
    ] {
        assert_eq!(released_by_us(&with_ready(reason)), ours, "{reason}");
    }
    assert!(!released_by_us(&PhoneNumberStatus::default()), "no status");
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn number(status: Option<PhoneNumberStatus>) -> PhoneNumber {
    PhoneNumber {
        metadata: ObjectMeta {
            name: Some("tel-14155550101".into()),
            generation: Some(1),
            creation_timestamp: Some(Time(ts("2026-01-01T00:00:00Z"))),
            ..Default::default()
        },
        spec: PhoneNumberSpec {
            number: "+14155550101".into(),
            class_name: "standard".into(),
            claim_ref: Some(ClaimRef {
                namespace: "app".into(),
                name: "line".into(),
                uid: None,
            }),
            assistant_id: None,
            reclaim_policy: ReclaimPolicy::Retain,
            management_policy: ManagementPolicy::Managed,
        },
        status,
    }
}

fn record(status: NumberStatus) -> NumberRecord {
    // Sub-second timestamps, as the service sends them.
    serde_json::from_value::<NumberRecord>(serde_json::json!({"id": "pn_1", "phone_number": "+14155550101", "provider_id": "tx_1",
        "created_at": "2025-12-31T23:59:58.123456789Z", "is_trial": true, "trial_expires_at": "2026-01-05T23:59:58.5Z"}))
        .map(|mut r| {
            r.status = status;
            r
        })
        .unwrap()
}

fn snapshot(at: &str, records: Vec<NumberRecord>) -> Snapshot {
    snapshot_at(ts(at), records)
}

fn snapshot_at(started_at: Timestamp, records: Vec<NumberRecord>) -> Snapshot {
    Snapshot::new(
        started_at,
        records
            .into_iter()
            .map(|r| (r.phone_number.clone(), r))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn cfg() -> crate::controller::Config {
    crate::controller::Config::default()
}

static CFG: std::sync::LazyLock<Config> = std::sync::LazyLock::new(Config::default);

/// What the plan is decided on: `snapshot`, the claim's presence, the time, the plan limit.
fn seen(snapshot: &Snapshot, link: ClaimLink, now: Timestamp, purchase_blocked: bool) -> Seen<'_> {
    Seen {
        snapshot,
        link,
        sync: std::time::Duration::from_secs(60),
        purchase_blocked,
        cfg: &CFG,
        now,
    }
}

fn unknown_since(at: &str, absent: i32, last: Option<&str>) -> Option<PhoneNumberStatus> {
    Some(PhoneNumberStatus {
        purchase: Some(NumberPurchase {
            attempts: 1,
            last_attempt_time: Some(Time(ts(at))),
            outcome_unknown_since: Some(Time(ts(at))),
            absent_listings: absent,
            last_listing_time: last.map(|l| Time(ts(l))),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn settled(p: Plan) -> (PhoneNumberStatus, Duration, Option<Note>) {
    match p {
        Plan::Settle {
            status,
            requeue,
            event,
        } => (*status, requeue, event),
        Plan::Buy => panic!("expected Settle, got Buy"),
    }
}

const NOW: &str = "2026-01-01T00:01:00Z";

#[test]
fn a_number_absent_from_a_list_sent_after_it_was_created_is_bought() {
    let p = plan(
        &number(None),
        &seen(
            &snapshot("2026-01-01T00:00:30Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    );
    assert_eq!(p, Plan::Buy);
}

#[test]
fn a_number_already_in_the_account_is_adopted_not_bought() {
    let (st, _, ev) = settled(plan(
        &number(None),
        &seen(
            &snapshot(NOW, vec![record(NumberStatus::Active)]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    ));
    assert_eq!(st.id.as_deref(), Some("pn_1"));
    assert_eq!(st.phase, Some(NumberPhase::Bound));
    assert_eq!(ev.map(|e| e.reason), Some("Adopted"));
}

#[test]
fn an_unknown_outcome_is_bought_again_only_after_two_lists_without_it() {
    let pn = number(unknown_since("2026-01-01T00:00:10Z", 0, None));
    let (st, _, _) = settled(plan(
        &pn,
        &seen(
            &snapshot("2026-01-01T00:00:20Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    ));
    let p = st.purchase.clone().unwrap();
    assert_eq!(p.absent_listings, 1);
    // The same list again does not count twice.
    let pn = number(Some(st));
    let (st, _, _) = settled(plan(
        &pn,
        &seen(
            &snapshot("2026-01-01T00:00:20Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    ));
    assert_eq!(st.purchase.as_ref().unwrap().absent_listings, 1);
    // A newer list without it: buy the same exact number again.
    let pn = number(Some(st));
    assert_eq!(
        plan(
            &pn,
            &seen(
                &snapshot("2026-01-01T00:00:25Z", vec![]),
                ClaimLink::Present,
                ts(NOW),
                false
            )
        ),
        Plan::Buy
    );
}

#[test]
fn after_a_mismatched_answer_an_absent_number_fails_and_is_not_bought_again() {
    let mut st = unknown_since("2026-01-01T00:00:10Z", 1, Some("2026-01-01T00:00:20Z"));
    if let Some(p) = st.as_mut().and_then(|s| s.purchase.as_mut()) {
        p.failure_reason = Some(reasons::PURCHASE_MISMATCH.to_owned());
        p.failure_message = Some("answered with another number".into());
    }
    let (st, _, _) = settled(plan(
        &number(st),
        &seen(
            &snapshot("2026-01-01T00:00:25Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    ));
    assert_eq!(st.phase, Some(NumberPhase::Failed));
    let p = st.purchase.unwrap();
    assert_eq!(p.outcome_unknown_since, None, "settled: deletable");
    assert_eq!(
        p.failure_reason.as_deref(),
        Some(reasons::PURCHASE_MISMATCH)
    );
}

#[test]
fn a_number_listed_under_another_id_keeps_its_recorded_id_and_says_so() {
    let owned = PhoneNumberStatus {
        id: Some("pn_0".into()),
        phase: Some(NumberPhase::Bound),
        ..Default::default()
    };
    let (st, _, ev) = settled(plan(
        &number(Some(owned)),
        &seen(
            &snapshot(NOW, vec![record(NumberStatus::Active)]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    ));
    assert_eq!(st.id.as_deref(), Some("pn_0"));
    let synced = conditions::find(&st.conditions, types::SYNCED).unwrap();
    assert_eq!(
        (synced.status.as_str(), synced.reason.as_str()),
        ("False", reasons::RECORD_MISMATCH)
    );
    assert_eq!(ev.map(|e| e.reason), Some(reasons::RECORD_MISMATCH));
    assert!(
        !trusted(&st),
        "neither assigned nor released until an admin checks"
    );
}

#[test]
fn a_list_sent_before_the_attempt_does_not_count_as_absence() {
    let pn = number(unknown_since(
        "2026-01-01T00:00:10Z",
        1,
        Some("2026-01-01T00:00:11Z"),
    ));
    let (st, _, _) = settled(plan(
        &pn,
        &seen(
            &snapshot("2026-01-01T00:00:09Z", vec![]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    ));
    assert_eq!(st.purchase.unwrap().absent_listings, 1);
}

#[test]
fn an_outcome_unsettled_for_too_long_is_raised_to_a_human() {
    let pn = number(unknown_since("2026-01-01T00:00:00Z", 0, None));
    let late = ts("2026-01-01T00:20:00Z");
    let (st, _, ev) = settled(plan(
        &pn,
        &seen(
            &snapshot("2026-01-01T00:00:01Z", vec![]),
            ClaimLink::Present,
            late,
            false,
        ),
    ));
    assert!(conditions::is_true(
        &st.conditions,
        types::PURCHASE_OUTCOME_UNKNOWN
    ));
    assert_eq!(
        ev.map(|e| (e.warning, e.reason)),
        Some((true, "PurchaseOutcomeUnknown"))
    );
}

#[test]
fn an_owned_number_missing_from_the_list_is_lost_with_a_warning_once() {
    let pn = number(Some(PhoneNumberStatus {
        id: Some("pn_1".into()),
        phase: Some(NumberPhase::Bound),
        ..Default::default()
    }));
    let (st, _, ev) = settled(plan(
        &pn,
        &seen(&snapshot(NOW, vec![]), ClaimLink::Present, ts(NOW), false),
    ));
    assert_eq!(st.phase, Some(NumberPhase::Lost));
    assert_eq!(
        ev.map(|e| (e.warning, e.reason)),
        Some((true, "NumberLost"))
    );
    let (_, _, again) = settled(plan(
        &number(Some(st)),
        &seen(&snapshot(NOW, vec![]), ClaimLink::Present, ts(NOW), false),
    ));
    assert_eq!(again, None);
}

#[test]
fn observe_only_numbers_and_a_reached_plan_limit_never_buy() {
    let mut pn = number(None);
    pn.spec.management_policy = ManagementPolicy::ObserveOnly;
    let (st, _, _) = settled(plan(
        &pn,
        &seen(&snapshot(NOW, vec![]), ClaimLink::Unbound, ts(NOW), false),
    ));
    assert_eq!(st.phase, Some(NumberPhase::Lost));
    let (st, _, _) = settled(plan(
        &number(None),
        &seen(&snapshot(NOW, vec![]), ClaimLink::Present, ts(NOW), true),
    ));
    assert_eq!(st.phase, Some(NumberPhase::Failed));
    assert_eq!(
        st.purchase.unwrap().failure_reason.as_deref(),
        Some(reasons::PLAN_LIMIT_REACHED)
    );
}

/// A Failed number has no purchase in doubt, even one an earlier version left beside the
/// failure: its settled status drops it (else a deleted PhoneNumber waits on it for ever).
#[test]
fn a_failed_number_has_no_purchase_in_doubt() {
    let mut st = unknown_since("2026-01-01T00:00:00Z", 2, Some("2026-01-01T00:00:30Z"));
    if let Some(s) = st.as_mut() {
        s.phase = Some(NumberPhase::Failed);
    }
    let (st, _, _) = settled(plan(
        &number(st),
        &seen(&snapshot(NOW, vec![]), ClaimLink::Present, ts(NOW), false),
    ));
    assert_eq!(st.phase, Some(NumberPhase::Failed));
    assert_eq!(st.purchase.unwrap().outcome_unknown_since, None);
}

#[test]
fn the_phase_follows_the_claim_and_the_provider_status() {
    for (link, phase) in [
        (ClaimLink::Present, NumberPhase::Bound),
        (ClaimLink::Missing, NumberPhase::Released),
        (ClaimLink::Unbound, NumberPhase::Available),
    ] {
        let (st, _, _) = settled(plan(
            &number(None),
            &seen(
                &snapshot(NOW, vec![record(NumberStatus::Active)]),
                link,
                ts(NOW),
                false,
            ),
        ));
        assert_eq!(st.phase, Some(phase));
    }
    let (st, requeue, _) = settled(plan(
        &number(None),
        &seen(
            &snapshot(NOW, vec![record(NumberStatus::Purchasing)]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    ));
    assert_eq!(
        conditions::find(&st.conditions, types::READY).map(|c| c.reason.as_str()),
        Some(reasons::PURCHASING)
    );
    assert_eq!(requeue, cfg().fast_sync);
    let (st, _, _) = settled(plan(
        &number(None),
        &seen(
            &snapshot(NOW, vec![record(NumberStatus::Suspended)]),
            ClaimLink::Present,
            ts(NOW),
            false,
        ),
    ));
    assert_eq!(
        conditions::find(&st.conditions, types::READY)
            .map(|c| (c.status.as_str(), c.reason.as_str())),
        Some(("False", reasons::PROVIDER_STATUS))
    );
}

#[test]
fn mirroring_the_same_record_again_changes_nothing() {
    let snap = snapshot(NOW, vec![record(NumberStatus::Active)]);
    let (first, _, _) = settled(plan(
        &number(None),
        &seen(&snap, ClaimLink::Present, ts(NOW), false),
    ));
    // What the API server stores and the cache then holds.
    let stored: PhoneNumberStatus =
        serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
    assert_eq!(first, stored, "the status survives storage unchanged");
    let later = snapshot("2026-01-01T00:05:00Z", vec![record(NumberStatus::Active)]);
    let (second, _, _) = settled(plan(
        &number(Some(stored)),
        &seen(
            &later,
            ClaimLink::Present,
            ts("2026-01-01T00:05:00Z"),
            false,
        ),
    ));
    assert_eq!(first, second, "a steady state must not write");
}

#[test]
fn a_first_purchase_takes_any_list_and_everything_else_one_sent_after_creation() {
    let c = cfg();
    let sync = Duration::from_secs(60);
    let created_plus_1 = ts("2026-01-01T00:00:01Z");
    // Never sent to Talkturo: whatever list the account has (a purchase already made answers
    // 409 and is adopted).
    assert_eq!(
        required_freshness(&number(None), &c, sync, ts(NOW)),
        Timestamp::MIN
    );
    // Deleting, or ObserveOnly: deciding it was never bought takes a list sent after the
    // object existed (the second after its whole-second creation timestamp).
    let mut deleting = number(None);
    deleting.metadata.deletion_timestamp = Some(Time(ts("2026-01-01T00:00:00Z")));
    let mut observed = number(None);
    observed.spec.management_policy = ManagementPolicy::ObserveOnly;
    for pn in [&deleting, &observed] {
        assert_eq!(
            required_freshness(pn, &c, sync, ts(NOW)),
            ts(NOW) - SignedDuration::try_from(c.fast_sync).unwrap()
        );
        assert_eq!(
            required_freshness(pn, &c, sync, ts("2026-01-01T00:00:01Z")),
            created_plus_1,
            "a list older than the object cannot show what was bought for it"
        );
    }
    // Refused before (Failed, one attempt): not a first purchase either.
    let failed = number(Some(PhoneNumberStatus {
        purchase: Some(NumberPurchase {
            attempts: 1,
            ..Default::default()
        }),
        ..Default::default()
    }));
    assert_eq!(
        required_freshness(&failed, &c, sync, ts("2026-01-01T00:00:01Z")),
        created_plus_1
    );
    let pn = number(unknown_since("2026-01-01T00:00:50Z", 0, None));
    let t = required_freshness(&pn, &c, sync, ts("2026-01-01T00:00:51Z"));
    assert_eq!(
        t,
        ts("2026-01-01T00:00:50Z") + SignedDuration::try_from(c.purchase_grace).unwrap(),
        "a grace period after the attempt, even if that is in the future"
    );
}

#[test]
fn a_number_never_bought_is_adopted_only_from_a_list_sent_after_its_object_existed() {
    let pn = number(None);
    let shown_before = snapshot("2026-01-01T00:00:00.5Z", vec![record(NumberStatus::Active)]);
    assert_eq!(
        presence_undecided(&pn, &shown_before),
        Some(ts("2026-01-01T00:00:01Z")),
        "a list from before the object may show a number released since"
    );
    let shown_after = snapshot("2026-01-01T00:00:01Z", vec![record(NumberStatus::Active)]);
    assert_eq!(presence_undecided(&pn, &shown_after), None);
    assert_eq!(
        presence_undecided(&pn, &snapshot("2025-12-31T00:00:00Z", vec![])),
        None,
        "absent: bought (a purchase that took effect before answers 409)"
    );
    let owned = number(Some(PhoneNumberStatus {
        id: Some("pn_1".into()),
        ..Default::default()
    }));
    assert_eq!(presence_undecided(&owned, &shown_before), None);
}

#[test]
fn just_bought_any_list_showing_it_serves_and_absence_waits_for_a_later_list_and_the_grace() {
    let attempt = "2026-01-01T00:00:59Z";
    let st = PhoneNumberStatus {
        id: Some("pn_1".into()),
        provider_status: Some("purchasing".into()),
        purchase: Some(NumberPurchase {
            last_attempt_time: Some(Time(ts(attempt))),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pn = number(Some(st));
    let t = required_freshness(&pn, &cfg(), Duration::from_secs(60), ts(NOW));
    assert_eq!(
        t,
        ts(NOW) - SignedDuration::try_from(cfg().fast_sync).unwrap(),
        "purchasing: fast sync, not one list per reconcile until the grace is over"
    );
    let grace = SignedDuration::try_from(cfg().purchase_grace).unwrap();
    let before = ts(attempt) - SignedDuration::from_millis(500);
    let within = ts(attempt) + SignedDuration::from_millis(500);
    let after = ts(attempt) + grace;
    // A list that shows it serves, however old (the one sent right after the purchase).
    let shown = snapshot_at(before, vec![record(NumberStatus::Active)]);
    assert_eq!(absence_undecided(&pn, &shown, &cfg()), None);
    // Missing: first a list sent after the purchase, then one after the grace.
    assert_eq!(
        absence_undecided(&pn, &snapshot_at(before, vec![]), &cfg()),
        Some(ts(attempt))
    );
    assert_eq!(
        absence_undecided(&pn, &snapshot_at(within, vec![]), &cfg()),
        Some(after)
    );
    assert_eq!(
        absence_undecided(&pn, &snapshot_at(after, vec![]), &cfg()),
        None
    );
    assert_eq!(
        absence_undecided(&number(None), &snapshot_at(before, vec![]), &cfg()),
        None,
        "nothing bought: absence is the normal case"
    );
}

#[test]
fn a_settled_number_is_served_by_the_class_list_of_the_last_interval_and_a_half() {
    let mut st = PhoneNumberStatus {
        id: Some("pn_1".into()),
        provider_status: Some("active".into()),
        ..Default::default()
    };
    let t = required_freshness(
        &number(Some(st.clone())),
        &cfg(),
        Duration::from_secs(60),
        ts(NOW),
    );
    assert_eq!(t, ts(NOW) - SignedDuration::from_secs(90));
    st.provider_status = Some("purchasing".into());
    let t = required_freshness(&number(Some(st)), &cfg(), Duration::from_secs(60), ts(NOW));
    assert_eq!(
        t,
        ts(NOW) - SignedDuration::try_from(cfg().fast_sync).unwrap(),
        "purchasing: fast sync"
    );
}

/// A release only intended (its answer failed or was lost) is no proof the number left: a held
/// list that lacks it holds it, where a confirmed release goes.
#[test]
fn a_release_only_intended_is_held_by_a_suspect_list() {
    use crate::controller::fixtures::{NOW as FIX_NOW, listing};
    let sync = Duration::from_secs(60);
    let mut suspect = listing(FIX_NOW, vec![]);
    suspect.unconfirmed.insert("+14155550101".into());
    let releasing = PhoneNumber::test()
        .owned("pn_1")
        .condition("Ready", false, "Releasing", FIX_NOW)
        .build();
    assert_eq!(hold(&releasing, &suspect, sync), Some(Hold::Suspect(sync)));
    let deleting = PhoneNumber::test()
        .owned("pn_1")
        .condition("Ready", false, "Releasing", FIX_NOW)
        .deleting()
        .build();
    assert_eq!(hold(&deleting, &suspect, sync), Some(Hold::Suspect(sync)));
}

#[test]
fn nothing_is_decided_about_a_number_a_suspect_list_lacks_and_a_number_released_goes_quietly() {
    use crate::controller::fixtures::{NOW as FIX_NOW, listing};
    let sync = Duration::from_secs(60);
    let mut suspect = listing(FIX_NOW, vec![]);
    suspect.unconfirmed.insert("+14155550101".into());
    let empty = listing(FIX_NOW, vec![]);
    let shown = listing(
        FIX_NOW,
        vec![crate::controller::fixtures::record("+14155550101", "pn_1")],
    );
    let released = PhoneNumber::test()
        .owned("pn_1")
        .condition("Ready", false, "Released", FIX_NOW)
        .build();
    let releasing = PhoneNumber::test()
        .owned("pn_1")
        .condition("Ready", false, "Releasing", FIX_NOW)
        .build();
    let rows: [(&str, PhoneNumber, &Snapshot, Option<Hold>); 9] = [
        (
            "released by this operator, though a hold lacks it too: the object goes",
            released.clone(),
            &suspect,
            Some(Hold::Gone { deleting: false }),
        ),
        (
            "being deleted while a hold lacks it: held, the finalizer stays",
            PhoneNumber::test().owned("pn_1").deleting().build(),
            &suspect,
            Some(Hold::Suspect(sync)),
        ),
        (
            "a suspect list lacks it: nothing decided until it is confirmed",
            PhoneNumber::test().owned("pn_1").build(),
            &suspect,
            Some(Hold::Suspect(sync)),
        ),
        (
            "owned, absent, nothing else: the plan marks it Lost",
            PhoneNumber::test().owned("pn_1").build(),
            &empty,
            None,
        ),
        (
            "owned, absent, being deleted: the object goes",
            PhoneNumber::test().owned("pn_1").deleting().build(),
            &empty,
            Some(Hold::Gone { deleting: true }),
        ),
        (
            "released by this operator and absent: the object goes",
            released,
            &empty,
            Some(Hold::Gone { deleting: false }),
        ),
        (
            "its release intended (the process stopped before the answer): the object goes",
            releasing,
            &empty,
            Some(Hold::Gone { deleting: false }),
        ),
        (
            "owned and listed: the plan mirrors it",
            PhoneNumber::test().owned("pn_1").build(),
            &shown,
            None,
        ),
        (
            "never bought and absent: the plan buys it",
            PhoneNumber::test().build(),
            &empty,
            None,
        ),
    ];
    for (case, pn, snapshot, want) in rows {
        assert_eq!(hold(&pn, snapshot, sync), want, "{case}");
    }
}

#[test]
fn the_reason_of_a_class_that_is_not_ready_is_kept_when_it_is_one_the_number_knows() {
    for (reason, want) in [
        ("Unauthorized", "Unauthorized"),
        ("SecretNotFound", "SecretNotFound"),
        ("InsecureURL", "InsecureURL"),
        ("SomethingNew", "ClassNotReady"),
    ] {
        assert_eq!(class_reason(reason), want, "{reason}");
    }
}

#[test]
fn a_held_number_says_so_with_the_hold_s_reason_and_keeps_everything_else() {
    use crate::controller::decide::snapshot::Held;
    use crate::controller::fixtures::{NOW as FIX_NOW, listing, ts};
    let pn = PhoneNumber::test().owned("pn_1").build();
    for (changed, reason) in [(false, "SuspectList"), (true, "AccountChanged")] {
        let mut snapshot = listing(FIX_NOW, vec![]);
        snapshot.unconfirmed.insert(pn.spec.number.clone());
        snapshot.hold = Some(Held {
            since: ts(FIX_NOW),
            confirm_after: ts(FIX_NOW),
            changed,
        });
        for missing in [true, false] {
            let st = held(&pn, &snapshot, missing, ts(FIX_NOW));
            let synced = conditions::find(&st.conditions, types::SYNCED);
            assert_eq!(
                synced.map(|c| (c.status.as_str(), c.reason.as_str())),
                Some(("False", reason)),
                "changed {changed}, missing {missing}"
            );
            let before = pn.status.clone().unwrap_or_default();
            assert_eq!(
                (st.phase, st.id.clone()),
                (before.phase, before.id),
                "nothing else"
            );
        }
    }
}
