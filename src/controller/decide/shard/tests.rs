use super::*;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap_or_default()
}

fn lease(holder: &str, renewed: i64) -> LeaseView {
    LeaseView {
        holder: Some(holder.to_owned()),
        renewed: Some(at(renewed)),
        duration_secs: 15,
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn a_lease_is_held_until_its_duration_after_the_last_renewal() {
    assert_eq!(lease("a", 0).live_holder(at(14)), Some("a"));
    assert_eq!(lease("a", 0).live_holder(at(15)), None);
    assert_eq!(lease("", 0).live_holder(at(1)), None);
    let never = LeaseView {
        renewed: None,
        ..lease("a", 0)
    };
    assert_eq!(never.live_holder(at(1)), None);
    let members = [lease("b", 0), lease("a", 0), lease("a", 5), lease("c", -20)];
    assert_eq!(live_members(&members, at(10)), vec!["a", "b"]);
}

#[test]
fn classes_spread_evenly_and_the_same_way_whatever_the_order() {
    let classes = names("customer-", 6);
    let members = names("replica-", 3);
    let p = placement(&classes, &members);
    assert_eq!(p.len(), 6);
    for m in &members {
        assert_eq!(p.values().filter(|v| *v == m).count(), 2, "{p:?}");
    }
    let mut shuffled = classes.clone();
    shuffled.reverse();
    let mut others = members.clone();
    others.rotate_left(1);
    assert_eq!(placement(&shuffled, &others), p);
    // 7 classes on 3: nobody over 3.
    let p7 = placement(&names("c", 7), &members);
    assert!(
        members
            .iter()
            .all(|m| p7.values().filter(|v| *v == m).count() <= 3)
    );
    assert!(placement(&classes, &[]).is_empty());
    // The router takes no class's place.
    let mut with_router = classes.clone();
    with_router.push(ROUTER.to_owned());
    let pr = placement(&with_router, &members);
    assert!(pr.contains_key(ROUTER));
    assert!(classes.iter().all(|c| pr[c] == p[c]), "{pr:?}");
    let alone = placement(&classes, &names("replica-", 1));
    assert!(alone.values().all(|m| m == "replica-0"));
}

#[test]
fn a_member_joining_or_leaving_moves_few_classes() {
    let classes = names("customer-", 12);
    let three = placement(&classes, &names("r", 3));
    let four = placement(&classes, &names("r", 4));
    let moved = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
        a.iter().filter(|(c, m)| b.get(*c) != Some(*m)).count()
    };
    // The joiner takes its 3; bounded loads may move one or two more.
    assert!(moved(&three, &four) <= 5, "{three:?} → {four:?}");
    assert_eq!(four.values().filter(|m| *m == "r3").count(), 3);
    // r2 leaves: its 4 move, and few others.
    let two = placement(&classes, &names("r", 2));
    assert!(moved(&three, &two) <= 6, "{three:?} → {two:?}");
}

#[test]
fn each_class_lease_gets_one_step() {
    let now = at(10);
    let mine = lease("me", 5);
    let theirs = lease("them", 5);
    let expired = lease("them", -30);
    let rows: [(Option<&str>, Option<&LeaseView>, Step); 9] = [
        (Some("me"), None, Step::Acquire),
        (Some("me"), Some(&expired), Step::Acquire),
        (Some("me"), Some(&mine), Step::Renew),
        (Some("me"), Some(&theirs), Step::Leave),
        (Some("them"), Some(&mine), Step::HandOver),
        (None, Some(&mine), Step::HandOver),
        (Some("them"), None, Step::Leave),
        (Some("them"), Some(&expired), Step::Leave),
        (None, None, Step::Leave),
    ];
    for (placed, lease, want) in rows {
        assert_eq!(step("me", placed, lease, now), want, "{placed:?} {lease:?}");
    }
}

#[test]
fn objects_of_missing_classes_are_served_by_the_router() {
    let exists = |c: &str| c == "gold" || c == "default";
    assert_eq!(served_by(Some("gold"), Some("default"), exists), "gold");
    assert_eq!(served_by(None, Some("default"), exists), "default");
    assert_eq!(served_by(Some("gone"), Some("default"), exists), ROUTER);
    assert_eq!(served_by(None, None, exists), ROUTER);
}
