//! Delivery without copies: a room message is stored once; members who were
//! away read it from the room's history when they return, from where their
//! last stream stood; resume tokens are exact per room and conversation;
//! garbage tokens resume nothing; a failed open loses nothing.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

/// Opens `user`'s stream, or the reply that refused it.
async fn try_open(app: &TestApp, user: &TestUser) -> Result<EventStream, Reply> {
    let auth = format!("Bearer {}", user.token);
    app.open_events("/api/v1/events", &[("authorization", &auth)])
        .await
}

/// The bodies of the message events among `events`.
fn bodies(events: &[SseEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event == "message" || e.event == "direct_message")
        .map(|e| e.data["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The next message or direct message event. Member events are passed
/// over: on a Redis Cluster, those of the user's own joins just before the
/// stream opened can still be on their way when it subscribes.
async fn next_message(stream: &mut EventStream) -> SseEvent {
    loop {
        let event = stream.next().await;
        if event.event == "message" || event.event == "direct_message" {
            return event;
        }
    }
}

/// Reads the `count` events that follow `ready`.
async fn backlog(stream: &mut EventStream, count: usize) -> Vec<SseEvent> {
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        events.push(stream.next().await);
    }
    events
}

#[actix_web::test]
async fn a_returning_member_gets_what_was_sent_since_their_last_stream_closed_and_nothing_older() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut stream, _) = app.events(&bob).await;
    app.send(&alice, &room, "seen live")
        .await
        .assert_status(201);
    assert_eq!(next_message(&mut stream).await.data["body"], "seen live");
    drop(stream);
    // The close is recorded within moments; bob is offline then.
    eventually(Duration::from_secs(5), || async {
        app.get(&format!("/api/v1/users/{}", bob.username), &alice.token)
            .await
            .json["online"]
            == false
    })
    .await;

    app.send(&alice, &room, "missed 1").await.assert_status(201);
    app.send(&alice, &room, "missed 2").await.assert_status(201);
    let (mut back, ready) = app.events(&bob).await;

    assert_eq!(ready["offline_count"], 2, "{ready}");
    assert_eq!(
        bodies(&backlog(&mut back, 2).await),
        ["missed 1", "missed 2"]
    );
}

#[actix_web::test]
async fn an_offline_backlog_spans_rooms_and_conversations_in_time_order_without_own_messages() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut rooms = Vec::new();
    for name in ["one", "two", "three", "quiet"] {
        let room = app.room(&alice, name).await;
        app.join(&bob, &room).await.assert_status(200);
        rooms.push(room);
    }
    let expected = ["a1", "b1", "dm", "c1", "a2"];
    app.send(&alice, &rooms[0], "a1").await.assert_status(201);
    app.send(&alice, &rooms[1], "b1").await.assert_status(201);
    app.send(&bob, &rooms[1], "bob's own")
        .await
        .assert_status(201);
    app.send_direct(&alice, "bob", "dm")
        .await
        .assert_status(201);
    app.send(&alice, &rooms[2], "c1").await.assert_status(201);
    app.send(&alice, &rooms[0], "a2").await.assert_status(201);

    let (mut stream, ready) = app.events(&bob).await;

    assert_eq!(ready["offline_count"], expected.len(), "{ready}");
    assert_eq!(
        bodies(&backlog(&mut stream, expected.len()).await),
        expected
    );
}

#[actix_web::test]
async fn a_resume_token_is_exact_per_room_and_conversation_across_many_of_them() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut rooms = Vec::new();
    for i in 0..5 {
        let room = app.room(&alice, &format!("room {i}")).await;
        app.join(&bob, &room).await.assert_status(200);
        rooms.push(room);
    }
    let (mut stream, _) = app.events(&bob).await;
    // Bob sees the first round, in every room and the conversation.
    for room in &rooms {
        app.send(&alice, room, "first").await.assert_status(201);
    }
    app.send_direct(&alice, "bob", "first dm")
        .await
        .assert_status(201);
    let mut last = None;
    let mut seen = 0;
    while seen < rooms.len() + 1 {
        let event = stream.next().await;
        // (On a cluster, the member events of bob's own joins can still be
        // on their way when his stream subscribes.)
        if event.event == "message" || event.event == "direct_message" {
            last = Some(event.token());
            seen += 1;
        }
    }
    drop(stream);
    // What he then misses: a round in reverse order, and another dm.
    let mut missed = Vec::new();
    for room in rooms.iter().rev() {
        missed.push(app.send(&alice, room, "second").await.assert_status(201)["id"].clone());
    }
    missed.push(
        app.send_direct(&alice, "bob", "second dm")
            .await
            .assert_status(201)["id"]
            .clone(),
    );

    let (mut resumed, ready) = app.events_after(&bob, &last.unwrap()).await;

    assert_eq!(ready["resumed"], true, "{ready}");
    let mut got: Vec<Value> = Vec::new();
    for _ in 0..missed.len() {
        got.push(resumed.next().await.data["id"].clone());
    }
    got.sort_by_key(|id| id.to_string());
    missed.sort_by_key(|id| id.to_string());
    assert_eq!(got, missed);
    // Nothing more before live events.
    app.send(&alice, &rooms[0], "live").await.assert_status(201);
    assert_eq!(next_message(&mut resumed).await.data["body"], "live");
}

