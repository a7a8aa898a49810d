//! Editing and deleting messages (API v1.1): history shows the current
//! version in the message's place; streams get `message_edited` and
//! `message_deleted`, live, on resume and after being offline, in order.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// The id of a 201 send reply.
fn id_of(reply: &Reply) -> String {
    reply.assert_status(201)["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// `PATCH` a room message's body as `user`.
async fn edit(app: &TestApp, user: &TestUser, room: &str, id: &str, body: &str) -> Reply {
    let path = format!("/api/v1/rooms/{room}/messages/{id}");
    app.patch(&path, &user.token, json!({"body": body})).await
}

/// `DELETE` a room message as `user`.
async fn delete(app: &TestApp, user: &TestUser, room: &str, id: &str) -> Reply {
    app.delete(&format!("/api/v1/rooms/{room}/messages/{id}"), &user.token)
        .await
}

/// The room's whole history (up to 100), oldest first, as `user` sees it.
async fn history(app: &TestApp, user: &TestUser, room: &str) -> Vec<Value> {
    let page = app
        .get(
            &format!("/api/v1/rooms/{room}/messages?limit=100"),
            &user.token,
        )
        .await;
    page.assert_status(200)["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

#[actix_web::test]
async fn an_edit_shows_in_history_in_the_messages_place_and_reaches_members() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let first = id_of(&app.send(&alice, &room, "helo").await);
    app.send(&bob, &room, "after").await.assert_status(201);
    let mut bobs = app.live_events(&bob).await;

    let reply = edit(&app, &alice, &room, &first, "hello").await;

    let edited = reply.assert_status(200).clone();
    assert_eq!(edited["id"], first);
    assert_eq!(edited["body"], "hello");
    assert!(edited["edited_at"].is_string(), "{edited}");
    assert_eq!(edited["deleted_at"], Value::Null);
    let event = bobs.expect("message_edited").await;
    assert_eq!(event.data, edited);
    event.token();
    let messages = history(&app, &bob, &room).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0], edited);
    assert_eq!(messages[1]["body"], "after");
}

#[actix_web::test]
async fn a_deleted_message_keeps_its_place_without_its_text() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let before = id_of(&app.send(&alice, &room, "before").await);
    let gone = id_of(&app.send(&alice, &room, "regrettable").await);
    let after = id_of(&app.send(&alice, &room, "after").await);
    let mut bobs = app.live_events(&bob).await;

    delete(&app, &alice, &room, &gone).await.assert_status(204);
    // Idempotent: a second delete is also 204 and says nothing new.
    delete(&app, &alice, &room, &gone).await.assert_status(204);
    app.send(&alice, &room, "next").await.assert_status(201);

    let event = bobs.expect("message_deleted").await;
    assert_eq!(event.data["id"], gone);
    assert_eq!(event.data["body"], Value::Null);
    assert!(event.data["deleted_at"].is_string());
    assert_eq!(bobs.expect("message").await.data["body"], "next");
    let messages = history(&app, &bob, &room).await;
    let ids: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids[..3], [before.as_str(), gone.as_str(), after.as_str()]);
    assert_eq!(messages[1]["body"], Value::Null);
    assert_eq!(messages[1]["deleted_at"], event.data["deleted_at"]);
    // Paging around it finds it exactly once.
    let page = app
        .get(
            &format!("/api/v1/rooms/{room}/messages?limit=1&after={before}"),
            &bob.token,
        )
        .await;
    assert_eq!(
        crate::helpers::ids(page.assert_status(200)),
        [gone.as_str()]
    );
    // A deleted message cannot be edited.
    edit(&app, &alice, &room, &gone, "back")
        .await
        .assert_problem(404, "message_not_found");
}

