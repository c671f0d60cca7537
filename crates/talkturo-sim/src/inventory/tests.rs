use super::*;

#[test]
fn the_same_seed_gives_the_same_inventory_and_another_seed_another() {
    let a = Inventory::new(7, 20).search("US", Some("415"), Kind::Local);
    let b = Inventory::new(7, 20).search("US", Some("415"), Kind::Local);
    let c = Inventory::new(8, 20).search("US", Some("415"), Kind::Local);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 20);
}

#[test]
fn offers_match_the_query_and_prices_vary() {
    let inv = Inventory::new(1, 30);
    let offers = inv.search("US", Some("415"), Kind::Local);
    assert!(
        offers
            .iter()
            .all(|o| o.phone_number.starts_with("+1415") && o.phone_number.len() == 12)
    );
    let prices: std::collections::BTreeSet<_> = offers.iter().map(|o| o.monthly_price).collect();
    assert!(prices.len() > 5, "prices should vary: {prices:?}");
    assert!(
        inv.search("GB", Some("415"), Kind::Local)
            .iter()
            .all(|o| o.phone_number.starts_with("+44"))
    );
    assert!(
        inv.search("US", None, Kind::TollFree)
            .iter()
            .all(|o| o.features.contains(&"sms".to_owned()))
    );
    assert!(inv.search("ZZ", None, Kind::Local).is_empty());
    assert!(inv.search("US", Some("800"), Kind::Local).is_empty());
}

#[test]
fn an_exact_number_is_found_only_if_the_carrier_offers_it() {
    let inv = Inventory::new(3, 10);
    for (country, kind) in [
        ("US", Kind::Local),
        ("GB", Kind::TollFree),
        ("AU", Kind::Local),
    ] {
        let o = inv.search(country, None, kind).remove(3);
        assert_eq!(inv.offer(&o.phone_number), Some(o));
    }
    assert_eq!(inv.offer("+14150000000"), None);
    assert_eq!(inv.offer("+999"), None);
}
