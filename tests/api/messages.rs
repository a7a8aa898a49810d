//! Room messages: sending, idempotency and history paging.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// Sends `n` messages `m0`.. as `user`; returns their ids.
async fn send_many(app: &TestApp, user: &TestUser, room: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let reply = app.send(user, room, &format!("m{i}")).await;
        ids.push(reply.assert_status(201)["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// `GET /rooms/{room}/messages?{query}` as `user`, expecting 200.
async fn history(app: &TestApp, user: &TestUser, room: &str, query: &str) -> Value {
    let reply = app
        .get(
            &format!("/api/v1/rooms/{room}/messages?{query}"),
            &user.token,
        )
        .await;
    reply.assert_status(200).clone()
}

/// The bodies `m{from}..m{to}` (exclusive).
fn range(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("m{i}")).collect()
}

#[actix_web::test]
async fn sending_returns_the_stored_message() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;
    let before = confab::clock::now_ms();

    let reply = app.send(&alice, &room, "hello, world").await;

    let message = reply.assert_status(201).clone();
    let id = message["id"].as_str().expect("id");
    let (ms, _) = parse_message_id(id);
    assert!(
        ms >= before.saturating_sub(1000) && ms <= confab::clock::now_ms() + 1000,
        "{id}"
    );
    assert_eq!(
        message,
        json!({
            "id": id,
            "room_id": room,
            "sender": user_lite(&alice),
            "body": "hello, world",
            "created_at": confab::clock::rfc3339_ms(ms),
            "client_id": null,
            "edited_at": null,
            "deleted_at": null,
        })
    );
    let page = history(&app, &alice, &room, "").await;
    assert_eq!(page, json!({"messages": [message], "has_more": false}));
}

#[actix_web::test]
async fn a_non_member_cannot_send_and_nothing_is_stored() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let room = app.room(&alice, "general").await;

    let reply = app.send(&mallory, &room, "let me in").await;

    reply.assert_problem(403, "not_a_member");
    let page = history(&app, &alice, &room, "").await;
    assert_eq!(page, json!({"messages": [], "has_more": false}));
    let fetched = app
        .get(&format!("/api/v1/rooms/{room}"), &alice.token)
        .await;
    assert_eq!(fetched.assert_status(200)["message_count"], 0);
    assert_eq!(fetched.json["last_activity_at"], Value::Null);
}

#[actix_web::test]
async fn sending_to_an_unknown_room_is_room_not_found() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let unknown = uuid::Uuid::new_v4().to_string();

    for room in [unknown.as_str(), "no-such-room"] {
        app.send(&alice, room, "anyone?")
            .await
            .assert_problem(404, "room_not_found");
    }
}

#[actix_web::test]
async fn bodies_and_client_ids_are_checked() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;
    let path = format!("/api/v1/rooms/{room}/messages");
    let cases = [
        (json!({"body": ""}), "body"),
        (json!({"body": "   \n\t  "}), "body"),
        (json!({"body": "x".repeat(4001)}), "body"),
        (json!({"body": "é".repeat(4001)}), "body"),
        (json!({}), "body"),
        (json!({"body": 7}), "body"),
        (json!({"body": "hi", "client_id": ""}), "client_id"),
        (
            json!({"body": "hi", "client_id": "c".repeat(65)}),
            "client_id",
        ),
        (json!({"body": "hi", "client_id": 12}), "client_id"),
        (json!({"body": "hi", "urgent": true}), "urgent"),
    ];

    for (body, field) in cases {
        let reply = app.post(&path, &alice.token, body.clone()).await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], field, "{body}");
    }
    let page = history(&app, &alice, &room, "").await;
    assert_eq!(page["messages"], json!([]));
}

#[actix_web::test]
async fn the_longest_bodies_count_characters_not_bytes() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;
    let multi_byte = "😀".repeat(4000);
    let client_id = "c".repeat(64);

    let emoji = app
        .send_with_client_id(&alice, &room, &multi_byte, &client_id)
        .await;
    let ascii = app.send(&alice, &room, &"x".repeat(4000)).await;
    let lines = app.send(&alice, &room, "  line one\nline two  ").await;

    assert_eq!(emoji.assert_status(201)["body"], multi_byte.as_str());
    assert_eq!(emoji.json["client_id"], client_id.as_str());
    assert_eq!(
        ascii.assert_status(201)["body"].as_str().unwrap().len(),
        4000
    );
    assert_eq!(lines.assert_status(201)["body"], "  line one\nline two  ");
    let page = history(&app, &alice, &room, "").await;
    assert_eq!(
        bodies(&page),
        [
            multi_byte,
            "x".repeat(4000),
            "  line one\nline two  ".into()
        ]
    );
}

