//! Rooms: creating, reading, the directory, membership and stats.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Walks a list endpoint (`path` has a query string already) page by page
/// until `next_cursor` is null; returns the pages.
async fn walk(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            None => path.to_owned(),
            Some(c) => format!("{path}&cursor={c}"),
        };
        let page = app.get(&url, token).await.assert_status(200).clone();
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        pages.push(page);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

#[actix_web::test]
async fn creating_a_room_returns_it_with_the_creator_as_its_only_member() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    let reply = app
        .post(
            "/api/v1/rooms",
            &alice.token,
            json!({"name": "general", "topic": "Anything goes"}),
        )
        .await;

    let room = reply.assert_status(201).clone();
    let id = room["id"].as_str().expect("id");
    assert!(is_timestamp(&room["created_at"]), "{room}");
    assert_eq!(
        room,
        json!({
            "id": id,
            "name": "general",
            "topic": "Anything goes",
            "created_by": alice.id,
            "created_at": room["created_at"],
            "member_count": 1,
            "message_count": 0,
            "last_activity_at": null,
        })
    );
    let members = app
        .get(&format!("/api/v1/rooms/{id}/members"), &alice.token)
        .await;
    let members = members.assert_status(200);
    assert_eq!(items(members).len(), 1);
    assert_eq!(items(members)[0]["user"]["id"], alice.id.as_str());
    let fetched = app.get(&format!("/api/v1/rooms/{id}"), &alice.token).await;
    assert_eq!(fetched.assert_status(200), &room);
}

#[actix_web::test]
async fn a_room_without_a_topic_has_a_null_topic() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    let reply = app
        .post("/api/v1/rooms", &alice.token, json!({"name": "quiet"}))
        .await;

    let room = reply.assert_status(201);
    assert_eq!(room["topic"], Value::Null);
    assert_eq!(room["name"], "quiet");
}

#[actix_web::test]
async fn room_names_are_unique_ignoring_case() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.room(&alice, "General").await;

    let reply = app
        .post("/api/v1/rooms", &bob.token, json!({"name": "gENERAL"}))
        .await;

    reply.assert_problem(409, "room_name_taken");
    let rooms = app.get("/api/v1/rooms", &bob.token).await;
    assert_eq!(items(rooms.assert_status(200)).len(), 1);
    let bobs = app.get("/api/v1/users/me/rooms", &bob.token).await;
    assert_eq!(
        items(bobs.assert_status(200)).len(),
        0,
        "the loser of a name clash joined nothing"
    );
}

#[actix_web::test]
async fn names_and_topics_at_their_maximum_length_are_accepted() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let name = "é".repeat(64);
    let topic = "t".repeat(256);

    let reply = app
        .post(
            "/api/v1/rooms",
            &alice.token,
            json!({"name": name, "topic": topic}),
        )
        .await;

    let room = reply.assert_status(201);
    assert_eq!(room["name"], name.as_str());
    assert_eq!(room["topic"], topic.as_str());
}

#[actix_web::test]
async fn invalid_rooms_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "n".repeat(65)}), "name"),
        (json!({"name": "ok", "topic": "t".repeat(257)}), "topic"),
        (json!({"name": "ok", "colour": "red"}), "colour"),
        (json!({"topic": "no name"}), "name"),
        (json!({"name": 42}), "name"),
    ];

    for (body, field) in cases {
        let reply = app.post("/api/v1/rooms", &alice.token, body.clone()).await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], field, "{body}");
    }
    let rooms = app.get("/api/v1/rooms", &alice.token).await;
    assert_eq!(
        rooms.assert_status(200),
        &json!({"items": [], "next_cursor": null})
    );
    let mine = app.get("/api/v1/users/me/rooms", &alice.token).await;
    assert_eq!(
        mine.assert_status(200),
        &json!({"items": [], "next_cursor": null})
    );
    app.post("/api/v1/rooms", &alice.token, json!({"name": "ok"}))
        .await
        .assert_status(201);
}

#[actix_web::test]
async fn unknown_rooms_are_room_not_found() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let unknown = uuid::Uuid::new_v4().to_string();

    for id in [unknown.as_str(), "not-a-uuid", "1"] {
        app.get(&format!("/api/v1/rooms/{id}"), &alice.token)
            .await
            .assert_problem(404, "room_not_found");
        app.join(&alice, id)
            .await
            .assert_problem(404, "room_not_found");
        app.leave(&alice, id)
            .await
            .assert_problem(404, "room_not_found");
        app.get(&format!("/api/v1/rooms/{id}/members"), &alice.token)
            .await
            .assert_problem(404, "room_not_found");
        app.get(&format!("/api/v1/rooms/{id}/stats"), &alice.token)
            .await
            .assert_problem(404, "room_not_found");
    }
}

