use std::collections::BTreeSet;

use serde_json::json;

use super::*;
use crate::controller::decide::snapshot::Held;

fn class(spec: serde_json::Value, status: serde_json::Value) -> PhoneNumberClass {
    let mut s = json!({
        "apiBaseUrl": "https://app.talkturo.com", "teamId": "t", "accountSlug": "a",
        "apiKeySecretRef": {"namespace": "n", "name": "s"},
    });
    if let (Some(s), serde_json::Value::Object(p)) = (s.as_object_mut(), spec) {
        s.extend(p);
    }
    serde_json::from_value(json!({"metadata": {"name": "c"}, "spec": s, "status": status}))
        .unwrap_or_else(|e| unreachable!("{e}"))
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap_or(Timestamp::MIN)
}

#[test]
fn a_key_fingerprint_tells_keys_apart_and_never_shows_the_key() {
    let a = key_fingerprint("tk_secret_one");
    assert!(a.starts_with("sha256:") && a.len() == 7 + 16, "{a}");
    assert!(!a.contains("secret"));
    assert_eq!(
        a,
        key_fingerprint("tk_secret_one"),
        "stable across processes"
    );
    assert_ne!(a, key_fingerprint("tk_secret_two"));
}

#[test]
fn urls_are_shown_without_user_information_query_or_fragment() {
    for (url, shown) in [
        ("https://app.talkturo.com", "https://app.talkturo.com"),
        ("https://app.talkturo.com/", "https://app.talkturo.com"),
        (
            "https://u:pw@app.talkturo.com/x?k=v#f",
            "https://app.talkturo.com/x",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("not a url", "(an unreadable URL)"),
    ] {
        assert_eq!(display_url(url), shown, "{url}");
    }
}

#[test]
fn the_window_is_the_spec_and_never_shorter_than_three_sync_intervals() {
    let sync = Duration::from_secs(60);
    for (spec, want) in [
        (json!({}), 3600),
        (json!({"lostConfirmation": "2h"}), 7200),
        (json!({"lostConfirmation": "1m"}), 180),
        (json!({"lostConfirmation": "15s"}), 180),
    ] {
        let c = class(spec.clone(), json!(null));
        assert_eq!(window(&c, sync), Duration::from_secs(want), "{spec}");
    }
}

#[test]
fn the_policy_reads_a_recorded_hold_a_changed_account_and_a_confirmation() {
    let recorded = json!({"apiBaseUrl": "https://app.talkturo.com", "teamId": "t",
        "accountSlug": "a", "keyFingerprint": "sha256:00"});
    let current = |url: &str, key: &str| AccountIdentity {
        api_base_url: url.into(),
        team_id: "t".into(),
        account_slug: "a".into(),
        key_fingerprint: key.into(),
    };
    let c = class(json!({}), json!({"accountIdentity": recorded}));
    let same = current("https://app.talkturo.com", "sha256:00");
    let p = policy(&c, &same, Duration::from_secs(5));
    assert!(!p.changed && p.since.is_none() && p.confirmed.is_none());
    assert!(
        policy(
            &c,
            &current("https://staging.example", "sha256:00"),
            Duration::ZERO
        )
        .changed
    );
    assert!(
        policy(
            &c,
            &current("https://app.talkturo.com", "sha256:11"),
            Duration::ZERO
        )
        .changed
    );
    // Nothing recorded yet (a class from before identities were recorded): not a change.
    let fresh = class(json!({}), json!({}));
    assert!(!policy(&fresh, &same, Duration::ZERO).changed);
    // A recorded hold and an admin's confirmation.
    let mut held = class(
        json!({}),
        json!({"hold": {"reason": "SuspectList", "since": "2027-01-15T08:00:00Z", "missing": 3,
            "confirmAfter": "2027-01-15T09:00:00Z", "confirmWith": "2027-01-15T08:00:00Z"}}),
    );
    held.metadata.annotations = Some(
        [(
            CONFIRM_LOST_ANNOTATION.to_owned(),
            "2027-01-15T08:00:00Z".to_owned(),
        )]
        .into(),
    );
    let p = policy(&held, &same, Duration::ZERO);
    let since = "2027-01-15T08:00:00Z".parse::<Timestamp>().ok();
    assert_eq!((p.since, p.confirmed), (since, since));
}

fn snapshot(missing: &[&str], hold: Option<Held>) -> Snapshot {
    Snapshot {
        started_at: at(0),
        records: Default::default(),
        unconfirmed: missing
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<BTreeSet<_>>(),
        hold,
    }
}

#[test]
fn a_held_list_says_how_many_which_until_when_and_how_to_confirm() {
    let held = Held {
        since: at(0),
        confirm_after: at(3600),
        changed: false,
    };
    let s = snapshot(
        &[
            "+14155550101",
            "+14155550102",
            "+14155550103",
            "+14155550104",
        ],
        Some(held),
    );
    let hold = status(&s).unwrap_or_else(|| unreachable!());
    assert_eq!(hold.reason, reasons::SUSPECT_LIST);
    assert_eq!((hold.missing, hold.examples.len()), (4, 3));
    assert_eq!(hold.confirm_with, at(0).to_string());
    let c = class(json!({}), json!(null));
    let d = ready(&c, &hold, None);
    assert!(!d.status);
    assert_eq!(d.reason, reasons::SUSPECT_LIST);
    for part in [
        "lacks 4 numbers",
        "+14155550101, +14155550102, +14155550103, …",
        &at(3600).to_string(),
        &format!(
            "kubectl annotate pnclass c {CONFIRM_LOST_ANNOTATION}={}",
            at(0)
        ),
    ] {
        assert!(d.message.contains(part), "{part}: {}", d.message);
    }
    assert_eq!(status(&snapshot(&[], None)), None, "no hold, no status");
}

#[test]
fn an_account_change_names_the_old_and_new_url_without_credentials() {
    let held = Held {
        since: at(0),
        confirm_after: at(3600),
        changed: true,
    };
    let hold = status(&snapshot(&["+14155550101"], Some(held))).unwrap_or_else(|| unreachable!());
    assert_eq!(hold.reason, reasons::ACCOUNT_CHANGED);
    let recorded = AccountIdentity {
        api_base_url: "https://app.talkturo.com".into(),
        team_id: "t".into(),
        account_slug: "a".into(),
        key_fingerprint: "sha256:00".into(),
    };
    let c = class(
        json!({"apiBaseUrl": "https://staging.example/api?token=x"}),
        json!(null),
    );
    let d = ready(&c, &hold, Some(&recorded));
    assert_eq!(d.reason, reasons::ACCOUNT_CHANGED);
    assert!(
        d.message.contains(
            "apiBaseUrl changed from https://app.talkturo.com to https://staging.example/api"
        ),
        "{}",
        d.message
    );
    assert!(!d.message.contains("token=x"));
    let same_url = class(json!({}), json!(null));
    let d = ready(&same_url, &hold, Some(&recorded));
    assert!(
        d.message.contains("the API key changed (was sha256:00)"),
        "{}",
        d.message
    );
}
