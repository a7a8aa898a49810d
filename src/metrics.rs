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
/// Messages edited (room and direct).
pub static MESSAGES_EDITED: AtomicU64 = AtomicU64::new(0);
/// Messages deleted (room and direct).
pub static MESSAGES_DELETED: AtomicU64 = AtomicU64::new(0);
/// Typing notices forwarded (not held back by the 2-second throttle).
pub static TYPING_FORWARDED: AtomicU64 = AtomicU64::new(0);
/// Webhook deliveries acknowledged by their receiver (2xx).
pub static WEBHOOK_DELIVERED: AtomicU64 = AtomicU64::new(0);
/// Webhook delivery attempts that failed (non-2xx, timeout, unreachable).
pub static WEBHOOK_FAILED_ATTEMPTS: AtomicU64 = AtomicU64::new(0);
/// Webhook deliveries scheduled for another attempt.
pub static WEBHOOK_RETRIES: AtomicU64 = AtomicU64::new(0);
/// Webhook deliveries given up (undelivered after the configured time).
pub static WEBHOOK_GIVEN_UP: AtomicU64 = AtomicU64::new(0);
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
/// Streams whose connection ended with events still waiting for them: the
/// client stopped reading (and was cut) or went without taking them.
pub static STREAMS_CUT: AtomicU64 = AtomicU64::new(0);
/// Requests refused by a rate limit.
pub static RATE_LIMITED: AtomicU64 = AtomicU64::new(0);
/// Events appended to offline queues (by sends and notifications).
pub static OFFLINE_QUEUED: AtomicU64 = AtomicU64::new(0);
/// Redis calls that failed (unreachable, timed out, or refused).
pub static REDIS_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Times the Pub/Sub connection was lost (it reconnects by itself).
pub static PUBSUB_DISCONNECTS: AtomicU64 = AtomicU64::new(0);
/// Password hashes and checks refused because their queue was full (503).
pub static HASHES_REFUSED: AtomicU64 = AtomicU64::new(0);
/// Request bodies that did not arrive within `server.body_timeout_ms`.
pub static BODY_TIMEOUTS: AtomicU64 = AtomicU64::new(0);
/// Connections accepted over `server.max_connections`.
static REFUSED_OVER_INSTANCE_CAP: AtomicU64 = AtomicU64::new(0);
/// Connections accepted over `server.max_connections_per_address`.
static REFUSED_OVER_ADDRESS_CAP: AtomicU64 = AtomicU64::new(0);

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A latency histogram in Prometheus' cumulative form.
#[derive(Default)]
struct Histogram {
    /// Observations at or below each bucket's bound.
    buckets: [u64; BUCKETS.len()],
    /// All observations.
    count: u64,
    /// Their sum, in seconds.
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {bucket}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Request latency by route (event streams excluded: they last as long as
/// the connection).
static REQUEST_LATENCY: LazyLock<Mutex<BTreeMap<String, Histogram>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Latency of Redis calls.
static REDIS_LATENCY: LazyLock<Mutex<Histogram>> =
    LazyLock::new(|| Mutex::new(Histogram::default()));

/// Records how long a request to `route` took.
pub fn observe_request(route: &str, seconds: f64) {
    if route == "/api/v1/events" {
        return;
    }
    let mut map = REQUEST_LATENCY.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(route.to_owned()).or_default().observe(seconds);
}

/// Time from a message's sending to its webhook delivery's acknowledgement.
static WEBHOOK_LAG: LazyLock<Mutex<Histogram>> = LazyLock::new(|| Mutex::new(Histogram::default()));

/// Records a webhook delivery's lag (send to acknowledgement).
pub fn observe_webhook_lag(seconds: f64) {
    WEBHOOK_LAG
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .observe(seconds);
}

/// Records how long a Redis call took.
pub fn observe_redis(seconds: f64) {
    REDIS_LATENCY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .observe(seconds);
}

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

/// Counts a connection accepted over a cap (`instance`: the instance's,
/// otherwise its address's); its requests are refused.
pub fn connection_refused(instance: bool) {
    inc(if instance {
        &REFUSED_OVER_INSTANCE_CAP
    } else {
        &REFUSED_OVER_ADDRESS_CAP
    });
}

/// Adds `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The exposition text; `open_streams` is the current number of local
/// streams, `open_connections` of client connections.
pub fn render(open_streams: usize, open_connections: usize) -> String {
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
    let _ = writeln!(
        out,
        "# HELP confab_http_request_duration_seconds HTTP request latency (event streams excluded)."
    );
    let _ = writeln!(out, "# TYPE confab_http_request_duration_seconds histogram");
    for (route, h) in REQUEST_LATENCY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        let route = route.replace('\\', "\\\\").replace('"', "\\\"");
        h.render(
            &mut out,
            "confab_http_request_duration_seconds",
            &format!("route=\"{route}\""),
        );
    }
    let _ = writeln!(
        out,
        "# HELP confab_redis_command_duration_seconds Latency of Redis calls."
    );
    let _ = writeln!(
        out,
        "# TYPE confab_redis_command_duration_seconds histogram"
    );
    REDIS_LATENCY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .render(&mut out, "confab_redis_command_duration_seconds", "");
    let _ = writeln!(
        out,
        "# HELP confab_webhook_delivery_lag_seconds Time from a message's sending to its webhook delivery's acknowledgement."
    );
    let _ = writeln!(out, "# TYPE confab_webhook_delivery_lag_seconds histogram");
    WEBHOOK_LAG
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .render(&mut out, "confab_webhook_delivery_lag_seconds", "");
    let counters: [(&str, &str, &AtomicU64); 21] = [
        (
            "confab_webhook_deliveries_total",
            "Webhook deliveries acknowledged by their receiver (2xx).",
            &WEBHOOK_DELIVERED,
        ),
        (
            "confab_webhook_failed_attempts_total",
            "Webhook delivery attempts that failed (non-2xx, timeout, unreachable).",
            &WEBHOOK_FAILED_ATTEMPTS,
        ),
        (
            "confab_webhook_retries_total",
            "Webhook deliveries scheduled for another attempt.",
            &WEBHOOK_RETRIES,
        ),
        (
            "confab_webhook_given_up_total",
            "Webhook deliveries given up after retrying for webhooks.give_up_after_secs.",
            &WEBHOOK_GIVEN_UP,
        ),
        (
            "confab_messages_edited_total",
            "Messages edited (room and direct).",
            &MESSAGES_EDITED,
        ),
        (
            "confab_messages_deleted_total",
            "Messages deleted (room and direct).",
            &MESSAGES_DELETED,
        ),
        (
            "confab_typing_forwarded_total",
            "Typing notices forwarded to streams.",
            &TYPING_FORWARDED,
        ),
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
            "confab_streams_cut_total",
            "Streams whose connection ended with events still waiting for them (the client stopped reading, or went).",
            &STREAMS_CUT,
        ),
        (
            "confab_rate_limited_total",
            "Requests refused by a rate limit.",
            &RATE_LIMITED,
        ),
        (
            "confab_offline_events_queued_total",
            "Events appended to offline queues.",
            &OFFLINE_QUEUED,
        ),
        (
            "confab_redis_errors_total",
            "Redis calls that failed.",
            &REDIS_ERRORS,
        ),
        (
            "confab_pubsub_disconnects_total",
            "Times the Pub/Sub connection was lost.",
            &PUBSUB_DISCONNECTS,
        ),
        (
            "confab_request_body_timeouts_total",
            "Request bodies that did not arrive within server.body_timeout_ms (answered 408).",
            &BODY_TIMEOUTS,
        ),
        (
            "confab_password_hashes_refused_total",
            "Password hashes and checks refused because too many were waiting.",
            &HASHES_REFUSED,
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
    let _ = writeln!(
        out,
        "# HELP confab_connections_refused_total Client connections accepted over a connection cap (their requests get 503)."
    );
    let _ = writeln!(out, "# TYPE confab_connections_refused_total counter");
    for (cap, counter) in [
        ("instance", &REFUSED_OVER_INSTANCE_CAP),
        ("address", &REFUSED_OVER_ADDRESS_CAP),
    ] {
        let _ = writeln!(
            out,
            "confab_connections_refused_total{{cap=\"{cap}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP confab_open_connections Client connections open on this instance's main address."
    );
    let _ = writeln!(out, "# TYPE confab_open_connections gauge");
    let _ = writeln!(out, "confab_open_connections {open_connections}");
    out
}
