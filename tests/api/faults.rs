//! Redis going away: requests get 503 `unavailable` quickly, and service
//! comes back by itself when Redis does.

use std::time::{Duration, Instant};

use crate::helpers::*;

#[actix_web::test]
async fn a_redis_outage_gives_503_and_service_recovers_without_a_restart() {
    // Arrange: a Redis of this test's own, so stopping it disturbs no one.
    let mut redis = TestRedis::start();
    let app = spawn_app_with(test_settings(&redis.url())).await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    app.send(&alice, &room, "before the outage")
        .await
        .assert_status(201);

    // Act: Redis stops.
    redis.stop();

    // Assert: every kind of request fails fast with 503 unavailable.
    let started = Instant::now();
    app.send(&alice, &room, "during the outage")
        .await
        .assert_problem(503, "unavailable");
    app.get(&format!("/api/v1/rooms/{room}/messages"), &alice.token)
        .await
        .assert_problem(503, "unavailable");
    app.register("bob", "password123")
        .await
        .assert_problem(503, "unavailable");
    assert_eq!(app.get_anonymous("/readyz").await.status, 503);
    assert_eq!(app.get_anonymous("/healthz").await.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "503s took {:?}",
        started.elapsed()
    );

    // Act: Redis comes back (empty: this test Redis keeps nothing on disk).
    redis.resume();

    // Assert: confab serves again without a restart.
    app.wait_until_ready(Duration::from_secs(15)).await;
    let bob = app.user("bob").await;
    let room = app.room(&bob, "after").await;
    app.send(&bob, &room, "after the outage")
        .await
        .assert_status(201);
    let history = app
        .get(&format!("/api/v1/rooms/{room}/messages"), &bob.token)
        .await;
    assert_eq!(bodies(history.assert_status(200)), ["after the outage"]);
}

#[actix_web::test]
async fn confab_starts_while_redis_is_down_and_serves_once_it_is_up() {
    let mut redis = TestRedis::start();
    redis.stop();

    let app = spawn_app_with(test_settings(&redis.url())).await;
    app.register("early", "password123")
        .await
        .assert_problem(503, "unavailable");
    redis.resume();

    eventually(Duration::from_secs(15), || async {
        app.register("early", "password123").await.status == 201
    })
    .await;
}

#[actix_web::test]
async fn a_redis_that_stops_answering_gives_503_within_the_timeout() {
    let redis = TestRedis::start();
    let settings = test_settings(&redis.url());
    let timeout = Duration::from_millis(settings.redis.timeout_ms);
    let app = spawn_app_with(settings).await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;

    redis.signal("STOP");
    let started = Instant::now();
    let frozen = app.send(&alice, &room, "into the void").await;
    let waited = started.elapsed();
    redis.signal("CONT");

    frozen.assert_problem(503, "unavailable");
    assert!(
        waited < timeout * 3,
        "waited {waited:?} with a {timeout:?} timeout"
    );
    eventually(Duration::from_secs(10), || async {
        app.send(&alice, &room, "after the freeze").await.status == 201
    })
    .await;
    let history = app
        .get(&format!("/api/v1/rooms/{room}/messages"), &alice.token)
        .await;
    let bodies = bodies(history.assert_status(200));
    assert_eq!(bodies.last().map(String::as_str), Some("after the freeze"));
    assert_eq!(
        bodies.iter().filter(|b| *b == "after the freeze").count(),
        1
    );
}