#[actix_web::test]
async fn only_the_sender_edits_or_deletes_and_bad_ids_are_not_found() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let other_room = app.room(&bob, "other").await;
    let id = id_of(&app.send(&alice, &room, "mine").await);
    let elsewhere = id_of(&app.send(&bob, &other_room, "elsewhere").await);
    let carol = app.user("carol").await;

    edit(&app, &bob, &room, &id, "hacked")
        .await
        .assert_problem(403, "not_your_message");
    delete(&app, &bob, &room, &id)
        .await
        .assert_problem(403, "not_your_message");
    edit(&app, &carol, &room, &id, "x")
        .await
        .assert_problem(403, "not_a_member");
    for bad in ["1-0", "nope", "99999999999999-0", elsewhere.as_str()] {
        edit(&app, &alice, &room, bad, "x")
            .await
            .assert_problem(404, "message_not_found");
        delete(&app, &alice, &room, bad)
            .await
            .assert_problem(404, "message_not_found");
    }
    edit(&app, &alice, "no-such-room", &id, "x")
        .await
        .assert_problem(404, "room_not_found");
    for body in [
        json!({"body": ""}),
        json!({"body": "  "}),
        json!({"text": "x"}),
    ] {
        let reply = app
            .patch(
                &format!("/api/v1/rooms/{room}/messages/{id}"),
                &alice.token,
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }

    let messages = history(&app, &alice, &room).await;
    assert_eq!(messages[0]["body"], "mine");
    assert_eq!(messages[0]["edited_at"], Value::Null);
}

#[actix_web::test]
async fn the_edit_window_closes() {
    let app = spawn_app_configured(|s| s.limits.edit_window_secs = 1).await;
    let (alice, _, room) = room_with_two(&app).await;
    let id = id_of(&app.send(&alice, &room, "quick").await);

    // Waiting for time to pass: the window is one second long. (Edits
    // that still get in change nothing visible.)
    eventually(Duration::from_secs(10), || async {
        edit(&app, &alice, &room, &id, "quick").await.code() == "edit_window_closed"
    })
    .await;

    edit(&app, &alice, &room, &id, "too late")
        .await
        .assert_problem(403, "edit_window_closed");
    delete(&app, &alice, &room, &id)
        .await
        .assert_problem(403, "edit_window_closed");
    assert_eq!(history(&app, &alice, &room).await[0]["body"], "quick");
}

#[actix_web::test]
async fn direct_messages_are_edited_and_deleted_the_same_way() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let id = id_of(&app.send_direct(&alice, "bob", "hi bob").await);
    let second = id_of(&app.send_direct(&alice, "bob", "oops").await);
    let mut bobs = app.live_events(&bob).await;
    let mut alices = app.live_events(&alice).await;
    let path = |id: &str| format!("/api/v1/users/bob/messages/{id}");

    let edited = app
        .patch(&path(&id), &alice.token, json!({"body": "hi Bob"}))
        .await;
    app.delete(&path(&second), &alice.token)
        .await
        .assert_status(204);

    let edited = edited.assert_status(200).clone();
    assert_eq!(edited["body"], "hi Bob");
    assert_eq!(edited["recipient"]["username"], "bob");
    assert!(edited["edited_at"].is_string());
    for stream in [&mut bobs, &mut alices] {
        let event = stream.expect("message_edited").await;
        assert_eq!(event.data, edited);
        event.token();
        let deleted = stream.expect("message_deleted").await;
        assert_eq!(deleted.data["id"], second);
        assert_eq!(deleted.data["body"], Value::Null);
    }
    let page = app.get("/api/v1/users/alice/messages", &bob.token).await;
    let messages = page.assert_status(200)["messages"].clone();
    assert_eq!(messages[0], edited);
    assert_eq!(messages[1]["body"], Value::Null);
    let conversation = app.my_conversation(&bob, "alice").await;
    assert_eq!(
        conversation["last_message"]["deleted_at"],
        messages[1]["deleted_at"]
    );
    // Bob cannot touch alice's messages; bad ids are not found.
    app.patch(
        &format!("/api/v1/users/alice/messages/{id}"),
        &bob.token,
        json!({"body": "x"}),
    )
    .await
    .assert_problem(403, "not_your_message");
    app.patch(&path("1-0"), &alice.token, json!({"body": "x"}))
        .await
        .assert_problem(404, "message_not_found");
    app.delete("/api/v1/users/nobody/messages/1-0", &alice.token)
        .await
        .assert_problem(404, "user_not_found");
    // The deleted one no longer counts as unread.
    assert_eq!(conversation["unread_count"], 1);
}

