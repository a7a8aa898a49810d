//! The event stream under pressure: the hand-over from backlog to live
//! delivery racing sends, several instances on one Redis, Redis restarting,
//! stream limits and expiry, pings, presence, operator notifications, many
//! streams and slow consumers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::{join, join_all};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::helpers::*;

/// The ids of the `message` events among `events`.
fn message_ids(events: &[SseEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event == "message")
        .map(SseEvent::message_id)
        .collect()
}

/// Asserts the ids are strictly increasing (so none repeats).
#[track_caller]
fn assert_strictly_increasing(ids: &[String]) {
    for pair in ids.windows(2) {
        assert!(
            parse_message_id(&pair[0]) < parse_message_id(&pair[1]),
            "out of order or repeated: {} then {}",
            pair[0],
            pair[1]
        );
    }
}

/// Whether a list of `PublicUser`s names `username`.
fn lists(page: &Value, username: &str) -> bool {
    items(page).iter().any(|u| u["username"] == username)
}

/// Opens `user`'s stream with a bearer token, returning the refusal if any.
async fn try_open(app: &TestApp, user: &TestUser) -> Result<EventStream, Reply> {
    let auth = format!("Bearer {}", user.token);
    app.open_events("/api/v1/events", &[("authorization", &auth)])
        .await
}

/// `GET /users/{username}` as `viewer`.
async fn public_user(app: &TestApp, viewer: &TestUser, username: &str) -> Value {
    app.get(&format!("/api/v1/users/{username}"), &viewer.token)
        .await
        .assert_status(200)
        .clone()
}

/// `GET /users/online` as `viewer`.
async fn online(app: &TestApp, viewer: &TestUser) -> Value {
    app.get("/api/v1/users/online?limit=100", &viewer.token)
        .await
        .assert_status(200)
        .clone()
}

// ---------------------------------------------------------------------------
// 1. Hand-over from backlog to live delivery
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_stream_opened_while_messages_pour_in_gets_each_exactly_once_in_order() {
    // Arrange: bob is a member without a stream.
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;

    // Act: alice sends 150 messages, six at a time without pause, and bob
    // opens his stream once 30 of them are stored, so the opening (subscribe,
    // then drain the offline queue) races sends on every side.
    const SENDERS: usize = 6;
    const PER_SENDER: usize = 25;
    let stored = AtomicUsize::new(0);
    let thirty_stored = Notify::new();
    let sender = |n: usize| {
        let (app, alice, room, stored, thirty_stored) =
            (&app, &alice, &room, &stored, &thirty_stored);
        async move {
            for i in 0..PER_SENDER {
                app.send(alice, room, &format!("m{n}-{i}"))
                    .await
                    .assert_status(201);
                if stored.fetch_add(1, Ordering::SeqCst) + 1 == 30 {
                    thirty_stored.notify_one();
                }
            }
        }
    };
    let sends = join_all((0..SENDERS).map(sender));
    let open = async {
        thirty_stored.notified().await;
        app.events(&bob).await
    };
    let (_, (mut stream, ready)) = join(sends, open).await;
    let marker = app.send(&alice, &room, "marker").await;
    let marker = marker.assert_status(201)["id"].as_str().unwrap().to_owned();
    let mut received = stream.until("message", |m| m["body"] == "marker").await;
    received.push(SseEvent {
        event: "message".into(),
        id: None,
        data: json!({"room_id": room, "id": marker}),
    });

    // Assert: every message of the history arrived once, in id order,
    // whether from the backlog or live.
    let history = app.all_message_ids(&bob, &room).await;
    assert_eq!(history.len(), SENDERS * PER_SENDER + 1);
    let got = message_ids(&received);
    assert_strictly_increasing(&got);
    assert_eq!(
        got,
        history,
        "offline_count was {}; received {} messages",
        ready["offline_count"],
        got.len()
    );
    assert!(
        received
            .iter()
            .all(|e| e.event == "message" && e.data["room_id"] == room.as_str()),
        "only this room's messages: {received:?}"
    );
}