#[actix_web::test]
async fn garbage_truncated_forged_and_oversized_tokens_resume_nothing_and_never_fail() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut stream, _) = app.events(&bob).await;
    app.send(&alice, &room, "one").await.assert_status(201);
    let token = next_message(&mut stream).await.token();
    drop(stream);

    let truncated = &token[..token.len() - 3];
    let forged = format!("c1.{}", "_".repeat(40));
    let oversized = format!("{token}{}", "A".repeat(2000));
    for bad in [
        truncated,
        forged.as_str(),
        oversized.as_str(),
        "c1.",
        "c1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "1732357500123-0",
    ] {
        let (_, ready) = app.events_after(&bob, bad).await;
        assert_eq!(ready["resumed"], false, "{bad}: {ready}");
    }
}

#[actix_web::test]
async fn a_token_from_far_in_the_past_resumes_what_fits_or_says_resumed_false() {
    let app = spawn_app_configured(|s| s.sse.resume_max = 10).await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut stream, _) = app.events(&bob).await;
    app.send(&alice, &room, "seen").await.assert_status(201);
    let token = next_message(&mut stream).await.token();
    drop(stream);
    for i in 0..11 {
        app.send(&alice, &room, &format!("m{i}"))
            .await
            .assert_status(201);
    }

    let (_, ready) = app.events_after(&bob, &token).await;

    // Eleven missed, ten allowed: the client backfills from history instead.
    assert_eq!(ready["resumed"], false, "{ready}");
}

#[actix_web::test]
async fn an_open_that_fails_after_taking_the_offline_queue_leaves_it_for_the_next() {
    let redis = TestRedis::start();
    let settings = test_settings(&redis.url());
    let keys = confab::store::Keys::new(&settings.redis.key_prefix);
    let app = spawn_app_with(settings).await;
    let (alice, bob, room) = room_with_two(&app).await;
    app.send_direct(&alice, "bob", "queued dm")
        .await
        .assert_status(201);
    app.send(&alice, &room, "room message")
        .await
        .assert_status(201);
    // Break the room's history so that reading the backlog fails after the
    // queue has been read.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let stream_key = keys.room_messages(&room);
    let saved: Vec<u8> = redis::cmd("DUMP")
        .arg(&stream_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    redis::cmd("DEL")
        .arg(&stream_key)
        .exec_async(&mut conn)
        .await
        .unwrap();
    redis::cmd("SET")
        .arg(&stream_key)
        .arg("not a stream")
        .exec_async(&mut conn)
        .await
        .unwrap();

    let failed = try_open(&app, &bob).await.err().expect("the open fails");
    assert!(failed.status.is_server_error(), "{}", failed.text);

    redis::cmd("DEL")
        .arg(&stream_key)
        .exec_async(&mut conn)
        .await
        .unwrap();
    redis::cmd("RESTORE")
        .arg(&stream_key)
        .arg(0)
        .arg(saved)
        .exec_async(&mut conn)
        .await
        .unwrap();
    let (mut stream, ready) = app.events(&bob).await;
    assert_eq!(ready["offline_count"], 2, "{ready}");
    assert_eq!(
        bodies(&backlog(&mut stream, 2).await),
        ["queued dm", "room message"]
    );
}

#[actix_web::test]
async fn with_replicated_acknowledgement_a_send_waits_for_a_replica_and_a_retry_finds_it() {
    let primary = TestRedis::start();
    let mut settings = test_settings(&primary.url());
    settings.redis.acknowledge = confab::config::Acknowledge::Replicated;
    // Long enough for a loaded machine's replica to answer in time.
    settings.redis.timeout_ms = 5000;
    settings.redis.replication_timeout_ms = 2000;
    let app = spawn_app_with(settings).await;
    let (alice, _bob, room) = room_with_two(&app).await;

    // No replica: not acknowledged; the client is told to retry.
    app.send_with_client_id(&alice, &room, "kept", "c-1")
        .await
        .assert_problem(503, "unavailable");

    let _replica = TestRedis::start_replica_of(&primary);
    let client = redis::Client::open(primary.url()).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    eventually(Duration::from_secs(10), || {
        let mut conn = conn.clone();
        async move {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut conn)
                .await
                .unwrap_or_default();
            info.contains("connected_slaves:1") && info.contains("state=online")
        }
    })
    .await;

    // The retry finds the message stored the first time: 200, not stored
    // twice; a new send is acknowledged at once.
    let retry = app.send_with_client_id(&alice, &room, "kept", "c-1").await;
    assert_eq!(retry.assert_status(200)["body"], "kept");
    app.send(&alice, &room, "next").await.assert_status(201);
    let history = app.all_message_ids(&alice, &room).await;
    assert_eq!(history.len(), 2);
}