#[actix_web::test]
async fn a_member_who_was_offline_gets_edits_after_the_messages_in_order() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    // Bob has been online once, so the backlog starts where he left.
    let (stream, _) = app.events(&bob).await;
    drop(stream);
    let bob_name = bob.username.clone();
    eventually(Duration::from_secs(5), || async {
        !app.get("/api/v1/users/online", &alice.token)
            .await
            .text
            .contains(&bob_name)
    })
    .await;
    let one = id_of(&app.send(&alice, &room, "one").await);
    let two = id_of(&app.send(&alice, &room, "two").await);
    edit(&app, &alice, &room, &one, "one, edited")
        .await
        .assert_status(200);
    delete(&app, &alice, &room, &two).await.assert_status(204);
    let dm = id_of(&app.send_direct(&alice, "bob", "psst").await);
    app.patch(
        &format!("/api/v1/users/bob/messages/{dm}"),
        &alice.token,
        json!({"body": "psst!"}),
    )
    .await
    .assert_status(200);

    let (mut bobs, ready) = app.events(&bob).await;

    assert_eq!(ready["offline_count"], 6, "{ready}");
    let mut got = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..6 {
        let event = bobs.next().await;
        got.push((
            event.event.clone(),
            event.data["id"].as_str().unwrap().to_owned(),
        ));
        bodies.push(event.data["body"].clone());
    }
    // Messages go out as they are now: a deleted one's text never again.
    assert_eq!(
        bodies,
        [
            json!("one, edited"),
            Value::Null,
            json!("one, edited"),
            Value::Null,
            json!("psst!"),
            json!("psst!"),
        ]
    );
    let expect = |kind: &str, id: &str| (kind.to_owned(), id.to_owned());
    assert_eq!(
        got,
        [
            expect("message", &one),
            expect("message", &two),
            expect("message_edited", &one),
            expect("message_deleted", &two),
            expect("direct_message", &dm),
            expect("message_edited", &dm),
        ]
    );
}

#[actix_web::test]
async fn a_resumed_stream_gets_the_edits_it_missed_once() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut bobs = app.live_events(&bob).await;
    let one = id_of(&app.send(&alice, &room, "one").await);
    let dm = id_of(&app.send_direct(&alice, "bob", "hey").await);
    bobs.expect("message").await;
    let token = bobs.expect("direct_message").await.token();
    // An edit bob sees live, then the connection drops.
    edit(&app, &alice, &room, &one, "one!")
        .await
        .assert_status(200);
    let seen = bobs.expect("message_edited").await.token();
    drop(bobs);

    edit(&app, &alice, &room, &one, "one!!")
        .await
        .assert_status(200);
    app.patch(
        &format!("/api/v1/users/bob/messages/{dm}"),
        &alice.token,
        json!({"body": "hey!"}),
    )
    .await
    .assert_status(200);
    let two = id_of(&app.send(&alice, &room, "two").await);

    // Resuming from the last token seen: only what came after it.
    let (mut resumed, ready) = app.events_after(&bob, &seen).await;
    assert_eq!(ready["resumed"], true, "{ready}");
    assert_eq!(ready["offline_count"], 3, "{ready}");
    let edited = resumed.expect("message_edited").await;
    assert_eq!(edited.data["body"], "one!!");
    let edited_dm = resumed.expect("message_edited").await;
    assert_eq!(edited_dm.data["body"], "hey!");
    assert_eq!(resumed.expect("message").await.data["id"], two);
    // From the earlier token, the first edit comes again too.
    let (mut again, ready) = app.events_after(&bob, &token).await;
    assert_eq!(ready["offline_count"], 4, "{ready}");
    assert_eq!(again.expect("message_edited").await.data["body"], "one!");
    assert_eq!(again.expect("message_edited").await.data["body"], "one!!");
}