// ---------------------------------------------------------------------------
// 2. Two instances on one Redis
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_stream_on_one_instance_receives_what_is_sent_through_another() {
    // Arrange: two instances of one deployment.
    let (one, two) = spawn_two_instances().await;
    let alice = one.user("alice").await;
    let bob = one.user("bob").await;
    let room = two.room(&alice, "general").await;
    two.join(&bob, &room).await.assert_status(200);
    let (mut stream, ready) = one.events(&bob).await;
    assert_eq!(ready["rooms"], json!([room]));

    // Act
    let sent = two.send(&alice, &room, "via two").await;
    let direct = two.send_direct(&alice, "bob", "dm via two").await;

    // Assert
    let sent = sent.assert_status(201);
    let got = stream.expect("message").await;
    assert_eq!(got.data, *sent);
    let direct = direct.assert_status(201);
    let got_direct = stream.expect("direct_message").await;
    assert_eq!(got_direct.data, *direct);
    let history = two
        .get(&format!("/api/v1/rooms/{room}/messages"), &bob.token)
        .await;
    assert_eq!(ids(&history.json), [sent["id"].as_str().unwrap()]);
}

#[actix_web::test]
async fn two_instances_agree_on_who_is_online() {
    let (one, two) = spawn_two_instances().await;
    let alice = one.user("alice").await;
    let bob = one.user("bob").await;
    let (stream, _) = one.events(&bob).await;

    for app in [&one, &two] {
        assert!(lists(&online(app, &alice).await, "bob"));
        let bob = public_user(app, &alice, "bob").await;
        assert_eq!(bob["online"], true, "{bob}");
        assert_eq!(bob["last_seen_at"], Value::Null, "{bob}");
    }

    drop(stream);

    eventually(Duration::from_secs(2), || async {
        public_user(&two, &alice, "bob").await["online"] == false
    })
    .await;
    assert!(!lists(&online(&one, &alice).await, "bob"));
    assert!(!lists(&online(&two, &alice).await, "bob"));
}

