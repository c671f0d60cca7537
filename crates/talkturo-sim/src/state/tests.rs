use super::*;

fn keys(case: RecordCase) -> Vec<String> {
    let config = SimConfig {
        record_case: case,
        ..SimConfig::default()
    };
    let mut world = World::new(config);
    let now = Timestamp::now();
    let team = world.teams.keys().next().cloned().unwrap_or_default();
    let account = world
        .teams
        .get(&team)
        .map(|t| t.account.clone())
        .unwrap_or_default();
    let offer = world
        .search("US", Some("415"), None, Some(1))
        .ok()
        .and_then(|o| o.into_iter().next())
        .map(|o| o.phone_number)
        .unwrap_or_default();
    let Ok((record, _)) = world.purchase(&account, &offer, &team, None, now) else {
        return Vec::new();
    };
    let json = serde_json::to_value(world.record_json(&record)).unwrap_or_default();
    json.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn records_serve_every_field_in_either_casing() {
    let snake = keys(RecordCase::Snake);
    assert_eq!(snake.len(), 13, "{snake:?}");
    let camel: Vec<String> = snake
        .iter()
        .map(|k| {
            let mut parts = k.split('_');
            let first = parts.next().unwrap_or_default().to_owned();
            parts.fold(first, |mut out, p| {
                let mut c = p.chars();
                if let Some(h) = c.next() {
                    out.extend(h.to_uppercase());
                    out.push_str(c.as_str());
                }
                out
            })
        })
        .collect();
    let mut served = keys(RecordCase::Camel);
    let mut expected = camel;
    served.sort();
    expected.sort();
    assert_eq!(served, expected);
}

#[test]
fn copies_of_a_record_are_owned_like_it_and_refused_all_or_nothing() {
    let mut world = World::new(SimConfig::default());
    let now = Timestamp::now();
    let offered = world
        .offered_in("415")
        .into_iter()
        .next()
        .unwrap_or_default();
    let Ok(original) = world.import("team_demo", &offered, None, now) else {
        panic!("import of {offered} failed");
    };
    let numbers = vec!["+14150000001".to_owned(), "+14150000002".to_owned()];
    let copies = world.seed_copies(&offered, &numbers).unwrap_or_default();
    assert_eq!(copies.len(), 2);
    for (c, n) in copies.iter().zip(&numbers) {
        assert_eq!(&c.phone_number, n);
        assert_ne!(c.id, original.id);
        assert_eq!(c.provider_id, format!("tx_{}", &n[1..]));
        assert_eq!(
            (c.status, c.monthly_price),
            (original.status, original.monthly_price)
        );
        assert_eq!(world.owned(n).map(|r| &r.id), Some(&c.id));
    }
    assert_eq!(world.purchases(), 0, "copies are not purchases");
    // One number already owned refuses the whole request; nothing is added.
    let again = vec!["+14150000003".to_owned(), "+14150000001".to_owned()];
    assert_eq!(
        world.seed_copies(&offered, &again).err().map(|e| e.status),
        Some(409)
    );
    assert!(world.owned("+14150000003").is_none());
    let bad = vec!["14150000004".to_owned()];
    assert_eq!(
        world.seed_copies(&offered, &bad).err().map(|e| e.status),
        Some(400)
    );
    assert_eq!(
        world
            .seed_copies("+19999999999", &[])
            .err()
            .map(|e| e.status),
        Some(404)
    );
    // Released and vanished numbers leave the index.
    assert!(world.vanish("+14150000002").is_some());
    assert!(world.owned("+14150000002").is_none());
}

#[test]
fn restore_puts_records_back_as_they_were_all_or_nothing() {
    let mut before = World::new(SimConfig::default());
    let now = Timestamp::now();
    let number = before
        .offered_in("415")
        .into_iter()
        .next()
        .unwrap_or_default();
    assert!(before.import("team_demo", &number, None, now).is_ok());
    let dumped = serde_json::to_value(before.records().collect::<Vec<_>>()).unwrap_or_default();
    let records: Vec<Record> = serde_json::from_value(dumped.clone()).unwrap_or_default();
    let mut after = World::new(SimConfig::default());
    assert!(after.restore(records.clone()).is_ok());
    let again = serde_json::to_value(after.records().collect::<Vec<_>>()).unwrap_or_default();
    assert_eq!(again, dumped, "every field as it was");
    assert_eq!(after.purchases(), 0, "restored records are not purchases");
    // Held already, or of an unknown team: nothing restored.
    assert_eq!(
        after.restore(records.clone()).err().map(|e| e.status),
        Some(409)
    );
    let mut stranger = records[0].clone();
    stranger.team_id = "team_nobody".into();
    stranger.phone_number = "+14155550100".into();
    stranger.id = "pn_other".into();
    let mut fresh = World::new(SimConfig::default());
    assert_eq!(
        fresh.restore(vec![stranger]).err().map(|e| e.status),
        Some(404)
    );
    assert_eq!(fresh.records().count(), 0);
}
