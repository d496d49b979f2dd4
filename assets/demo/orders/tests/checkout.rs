use orders::total;

#[test]
fn applies_discount() {
    assert_eq!(total(&[100, 100], 10), 180);
}

#[test]
fn refund_partial() {
    std::thread::sleep(std::time::Duration::from_millis(800));
    // Fails on purpose: fix the expectation (50) and watch it turn green.
    assert_eq!(total(&[50], 0), 40, "refund must keep the fee");
}

#[test]
#[ignore = "needs a payment sandbox"]
fn pays_by_card() {}

#[test]
fn rounding_known_bug() {
    // Listed as an expected failure in vigil.toml.
    assert_eq!(total(&[3], 50), 1, "half of 3 should round down");
}
