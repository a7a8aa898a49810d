//! Limits: sends beyond a user's rate get 429 with `Retry-After` and store
//! nothing.

use crate::helpers::*;

#[actix_web::test]
async fn sending_faster_than_the_rate_gets_429_and_stores_nothing() {
    let app = spawn_app_configured(|s| {
        s.limits.send_burst = 3;
        s.limits.send_rate_per_sec = 1;
    })
    .await;
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

#[actix_web::test]
async fn registrations_beyond_the_per_address_limit_get_429_and_store_nothing() {
    let app = spawn_app_configured(|s| {
        s.limits.register_per_ip_burst = 2;
        s.limits.register_per_ip_per_min = 1;
    })
    .await;
    let first = app.user("first").await;
    app.register("second", "password123")
        .await
        .assert_status(201);

    let limited = app.register("third", "password123").await;

    limited.assert_problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    app.get("/api/v1/users/third", &first.token)
        .await
        .assert_problem(404, "user_not_found");
}

#[actix_web::test]
async fn ticket_requests_beyond_the_limit_get_429() {
    let app = spawn_app_configured(|s| {
        s.limits.tickets_burst = 2;
        s.limits.tickets_per_min = 1;
    })
    .await;
    let alice = app.user("alice").await;
    for _ in 0..2 {
        app.post(
            "/api/v1/events/tickets",
            &alice.token,
            serde_json::json!({}),
        )
        .await
        .assert_status(201);
    }

    let limited = app
        .post(
            "/api/v1/events/tickets",
            &alice.token,
            serde_json::json!({}),
        )
        .await;

    limited.assert_problem(429, "rate_limited");
}

#[actix_web::test]
async fn belonging_to_more_rooms_than_the_cap_gets_429_and_stores_nothing() {
    let app = spawn_app_configured(|s| s.limits.max_rooms_per_user = 2).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let first = app.room(&alice, "first").await;
    app.room(&alice, "second").await;
    let bobs = app.room(&bob, "bobs").await;

    let create = app
        .post(
            "/api/v1/rooms",
            &alice.token,
            serde_json::json!({"name": "third"}),
        )
        .await;
    let join = app.join(&alice, &bobs).await;

    create.assert_problem(429, "too_many_rooms");
    join.assert_problem(429, "too_many_rooms");
    let mine = app.get("/api/v1/users/me/rooms", &alice.token).await;
    assert_eq!(
        mine.assert_status(200)["items"].as_array().unwrap().len(),
        2
    );
    let all = app.get("/api/v1/rooms", &alice.token).await;
    assert_eq!(
        all.json["items"].as_array().unwrap().len(),
        3,
        "no room `third`"
    );
    // Joining a room you are in, or one that does not exist, is unaffected.
    app.join(&alice, &first).await.assert_status(200);
    app.join(&alice, "00000000-0000-4000-8000-000000000000")
        .await
        .assert_problem(404, "room_not_found");
    // Leaving makes room for another.
    app.leave(&alice, &first).await;
    app.join(&alice, &bobs).await.assert_status(200);
}

#[actix_web::test]
async fn an_instance_holding_its_maximum_of_streams_answers_503() {
    let app = spawn_app_configured(|s| s.limits.max_streams_per_instance = 1).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (_held, _) = app.events(&alice).await;

    let auth = format!("Bearer {}", bob.token);
    let refused = app
        .open_events("/api/v1/events", &[("authorization", &auth)])
        .await
        .err()
        .unwrap();

    refused.assert_problem(503, "unavailable");
    assert!(refused.headers.contains_key("retry-after"));
}

#[actix_web::test]
async fn room_messages_older_than_the_retention_age_leave_the_history() {
    let app = spawn_app_configured(|s| s.limits.room_history_max_age_secs = 1).await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    app.send(&alice, &room, "old").await.assert_status(201);

    // The retention is about time itself: let more than a second pass.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.send(&alice, &room, "new").await.assert_status(201);

    let history = app
        .get(&format!("/api/v1/rooms/{room}/messages"), &alice.token)
        .await;
    assert_eq!(bodies(history.assert_status(200)), ["new"]);
    let stats = app
        .get(&format!("/api/v1/rooms/{room}/stats"), &alice.token)
        .await;
    assert_eq!(
        stats.json["message_count"], 2,
        "the count keeps every message sent"
    );
}

#[actix_web::test]
async fn login_attempts_from_one_address_are_limited() {
    let app = spawn_app_configured(|s| {
        s.limits.login_per_ip_burst = 2;
        s.limits.login_per_ip_per_min = 1;
    })
    .await;
    app.register("carol", "password123")
        .await
        .assert_status(201);
    app.login("carol", "password123").await.assert_status(200);
    app.login("nobody", "password123")
        .await
        .assert_problem(401, "invalid_credentials");

    let limited = app.login("carol", "password123").await;

    limited.assert_problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
}

#[actix_web::test]
async fn room_history_is_capped_at_its_configured_length() {
    let app = spawn_app_configured(|s| s.limits.room_history_max_len = 1).await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;

    for i in 0..300 {
        app.send(&alice, &room, &format!("m{i}"))
            .await
            .assert_status(201);
    }

    // MAXLEN ~ trims whole stream nodes (100 entries by default), so the
    // history holds about the cap, never all 300; the newest are kept.
    let page = app
        .get(
            &format!("/api/v1/rooms/{room}/messages?limit=100"),
            &alice.token,
        )
        .await;
    let kept = bodies(page.assert_status(200));
    assert_eq!(kept.last().map(String::as_str), Some("m299"));
    let all = app.all_message_ids(&alice, &room).await;
    assert!(all.len() < 300, "history kept {} of 300", all.len());
    let stats = app
        .get(&format!("/api/v1/rooms/{room}/stats"), &alice.token)
        .await;
    assert_eq!(stats.json["message_count"], 300);
}

#[actix_web::test]
async fn cors_allows_only_the_configured_origins() {
    let app =
        spawn_app_configured(|s| s.server.cors_origins = vec!["https://app.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/rooms", app.address),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };

    let allowed = preflight("https://app.example").await.unwrap();
    let refused = preflight("https://evil.example").await.unwrap();

    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(refused.status().is_client_error());
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
}

#[actix_web::test]
async fn requests_with_too_many_headers_are_refused_before_reaching_confab() {
    // The HTTP layer (actix-http) caps a request at 96 headers and 128 KiB
    // of head: beyond that it answers 431 and closes the connection.
    let app = spawn_app().await;
    let mut request = app.client.get(format!("{}/healthz", app.address));
    for i in 0..120 {
        request = request.header(format!("x-filler-{i}"), "v");
    }

    let refused = request.send().await.unwrap();

    assert_eq!(refused.status(), 431);
}
