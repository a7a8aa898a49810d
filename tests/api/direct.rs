//! Direct messages and the conversation list.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::*;

/// `GET /users/{other}/messages?{query}` as `user`, expecting 200.
async fn conversation(app: &TestApp, user: &TestUser, other: &str, query: &str) -> Value {
    let reply = app
        .get(
            &format!("/api/v1/users/{other}/messages?{query}"),
            &user.token,
        )
        .await;
    reply.assert_status(200).clone()
}

/// `GET /conversations?{query}` as `user`, expecting 200.
async fn conversations(app: &TestApp, user: &TestUser, query: &str) -> Value {
    let reply = app
        .get(&format!("/api/v1/conversations?{query}"), &user.token)
        .await;
    reply.assert_status(200).clone()
}

#[actix_web::test]
async fn a_direct_message_is_returned_as_stored() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;

    let reply = app.send_direct(&alice, "bob", "hi bob").await;

    let message = reply.assert_status(201).clone();
    let id = message["id"].as_str().expect("id");
    let (ms, _) = parse_message_id(id);
    assert_eq!(
        message,
        json!({
            "id": id,
            "sender": user_lite(&alice),
            "recipient": user_lite(&bob),
            "body": "hi bob",
            "created_at": confab::clock::rfc3339_ms(ms),
            "client_id": null,
            "edited_at": null,
            "deleted_at": null,
        })
    );
    let page = conversation(&app, &bob, "alice", "").await;
    assert_eq!(page, json!({"messages": [message], "has_more": false}));
}

#[actix_web::test]
async fn the_recipient_is_found_in_any_case() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("Bob").await;

    let reply = app.send_direct(&alice, "bOB", "hello").await;

    assert_eq!(reply.assert_status(201)["recipient"], user_lite(&bob));
    assert_eq!(
        bodies(&conversation(&app, &alice, "BOB", "").await),
        ["hello"]
    );
}

#[actix_web::test]
async fn you_cannot_message_yourself() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    for name in ["alice", "ALICE"] {
        let reply = app.send_direct(&alice, name, "note to self").await;

        reply.assert_problem(400, "validation_failed");
    }
    assert_eq!(
        conversations(&app, &alice, "").await,
        json!({"items": [], "next_cursor": null})
    );
}

#[actix_web::test]
async fn messaging_an_unknown_user_is_user_not_found() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    for name in ["nobody", "x", "not%20valid"] {
        app.send_direct(&alice, name, "hello?")
            .await
            .assert_problem(404, "user_not_found");
        app.get(&format!("/api/v1/users/{name}/messages"), &alice.token)
            .await
            .assert_problem(404, "user_not_found");
    }
}

#[actix_web::test]
async fn direct_bodies_and_client_ids_are_checked() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let cases = [
        (json!({"body": ""}), "body"),
        (json!({"body": " \n "}), "body"),
        (json!({"body": "y".repeat(4001)}), "body"),
        (json!({"body": "hi", "client_id": ""}), "client_id"),
        (
            json!({"body": "hi", "client_id": "k".repeat(65)}),
            "client_id",
        ),
    ];

    for (body, field) in cases {
        let reply = app
            .post("/api/v1/users/bob/messages", &alice.token, body.clone())
            .await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], field, "{body}");
    }
    assert_eq!(
        conversation(&app, &alice, "bob", "").await["messages"],
        json!([])
    );
}

