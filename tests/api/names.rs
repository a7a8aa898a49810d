//! Look-alike names: display names and room names refuse invisible format
//! characters, are stored in NFC, and room names are unique by how they
//! look (UTS #39 skeletons), not only ignoring case.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// A right-to-left override and a zero-width space, each inside a name.
const INVISIBLE: [&str; 2] = ["evil\u{202E}gnp.exe", "gen\u{200B}eral"];

#[actix_web::test]
async fn room_names_with_a_bidi_override_or_a_zero_width_space_are_refused() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    for name in INVISIBLE {
        let reply = app
            .post("/api/v1/rooms", &alice.token, json!({"name": name}))
            .await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], "name", "{}", reply.text);
        let detail = reply.json["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("name: ") && detail.contains("format characters"),
            "{detail}"
        );
    }
    let rooms = app.get("/api/v1/rooms", &alice.token).await;
    assert_eq!(items(rooms.assert_status(200)).len(), 0);
}

#[actix_web::test]
async fn display_names_with_a_bidi_override_or_a_zero_width_space_are_refused() {
    let app = spawn_app().await;

    for (n, display_name) in INVISIBLE.into_iter().enumerate() {
        let username = format!("mallory{n}");
        let reply = app
            .request(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({"username": username, "password": "password123", "display_name": display_name})),
            )
            .await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], "display_name", "{}", reply.text);
        assert!(
            reply.json["detail"]
                .as_str()
                .unwrap()
                .contains("format characters"),
            "{}",
            reply.text
        );
        app.login(&username, "password123")
            .await
            .assert_problem(401, "invalid_credentials");
    }
}

#[actix_web::test]
async fn room_names_that_look_alike_are_taken() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.room(&alice, "Cafe").await;
    app.room(&alice, "TOM").await;

    // A Cyrillic а in the middle; Cyrillic Т, О and М.
    for name in ["C\u{430}fe", "\u{422}\u{41E}\u{41C}"] {
        let reply = app
            .post("/api/v1/rooms", &bob.token, json!({"name": name}))
            .await;

        reply.assert_problem(409, "room_name_taken");
    }
    let rooms = app.get("/api/v1/rooms", &bob.token).await;
    assert_eq!(items(rooms.assert_status(200)).len(), 2);
    let bobs = app.get("/api/v1/users/me/rooms", &bob.token).await;
    assert_eq!(items(bobs.assert_status(200)).len(), 0);
    // Names that only share letters are still free.
    app.room(&bob, "Caff").await;
}

#[actix_web::test]
async fn names_sent_decomposed_are_stored_composed() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let composed = "Caf\u{E9}";
    let decomposed = "Cafe\u{301}";

    let reply = app
        .post("/api/v1/rooms", &alice.token, json!({"name": decomposed}))
        .await;

    let room = reply.assert_status(201);
    assert_eq!(room["name"], composed);
    let id = room["id"].as_str().unwrap();
    let fetched = app.get(&format!("/api/v1/rooms/{id}"), &alice.token).await;
    assert_eq!(fetched.assert_status(200)["name"], composed);
    app.post("/api/v1/rooms", &alice.token, json!({"name": composed}))
        .await
        .assert_problem(409, "room_name_taken");

    let reply = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(
                json!({"username": "zoe", "password": "password123", "display_name": "Zoe\u{308}"}),
            ),
        )
        .await;
    assert_eq!(reply.assert_status(201)["display_name"], "Zo\u{EB}");
    let zoe = app.get("/api/v1/users/zoe", &alice.token).await;
    assert_eq!(zoe.assert_status(200)["display_name"], "Zo\u{EB}");
}

#[actix_web::test]
async fn rooms_created_before_look_alike_keys_get_them_at_start_up() {
    // A room as an earlier confab stored it: only its lower-cased name key.
    let settings = shared_settings();
    let store = confab::store::Store::new(&settings.redis, &settings.limits).unwrap();
    let old_id = uuid::Uuid::new_v4().to_string();
    let created = store
        .create_room(&confab::store::rooms::NewRoom {
            id: &old_id,
            name: "Cafe",
            canonical_name: "cafe",
            look_alike_keys: &[],
            topic: None,
            created_by: "someone-earlier",
            created_ms: 1_700_000_000_000,
        })
        .await
        .unwrap();
    assert!(created.is_some());

    let app = spawn_app_with(settings).await;
    eventually(Duration::from_secs(10), || async {
        store.look_alike_progress().await.unwrap().is_some()
    })
    .await;
    let alice = app.user("alice").await;

    app.post("/api/v1/rooms", &alice.token, json!({"name": "C\u{430}fe"}))
        .await
        .assert_problem(409, "room_name_taken");
    app.post("/api/v1/rooms", &alice.token, json!({"name": "CAFE"}))
        .await
        .assert_problem(409, "room_name_taken");
}
