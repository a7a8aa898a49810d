//! Waiting for something that happens in the background (a Pub/Sub
//! delivery, a reconnect to Redis, a sweeper): poll every 50 ms and fail the
//! test with a clear message once a deadline passes, instead of sleeping a
//! fixed time that is either too short on a busy machine or wasted.

use std::future::Future;
use std::time::{Duration, Instant};

/// Waits for `cond` to hold, polling; panics after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_some(timeout, || {
        let check = cond();
        async move { check.await.then_some(()) }
    })
    .await;
}

/// Calls `attempt` until it gives `Some`, polling; panics after `timeout`.
pub async fn eventually_some<T, F, Fut>(timeout: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
