use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn trial(expires: &str) -> PhoneNumberStatus {
    PhoneNumberStatus {
        is_trial: Some(true),
        trial_expires_at: Some(Time(ts(expires))),
        ..Default::default()
    }
}

#[test]
fn paid_numbers_have_no_stage() {
    let st = PhoneNumberStatus {
        is_trial: Some(false),
        ..Default::default()
    };
    assert_eq!(
        stage(&st, Duration::from_secs(60), ts("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn the_window_opens_exactly_warn_before_the_expiry() {
    let st = trial("2026-01-02T00:00:00Z");
    let day = Duration::from_secs(24 * 3600);
    let before = stage(&st, day, ts("2025-12-31T23:59:59Z"));
    assert_eq!(
        before,
        Some(Stage::Early {
            warn_at: ts("2026-01-01T00:00:00Z")
        })
    );
    assert_eq!(
        wake(before.unwrap(), ts("2025-12-31T23:59:59Z")),
        Some(Duration::from_millis(1050))
    );
    let at = stage(&st, day, ts("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        at,
        Stage::Expiring {
            expires_at: ts("2026-01-02T00:00:00Z")
        }
    );
    assert_eq!(
        wake(at, ts("2026-01-01T00:00:00Z")),
        Some(day + Duration::from_millis(50))
    );
    assert_eq!(
        stage(&st, day, ts("2026-01-02T00:00:00Z")),
        Some(Stage::Expired)
    );
    assert_eq!(wake(Stage::Expired, ts("2026-01-02T00:00:00Z")), None);
}

#[test]
fn the_early_wake_is_the_window_start() {
    let st = trial("2026-01-02T00:00:00Z");
    let s = stage(&st, Duration::from_secs(3600), ts("2026-01-01T12:00:00Z")).unwrap();
    assert_eq!(
        wake(s, ts("2026-01-01T12:00:00Z")),
        Some(Duration::from_secs(11 * 3600) + Duration::from_millis(50))
    );
}