#[actix_web::test]
async fn repeating_a_client_id_returns_the_original_message_and_stores_nothing() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;

    let first = app
        .send_with_client_id(&alice, &room, "only once", "abc-123")
        .await;
    let second = app
        .send_with_client_id(&alice, &room, "only once", "abc-123")
        .await;
    let altered = app
        .send_with_client_id(&alice, &room, "edited retry", "abc-123")
        .await;

    let original = first.assert_status(201);
    assert_eq!(original["client_id"], "abc-123");
    assert_eq!(second.assert_status(200), original);
    assert_eq!(altered.assert_status(200), original);
    let page = history(&app, &alice, &room, "").await;
    assert_eq!(page["messages"], json!([original]));
    let fetched = app
        .get(&format!("/api/v1/rooms/{room}"), &alice.token)
        .await;
    assert_eq!(fetched.assert_status(200)["message_count"], 1);
}

#[actix_web::test]
async fn a_client_id_is_scoped_to_its_room_and_its_sender() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let other_room = app.room(&alice, "random").await;

    let here = app
        .send_with_client_id(&alice, &room, "hi", "same-key")
        .await;
    let there = app
        .send_with_client_id(&alice, &other_room, "hi", "same-key")
        .await;
    let by_bob = app.send_with_client_id(&bob, &room, "hi", "same-key").await;

    let here = here.assert_status(201)["id"].clone();
    assert_eq!(there.assert_status(201)["room_id"], other_room.as_str());
    assert_eq!(by_bob.assert_status(201)["sender"]["id"], bob.id.as_str());
    assert_ne!(by_bob.json["id"], here);
    assert_eq!(
        history(&app, &alice, &room, "").await["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        bodies(&history(&app, &alice, &other_room, "").await),
        ["hi"]
    );
}

#[actix_web::test]
async fn concurrent_retries_with_one_client_id_store_one_message() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;

    let replies = futures_util::future::join_all(
        (0..10).map(|_| app.send_with_client_id(&alice, &room, "racing", "retry-storm")),
    )
    .await;

    let created = replies.iter().filter(|r| r.status == 201).count();
    let repeated = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!((created, repeated), (1, 9), "{replies:?}");
    let first = &replies[0].json;
    assert!(
        replies.iter().all(|r| &r.json == first),
        "every reply is the same message"
    );
    let page = history(&app, &alice, &room, "").await;
    assert_eq!(page["messages"], json!([first]));
}

#[actix_web::test]
async fn history_without_a_cursor_is_the_newest_page_oldest_first() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;
    send_many(&app, &alice, &room, 60).await;

    let default = history(&app, &alice, &room, "").await;
    let five = history(&app, &alice, &room, "limit=5").await;
    let all = history(&app, &alice, &room, "limit=100").await;
    let exact = history(&app, &alice, &room, "limit=60").await;
    let one_short = history(&app, &alice, &room, "limit=59").await;

    assert_history_page(&default, range(10, 60), true);
    assert_history_page(&five, range(55, 60), true);
    assert_history_page(&all, range(0, 60), false);
    assert_history_page(&exact, range(0, 60), false);
    assert_history_page(&one_short, range(1, 60), true);
}

#[actix_web::test]
async fn before_pages_back_exclusively_and_has_more_looks_at_older_messages() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;
    let ids = send_many(&app, &alice, &room, 20).await;

    let page = history(&app, &alice, &room, &format!("before={}&limit=5", ids[10])).await;
    let exactly_the_rest =
        history(&app, &alice, &room, &format!("before={}&limit=5", ids[5])).await;
    let fewer = history(&app, &alice, &room, &format!("before={}&limit=5", ids[3])).await;
    let nothing = history(&app, &alice, &room, &format!("before={}", ids[0])).await;

    assert_history_page(&page, range(5, 10), true);
    assert_history_page(&exactly_the_rest, range(0, 5), false);
    assert_history_page(&fewer, range(0, 3), false);
    assert_eq!(nothing, json!({"messages": [], "has_more": false}));
}

