//! Prometheus metrics, rendered by hand in the text exposition format (no
//! registry crate needed for a handful of counters).
//!
//! Counters are process-wide statics: one confab process serves one
//! instance, and tests that read them compare before and after.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

/// (method, route pattern, status) of a request.
type RequestKey = (String, String, u16);

/// HTTP requests by (method, route pattern, status).
static REQUESTS: LazyLock<Mutex<BTreeMap<RequestKey, u64>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Room messages stored.
pub static ROOM_MESSAGES: AtomicU64 = AtomicU64::new(0);
/// Direct messages stored.
pub static DIRECT_MESSAGES: AtomicU64 = AtomicU64::new(0);
/// Events written to streams (all streams together).
pub static EVENTS_DELIVERED: AtomicU64 = AtomicU64::new(0);
/// Queued events sent to streams as their backlog.
pub static OFFLINE_DRAINED: AtomicU64 = AtomicU64::new(0);
/// Streams opened with `Last-Event-ID`, by outcome.
pub static RESUMES_OK: AtomicU64 = AtomicU64::new(0);
/// Streams whose `Last-Event-ID` could not be honoured.
pub static RESUMES_FAILED: AtomicU64 = AtomicU64::new(0);
/// Streams dropped for falling behind.
pub static SLOW_STREAMS_DROPPED: AtomicU64 = AtomicU64::new(0);
/// Requests refused by a rate limit.
pub static RATE_LIMITED: AtomicU64 = AtomicU64::new(0);

/// Counts one HTTP request. `route` is the matched pattern (never the raw
/// path, which would make one series per id).
pub fn record_request(method: &str, route: &str, status: u16) {
    let mut map = REQUESTS.lock().unwrap_or_else(|p| p.into_inner());
    *map.entry((method.to_owned(), route.to_owned(), status))
        .or_default() += 1;
}

/// Adds one to a counter.
pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The exposition text; `open_streams` is the current number of local
/// streams.
pub fn render(open_streams: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP confab_http_requests_total HTTP requests handled."
    );
    let _ = writeln!(out, "# TYPE confab_http_requests_total counter");
    for ((method, route, status), n) in REQUESTS.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(
            out,
            "confab_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
            route.replace('\\', "\\\\").replace('"', "\\\"")
        );
    }
    let counters: [(&str, &str, &AtomicU64); 8] = [
        (
            "confab_room_messages_total",
            "Room messages stored.",
            &ROOM_MESSAGES,
        ),
        (
            "confab_direct_messages_total",
            "Direct messages stored.",
            &DIRECT_MESSAGES,
        ),
        (
            "confab_events_delivered_total",
            "Events written to event streams.",
            &EVENTS_DELIVERED,
        ),
        (
            "confab_offline_events_drained_total",
            "Queued events sent as stream backlog.",
            &OFFLINE_DRAINED,
        ),
        (
            "confab_resumes_total",
            "Streams resumed from Last-Event-ID with no gap.",
            &RESUMES_OK,
        ),
        (
            "confab_resume_failures_total",
            "Streams whose Last-Event-ID could not be honoured.",
            &RESUMES_FAILED,
        ),
        (
            "confab_slow_streams_dropped_total",
            "Streams dropped for falling behind.",
            &SLOW_STREAMS_DROPPED,
        ),
        (
            "confab_rate_limited_total",
            "Requests refused by a rate limit.",
            &RATE_LIMITED,
        ),
    ];
    for (name, help, counter) in counters {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
    }
    let _ = writeln!(
        out,
        "# HELP confab_open_streams Event streams open on this instance."
    );
    let _ = writeln!(out, "# TYPE confab_open_streams gauge");
    let _ = writeln!(out, "confab_open_streams {open_streams}");
    out
}
