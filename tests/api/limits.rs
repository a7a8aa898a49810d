//! Limits: sends beyond a user's rate get 429 with `Retry-After` and store
//! nothing.

use crate::helpers::*;

#[actix_web::test]
async fn sending_faster_than_the_rate_gets_429_and_stores_nothing() {
    let mut settings = test_settings(&shared_redis().url());
    settings.limits.send_burst = 3;
    settings.limits.send_rate_per_sec = 1;
    let app = spawn_app_with(settings).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&alice, "general").await;
    for i in 0..2 {
        app.send(&alice, &room, &format!("burst {i}"))
            .await
            .assert_status(201);
    }
    app.send_direct(&alice, "bob", "burst 2")
        .await
        .assert_status(201);

    let limited = app.send(&alice, &room, "one too many").await;
    let limited_direct = app.send_direct(&alice, "bob", "one too many").await;

    limited.assert_problem(429, "rate_limited");
    limited_direct.assert_problem(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let history = app
        .get(&format!("/api/v1/rooms/{room}/messages"), &alice.token)
        .await;
    assert_eq!(bodies(history.assert_status(200)), ["burst 0", "burst 1"]);
    let direct = app.get("/api/v1/users/alice/messages", &bob.token).await;
    assert_eq!(bodies(direct.assert_status(200)), ["burst 2"]);
    // Another user is not limited by alice's sends.
    app.join(&bob, &room).await.assert_status(200);
    app.send(&bob, &room, "bob is fine")
        .await
        .assert_status(201);
}
