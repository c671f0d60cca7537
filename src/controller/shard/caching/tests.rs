use super::*;
use crate::controller::decide::selection::Watch;

fn holding(classes: &[&str]) -> Selection {
    Selection {
        watch: Watch::Everything,
        classes: classes.iter().map(|c| (*c).to_owned()).collect(),
    }
}

#[test]
fn a_class_is_complete_once_both_caches_listed_it() {
    let caching = Caching::default();
    assert!(!caching.complete("gold"));
    assert!(
        caching
            .listed(Cache::Claims, &holding(&["gold"]))
            .is_empty()
    );
    assert!(
        !caching.complete("gold"),
        "its PhoneNumbers are not listed yet"
    );
    assert_eq!(
        caching.listed(Cache::Numbers, &holding(&["gold", "silver"])),
        vec!["gold"]
    );
    assert!(caching.complete("gold") && !caching.complete("silver"));
    assert_eq!(
        caching.listed(Cache::Claims, &holding(&["gold", "silver"])),
        vec!["silver"]
    );
    // Given up: no longer complete; nothing new.
    assert!(
        caching
            .listed(Cache::Claims, &holding(&["silver"]))
            .is_empty()
    );
    assert!(!caching.complete("gold") && caching.complete("silver"));
}

#[test]
fn the_watches_restart_only_when_the_selection_changes() {
    let caching = Caching::default();
    let mut rx = caching.subscribe();
    rx.borrow_and_update();
    caching.select(Selection::none());
    assert!(!rx.has_changed().unwrap());
    caching.select(holding(&["gold"]));
    assert!(rx.has_changed().unwrap());
    assert_eq!(rx.borrow_and_update().classes.len(), 1);
    caching.select(holding(&["gold"]));
    assert!(!rx.has_changed().unwrap());
}
