#[test]
fn order_flow_end_to_end() {
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(orders::total(&[10, 20, 30], 0), 60);
}