#[actix_web::test]
async fn both_sides_page_through_the_same_conversation_oldest_first() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut sent = Vec::new();
    for i in 0..25 {
        let reply = if i % 3 == 0 {
            app.send_direct(&bob, "alice", &format!("d{i}")).await
        } else {
            app.send_direct(&alice, "bob", &format!("d{i}")).await
        };
        sent.push(reply.assert_status(201)["id"].as_str().unwrap().to_owned());
    }
    let bodies_between =
        |from: usize, to: usize| (from..to).map(|i| format!("d{i}")).collect::<Vec<_>>();

    for (me, other) in [(&alice, "bob"), (&bob, "alice")] {
        // Backwards from the newest page.
        let newest = conversation(&app, me, other, "limit=10").await;
        assert_history_page(&newest, bodies_between(15, 25), true);
        let middle = conversation(&app, me, other, &format!("limit=10&before={}", sent[15])).await;
        assert_history_page(&middle, bodies_between(5, 15), true);
        let oldest = conversation(&app, me, other, &format!("limit=10&before={}", sent[5])).await;
        assert_history_page(&oldest, bodies_between(0, 5), false);
        // Forwards from the start.
        let first = conversation(&app, me, other, "limit=10&after=0-0").await;
        assert_history_page(&first, bodies_between(0, 10), true);
        let second = conversation(&app, me, other, &format!("limit=10&after={}", sent[9])).await;
        assert_history_page(&second, bodies_between(10, 20), true);
        let last = conversation(&app, me, other, &format!("limit=10&after={}", sent[19])).await;
        assert_history_page(&last, bodies_between(20, 25), false);
        // Exact edges and the default page.
        let rest = conversation(&app, me, other, &format!("limit=5&after={}", sent[19])).await;
        assert_eq!(rest["has_more"], false);
        let beyond = conversation(&app, me, other, &format!("after={}", sent[24])).await;
        assert_eq!(beyond, json!({"messages": [], "has_more": false}));
        let whole = conversation(&app, me, other, "").await;
        assert_eq!(ids(&whole), sent);
        assert_eq!(whole["has_more"], false);
    }
    let from_alice = conversation(&app, &alice, "bob", "limit=7").await;
    let from_bob = conversation(&app, &bob, "alice", "limit=7").await;
    assert_eq!(from_alice, from_bob, "both sides see identical messages");
}

#[actix_web::test]
async fn an_empty_conversation_has_no_messages() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;

    let page = conversation(&app, &alice, "bob", "").await;

    assert_eq!(page, json!({"messages": [], "has_more": false}));
}

#[actix_web::test]
async fn direct_history_parameters_are_checked() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let id = app
        .send_direct(&alice, "bob", "hi")
        .await
        .assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for query in [
        "limit=0".to_owned(),
        "limit=101".to_owned(),
        "limit=ten".to_owned(),
        "before=yesterday".to_owned(),
        "after=1-x".to_owned(),
        format!("before={id}&after={id}"),
    ] {
        let reply = app
            .get(&format!("/api/v1/users/bob/messages?{query}"), &alice.token)
            .await;

        reply.assert_problem(400, "validation_failed");
    }
}

#[actix_web::test]
async fn direct_message_ids_increase() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut sent = Vec::new();

    for i in 0..30 {
        let reply = if i % 2 == 0 {
            app.send_direct(&alice, "bob", "ping").await
        } else {
            app.send_direct(&bob, "alice", "pong").await
        };
        sent.push(parse_message_id(
            reply.assert_status(201)["id"].as_str().unwrap(),
        ));
    }

    assert!(sent.windows(2).all(|w| w[0] < w[1]), "{sent:?}");
}

#[actix_web::test]
async fn repeating_a_direct_client_id_returns_the_original_message() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;

    let first = app
        .send_direct_with_client_id(&alice, "bob", "once", "dm-1")
        .await;
    let again = app
        .send_direct_with_client_id(&alice, "BOB", "once", "dm-1")
        .await;

    let original = first.assert_status(201);
    assert_eq!(original["client_id"], "dm-1");
    assert_eq!(again.assert_status(200), original);
    assert_eq!(
        conversation(&app, &bob, "alice", "").await["messages"],
        json!([original])
    );
}