#[actix_web::test]
async fn a_resume_within_its_limit_is_complete_however_unevenly_the_rooms_were_busy() {
    let app = spawn_app_configured(|s| s.sse.resume_max = 10).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut rooms = Vec::new();
    for name in ["busy", "quiet one", "quiet two"] {
        let room = app.room(&alice, name).await;
        app.join(&bob, &room).await.assert_status(200);
        rooms.push(room);
    }
    let (mut stream, _) = app.events(&bob).await;
    app.send(&alice, &rooms[0], "seen").await.assert_status(201);
    let token = next_message(&mut stream).await.token();
    drop(stream);
    // Ten missed, exactly the limit: eight in one room, one in each other.
    let mut missed = Vec::new();
    for i in 0..8 {
        missed.push(format!("busy {i}"));
        app.send(&alice, &rooms[0], &format!("busy {i}"))
            .await
            .assert_status(201);
    }
    for (room, body) in rooms[1..].iter().zip(["q1", "q2"]) {
        missed.push(body.to_owned());
        app.send(&alice, room, body).await.assert_status(201);
    }

    let (mut resumed, ready) = app.events_after(&bob, &token).await;

    assert_eq!(ready["resumed"], true, "{ready}");
    let got = bodies(&backlog(&mut resumed, missed.len()).await);
    assert_eq!(got, missed);
}

/// Waits until `user` is offline (their last stream's close recorded).
async fn until_offline(app: &TestApp, viewer: &TestUser, user: &TestUser) {
    eventually(Duration::from_secs(5), || async {
        app.get(&format!("/api/v1/users/{}", user.username), &viewer.token)
            .await
            .json["online"]
            == false
    })
    .await;
}

#[actix_web::test]
async fn dropping_part_way_through_a_replay_resumes_the_rest_of_it() {
    // Arrange: bob saw one message, then missed two in the room and a DM.
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut stream, _) = app.events(&bob).await;
    app.send(&alice, &room, "seen").await.assert_status(201);
    let seen = next_message(&mut stream).await.token();
    drop(stream);
    until_offline(&app, &alice, &bob).await;
    app.send(&alice, &room, "missed 1").await.assert_status(201);
    app.send_direct(&alice, "bob", "missed dm")
        .await
        .assert_status(201);
    app.send(&alice, &room, "missed 2").await.assert_status(201);

    // Act: he resumes, takes only the first replayed message, drops, and
    // resumes from its token.
    let (mut replay, ready) = app.events_after(&bob, &seen).await;
    assert_eq!(ready["resumed"], true, "{ready}");
    assert_eq!(ready["offline_count"], 3, "{ready}");
    let first = next_message(&mut replay).await;
    drop(replay);
    until_offline(&app, &alice, &bob).await;
    let (mut rest, ready) = app.events_after(&bob, &first.token()).await;

    // Assert: the rest follows; nothing is skipped.
    assert_eq!(first.data["body"], "missed 1");
    assert_eq!(ready["resumed"], true, "{ready}");
    assert_eq!(ready["offline_count"], 2, "{ready}");
    let mut got = vec![next_message(&mut rest).await, next_message(&mut rest).await];
    got.sort_by_key(|e| e.data["body"].as_str().unwrap_or_default().to_owned());
    assert_eq!(bodies(&got), ["missed 2", "missed dm"]);
}

#[actix_web::test]
async fn dropping_part_way_through_an_offline_backlog_resumes_the_rest_of_it() {
    // Arrange: bob was connected once; three messages arrive while he is
    // away.
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (stream, _) = app.events(&bob).await;
    drop(stream);
    until_offline(&app, &alice, &bob).await;
    for body in ["offline 1", "offline 2", "offline 3"] {
        app.send(&alice, &room, body).await.assert_status(201);
    }

    // Act: he takes the first of the backlog, drops, and resumes from its
    // token.
    let (mut back, ready) = app.events(&bob).await;
    assert_eq!(ready["offline_count"], 3, "{ready}");
    let first = next_message(&mut back).await;
    drop(back);
    until_offline(&app, &alice, &bob).await;
    let (mut rest, ready) = app.events_after(&bob, &first.token()).await;

    // Assert: the other two follow.
    assert_eq!(first.data["body"], "offline 1");
    assert_eq!(ready["resumed"], true, "{ready}");
    assert_eq!(
        bodies(&[next_message(&mut rest).await, next_message(&mut rest).await]),
        ["offline 2", "offline 3"]
    );
}
