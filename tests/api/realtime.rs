//! The event stream: live delivery, offline queues, resume, membership
//! changes, revocation and tickets.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn a_stream_starts_with_ready_and_carries_the_right_headers() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;

    let (stream, ready) = app.events(&alice).await;

    assert_eq!(ready["user_id"], alice.id.as_str());
    assert_eq!(ready["rooms"], json!([room]));
    assert_eq!(ready["offline_count"], 0);
    assert_eq!(ready["resumed"], false);
    let header = |name: &str| {
        stream
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/event-stream"));
    assert_eq!(header("cache-control"), "no-cache");
    assert_eq!(header("x-accel-buffering"), "no");
    assert!(
        stream
            .headers
            .get("content-encoding")
            .is_none_or(|v| v == "identity")
    );
    assert_eq!(stream.retries.len(), 1, "the stream sets retry:");
}

#[actix_web::test]
async fn a_member_receives_a_message_live_exactly_once_with_its_history_id() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut bobs, _) = app.events(&bob).await;
    let (mut alices, _) = app.events(&alice).await;

    let sent = app.send(&alice, &room, "hello bob").await;
    let marker = app.send(&alice, &room, "marker").await;

    let sent = sent.assert_status(201);
    let got = bobs.expect("message").await;
    assert_eq!(got.data, *sent);
    got.token();
    assert_eq!(
        bobs.expect("message").await.message_id(),
        marker.json["id"].as_str().unwrap()
    );
    // The sender's own streams get it too (other devices stay in step).
    assert_eq!(alices.expect("message").await.data["body"], "hello bob");
    let history = app
        .get(&format!("/api/v1/rooms/{room}/messages"), &bob.token)
        .await;
    assert_eq!(ids(&history.json)[0], sent["id"].as_str().unwrap());
}

#[actix_web::test]
async fn direct_messages_reach_both_users_streams() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (mut bobs, _) = app.events(&bob).await;
    let (mut alices, _) = app.events(&alice).await;

    let sent = app.send_direct(&alice, "bob", "psst").await;

    let sent = sent.assert_status(201);
    let got = bobs.expect("direct_message").await;
    assert_eq!(got.data, *sent);
    got.token();
    assert_eq!(alices.expect("direct_message").await.data, *sent);
}

#[actix_web::test]
async fn an_offline_user_gets_the_backlog_once_then_live_events() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            app.send(&alice, &room, &format!("m{i}"))
                .await
                .assert_status(201)["id"]
                .clone(),
        );
    }
    sent.push(
        app.send_direct(&alice, "bob", "dm")
            .await
            .assert_status(201)["id"]
            .clone(),
    );

    let (mut first, ready) = app.events(&bob).await;

    assert_eq!(ready["offline_count"], 6);
    for id in &sent {
        let event = first.next().await;
        assert_eq!(event.message_id(), id.as_str().unwrap(), "{event:?}");
    }
    let live = app.send(&alice, &room, "live").await.assert_status(201)["id"].clone();
    assert_eq!(first.expect("message").await.data["id"], live);

    // A second stream gets none of the backlog again.
    let (mut second, ready) = app.events(&bob).await;
    assert_eq!(ready["offline_count"], 0);
    app.send(&alice, &room, "marker").await.assert_status(201);
    assert_eq!(second.expect("message").await.data["body"], "marker");
}

#[actix_web::test]
async fn a_user_without_a_stream_does_not_queue_their_own_messages() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    app.send(&alice, &room, "note to self")
        .await
        .assert_status(201);

    let (_, ready) = app.events(&alice).await;

    assert_eq!(ready["offline_count"], 0);
}

#[actix_web::test]
async fn a_dropped_stream_resumes_after_last_event_id_with_nothing_missed_or_repeated() {
    let app = spawn_app().await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut stream, _) = app.events(&bob).await;
    let mut ids_seen = Vec::new();
    for i in 0..3 {
        app.send(&alice, &room, &format!("before {i}"))
            .await
            .assert_status(201);
        ids_seen.push(stream.expect("message").await.token());
    }
    let last = ids_seen.last().unwrap().clone();
    drop(stream);
    let mut missed = Vec::new();
    for i in 0..4 {
        missed.push(
            app.send(&alice, &room, &format!("after {i}"))
                .await
                .assert_status(201)["id"]
                .clone(),
        );
    }
    missed.push(
        app.send_direct(&alice, "bob", "dm after")
            .await
            .assert_status(201)["id"]
            .clone(),
    );

    let (mut resumed, ready) = app.events_after(&bob, &last).await;

    assert_eq!(ready["resumed"], true);
    let mut got = Vec::new();
    for _ in 0..missed.len() {
        got.push(resumed.next().await.data["id"].clone());
    }
    assert_eq!(got, missed);
    let live = app.send(&alice, &room, "live").await.assert_status(201)["id"].clone();
    assert_eq!(resumed.expect("message").await.data["id"], live);
}

#[actix_web::test]
async fn last_event_id_also_works_as_a_query_parameter_and_garbage_does_not_resume() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let (mut stream, _) = app.events(&alice).await;
    let one = app.send(&alice, &room, "one").await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = stream.expect("message").await.token();
    drop(stream);
    app.send(&alice, &room, "two").await.assert_status(201);
    let auth = format!("Bearer {}", alice.token);

    let mut by_query = app
        .open_events(
            &format!("/api/v1/events?last_event_id={first}"),
            &[("authorization", &auth)],
        )
        .await
        .unwrap_or_else(|r| panic!("{}", r.text));
    let ready = by_query.expect("ready").await.data;
    assert_eq!(ready["resumed"], true);
    assert_eq!(by_query.expect("message").await.data["body"], "two");

    let (_, garbage) = app.events_after(&alice, "not-an-id").await;
    assert_eq!(garbage["resumed"], false);
    // A message id (what `id:` carried before resume tokens) resumes nothing.
    let (_, old) = app.events_after(&alice, &one).await;
    assert_eq!(old["resumed"], false);
}

