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
