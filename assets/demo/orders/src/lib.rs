//! Orders and their totals, priced with `money`.

pub fn total(prices: &[u64], discount_percent: u64) -> u64 {
    let sum = prices.iter().fold(0, |acc, p| money::add(acc, *p));
    sum - money::percent_of(sum, discount_percent)
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_order_is_free() {
        assert_eq!(super::total(&[], 10), 0);
    }

    #[test]
    fn one_item_no_discount() {
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_eq!(super::total(&[250], 0), 250);
    }
}
