//! Units at the border of the core: durations as the JSON contract writes
//! them.

use std::time::Duration;

/// Seconds as JSON wants them, rounded to the microsecond.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

/// A size as people read it: `512 bytes`, `1.5 KB`, `48.9 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}
