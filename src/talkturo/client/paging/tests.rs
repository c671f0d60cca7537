//! Reads of a list that changes between its pages, against an account modelled as a vector in
//! Talkturo's order: which changes are accepted (only growth by our own purchases) and that no
//! record held at the start is ever missing from an accepted read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use super::*;

/// The account as Talkturo orders it: (id, number).
type Account = Vec<(String, String)>;

fn account(n: usize) -> Account {
    (0..n).map(entry).collect()
}

fn entry(i: usize) -> (String, String) {
    (format!("pn_{i:04}"), format!("+1415555{i:04}"))
}

/// The page at `offset` of `limit` records, announcing the account's count (or none).
fn page(a: &Account, offset: usize, limit: usize, counted: bool) -> ListPage {
    let numbers = a
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(id, n)| {
            serde_json::from_value(serde_json::json!({"id": id, "phone_number": n})).unwrap()
        })
        .collect();
    ListPage {
        numbers,
        count: counted.then_some(a.len() as u64),
    }
}

/// Reads `a` in pages of `limit`, applying `change` (with the page's index) before each page
/// after the first; it says how many purchases of ours it made, and every record it adds with
/// an id of `pn_01..` or more is one of ours.
fn read(
    mut a: Account,
    limit: usize,
    counted: bool,
    mut change: impl FnMut(usize, &mut Account) -> u64,
) -> (Result<Vec<String>, String>, Account) {
    let mut p = Paging::default();
    let mut grown = 0;
    for i in 0.. {
        if i > 0 {
            grown += change(i, &mut a);
        }
        match p.take(page(&a, p.offset, limit, counted), limit, grown) {
            Ok(Next::More) => assert!(i < 100, "never ends"),
            Ok(Next::Done) => break,
            Err(why) => return (Err(why), a),
        }
    }
    // Every record added with an id of `pn_0100` or more is one of ours.
    let ours: HashSet<String> = a
        .iter()
        .filter(|(id, _)| grown > 0 && id.as_str() >= "pn_0100")
        .map(|(_, n)| n.clone())
        .collect();
    let read = p
        .finish(&ours)
        .map(|records| records.iter().map(|r| r.id.clone()).collect());
    (read, a)
}

fn ids(a: &Account) -> Vec<String> {
    a.iter().map(|(id, _)| id.clone()).collect()
}

#[test]
fn an_unchanged_list_is_read_whole_in_pages() {
    for counted in [true, false] {
        let a = account(10);
        let (read, _) = read(a.clone(), 3, counted, |_, _| 0);
        assert_eq!(read.unwrap(), ids(&a), "counted: {counted}");
    }
}

#[test]
fn our_purchases_anywhere_in_the_order_keep_every_record_held_at_the_start() {
    // A purchase inserted before the reader (a record comes twice), at it, and after it (the
    // new record is read too), one or more per page.
    for at in [0, 2, 3, 5, 9, usize::MAX] {
        for per_page in [1, 2] {
            let start = account(10);
            let mut next = 100;
            let (read, end) = read(start.clone(), 3, true, |_, a| {
                for _ in 0..per_page {
                    a.insert(at.min(a.len()), entry(next));
                    next += 1;
                }
                per_page as u64
            });
            let read = read.unwrap_or_else(|e| panic!("insert at {at}, {per_page}/page: {e}"));
            for id in ids(&start) {
                assert!(read.contains(&id), "insert at {at}: {id} missing");
            }
            let unique: std::collections::BTreeSet<_> = read.iter().collect();
            assert_eq!(unique.len(), read.len(), "no record twice in the result");
            assert!(read.iter().all(|id| ids(&end).contains(id)));
        }
    }
}

#[test]
fn a_record_removed_while_paging_is_read_again() {
    let (read, _) = read(account(10), 3, true, |i, a| {
        if i == 1 {
            a.remove(0);
        }
        0
    });
    assert_eq!(read.unwrap_err(), "count moved from Some(10) to Some(9)");
}

#[test]
fn a_removal_hidden_by_our_purchase_is_still_caught_when_it_skips_a_record() {
    // One of ours added at the end, another record removed before the reader: the count stays
    // within what we bought, but a record held at the start was skipped.
    let (read, _) = read(account(10), 3, true, |i, a| {
        if i == 1 {
            a.remove(0);
            a.push(entry(100));
            return 1;
        }
        0
    });
    assert_eq!(
        read.unwrap_err(),
        "9 records held before the list began came (and 1 of this process's purchases), 10 announced: one was skipped"
    );
}

#[test]
fn growth_beyond_our_purchases_is_read_again() {
    let (read, _) = read(account(10), 3, true, |i, a| {
        if i == 1 {
            a.push(entry(100));
            a.push(entry(101));
            return 1;
        }
        0
    });
    assert_eq!(
        read.unwrap_err(),
        "count moved from Some(10) to Some(12), not explained by the 1 purchases this process made meanwhile"
    );
}

#[test]
fn growth_without_purchases_of_ours_is_read_again() {
    let (read, _) = read(account(10), 3, true, |i, a| {
        if i == 2 {
            a.insert(0, entry(100));
        }
        0
    });
    assert_eq!(read.unwrap_err(), "count moved from Some(10) to Some(11)");
}

#[test]
fn a_count_that_drops_back_is_read_again_even_within_our_purchases() {
    let (read, _) = read(account(10), 3, true, |i, a| match i {
        1 => {
            a.push(entry(100));
            1
        }
        2 => {
            a.pop();
            0
        }
        _ => 0,
    });
    assert_eq!(
        read.unwrap_err(),
        "count moved from Some(10) to Some(10), not explained by the 1 purchases this process made meanwhile"
    );
}

#[test]
fn an_id_for_two_numbers_is_never_a_repeat() {
    let mut p = Paging::default();
    let a = account(4);
    assert_eq!(p.take(page(&a, 0, 2, true), 2, 1), Ok(Next::More));
    let mut b = a.clone();
    b[2] = (a[0].0.clone(), "+14155550999".to_owned());
    let why = p.take(page(&b, 2, 2, true), 2, 1).unwrap_err();
    assert_eq!(why, "id pn_0000 came twice (offset 2 ignored?)");
}

#[test]
fn a_repeated_id_without_purchases_of_ours_is_read_again() {
    let mut p = Paging::default();
    let a = account(4);
    assert_eq!(p.take(page(&a, 0, 2, true), 2, 0), Ok(Next::More));
    let why = p.take(page(&a, 1, 2, true), 2, 0).unwrap_err();
    assert_eq!(why, "id pn_0001 came twice (offset 2 ignored?)");
}

#[test]
fn fewer_records_than_announced_is_read_again() {
    let mut p = Paging::default();
    let mut first = page(&account(3), 0, 10, true);
    first.count = Some(5);
    assert_eq!(p.take(first, 10, 0), Ok(Next::More));
    let mut last = page(&account(3), 3, 10, true);
    last.count = Some(5);
    assert_eq!(p.take(last, 10, 0), Ok(Next::Done));
    assert_eq!(
        p.finish(&HashSet::new()).unwrap_err(),
        "count says 5, 3 records came"
    );
}
