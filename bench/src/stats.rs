//! Latency bookkeeping shared by the scenarios: HDR histograms in
//! microseconds, percentiles read back in milliseconds, and a wall clock
//! that a message can carry from sender to receiver.

use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

/// Nanoseconds since the Unix epoch. A wall clock rather than `Instant` so
/// that it can travel inside a message body (fanout latency) and tag a run's
/// usernames.
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// An empty latency histogram: 1 us to 60 s, three significant digits.
pub fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// The `q` quantile of a histogram of microseconds, in milliseconds.
pub fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}