#[actix_web::test]
async fn joining_through_another_instance_changes_an_open_stream_within_a_second() {
    // Arrange: bob's stream is on instance one; he is in no room.
    let (one, two) = spawn_two_instances().await;
    let alice = one.user("alice").await;
    let bob = one.user("bob").await;
    let room = one.room(&alice, "general").await;
    let (mut stream, ready) = one.events(&bob).await;
    assert_eq!(ready["rooms"], json!([]));

    // Act: he joins through instance two.
    two.join(&bob, &room).await.assert_status(200);
    let joined = Instant::now();

    // Assert: within a second, messages of the room reach his stream. Each
    // probe is a new message; the stream must carry one soon after.
    let mut probe = 0;
    let got = loop {
        assert!(
            joined.elapsed() < Duration::from_millis(1500),
            "no message of the joined room reached the stream within a second (1.5 s allowed)"
        );
        two.send(&alice, &room, &format!("probe {probe}"))
            .await
            .assert_status(201);
        probe += 1;
        let mut found = None;
        while let Ok(Some(event)) = stream.try_next_within(Duration::from_millis(100)).await {
            if event.event == "message" {
                found = Some(event);
                break;
            }
        }
        if let Some(event) = found {
            break event;
        }
    };
    assert_eq!(got.data["room_id"], room.as_str());
    // And from then on every message arrives, none skipped.
    two.send(&alice, &room, "after the join")
        .await
        .assert_status(201);
    let rest = stream
        .until("message", |m| m["body"] == "after the join")
        .await;
    let first: usize = got.data["body"].as_str().unwrap()["probe ".len()..]
        .parse()
        .unwrap();
    let later: Vec<&Value> = rest
        .iter()
        .filter(|e| e.event == "message")
        .map(|e| &e.data["body"])
        .collect();
    let expected: Vec<Value> = (first + 1..probe)
        .map(|i| Value::from(format!("probe {i}")))
        .collect();
    assert_eq!(later, expected.iter().collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// 3. Redis restarting under open streams
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn streams_end_when_redis_goes_away_and_resume_without_gaps_after_it_returns() {
    // Arrange: a persistent Redis of this test's own; bob reads one message.
    let mut redis = TestRedis::start_persistent();
    let app = spawn_app_with(test_settings(&redis.url())).await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut stream, _) = app.events(&bob).await;
    app.send(&alice, &room, "before").await.assert_status(201);
    let last_seen = stream.expect("message").await.token();

    // Act: Redis stops.
    redis.stop();

    // Assert: the open stream ends; requests get 503 meanwhile.
    stream.assert_ends_within(Duration::from_secs(10)).await;
    app.send(&alice, &room, "during")
        .await
        .assert_problem(503, "unavailable");
    try_open(&app, &bob)
        .await
        .err()
        .expect("no stream without Redis")
        .assert_problem(503, "unavailable");

    // Act: Redis returns (with its data); alice sends before bob is back.
    redis.resume();
    let first_after = eventually_some(Duration::from_secs(15), || async {
        let reply = app
            .send_with_client_id(&alice, &room, "after 0", "after-0")
            .await;
        (reply.status == 201 || reply.status == 200).then(|| reply.json["id"].clone())
    })
    .await;
    let mut missed = vec![first_after];
    for i in 1..4 {
        missed.push(
            app.send(&alice, &room, &format!("after {i}"))
                .await
                .assert_status(201)["id"]
                .clone(),
        );
    }
    let auth = format!("Bearer {}", bob.token);
    let mut resumed = eventually_some(Duration::from_secs(15), || async {
        app.open_events(
            "/api/v1/events",
            &[("authorization", &auth), ("last-event-id", &last_seen)],
        )
        .await
        .ok()
    })
    .await;

    // Assert: the resumed stream replays exactly what was missed, then
    // live delivery works again.
    let ready = resumed.expect("ready").await.data;
    assert_eq!(ready["resumed"], true, "{ready}");
    let mut got = Vec::new();
    for _ in 0..missed.len() {
        got.push(resumed.expect("message").await.data["id"].clone());
    }
    assert_eq!(got, missed);
    let live = app.send(&alice, &room, "live").await;
    let live = live.assert_status(201)["id"].clone();
    let next = resumed.expect("message").await;
    assert_eq!(next.data["id"], live, "{next:?}");
    let history = app.all_message_ids(&bob, &room).await;
    assert_eq!(history.len(), 6, "before, 4 after, live: {history:?}");
}

// ---------------------------------------------------------------------------
// 4-7. Limits, expiry and pings
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn one_stream_past_the_cap_gets_429_until_another_closes() {
    let app = spawn_app_configured(|s| s.limits.max_streams_per_user = 2).await;
    let bob = app.user("bob").await;
    let (first, _) = app.events(&bob).await;
    let (_second, _) = app.events(&bob).await;

    let refused = try_open(&app, &bob)
        .await
        .err()
        .expect("a third stream is refused");

    refused.assert_problem(429, "too_many_streams");
    let retry_after = refused
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {:?}",
        refused.headers.get("retry-after")
    );

    drop(first);

    eventually(Duration::from_secs(3), || async {
        match try_open(&app, &bob).await {
            Ok(_) => true,
            Err(r) => {
                r.assert_problem(429, "too_many_streams");
                false
            }
        }
    })
    .await;
}

