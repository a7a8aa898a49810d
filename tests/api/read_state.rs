//! Read markers and unread counts (API v1.1): per room and per
//! conversation, only forward, synced to the user's streams with `read`.

use serde_json::{Value, json};

use crate::helpers::*;

/// The id of a 201 send reply.
fn id_of(reply: &Reply) -> String {
    reply.assert_status(201)["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// `(last_read_id, unread_count)` of a room or conversation entry.
fn read_state(entry: &Value) -> (Value, u64) {
    (
        entry["last_read_id"].clone(),
        entry["unread_count"].as_u64().expect("unread_count"),
    )
}

#[actix_web::test]
async fn unread_counts_messages_from_others_after_the_marker() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut alices = Vec::new();
    for i in 0..3 {
        alices.push(id_of(&app.send(&alice, &room, &format!("a{i}")).await));
    }
    for i in 0..2 {
        app.send(&bob, &room, &format!("b{i}"))
            .await
            .assert_status(201);
    }

    // Without a marker every message from others counts, never one's own.
    assert_eq!(
        read_state(&app.my_room(&bob, &room).await),
        (Value::Null, 3)
    );
    assert_eq!(
        read_state(&app.my_room(&alice, &room).await),
        (Value::Null, 2)
    );

    app.mark_read(&bob, &room, &alices[1])
        .await
        .assert_status(204);

    assert_eq!(
        read_state(&app.my_room(&bob, &room).await),
        (json!(alices[1]), 1)
    );
    // The other fields of the room are all there too.
    let entry = app.my_room(&bob, &room).await;
    assert_eq!(entry["name"], "general");
    assert_eq!(entry["message_count"], 5);
}

#[actix_web::test]
async fn a_marker_never_moves_back() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let first = id_of(&app.send(&alice, &room, "one").await);
    let second = id_of(&app.send(&alice, &room, "two").await);
    app.mark_read(&bob, &room, &second).await.assert_status(204);

    let older = app.mark_read(&bob, &room, &first).await;

    older.assert_status(204);
    assert_eq!(
        read_state(&app.my_room(&bob, &room).await),
        (json!(second), 0)
    );
}

#[actix_web::test]
async fn bad_markers_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let other_room = app.room(&alice, "other").await;
    let marked = id_of(&app.send(&alice, &room, "read this").await);
    let elsewhere = id_of(&app.send(&alice, &other_room, "not here").await);
    app.send(&alice, &room, "unread").await.assert_status(201);
    app.mark_read(&bob, &room, &marked).await.assert_status(204);
    let carol = app.user("carol").await;

    for bad in ["nope", "", "1-", "-1", "12345678901234567890123-0"] {
        let reply = app.mark_read(&bob, &room, bad).await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], "message_id", "{bad}");
    }
    // A message of another room, and one from the future.
    app.mark_read(&bob, &room, &elsewhere)
        .await
        .assert_problem(400, "validation_failed");
    app.mark_read(&bob, &room, "99999999999999-0")
        .await
        .assert_problem(400, "validation_failed");
    let body = app
        .put(
            &format!("/api/v1/rooms/{room}/read"),
            &bob.token,
            json!({"id": marked}),
        )
        .await;
    body.assert_problem(400, "validation_failed");
    app.mark_read(&carol, &room, &marked)
        .await
        .assert_problem(403, "not_a_member");
    app.mark_read(&bob, "no-such-room", &marked)
        .await
        .assert_problem(404, "room_not_found");

    assert_eq!(
        read_state(&app.my_room(&bob, &room).await),
        (json!(marked), 1)
    );
}

#[actix_web::test]
async fn unread_counts_stop_at_a_hundred() {
    let app = spawn_app_configured(|s| s.limits.send_burst = 1000).await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut ids = Vec::new();
    for i in 0..105 {
        ids.push(id_of(&app.send(&alice, &room, &format!("m{i}")).await));
    }

    assert_eq!(app.my_room(&bob, &room).await["unread_count"], 100);
    app.mark_read(&bob, &room, &ids[9]).await.assert_status(204);
    assert_eq!(app.my_room(&bob, &room).await["unread_count"], 95);
}

#[actix_web::test]
async fn deleted_messages_are_not_unread() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let kept = id_of(&app.send(&alice, &room, "kept").await);
    let gone = id_of(&app.send(&alice, &room, "gone").await);
    app.mark_read(&bob, &room, &kept).await.assert_status(204);

    app.delete(
        &format!("/api/v1/rooms/{room}/messages/{gone}"),
        &alice.token,
    )
    .await
    .assert_status(204);

    assert_eq!(app.my_room(&bob, &room).await["unread_count"], 0);
    // Alice deleting her own message leaves her count alone.
    assert_eq!(app.my_room(&alice, &room).await["unread_count"], 0);
}

#[actix_web::test]
async fn moving_a_marker_tells_the_users_own_streams() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let id = id_of(&app.send(&alice, &room, "hello").await);
    let mut bobs = app.live_events(&bob).await;
    let mut alices = app.live_events(&alice).await;

    app.mark_read(&bob, &room, &id).await.assert_status(204);
    // Marking the same message again moves nothing and says nothing.
    app.mark_read(&bob, &room, &id).await.assert_status(204);
    app.send(&alice, &room, "after").await.assert_status(201);

    let read = bobs.expect("read").await;
    assert_eq!(
        read.data,
        json!({"room_id": room, "username": null, "message_id": id})
    );
    assert_eq!(read.id, None);
    assert_eq!(bobs.expect("message").await.data["body"], "after");
    // Others never learn where bob's marker is.
    assert_eq!(alices.expect("message").await.data["body"], "after");
}

