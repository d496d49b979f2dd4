//! Units at the border of the core: durations as the JSON contract writes
//! them.

use std::time::Duration;

/// Seconds as JSON wants them, rounded to the microsecond.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}
