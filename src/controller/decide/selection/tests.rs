use super::*;

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn all(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn a_short_class_name_is_its_own_label_value_and_the_router_has_none() {
    assert_eq!(label_value("standard").as_deref(), Some("standard"));
    let sixty_three = "a".repeat(63);
    assert_eq!(label_value(&sixty_three), Some(sixty_three.clone()));
    assert_eq!(label_value(ROUTER), None);
}

#[test]
fn a_long_class_name_is_cut_and_ends_in_a_digest_of_the_whole_name() {
    let long = format!("{}.example.com", "team-a".repeat(20));
    let other = format!("{}.example.org", "team-a".repeat(20));
    let (v, w) = (label_value(&long).unwrap(), label_value(&other).unwrap());
    assert!(v.len() <= 63, "{v}");
    assert_ne!(v, w, "two long names sharing their first characters");
    assert!(v.starts_with("team-ateam-a"));
    // Valid as a label value: alphanumeric at both ends, only [a-z0-9.-] between.
    for value in [&v, &w] {
        let bytes = value.as_bytes();
        assert!(bytes[0].is_ascii_alphanumeric() && bytes[value.len() - 1].is_ascii_alphanumeric());
        assert!(
            value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        );
    }
    // A cut ending in a separator drops it before the digest's '-'.
    let dotted = format!("{}.{}", "b".repeat(45), "c".repeat(30));
    assert!(!label_value(&dotted).unwrap().contains(".-"));
    assert_eq!(
        label_value(&long),
        label_value(&long),
        "the same name, the same value"
    );
}

#[test]
fn a_label_names_its_class_or_else_the_router() {
    let long = "x".repeat(100);
    let classes = all(&["gold", "silver", &long]);
    assert_eq!(class_of_label(Some("gold"), &classes), "gold");
    let long_value = label_value(&long).unwrap();
    assert_eq!(class_of_label(Some(&long_value), &classes), long);
    assert_eq!(class_of_label(Some("bronze"), &classes), ROUTER);
    assert_eq!(class_of_label(None, &classes), ROUTER);
}

#[test]
fn a_replica_watches_the_labels_of_the_classes_it_holds() {
    let s = Selection::of(
        &set(&["silver", "gold"]),
        &all(&["gold", "silver", "bronze"]),
    );
    assert_eq!(
        s.watch,
        Watch::Selector("telephony.talkturo.ai/class in (gold,silver)".into())
    );
    assert_eq!(s.classes, set(&["gold", "silver"]));
    assert_eq!(
        Selection::of(&set(&[]), &all(&["gold"])).watch,
        Watch::Nothing
    );
    assert_eq!(Selection::none().watch, Watch::Nothing);
}

#[test]
fn the_routers_holder_watches_all_but_the_other_replicas_classes() {
    let s = Selection::of(&set(&[ROUTER, "gold"]), &all(&["gold", "silver", "bronze"]));
    // Unlabelled objects and labels naming no class match `notin` too.
    assert_eq!(
        s.watch,
        Watch::Selector("telephony.talkturo.ai/class notin (bronze,silver)".into())
    );
    assert!(s.classes.contains(ROUTER) && s.classes.contains("gold"));
    let everything = Selection::of(&set(&[ROUTER, "gold", "silver"]), &all(&["gold", "silver"]));
    assert_eq!(everything.watch, Watch::Everything);
    let alone = Selection::of(&set(&[ROUTER]), &all(&[]));
    assert_eq!(alone.watch, Watch::Everything);
}