#[actix_web::test]
async fn after_pages_forward_exclusively_and_has_more_looks_at_newer_messages() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;
    let ids = send_many(&app, &alice, &room, 20).await;

    let page = history(&app, &alice, &room, &format!("after={}&limit=5", ids[4])).await;
    let exactly_the_rest =
        history(&app, &alice, &room, &format!("after={}&limit=5", ids[14])).await;
    let fewer = history(&app, &alice, &room, &format!("after={}&limit=5", ids[17])).await;
    let nothing = history(&app, &alice, &room, &format!("after={}", ids[19])).await;
    let from_the_start = history(&app, &alice, &room, "after=0-0&limit=3").await;

    assert_history_page(&page, range(5, 10), true);
    assert_history_page(&exactly_the_rest, range(15, 20), false);
    assert_history_page(&fewer, range(18, 20), false);
    assert_eq!(nothing, json!({"messages": [], "has_more": false}));
    assert_history_page(&from_the_start, range(0, 3), true);
}

#[actix_web::test]
async fn paging_back_and_forth_visits_every_message_once() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let sent = send_many(&app, &alice, &room, 23).await;

    let mut backwards = Vec::new();
    let mut page = history(&app, &bob, &room, "limit=10").await;
    loop {
        let mut older = ids(&page);
        older.extend(backwards);
        backwards = older;
        if page["has_more"] == false {
            break;
        }
        page = history(
            &app,
            &bob,
            &room,
            &format!("limit=10&before={}", backwards[0]),
        )
        .await;
    }
    let mut forwards = Vec::new();
    let mut page = history(&app, &bob, &room, &format!("limit=10&after={}", "0-0")).await;
    loop {
        forwards.extend(ids(&page));
        if page["has_more"] == false {
            break;
        }
        page = history(
            &app,
            &bob,
            &room,
            &format!("limit=10&after={}", forwards.last().unwrap()),
        )
        .await;
    }

    assert_eq!(backwards, sent);
    assert_eq!(forwards, sent);
}

/// Sends `n` messages as `user`, one after another; returns their ids.
async fn keep_sending(app: &TestApp, user: &TestUser, room: &str, n: usize) -> Vec<String> {
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let reply = app
            .send(user, room, &format!("{} {i}", user.username))
            .await;
        sent.push(reply.assert_status(201)["id"].as_str().unwrap().to_owned());
    }
    sent
}

#[actix_web::test]
async fn history_parameters_are_checked() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;
    let id = app.send(&alice, &room, "hi").await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let both = format!("before={id}&after={id}");
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("before=abc", "before"),
        ("before=1-", "before"),
        ("before=-1", "before"),
        ("before=1-0-0", "before"),
        ("before=", "before"),
        ("after=later", "after"),
        ("after=1.5-0", "after"),
    ];

    let reply = app
        .get(
            &format!("/api/v1/rooms/{room}/messages?{both}"),
            &alice.token,
        )
        .await;
    reply.assert_problem(400, "validation_failed");
    for (query, field) in cases {
        let reply = app
            .get(
                &format!("/api/v1/rooms/{room}/messages?{query}"),
                &alice.token,
            )
            .await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], field, "{query}");
    }
}

#[actix_web::test]
async fn only_members_read_history() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let outsider = app.user("outsider").await;
    let room = app.room(&alice, "general").await;
    app.send(&alice, &room, "members only")
        .await
        .assert_status(201);
    let unknown = uuid::Uuid::new_v4();

    let reply = app
        .get(&format!("/api/v1/rooms/{room}/messages"), &outsider.token)
        .await;
    let missing = app
        .get(&format!("/api/v1/rooms/{unknown}/messages"), &alice.token)
        .await;

    reply.assert_problem(403, "not_a_member");
    missing.assert_problem(404, "room_not_found");
}

#[actix_web::test]
async fn new_members_see_what_was_sent_before_they_joined() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&alice, "general").await;
    send_many(&app, &alice, &room, 3).await;

    app.join(&bob, &room).await.assert_status(200);
    let page = history(&app, &bob, &room, "").await;

    assert_history_page(&page, range(0, 3), false);
}

#[actix_web::test]
async fn sending_updates_the_rooms_counters_and_activity() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    app.send(&alice, &room, "one").await.assert_status(201);
    app.send(&bob, &room, "two").await.assert_status(201);

    let last = app.send(&alice, &room, "three").await;

    let last = last.assert_status(201);
    let fetched = app.get(&format!("/api/v1/rooms/{room}"), &bob.token).await;
    let fetched = fetched.assert_status(200);
    assert_eq!(fetched["message_count"], 3);
    assert_eq!(fetched["last_activity_at"], last["created_at"]);
    let listed = app.get("/api/v1/rooms", &bob.token).await;
    assert_eq!(items(listed.assert_status(200))[0], *fetched);
}

