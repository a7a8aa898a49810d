//! Typing notices (API v1.1): forwarded to the others' streams over
//! Pub/Sub, never stored or queued, throttled, rate limited.

use serde_json::json;

use crate::helpers::*;

/// `POST /rooms/{room}/typing` as `user`.
async fn typing_in_room(app: &TestApp, user: &TestUser, room: &str) -> Reply {
    app.post(
        &format!("/api/v1/rooms/{room}/typing"),
        &user.token,
        json!({}),
    )
    .await
}

/// The short form of a user, as events carry it.
fn lite(user: &TestUser) -> serde_json::Value {
    json!({"id": user.id, "username": user.username, "display_name": user.username})
}

#[actix_web::test]
async fn typing_reaches_the_other_members_and_not_the_typist() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut bobs = app.live_events(&bob).await;
    let mut alices = app.live_events(&alice).await;

    typing_in_room(&app, &alice, &room).await.assert_status(204);
    app.send(&alice, &room, "done typing")
        .await
        .assert_status(201);

    let typing = bobs.expect("typing").await;
    assert_eq!(typing.data, json!({"room_id": room, "user": lite(&alice)}));
    assert_eq!(typing.id, None);
    assert_eq!(bobs.expect("message").await.data["body"], "done typing");
    // Alice's own streams skip her notice: the next thing is her message.
    assert_eq!(alices.expect("message").await.data["body"], "done typing");
}

#[actix_web::test]
async fn one_notice_per_two_seconds_goes_out() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut bobs = app.live_events(&bob).await;

    for _ in 0..3 {
        typing_in_room(&app, &alice, &room).await.assert_status(204);
    }
    app.send(&alice, &room, "sent").await.assert_status(201);

    bobs.expect("typing").await;
    assert_eq!(bobs.expect("message").await.data["body"], "sent");
}

#[actix_web::test]
async fn typing_to_a_user_reaches_only_them() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut bobs = app.live_events(&bob).await;

    let reply = app
        .post("/api/v1/users/BOB/typing", &alice.token, json!({}))
        .await;

    reply.assert_status(204);
    let typing = bobs.expect("typing").await;
    assert_eq!(typing.data, json!({"room_id": null, "user": lite(&alice)}));
}

#[actix_web::test]
async fn typing_notices_are_not_kept_for_offline_users() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;

    typing_in_room(&app, &alice, &room).await.assert_status(204);
    app.post("/api/v1/users/bob/typing", &alice.token, json!({}))
        .await
        .assert_status(204);
    app.send_direct(&alice, "bob", "later")
        .await
        .assert_status(201);

    let (mut bobs, ready) = app.events(&bob).await;
    assert_eq!(ready["offline_count"], 1, "{ready}");
    assert_eq!(bobs.expect("direct_message").await.data["body"], "later");
}

#[actix_web::test]
async fn a_typing_flood_is_refused_and_not_forwarded() {
    let app = spawn_app_configured(|s| s.limits.typing_per_min = 2).await;
    let (alice, bob, room) = room_with_two(&app).await;
    let second = app.room(&alice, "second").await;
    let third = app.room(&alice, "third").await;
    for room in [&second, &third] {
        app.join(&bob, room).await.assert_status(200);
    }
    let mut bobs = app.live_events(&bob).await;

    typing_in_room(&app, &alice, &room).await.assert_status(204);
    typing_in_room(&app, &alice, &second)
        .await
        .assert_status(204);
    let flood = typing_in_room(&app, &alice, &third).await;
    app.send(&alice, &third, "after the flood")
        .await
        .assert_status(201);

    flood.assert_problem(429, "rate_limited");
    assert!(flood.headers.contains_key("retry-after"));
    assert_eq!(bobs.expect("typing").await.data["room_id"], room);
    assert_eq!(bobs.expect("typing").await.data["room_id"], second);
    // Nothing for the third room: the refused notice went nowhere.
    assert_eq!(bobs.expect("message").await.data["body"], "after the flood");
}

#[actix_web::test]
async fn typing_needs_a_room_you_are_in_or_another_user() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;
    let carol = app.user("carol").await;

    typing_in_room(&app, &carol, &room)
        .await
        .assert_problem(403, "not_a_member");
    typing_in_room(&app, &alice, "no-such-room")
        .await
        .assert_problem(404, "room_not_found");
    app.post("/api/v1/users/nobody/typing", &alice.token, json!({}))
        .await
        .assert_problem(404, "user_not_found");
    app.post("/api/v1/users/alice/typing", &alice.token, json!({}))
        .await
        .assert_problem(400, "validation_failed");
}

#[actix_web::test]
async fn a_sent_message_ends_the_wait_so_the_next_notice_goes_out_at_once() {
    // Alice types, sends, and starts typing the next message at once: the
    // message ended the notice Bob saw, so her new one reaches him too
    // (rather than being held back for the rest of two seconds).
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut bobs = app.live_events(&bob).await;

    typing_in_room(&app, &alice, &room).await.assert_status(204);
    app.send(&alice, &room, "first").await.assert_status(201);
    typing_in_room(&app, &alice, &room).await.assert_status(204);
    app.send(&alice, &room, "second").await.assert_status(201);

    bobs.expect("typing").await;
    assert_eq!(bobs.expect("message").await.data["body"], "first");
    assert_eq!(bobs.expect("typing").await.data["user"], lite(&alice));
    assert_eq!(bobs.expect("message").await.data["body"], "second");
}

#[actix_web::test]
async fn a_sent_direct_message_ends_the_wait_in_the_conversation() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut bobs = app.live_events(&bob).await;
    let typing = || app.post("/api/v1/users/bob/typing", &alice.token, json!({}));
    let send = |body: &'static str| {
        app.post(
            "/api/v1/users/bob/messages",
            &alice.token,
            json!({ "body": body }),
        )
    };

    typing().await.assert_status(204);
    send("first").await.assert_status(201);
    typing().await.assert_status(204);
    send("second").await.assert_status(201);

    bobs.expect("typing").await;
    assert_eq!(bobs.expect("direct_message").await.data["body"], "first");
    assert_eq!(bobs.expect("typing").await.data["room_id"], json!(null));
    assert_eq!(bobs.expect("direct_message").await.data["body"], "second");
}
