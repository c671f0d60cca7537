use super::*;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

fn offer(n: &str, monthly: Option<&str>, setup: Option<&str>) -> AvailableNumber {
    AvailableNumber {
        phone_number: n.to_owned(),
        monthly_price: monthly.map(d),
        setup_price: setup.map(d),
        features: vec![],
    }
}

#[test]
fn an_unknown_price_sorts_after_every_known_one() {
    let mut offers = [
        offer("+14155550103", None, Some("1")),
        offer("+14155550102", Some("2"), Some("1")),
        offer("+14155550101", Some("1"), None),
        offer("+14155550100", Some("1"), Some("1")),
    ];
    offers.sort_by(cheapest_first);
    let order: Vec<&str> = offers.iter().map(|o| o.phone_number.as_str()).collect();
    assert_eq!(
        order,
        [
            "+14155550100",
            "+14155550101",
            "+14155550102",
            "+14155550103"
        ]
    );
}

#[test]
fn a_cap_accepts_only_known_prices_at_or_below_it() {
    assert!(within(None, None));
    assert!(within(Some(d("5")), None));
    assert!(within(Some(d("2.00")), Some(d("2"))));
    assert!(!within(Some(d("2.01")), Some(d("2"))));
    assert!(!within(None, Some(MAX_SANE_PRICE)));
    assert_eq!(stricter(Some(d("3")), Some(d("2"))), Some(d("2")));
    assert_eq!(stricter(None, Some(d("2"))), Some(d("2")));
}

#[test]
fn budgets_fail_closed_on_unknown_prices_and_never_overflow() {
    let mut spent = Spend::default();
    spent.add(Some(d("1.50")));
    assert_eq!(
        fits_budget(spent, Some(d("0.50")), d("2")),
        BudgetCheck::Within(d("2.00"))
    );
    assert_eq!(
        fits_budget(spent, Some(d("0.51")), d("2")),
        BudgetCheck::Over(d("2.01"))
    );
    assert_eq!(fits_budget(spent, None, d("1000")), BudgetCheck::Unknown);
    spent.add(None);
    assert_eq!(
        fits_budget(spent, Some(d("0")), d("1000")),
        BudgetCheck::Unknown
    );
    assert_eq!(
        spent.to_string(),
        "unknown (1.50 known + 1 without a price)"
    );
    // Sums past Decimal's range are counted as unknown, never a panic.
    let mut huge = Spend::default();
    huge.add(Some(Decimal::MAX));
    huge.add(Some(Decimal::MAX));
    assert_eq!(huge.unpriced, 1);
    assert_eq!(
        fits_budget(
            Spend {
                known: Decimal::MAX,
                unpriced: 0
            },
            Some(Decimal::MAX),
            d("1")
        ),
        BudgetCheck::Unknown
    );
}

#[test]
fn only_sane_prices_parse_from_records() {
    assert_eq!(parse_price("1.00"), Some(d("1")));
    assert_eq!(parse_price(" 0 "), Some(Decimal::ZERO));
    assert_eq!(parse_price("-1"), None);
    assert_eq!(parse_price("100000.01"), None);
    assert_eq!(parse_price("79228162514264337593543950335"), None);
    assert_eq!(parse_price("contact sales"), None);
}