#[actix_web::test]
async fn an_expired_ticket_no_longer_opens_streams() {
    let app = spawn_app_configured(|s| s.auth.ticket_ttl_secs = 1).await;
    let bob = app.user("bob").await;
    let ticket = app
        .post("/api/v1/events/tickets", &bob.token, json!({}))
        .await;
    let ticket = ticket.assert_status(201);
    assert_eq!(ticket["expires_in"], 1);
    let path = format!(
        "/api/v1/events?ticket={}",
        ticket["ticket"].as_str().unwrap()
    );

    let mut stream = app
        .open_events(&path, &[])
        .await
        .unwrap_or_else(|r| panic!("a fresh ticket is refused: {}", r.text));
    assert_eq!(
        stream.expect("ready").await.data["user_id"],
        bob.id.as_str()
    );
    drop(stream);

    let refused = eventually_some(Duration::from_secs(5), || async {
        app.open_events(&path, &[])
            .await
            .err()
            .filter(|r| r.status == 401)
    })
    .await;
    refused.assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn a_stream_ends_when_its_session_expires() {
    let app = spawn_app_configured(|s| s.auth.token_ttl_secs = 2).await;
    let bob = app.user("bob").await;
    let (mut stream, _) = app.events(&bob).await;

    stream.assert_ends_within(Duration::from_secs(4)).await;

    app.get("/api/v1/users/me", &bob.token)
        .await
        .assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn an_idle_stream_gets_ping_comments() {
    let app = spawn_app_configured(|s| s.sse.ping_secs = 1).await;
    let bob = app.user("bob").await;
    let (mut stream, _) = app.events(&bob).await;

    let started = Instant::now();
    while !stream.comments.iter().any(|c| c == "ping") {
        let left = Duration::from_secs(3).saturating_sub(started.elapsed());
        assert!(
            !left.is_zero(),
            "no `: ping` within 3 s: {:?}",
            stream.comments
        );
        if let Ok(event) = stream.try_next_within(left).await {
            let event = event.expect("the stream stays open");
            panic!("an idle stream carried {event:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// 8. Presence
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_user_is_online_while_holding_a_stream_and_offline_soon_after_the_last_closes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    assert!(!lists(&online(&app, &alice).await, "bob"));

    let (stream, _) = app.events(&bob).await;

    assert!(lists(&online(&app, &alice).await, "bob"));
    let seen = public_user(&app, &alice, "bob").await;
    assert_eq!(seen["online"], true, "{seen}");
    assert_eq!(seen["last_seen_at"], Value::Null, "{seen}");

    drop(stream);

    eventually(Duration::from_secs(2), || async {
        public_user(&app, &alice, "bob").await["online"] == false
    })
    .await;
    let seen = public_user(&app, &alice, "bob").await;
    assert!(is_timestamp(&seen["last_seen_at"]), "{seen}");
    assert_eq!(seen["id"], bob.id.as_str());
    assert!(!lists(&online(&app, &alice).await, "bob"));
}

#[actix_web::test]
async fn closing_one_of_two_streams_keeps_the_user_online() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (first, _) = app.events(&bob).await;
    let (mut second, _) = app.events(&bob).await;

    drop(first);

    // A cleanly closed stream counts within a second (see the test above):
    // for a second and a half after, bob must stay online throughout.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        let seen = public_user(&app, &alice, "bob").await;
        assert_eq!(seen["online"], true, "{seen}");
        assert!(lists(&online(&app, &alice).await, "bob"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The remaining stream still works.
    app.send_direct(&alice, "bob", "still there")
        .await
        .assert_status(201);
    assert_eq!(
        second.expect("direct_message").await.data["body"],
        "still there"
    );

    drop(second);

    eventually(Duration::from_secs(2), || async {
        public_user(&app, &alice, "bob").await["online"] == false
    })
    .await;
}

// ---------------------------------------------------------------------------
// 9. Operator notifications
// ---------------------------------------------------------------------------

const ADMIN_KEY: &str = "k-0123456789abcdef";

/// An app with the admin endpoint enabled.
async fn spawn_admin_app() -> TestApp {
    spawn_app_configured(|s| s.auth.admin_key = Some(SecretString::from(ADMIN_KEY))).await
}

#[actix_web::test]
async fn without_a_configured_key_the_admin_endpoint_does_not_exist() {
    let app = spawn_app().await;

    for key in [None, Some("anything"), Some("")] {
        app.admin_notify(key, json!({"text": "hello"}))
            .await
            .assert_problem(404, "not_found");
    }
}

#[actix_web::test]
async fn a_missing_or_wrong_admin_key_is_401() {
    let app = spawn_admin_app().await;

    let missing = app.admin_notify(None, json!({"text": "hello"})).await;
    let wrong = app
        .admin_notify(Some("k-fedcba9876543210"), json!({"text": "hello"}))
        .await;
    let prefix = app
        .admin_notify(Some("k-0123456789abcde"), json!({"text": "hello"}))
        .await;

    missing.assert_problem(401, "missing_token");
    wrong.assert_problem(401, "invalid_token");
    prefix.assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn after_too_many_wrong_admin_keys_every_key_from_that_address_gets_429() {
    let app = spawn_app_configured(|s| {
        s.auth.admin_key = Some(SecretString::from(ADMIN_KEY));
        s.limits.admin_key_failures_burst = 3;
        s.limits.admin_key_failures_per_min = 1;
    })
    .await;
    let alice = app.user("alice").await;

    let mut wrong = Vec::new();
    for i in 0..4 {
        let key = format!("k-wrong-guess-{i:04}");
        wrong.push(app.admin_notify(Some(&key), json!({"text": "x"})).await);
    }
    let right = app
        .admin_notify(Some(ADMIN_KEY), json!({"text": "x"}))
        .await;

    for reply in &wrong[..3] {
        reply.assert_problem(401, "invalid_token");
    }
    for reply in [&wrong[3], &right] {
        reply.assert_problem(429, "rate_limited");
        let wait: u64 = reply.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=61).contains(&wait), "{wait}");
    }
    // Nothing was sent.
    let (_, ready) = app.events(&alice).await;
    assert_eq!(ready["offline_count"], 0);
}

#[actix_web::test]
async fn a_wrong_admin_key_is_refused_before_the_body_arrives() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_admin_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&host).await.unwrap();

    // The headers promise a body that never comes.
    socket
        .write_all(
            format!(
                "POST /api/v1/admin/notifications HTTP/1.1\r\nHost: {host}\r\n\
                 X-Admin-Key: k-not-the-right-one\r\nContent-Type: application/json\r\n\
                 Content-Length: 1000\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = vec![0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), socket.read_exact(&mut head))
        .await
        .expect("answered without waiting for the body")
        .unwrap();

    assert_eq!(String::from_utf8_lossy(&head), "HTTP/1.1 401");
}

#[actix_web::test]
async fn a_notification_to_usernames_reaches_online_users_live_and_offline_ones_later() {
    let app = spawn_admin_app().await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let (mut bobs, _) = app.events(&bob).await;

    let reply = app
        .admin_notify(
            Some(ADMIN_KEY),
            json!({"text": "Maintenance at 22:00", "kind": "maintenance", "usernames": ["bob", "Carol"]}),
        )
        .await;

    assert_eq!(reply.assert_status(202), &json!({"recipients": 2}));
    let live = bobs.expect("notification").await;
    assert_eq!(live.id, None);
    assert!(is_timestamp(&live.data["created_at"]), "{:?}", live.data);
    assert_eq!(
        live.data,
        json!({"kind": "maintenance", "text": "Maintenance at 22:00", "created_at": live.data["created_at"]})
    );
    let (mut carols, ready) = app.events(&carol).await;
    assert_eq!(ready["offline_count"], 1, "{ready}");
    let queued = carols.expect("notification").await;
    assert_eq!(queued.data, live.data);
    // Sent once: a second stream of carol's has no backlog.
    let (_, again) = app.events(&carol).await;
    assert_eq!(again["offline_count"], 0);
}

#[actix_web::test]
async fn a_flood_of_direct_messages_cannot_push_a_queued_notification_out() {
    let app = spawn_app_configured(|s| {
        s.auth.admin_key = Some(SecretString::from(ADMIN_KEY));
        s.limits.offline_queue_max_len = 5;
    })
    .await;
    let alice = app.user("alice").await;
    let carol = app.user("carol").await;
    app.admin_notify(
        Some(ADMIN_KEY),
        json!({"text": "your account changes tomorrow", "usernames": ["carol"]}),
    )
    .await
    .assert_status(202);
    for i in 0..20 {
        app.send_direct(&alice, "carol", &format!("dm {i}"))
            .await
            .assert_status(201);
    }

    let (mut carols, ready) = app.events(&carol).await;

    // The five newest messages, and the notification that came before them.
    assert_eq!(ready["offline_count"], 6, "{ready}");
    let note = carols.expect("notification").await;
    assert_eq!(note.data["text"], "your account changes tomorrow");
    for i in 15..20 {
        let dm = carols.expect("direct_message").await;
        assert_eq!(dm.data["body"], format!("dm {i}"));
    }
    let (_, again) = app.events(&carol).await;
    assert_eq!(again["offline_count"], 0);
}

#[actix_web::test]
async fn a_notification_to_a_room_is_addressed_to_its_members() {
    let app = spawn_admin_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    app.user("dave").await;
    let room = app.room(&alice, "general").await;
    app.join(&bob, &room).await.assert_status(200);
    app.join(&carol, &room).await.assert_status(200);
    let (mut bobs, _) = app.events(&bob).await;

    let reply = app
        .admin_notify(
            Some(ADMIN_KEY),
            json!({"text": "room news", "room_id": room}),
        )
        .await;

    assert_eq!(reply.assert_status(202), &json!({"recipients": 3}));
    let got = bobs.until("notification", |_| true).await;
    assert!(got.iter().all(|e| e.event != "notification"));
    let (_, ready) = app.events(&carol).await;
    assert_eq!(ready["offline_count"], 1);
}

#[actix_web::test]
async fn notifications_to_unknown_or_conflicting_targets_are_refused() {
    let app = spawn_admin_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let unknown_room = uuid::Uuid::new_v4().to_string();

    app.admin_notify(
        Some(ADMIN_KEY),
        json!({"text": "x", "room_id": unknown_room}),
    )
    .await
    .assert_problem(404, "room_not_found");
    app.admin_notify(
        Some(ADMIN_KEY),
        json!({"text": "x", "room_id": "not-a-room"}),
    )
    .await
    .assert_problem(404, "room_not_found");
    app.admin_notify(
        Some(ADMIN_KEY),
        json!({"text": "x", "usernames": ["alice", "nobody"]}),
    )
    .await
    .assert_problem(404, "user_not_found");
    app.admin_notify(
        Some(ADMIN_KEY),
        json!({"text": "x", "usernames": ["alice"], "room_id": room}),
    )
    .await
    .assert_problem(400, "validation_failed");

    // None of them was delivered to anyone.
    let (_, ready) = app.events(&alice).await;
    assert_eq!(ready["offline_count"], 0);
}

#[actix_web::test]
async fn a_notification_to_everyone_counts_every_user_and_defaults_its_kind() {
    let app = spawn_admin_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.user("carol").await;
    let (mut alices, _) = app.events(&alice).await;

    let reply = app
        .admin_notify(Some(ADMIN_KEY), json!({"text": "Hello, everyone"}))
        .await;

    assert_eq!(reply.assert_status(202), &json!({"recipients": 3}));
    let got = alices.expect("notification").await;
    assert_eq!(got.data["kind"], "announcement");
    assert_eq!(got.data["text"], "Hello, everyone");
    let (mut bobs, ready) = app.events(&bob).await;
    assert_eq!(ready["offline_count"], 1);
    assert_eq!(bobs.expect("notification").await.data, got.data);
}

// ---------------------------------------------------------------------------
// 10-11. Many streams, slow streams
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn five_hundred_streams_of_one_user_all_receive_a_message() {
    let started = Instant::now();
    let app = spawn_app_configured(|s| s.limits.max_streams_per_user = 600).await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut streams = Vec::with_capacity(500);
    for _ in 0..10 {
        for (stream, ready) in join_all((0..50).map(|_| app.events(&bob))).await {
            assert_eq!(ready["rooms"], json!([room]));
            streams.push(stream);
        }
    }

    let sent = app.send(&alice, &room, "to all of you").await;

    let id = sent.assert_status(201)["id"].as_str().unwrap().to_owned();
    let got = join_all(streams.iter_mut().map(|s| s.expect("message"))).await;
    assert_eq!(got.len(), 500);
    for event in got {
        assert_eq!(event.message_id(), id);
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn a_stream_that_is_not_read_is_dropped_without_holding_up_others() {
    // Arrange: a tiny server buffer; bob has a stream he never reads, and a
    // fast one.
    const COUNT: usize = 2000;
    let app = spawn_app_configured(|s| {
        s.sse.stream_buffer = 4;
        s.sse.resume_max = 10_000;
        s.limits.send_burst = 10_000;
        // Not cut while this test writes (the next test covers cutting).
        s.sse.write_timeout_ms = 600_000;
    })
    .await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut slow, _) = app.events(&bob).await;
    let (mut fast, _) = app.events(&bob).await;

    // Act: alice sends far more than the TCP buffers hold, one at a time,
    // while the fast stream is read.
    let big = "x".repeat(3990);
    let sends = async {
        let mut sent = Vec::with_capacity(COUNT);
        for i in 0..COUNT {
            let reply = app.send(&alice, &room, &format!("{i} {big}")).await;
            sent.push(reply.assert_status(201)["id"].as_str().unwrap().to_owned());
        }
        sent
    };
    let reads = async {
        let mut got = Vec::with_capacity(COUNT);
        while got.len() < COUNT {
            let event = fast
                .next_within(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("the fast stream ended after {}", got.len()));
            if event.event == "message" {
                got.push(event.message_id());
            }
        }
        got
    };
    let (sent, fast_got) = join(sends, reads).await;

    // Assert: the fast stream got everything; the slow one gets what was
    // buffered (a gap-free prefix), then its end.
    assert_eq!(fast_got, sent);
    let mut slow_got = Vec::new();
    loop {
        match slow.try_next_within(Duration::from_secs(10)).await {
            Ok(Some(event)) => {
                if event.event == "message" {
                    slow_got.push(event);
                }
            }
            Ok(None) => break,
            Err(()) => panic!(
                "the unread stream is still open after {} of {COUNT} messages",
                slow_got.len()
            ),
        }
    }
    assert!(slow_got.len() < COUNT, "the unread stream got everything");
    assert!(!slow_got.is_empty(), "the unread stream got nothing at all");
    assert_eq!(message_ids(&slow_got), sent[..slow_got.len()]);
    // And it resumes from where it stopped.
    let last = slow_got.last().map(SseEvent::token).unwrap_or_default();
    let (mut resumed, ready) = app.events_after(&bob, &last).await;
    assert_eq!(ready["resumed"], true, "{ready}");
    let mut rest = Vec::new();
    while rest.len() < COUNT - slow_got.len() {
        let event = resumed.next().await;
        if event.event == "message" {
            rest.push(event.message_id());
        }
    }
    assert_eq!(rest, sent[slow_got.len()..]);
}

#[actix_web::test]
async fn a_dropped_stream_whose_client_stopped_reading_is_cut_within_seconds() {
    // Arrange: bob may hold one stream, and holds one he never reads.
    let app = spawn_app_configured(|s| {
        s.sse.stream_buffer = 4;
        s.sse.write_timeout_ms = 500;
        s.limits.send_burst = 10_000;
        s.limits.max_streams_per_user = 1;
    })
    .await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut unread, _) = app.events(&bob).await;

    // Act: alice sends far more than the TCP buffers hold.
    let big = "x".repeat(3990);
    for i in 0..2000 {
        app.send(&alice, &room, &format!("{i} {big}"))
            .await
            .assert_status(201);
    }

    // Assert: the unread stream's connection is cut (it stops counting
    // toward bob's cap, and its socket ends), not left open until the
    // client reads again.
    let fresh = eventually_some(Duration::from_secs(15), || async {
        try_open(&app, &bob).await.ok()
    })
    .await;
    drop(fresh);
    loop {
        match unread.try_next_within(Duration::from_secs(5)).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(()) => panic!("the unread stream's connection is still open"),
        }
    }
}
