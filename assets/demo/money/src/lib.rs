//! Cents arithmetic. Edit me while vigil watches: `orders` depends on this.

pub fn add(a: u64, b: u64) -> u64 {
    a + b
}

pub fn percent_of(amount: u64, percent: u64) -> u64 {
    if percent > 100 {
        return amount;
    }
    amount * percent / 100
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    #[test]
    fn adds() {
        assert_eq!(add(2, 3), 5);
    }

    #[test]
    fn adds_zero() {
        pause(300);
        assert_eq!(add(7, 0), 7);
    }

    #[test]
    fn percent_caps_at_whole() {
        assert_eq!(percent_of(200, 150), 200);
    }

    #[test]
    fn percent_of_nothing() {
        pause(600);
        assert_eq!(percent_of(0, 50), 0);
    }

    #[test]
    fn slow_rounding() {
        pause(1500);
        assert_eq!(percent_of(999, 10), 99);
    }
}

/// A handling fee no test exercises yet: the coverage view (key 2) shows it
/// uncovered. Add a test for it and watch the gauge move.
pub fn fee(amount: u64) -> u64 {
    if amount > 1000 {
        amount / 100
    } else {
        0
    }
}
