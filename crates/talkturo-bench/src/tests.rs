use super::*;

#[test]
fn percentiles_are_nearest_rank() {
    let mut v = vec![5.0, 1.0, 4.0, 2.0, 3.0];
    assert_eq!(median(&mut v), 3.0);
    assert_eq!(percentile(&mut v, 99.0), 5.0);
    assert_eq!(percentile(&mut v, 20.0), 1.0);
    assert_eq!(median(&mut []), 0.0);
}