#[actix_web::test]
async fn joining_and_leaving_change_an_open_stream_at_once() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&alice, "general").await;
    let (mut bobs, ready) = app.events(&bob).await;
    let (mut alices, _) = app.events(&alice).await;
    assert_eq!(ready["rooms"], json!([]));

    app.join(&bob, &room).await.assert_status(200);
    app.send(&alice, &room, "welcome").await.assert_status(201);

    let joined = alices.expect("member_joined").await;
    assert_eq!(joined.data["room_id"], room.as_str());
    assert_eq!(joined.data["user"]["username"], "bob");
    let seen = bobs.until("message", |m| m["body"] == "welcome").await;
    assert!(seen.iter().all(|e| e.event == "member_joined"), "{seen:?}");

    app.leave(&bob, &room).await;
    app.send(&alice, &room, "after bob left")
        .await
        .assert_status(201);
    app.send_direct(&alice, "bob", "marker")
        .await
        .assert_status(201);

    let seen = bobs
        .until("direct_message", |m| m["body"] == "marker")
        .await;
    assert!(seen.iter().all(|e| e.event != "message"), "{seen:?}");
    let left = alices.until("member_left", |_| true).await;
    assert!(left.iter().all(|e| e.event == "message"));
}

#[actix_web::test]
async fn logout_ends_the_sessions_streams() {
    let app = spawn_app().await;
    let bob = app.user("bob").await;
    let (mut stream, _) = app.events(&bob).await;

    app.request(Method::POST, "/api/v1/auth/logout", Some(&bob.token), None)
        .await
        .assert_status(204);

    stream.assert_ends_within(Duration::from_secs(2)).await;
}

#[actix_web::test]
async fn a_ticket_opens_streams_only_and_dies_with_its_session() {
    let app = spawn_app().await;
    let bob = app.user("bob").await;
    let ticket = app
        .post("/api/v1/events/tickets", &bob.token, json!({}))
        .await;
    let ticket = ticket.assert_status(201);
    assert_eq!(ticket["expires_in"], 60);
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();

    // It opens streams, more than once.
    for _ in 0..2 {
        let mut stream = app
            .open_events(&format!("/api/v1/events?ticket={ticket}"), &[])
            .await
            .unwrap_or_else(|r| panic!("{}", r.text));
        assert_eq!(
            stream.expect("ready").await.data["user_id"],
            bob.id.as_str()
        );
    }
    // It is not a bearer token.
    app.get("/api/v1/users/me", &ticket)
        .await
        .assert_problem(401, "invalid_token");
    // A made-up ticket opens nothing.
    let refused = app
        .open_events("/api/v1/events?ticket=made-up", &[])
        .await
        .err()
        .unwrap();
    refused.assert_problem(401, "invalid_token");
    // No credential at all.
    let refused = app.open_events("/api/v1/events", &[]).await.err().unwrap();
    refused.assert_problem(401, "missing_token");
    // It dies with its session.
    app.request(Method::POST, "/api/v1/auth/logout", Some(&bob.token), None)
        .await
        .assert_status(204);
    let refused = app
        .open_events(&format!("/api/v1/events?ticket={ticket}"), &[])
        .await
        .err()
        .unwrap();
    refused.assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn message_ids_increase_within_each_room_and_conversation() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let first = app.room(&alice, "first").await;
    let second = app.room(&alice, "second").await;

    let mut ids: [Vec<_>; 3] = Default::default();
    for i in 0..30 {
        let reply = match i % 3 {
            0 => app.send(&alice, &first, "a").await,
            1 => app.send(&alice, &second, "b").await,
            _ => app.send_direct(&alice, "bob", "c").await,
        };
        ids[i % 3].push(parse_message_id(
            reply.assert_status(201)["id"].as_str().unwrap(),
        ));
    }

    for ids in ids {
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
}

#[actix_web::test]
async fn a_room_created_while_a_stream_is_open_reaches_that_stream() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (mut alices, _) = app.events(&alice).await;

    let room = app.room(&alice, "fresh").await;
    app.join(&bob, &room).await.assert_status(200);
    app.send(&bob, &room, "hello creator")
        .await
        .assert_status(201);

    let seen = alices
        .until("message", |m| m["body"] == "hello creator")
        .await;
    assert!(seen.iter().all(|e| e.event == "member_joined"), "{seen:?}");
}

#[actix_web::test]
async fn the_offline_queue_keeps_only_the_newest_events_up_to_its_cap() {
    let app = spawn_app_configured(|s| s.limits.offline_queue_max_len = 5).await;
    let (alice, bob, room) = room_with_two(&app).await;
    for i in 0..40 {
        app.send(&alice, &room, &format!("m{i}"))
            .await
            .assert_status(201);
    }

    let (mut stream, ready) = app.events(&bob).await;

    assert_eq!(ready["offline_count"], 5);
    for i in 35..40 {
        assert_eq!(stream.expect("message").await.data["body"], format!("m{i}"));
    }
}