#[actix_web::test]
async fn the_active_directory_lists_rooms_by_latest_message_then_empty_rooms_newest_first() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut ids = Vec::new();
    for name in [
        "old-busy",
        "old-quiet",
        "mid-busy",
        "new-quiet",
        "newest-busy",
    ] {
        ids.push(app.room(&alice, name).await);
    }
    let [old_busy, old_quiet, mid_busy, new_quiet, newest_busy] =
        <[String; 5]>::try_from(ids).unwrap();
    // Messages arrive in an order unlike creation: the oldest room gets the
    // latest one.
    for room in [&newest_busy, &mid_busy, &old_busy] {
        app.send(&alice, room, "hello").await.assert_status(201);
    }

    let explicit = app.get("/api/v1/rooms?sort=active", &alice.token).await;
    let default = app.get("/api/v1/rooms", &alice.token).await;

    let expected = [old_busy, mid_busy, newest_busy, new_quiet, old_quiet];
    assert_eq!(item_ids(explicit.assert_status(200)), expected);
    assert_eq!(explicit.json["next_cursor"], Value::Null);
    assert_eq!(item_ids(default.assert_status(200)), expected);
}

#[actix_web::test]
async fn the_recent_directory_lists_rooms_newest_created_first_whatever_their_messages() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut ids = Vec::new();
    for name in ["first", "second", "third"] {
        ids.push(app.room(&alice, name).await);
    }
    app.send(&alice, &ids[0], "bump the oldest")
        .await
        .assert_status(201);

    let reply = app.get("/api/v1/rooms?sort=recent", &alice.token).await;

    ids.reverse();
    assert_eq!(item_ids(reply.assert_status(200)), ids);
}

#[actix_web::test]
async fn an_unknown_sort_is_refused() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    for sort in ["popular", "ACTIVE", ""] {
        let reply = app
            .get(&format!("/api/v1/rooms?sort={sort}"), &alice.token)
            .await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], "sort", "{sort}");
    }
}

#[actix_web::test]
async fn the_directory_pages_through_every_room_once_in_both_orders() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.room(&alice, &format!("room-{i}")).await);
    }
    for room in &created[..3] {
        app.send(&alice, room, "hi").await.assert_status(201);
    }

    for sort in ["active", "recent"] {
        let whole = app
            .get(&format!("/api/v1/rooms?sort={sort}"), &alice.token)
            .await;
        let whole = item_ids(whole.assert_status(200));

        let pages = walk(
            &app,
            &format!("/api/v1/rooms?sort={sort}&limit=2"),
            &alice.token,
        )
        .await;

        assert_eq!(pages.len(), 4, "{sort}: 7 rooms in pages of 2");
        assert!(pages.iter().all(|p| items(p).len() <= 2));
        assert_eq!(pages.last().unwrap()["next_cursor"], Value::Null);
        let walked: Vec<String> = pages.iter().flat_map(item_ids).collect();
        assert_eq!(
            walked, whole,
            "{sort}: paging gives the same order as one page, no dupes or gaps"
        );
        let unique: HashSet<&String> = walked.iter().collect();
        assert_eq!(unique.len(), 7);
        assert_eq!(unique, created.iter().collect());
    }
}

#[actix_web::test]
async fn rooms_created_while_paging_neither_repeat_nor_hide_older_rooms() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.room(&alice, &format!("room-{i}")).await);
    }
    let first = app
        .get("/api/v1/rooms?sort=recent&limit=2", &alice.token)
        .await;
    let first = first.assert_status(200).clone();

    app.room(&alice, "late-arrival").await;
    let mut seen = item_ids(&first);
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page = app
            .get(
                &format!("/api/v1/rooms?sort=recent&limit=2&cursor={c}"),
                &alice.token,
            )
            .await;
        let page = page.assert_status(200);
        seen.extend(item_ids(page));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }

    created.reverse();
    assert_eq!(seen, created);
}