#[actix_web::test]
async fn a_direct_client_id_keeps_only_the_message_id_and_still_repeats_once_trimmed() {
    let redis = TestRedis::start();
    let mut settings = test_settings(&redis.url());
    settings.limits.direct_history_max_len = 2;
    let keys = confab::store::Keys::new(&settings.redis.key_prefix);
    let app = spawn_app_with(settings).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let body = "x".repeat(4000);
    let original = app
        .send_direct_with_client_id(&alice, "bob", &body, "dm-1")
        .await
        .assert_status(201)
        .clone();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();

    let record: String = redis::cmd("GET")
        .arg(keys.direct_idempotency(&alice.id, &bob.id, &alice.id, "dm-1"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let repeat_while_stored = app
        .send_direct_with_client_id(&alice, "bob", &body, "dm-1")
        .await;
    for i in 0..3 {
        app.send_direct(&alice, "bob", &format!("later {i}"))
            .await
            .assert_status(201);
    }
    let repeat_once_trimmed = app
        .send_direct_with_client_id(&alice, "bob", &body, "dm-1")
        .await;

    // Tens of bytes, not a copy of the 4,000-character message.
    assert_eq!(record, original["id"].as_str().unwrap());
    assert_eq!(repeat_while_stored.assert_status(200), &original);
    assert_eq!(repeat_once_trimmed.assert_status(200), &original);
    let kept = conversation(&app, &bob, "alice", "").await;
    assert!(
        kept["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["body"] != body.as_str()),
        "{kept}"
    );
}

#[actix_web::test]
async fn a_direct_client_id_is_scoped_to_its_sender_and_recipient() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.user("carol").await;

    let to_bob = app
        .send_direct_with_client_id(&alice, "bob", "hi", "k")
        .await;
    let to_carol = app
        .send_direct_with_client_id(&alice, "carol", "hi", "k")
        .await;
    let from_bob = app
        .send_direct_with_client_id(&bob, "alice", "hi", "k")
        .await;

    to_bob.assert_status(201);
    assert_eq!(
        to_carol.assert_status(201)["recipient"]["username"],
        "carol"
    );
    assert_eq!(from_bob.assert_status(201)["sender"]["id"], bob.id.as_str());
    assert_eq!(
        bodies(&conversation(&app, &alice, "bob", "").await),
        ["hi", "hi"]
    );
}

#[actix_web::test]
async fn concurrent_direct_retries_store_one_message() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;

    let replies = futures_util::future::join_all(
        (0..10).map(|_| app.send_direct_with_client_id(&alice, "bob", "racing", "storm")),
    )
    .await;

    let created = replies.iter().filter(|r| r.status == 201).count();
    let repeated = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!((created, repeated), (1, 9), "{replies:?}");
    let first = &replies[0].json;
    assert!(replies.iter().all(|r| &r.json == first));
    assert_eq!(
        conversation(&app, &bob, "alice", "").await["messages"],
        json!([first])
    );
}

#[actix_web::test]
async fn conversations_list_the_other_user_and_last_message_most_recent_first() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let dave = app.user("dave").await;
    let mut last = std::collections::HashMap::new();
    for (from, to) in [
        (&alice, &bob),
        (&alice, &carol),
        (&alice, &dave),
        (&bob, &alice),
    ] {
        let reply = app
            .send_direct(
                from,
                &to.username,
                &format!("{} to {}", from.username, to.username),
            )
            .await;
        let pair = if from.username < to.username {
            (from.username.clone(), to.username.clone())
        } else {
            (to.username.clone(), from.username.clone())
        };
        last.insert(pair, reply.assert_status(201).clone());
    }
    let last_between = |a: &str, b: &str| last[&(a.to_owned(), b.to_owned())].clone();

    let alices = conversations(&app, &alice, "").await;
    let bobs = conversations(&app, &bob, "").await;
    let daves = conversations(&app, &dave, "").await;

    assert_eq!(
        alices,
        json!({
            "items": [
                // Bob's one message to alice is unread; she sent the others.
                {"user": offline_public_user(&bob), "last_message": last_between("alice", "bob"), "last_read_id": null, "unread_count": 1},
                {"user": offline_public_user(&dave), "last_message": last_between("alice", "dave"), "last_read_id": null, "unread_count": 0},
                {"user": offline_public_user(&carol), "last_message": last_between("alice", "carol"), "last_read_id": null, "unread_count": 0},
            ],
            "next_cursor": null,
        })
    );
    assert_eq!(
        bobs,
        // Alice's message to bob came before his reply: still unread.
        json!({"items": [{"user": offline_public_user(&alice), "last_message": last_between("alice", "bob"), "last_read_id": null, "unread_count": 1}], "next_cursor": null})
    );
    assert_eq!(items(&daves)[0]["user"]["username"], "alice");
    assert_eq!(items(&daves)[0]["last_message"]["body"], "alice to dave");
    assert_eq!(
        conversations(&app, &carol, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[actix_web::test]
async fn conversations_page_one_at_a_time() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut others = Vec::new();
    for name in ["bob", "carol", "dave", "erin"] {
        app.user(name).await;
        app.send_direct(&alice, name, "hello")
            .await
            .assert_status(201);
        others.push(name.to_owned());
    }

    let mut seen = Vec::new();
    let mut page = conversations(&app, &alice, "limit=1").await;
    loop {
        assert_eq!(items(&page).len(), 1, "{page}");
        seen.push(
            items(&page)[0]["user"]["username"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        page = conversations(&app, &alice, &format!("limit=1&cursor={cursor}")).await;
        assert!(seen.len() < 10, "paging does not end");
    }

    others.reverse();
    assert_eq!(seen, others);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 4);
    for query in ["limit=0", "limit=101", "cursor=nonsense"] {
        app.get(&format!("/api/v1/conversations?{query}"), &alice.token)
            .await
            .assert_problem(400, "validation_failed");
    }
}
