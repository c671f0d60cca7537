use super::*;
use crate::api::v1alpha1::PhoneNumber;

fn pn(rv: &str) -> PhoneNumber {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "tel-1", "resourceVersion": rv},
        "spec": {"number": "+15550000001", "className": "c"},
    }))
    .unwrap()
}

#[test]
fn a_cached_version_this_process_wrote_over_is_stale_until_the_watch_catches_up() {
    let w = Writes::default();
    assert!(!w.stale(&pn("1")), "nothing written yet");
    w.wrote(&pn("1"), &pn("2"));
    assert!(w.stale(&pn("1")));
    w.wrote(&pn("2"), &pn("3"));
    assert!(w.stale(&pn("1")));
    assert!(w.stale(&pn("2")), "an intermediate version of our own");
    assert!(!w.stale(&pn("3")), "the cache caught up");
    assert!(w.is_empty(), "and the writes are forgotten");
    assert!(!w.stale(&pn("1")), "nothing is remembered any more");
}

#[test]
fn a_write_that_changed_nothing_supersedes_nothing() {
    let w = Writes::default();
    w.wrote(&pn("7"), &pn("7"));
    assert!(!w.stale(&pn("7")));
    assert!(w.is_empty());
}

#[test]
fn a_created_object_is_remembered_by_kind_namespace_and_name() {
    let w = Writes::default();
    assert!(!w.just_created::<PhoneNumber>("", "tel-1"));
    w.created(&pn("1"));
    assert!(w.just_created::<PhoneNumber>("", "tel-1"));
    assert!(!w.just_created::<PhoneNumber>("", "tel-2"));
    assert!(!w.just_created::<crate::api::v1alpha1::PhoneNumberClaim>("", "tel-1"));
}

#[test]
fn another_version_in_the_cache_is_not_stale() {
    let w = Writes::default();
    w.wrote(&pn("1"), &pn("2"));
    assert!(!w.stale(&pn("5")), "someone else wrote since; decide on it");
}