#[actix_web::test]
async fn list_paging_parameters_are_checked() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let forged = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("v1:abc:x")
    };
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("cursor=garbage!", "cursor"),
        ("cursor=", "cursor"),
        (&format!("cursor={forged}"), "cursor"),
    ];

    for path in [
        "/api/v1/rooms",
        "/api/v1/users/me/rooms",
        &format!("/api/v1/rooms/{room}/members"),
    ] {
        for (query, field) in &cases {
            let reply = app.get(&format!("{path}?{query}"), &alice.token).await;

            reply.assert_problem(400, "validation_failed");
            assert_eq!(reply.json["field"], *field, "{path}?{query}");
        }
    }
    for limit in [1, 100] {
        let reply = app
            .get(&format!("/api/v1/rooms?limit={limit}"), &alice.token)
            .await;
        assert_eq!(items(reply.assert_status(200)).len(), 1);
    }
}

#[actix_web::test]
async fn joining_adds_a_member_once_however_often_it_is_repeated() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&alice, "general").await;

    let first = app.join(&bob, &room).await;
    let second = app.join(&bob, &room).await;
    let creator_again = app.join(&alice, &room).await;

    let first = first.assert_status(200);
    assert_eq!(first["id"], room.as_str());
    assert_eq!(first["name"], "general");
    assert_eq!(first["member_count"], 2);
    assert_eq!(second.assert_status(200)["member_count"], 2);
    assert_eq!(creator_again.assert_status(200)["member_count"], 2);
    let fetched = app.get(&format!("/api/v1/rooms/{room}"), &bob.token).await;
    assert_eq!(fetched.assert_status(200)["member_count"], 2);
    let members = app
        .get(&format!("/api/v1/rooms/{room}/members"), &bob.token)
        .await;
    assert_eq!(items(members.assert_status(200)).len(), 2);
}

#[actix_web::test]
async fn leaving_removes_the_member_and_is_idempotent() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let room = app.room(&alice, "general").await;
    app.join(&bob, &room).await.assert_status(200);

    let left = app.leave(&bob, &room).await;
    let again = app.leave(&bob, &room).await;
    let never_joined = app.leave(&carol, &room).await;

    for reply in [&left, &again, &never_joined] {
        reply.assert_status(204);
        assert_eq!(reply.text, "");
    }
    let fetched = app
        .get(&format!("/api/v1/rooms/{room}"), &alice.token)
        .await;
    assert_eq!(fetched.assert_status(200)["member_count"], 1);
    let members = app
        .get(&format!("/api/v1/rooms/{room}/members"), &alice.token)
        .await;
    let member_ids: Vec<&Value> = items(members.assert_status(200))
        .iter()
        .map(|m| &m["user"]["id"])
        .collect();
    assert_eq!(member_ids, [&json!(alice.id)]);
    app.send(&bob, &room, "still here?")
        .await
        .assert_problem(403, "not_a_member");
}

#[actix_web::test]
async fn a_member_who_left_can_join_again() {
    let app = spawn_app().await;
    let (_, bob, room) = room_with_two(&app).await;
    app.leave(&bob, &room).await.assert_status(204);

    let rejoined = app.join(&bob, &room).await;

    assert_eq!(rejoined.assert_status(200)["member_count"], 2);
    app.send(&bob, &room, "back again").await.assert_status(201);
}

#[actix_web::test]
async fn the_member_list_shows_public_users_latest_joined_first_to_anyone() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let outsider = app.user("dave").await;
    let room = app.room(&alice, "general").await;
    app.join(&bob, &room).await.assert_status(200);
    app.join(&carol, &room).await.assert_status(200);

    let reply = app
        .get(&format!("/api/v1/rooms/{room}/members"), &outsider.token)
        .await;

    let page = reply.assert_status(200);
    assert_eq!(page["next_cursor"], Value::Null);
    let members = items(page);
    let users: Vec<&Value> = members.iter().map(|m| &m["user"]).collect();
    assert_eq!(
        users,
        [
            &offline_public_user(&carol),
            &offline_public_user(&bob),
            &offline_public_user(&alice)
        ]
    );
    for member in members {
        assert!(is_timestamp(&member["joined_at"]), "{member}");
        assert_eq!(member.as_object().unwrap().len(), 2, "{member}");
    }
    assert!(members[0]["joined_at"].as_str() > members[1]["joined_at"].as_str());
    assert!(members[1]["joined_at"].as_str() > members[2]["joined_at"].as_str());
}