#[actix_web::test]
async fn message_ids_increase_in_sending_order() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut sent = Vec::new();
    for i in 0..30 {
        let user = if i % 2 == 0 { &alice } else { &bob };
        sent.push(
            app.send(user, &room, "tick").await.assert_status(201)["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    let parsed: Vec<(u64, u64)> = sent.iter().map(|id| parse_message_id(id)).collect();

    assert!(parsed.windows(2).all(|w| w[0] < w[1]), "{sent:?}");
    assert_eq!(ids(&history(&app, &alice, &room, "").await), sent);
}

#[actix_web::test]
async fn history_paging_walked_end_to_end_while_concurrent_senders_keep_writing() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let carol = app.user("carol").await;
    app.join(&carol, &room).await.assert_status(200);
    let pre_sent = send_many(&app, &alice, &room, 120).await;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();

    // Act: three senders keep writing while a reader pages back from the
    // newest page with `before`.
    let writers = async {
        app.send(&bob, &room, "first concurrent")
            .await
            .assert_status(201);
        let _ = started_tx.send(());
        futures_util::future::join3(
            keep_sending(&app, &alice, &room, 60),
            keep_sending(&app, &bob, &room, 60),
            keep_sending(&app, &carol, &room, 60),
        )
        .await
    };
    let reader = async {
        started_rx.await.expect("the writers started");
        let mut pages = 0;
        let mut walked: Vec<String> = Vec::new();
        let mut query = "limit=7".to_owned();
        loop {
            let page = history(&app, &alice, &room, &query).await;
            pages += 1;
            assert!(ids(&page).len() <= 7);
            let mut page_ids = ids(&page);
            page_ids.reverse();
            walked.extend(page_ids);
            if page["has_more"] == false {
                break;
            }
            let first = page["messages"][0]["id"]
                .as_str()
                .expect("a page with has_more is not empty");
            query = format!("limit=7&before={first}");
            assert!(pages < 1000, "paging does not end");
        }
        walked
    };
    let ((a, b, c), walked) = tokio::time::timeout(
        Duration::from_secs(120),
        futures_util::future::join(writers, reader),
    )
    .await
    .expect("the test finished in time");

    // Assert: strictly decreasing (so no duplicates) and nothing pre-sent
    // is missing.
    let parsed: Vec<(u64, u64)> = walked.iter().map(|id| parse_message_id(id)).collect();
    assert!(
        parsed.windows(2).all(|w| w[0] > w[1]),
        "not strictly decreasing"
    );
    let walked_set: HashSet<&String> = walked.iter().collect();
    assert_eq!(walked_set.len(), walked.len());
    let missing: Vec<&String> = pre_sent
        .iter()
        .filter(|id| !walked_set.contains(id))
        .collect();
    assert!(missing.is_empty(), "gaps: {missing:?}");
    assert_eq!(
        walked.last(),
        pre_sent.first(),
        "the walk reaches the oldest message"
    );
    // Every message the walk saw exists, and everything sent is stored once.
    let stats = app
        .get(&format!("/api/v1/rooms/{room}/stats"), &alice.token)
        .await;
    assert_eq!(stats.assert_status(200)["message_count"], 120 + 1 + 180);
    assert_eq!((a.len(), b.len(), c.len()), (60, 60, 60));
}

#[actix_web::test]
async fn history_cursors_at_the_ends_of_the_id_range_give_empty_pages() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let room = app.room(&alice, "general").await;
    app.send(&alice, &room, "one").await.assert_status(201);
    app.send_direct(&alice, "bob", "two")
        .await
        .assert_status(201);
    let max = format!("{0}-{0}", u64::MAX);

    for path in [
        format!("/api/v1/rooms/{room}/messages"),
        "/api/v1/users/bob/messages".to_owned(),
    ] {
        for query in ["before=0-0".to_owned(), format!("after={max}")] {
            let page = app.get(&format!("{path}?{query}"), &alice.token).await;
            let page = page.assert_status(200);
            assert_eq!(page["messages"], serde_json::json!([]), "{path}?{query}");
            assert_eq!(page["has_more"], false);
        }
    }
}