#[actix_web::test]
async fn conversations_have_markers_and_unread_counts_too() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id_of(
            &app.send_direct(&alice, "bob", &format!("d{i}")).await,
        ));
    }
    let other = id_of(&app.send_direct(&alice, "carol", "to carol").await);
    app.send_direct(&carol, "alice", "to alice")
        .await
        .assert_status(201);
    let mut bobs = app.live_events(&bob).await;

    assert_eq!(
        read_state(&app.my_conversation(&bob, "alice").await),
        (Value::Null, 3)
    );
    assert_eq!(
        read_state(&app.my_conversation(&alice, "bob").await),
        (Value::Null, 0)
    );
    let path = "/api/v1/users/ALICE/read";
    app.put(path, &bob.token, json!({"message_id": ids[1]}))
        .await
        .assert_status(204);

    assert_eq!(
        read_state(&app.my_conversation(&bob, "alice").await),
        (json!(ids[1]), 1)
    );
    let read = bobs.expect("read").await;
    assert_eq!(
        read.data,
        json!({"room_id": null, "username": "alice", "message_id": ids[1]})
    );
    // Only forward; ids of other conversations and unknown users refused.
    app.put(path, &bob.token, json!({"message_id": ids[0]}))
        .await
        .assert_status(204);
    app.put(path, &bob.token, json!({"message_id": other}))
        .await
        .assert_problem(400, "validation_failed");
    app.put(path, &bob.token, json!({"message_id": "x"}))
        .await
        .assert_problem(400, "validation_failed");
    app.put(
        "/api/v1/users/nobody/read",
        &bob.token,
        json!({"message_id": ids[0]}),
    )
    .await
    .assert_problem(404, "user_not_found");
    assert_eq!(
        read_state(&app.my_conversation(&bob, "alice").await),
        (json!(ids[1]), 1)
    );
}

/// Everything in a room's history, oldest first: (id, sender id, deleted).
async fn everything(app: &TestApp, user: &TestUser, room: &str) -> Vec<(String, String, bool)> {
    let mut all = Vec::new();
    let mut path = format!("/api/v1/rooms/{room}/messages?limit=100");
    loop {
        let page = app.get(&path, &user.token).await;
        let page = page.assert_status(200);
        let mut older: Vec<(String, String, bool)> = page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().expect("id").to_owned(),
                    m["sender"]["id"].as_str().expect("sender").to_owned(),
                    m["deleted_at"].is_string(),
                )
            })
            .collect();
        older.append(&mut all);
        all = older;
        if !page["has_more"].as_bool().expect("has_more") {
            return all;
        }
        path = format!(
            "/api/v1/rooms/{room}/messages?limit=100&before={}",
            all[0].0
        );
    }
}

#[actix_web::test]
async fn unread_counts_stay_exact_while_messages_arrive_and_markers_move() {
    let app = spawn_app_configured(|s| s.limits.send_burst = 10_000).await;
    let (alice, bob, room) = room_with_two(&app).await;
    let carol = app.user("carol").await;
    app.join(&carol, &room).await.assert_status(200);
    let mut bobs = app.live_events(&bob).await;

    // Alice and carol send (alice deleting every fifth of hers), bob sends
    // too, and bob moves his marker to whatever his stream last showed, all
    // at once.
    let senders = async {
        let alice_sends = async {
            for i in 0..40 {
                let id = id_of(&app.send(&alice, &room, &format!("a{i}")).await);
                if i % 5 == 0 {
                    let path = format!("/api/v1/rooms/{room}/messages/{id}");
                    app.delete(&path, &alice.token).await.assert_status(204);
                }
            }
        };
        let carol_sends = async {
            for i in 0..40 {
                app.send(&carol, &room, &format!("c{i}"))
                    .await
                    .assert_status(201);
            }
        };
        let bob_sends = async {
            for i in 0..20 {
                app.send(&bob, &room, &format!("b{i}"))
                    .await
                    .assert_status(201);
            }
        };
        futures_util::join!(alice_sends, carol_sends, bob_sends);
    };
    let reader = async {
        let mut seen = 0;
        while seen < 100 {
            let event = bobs.next().await;
            if event.event != "message" {
                continue;
            }
            seen += 1;
            if seen % 3 == 0 {
                app.mark_read(&bob, &room, &event.message_id())
                    .await
                    .assert_status(204);
                let entry = app.my_room(&bob, &room).await;
                let unread = entry["unread_count"].as_u64().expect("count");
                assert!(unread <= 100, "{entry}");
            }
        }
    };
    futures_util::join!(senders, reader);

    // At rest the count is exactly what history says.
    let entry = app.my_room(&bob, &room).await;
    let marker = entry["last_read_id"].as_str().expect("a marker").to_owned();
    let history = everything(&app, &bob, &room).await;
    let at = history
        .iter()
        .position(|(id, _, _)| *id == marker)
        .expect("the marker is a message of the room");
    let expected = history[at + 1..]
        .iter()
        .filter(|(_, sender, deleted)| *sender != bob.id && !deleted)
        .count();
    assert_eq!(entry["unread_count"], expected.min(100), "{entry}");
    // And a last marker at the newest message leaves nothing unread.
    let newest = history.last().expect("messages").0.clone();
    app.mark_read(&bob, &room, &newest).await.assert_status(204);
    assert_eq!(app.my_room(&bob, &room).await["unread_count"], 0);
}
