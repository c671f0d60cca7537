//! Times as the API server keeps them, and durations as specs write them.

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or(Timestamp::MIN)
}

#[test]
fn a_lower_bound_rounds_up_to_the_second_and_now_rounds_down() {
    let rows = [
        (
            "a whole second stays",
            "2026-01-01T00:00:05Z",
            "2026-01-01T00:00:05Z",
            "2026-01-01T00:00:05Z",
        ),
        (
            "a fraction goes up for a bound, down for now",
            "2026-01-01T00:00:05.2Z",
            "2026-01-01T00:00:06Z",
            "2026-01-01T00:00:05Z",
        ),
    ];
    for (case, t, ceil, now) in rows {
        assert_eq!(time_ceil(ts(t)).0, ts(ceil), "{case}");
        assert_eq!(now_time(ts(t)).0, ts(now), "{case}");
    }
}

#[test]
fn a_spec_duration_falls_back_when_unreadable_or_negative() {
    let d = Duration::from_secs(60);
    for (case, s, want) in [
        ("Go style", "90s", Duration::from_secs(90)),
        ("compound", "1h30m", Duration::from_secs(5400)),
        ("unreadable", "soon", d),
        ("negative", "-5s", d),
    ] {
        assert_eq!(parse_duration(s, d), want, "{case}");
    }
    assert_eq!(
        between(ts("2026-01-01T00:00:10Z"), ts("2026-01-01T00:00:05Z")),
        Duration::from_secs(5)
    );
    assert_eq!(
        after(ts("2026-01-01T00:00:00Z"), d),
        ts("2026-01-01T00:01:00Z")
    );
    assert_eq!(
        before(ts("2026-01-01T00:01:00Z"), d),
        ts("2026-01-01T00:00:00Z")
    );
}