#[actix_web::test]
async fn the_member_list_pages_with_a_cursor() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let mut everyone = vec![alice.id.clone()];
    for name in ["bob", "carol", "dave", "erin"] {
        let user = app.user(name).await;
        app.join(&user, &room).await.assert_status(200);
        everyone.push(user.id);
    }

    let pages = walk(
        &app,
        &format!("/api/v1/rooms/{room}/members?limit=2"),
        &alice.token,
    )
    .await;

    assert_eq!(pages.len(), 3);
    let seen: Vec<String> = pages
        .iter()
        .flat_map(|p| {
            items(p)
                .iter()
                .map(|m| m["user"]["id"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(seen.len(), 5);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        everyone.iter().collect::<HashSet<_>>()
    );
}

#[actix_web::test]
async fn my_rooms_lists_the_rooms_i_belong_to_and_drops_one_i_left() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let first = app.room(&alice, "first").await;
    let second = app.room(&alice, "second").await;
    let bobs_own = app.room(&bob, "bobs-own").await;
    app.join(&bob, &first).await.assert_status(200);

    let alices = app.get("/api/v1/users/me/rooms", &alice.token).await;
    let bobs = app.get("/api/v1/users/me/rooms", &bob.token).await;

    assert_eq!(
        item_ids(alices.assert_status(200)),
        [second.clone(), first.clone()]
    );
    assert_eq!(items(&alices.json)[0]["name"], "second");
    assert_eq!(items(&alices.json)[1]["member_count"], 2);
    let bobs: HashSet<String> = item_ids(bobs.assert_status(200)).into_iter().collect();
    assert_eq!(bobs, HashSet::from([first.clone(), bobs_own]));

    app.leave(&alice, &first).await.assert_status(204);

    let after = app.get("/api/v1/users/me/rooms", &alice.token).await;
    assert_eq!(item_ids(after.assert_status(200)), [second]);
}

#[actix_web::test]
async fn stats_count_messages_and_rank_at_most_ten_senders_most_first() {
    let app = spawn_app().await;
    let names: Vec<String> = (0..11).map(|i| format!("sender{i:02}")).collect();
    let users = futures_util::future::join_all(names.iter().map(|n| app.user(n))).await;
    let room = app.room(&users[0], "busy").await;
    for user in &users[1..] {
        app.join(user, &room).await.assert_status(200);
    }
    // sender{i} sends i + 1 messages: sender10 most, sender00 least.
    for (i, user) in users.iter().enumerate() {
        for n in 0..=i {
            app.send(user, &room, &format!("message {n}"))
                .await
                .assert_status(201);
        }
    }

    let reply = app
        .get(&format!("/api/v1/rooms/{room}/stats"), &users[3].token)
        .await;

    let stats = reply.assert_status(200);
    assert_eq!(stats["message_count"], 66);
    let expected: Vec<Value> = users[1..]
        .iter()
        .enumerate()
        .rev()
        .map(|(i, u)| json!({"user": user_lite(u), "count": i + 2}))
        .collect();
    assert_eq!(stats["top_senders"], Value::Array(expected));
    assert_eq!(stats.as_object().unwrap().len(), 2, "{stats}");
}

#[actix_web::test]
async fn stats_of_a_silent_room_are_zero() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "silent").await;

    let reply = app
        .get(&format!("/api/v1/rooms/{room}/stats"), &alice.token)
        .await;

    assert_eq!(
        reply.assert_status(200),
        &json!({"message_count": 0, "top_senders": []})
    );
}

#[actix_web::test]
async fn stats_are_for_members_only() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&alice, "private-ish").await;
    app.send(&alice, &room, "hello").await.assert_status(201);

    let reply = app
        .get(&format!("/api/v1/rooms/{room}/stats"), &bob.token)
        .await;

    reply.assert_problem(403, "not_a_member");
}

#[actix_web::test]
async fn room_routes_need_a_token() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;

    for (method, path) in [
        (Method::POST, "/api/v1/rooms".to_owned()),
        (Method::GET, format!("/api/v1/rooms/{room}")),
        (Method::PUT, format!("/api/v1/rooms/{room}/members/me")),
        (Method::DELETE, format!("/api/v1/rooms/{room}/members/me")),
        (Method::GET, format!("/api/v1/rooms/{room}/members")),
        (Method::GET, format!("/api/v1/rooms/{room}/stats")),
        (Method::GET, "/api/v1/users/me/rooms".to_owned()),
    ] {
        let body = (method == Method::POST).then(|| json!({"name": "sneaky"}));
        app.request(method, &path, None, body)
            .await
            .assert_problem(401, "missing_token");
    }
    let rooms = app.get("/api/v1/rooms", &alice.token).await;
    assert_eq!(items(rooms.assert_status(200)).len(), 1);
}
