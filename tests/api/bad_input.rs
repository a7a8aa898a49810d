//! Malformed requests: every one gets a 4xx problem document, never a 5xx.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// Asserts a problem document with every field the contract promises.
#[track_caller]
fn assert_full_problem(reply: &Reply, status: u16, code: &str) {
    reply.assert_problem(status, code);
    for field in ["type", "title", "detail", "code"] {
        assert!(
            reply.json[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {}",
            reply.text
        );
    }
    assert_eq!(reply.json["status"], status);
}

/// POSTs `body` exactly as given, labelled `Content-Type: application/json`
/// (`TestApp::post` would serialise a valid JSON value instead).
async fn post_json_text(
    app: &TestApp,
    token: &str,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> Reply {
    app.raw(Method::POST, path, token, Some("application/json"), body)
        .await
}

/// Asserts a 4xx problem document whose status and code the contract leaves
/// open (routing and path errors); `context` names the request on failure.
#[track_caller]
fn assert_some_4xx_problem(reply: &Reply, context: &str) {
    assert!(
        reply.status.is_client_error(),
        "{context}: {} {}",
        reply.status,
        reply.text
    );
    assert_full_problem(reply, reply.status.as_u16(), reply.code());
}

/// Asserts that rejected writes left the store as the test set it up: only
/// the one room it created, and no message in it.
async fn assert_one_room_and_no_messages(app: &TestApp, user: &TestUser, messages: &str) {
    let rooms = app.get("/api/v1/rooms", &user.token).await;
    assert_eq!(items(rooms.assert_status(200)).len(), 1);
    let page = app.get(messages, &user.token).await;
    assert_eq!(page.assert_status(200)["messages"], json!([]));
}

#[actix_web::test]
async fn malformed_json_is_invalid_json() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let messages = format!("/api/v1/rooms/{room}/messages");
    // Each body would be the right shape for its route, were it JSON.
    for (path, field) in [("/api/v1/rooms", "name"), (messages.as_str(), "body")] {
        let bodies = [
            "{".to_owned(),
            String::new(),
            "   ".to_owned(),
            format!("{{\"{field}\": \"x\"}} trailing"),
            format!("{{\"{field}\": \"x\"}}{{}}"),
            format!("{{\"{field}\": \"x\",}}"),
            format!("{{{field}: 'x'}}"),
            format!("{{\"{field}\": \"x"),
        ];
        for body in bodies {
            let reply = post_json_text(&app, &alice.token, path, body.clone()).await;

            assert_full_problem(&reply, 400, "invalid_json");
        }
        let mut invalid_utf8 = format!("{{\"{field}\": \"").into_bytes();
        invalid_utf8.extend_from_slice(b"\xff\xfe\"}");
        let reply = post_json_text(&app, &alice.token, path, invalid_utf8).await;
        assert_full_problem(&reply, 400, "invalid_json");
    }
    assert_one_room_and_no_messages(&app, &alice, &messages).await;
}

#[actix_web::test]
async fn unparseable_json_is_invalid_json_even_when_its_start_has_the_wrong_shape() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let messages = format!("/api/v1/rooms/{room}/messages");
    let cases = [
        ("/api/v1/rooms", "[1,"),
        ("/api/v1/rooms", "{\"name\": 5"),
        ("/api/v1/rooms", "{\"colour\": \"red\""),
        (messages.as_str(), "[1,"),
        (messages.as_str(), "{\"body\": true,"),
        (messages.as_str(), "{\"name\": \"x\"} trailing"),
        (messages.as_str(), "[\"hi\"] trailing"),
        ("/api/v1/auth/register", "[1,"),
    ];

    let mut wrong = Vec::new();
    for (path, body) in cases {
        let reply = post_json_text(&app, &alice.token, path, body).await;

        if reply.status != 400 || reply.code() != "invalid_json" {
            wrong.push(format!("{path} {body:?}: {} {}", reply.status, reply.text));
        }
    }
    assert!(
        wrong.is_empty(),
        "unparseable bodies not answered with invalid_json:\n{}",
        wrong.join("\n")
    );
}

#[actix_web::test]
async fn a_body_not_sent_as_json_is_invalid_json() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let body = r#"{"name": "perfectly-fine"}"#;

    for content_type in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
        Some("json"),
    ] {
        let reply = app
            .raw(
                Method::POST,
                "/api/v1/rooms",
                &alice.token,
                content_type,
                body,
            )
            .await;

        assert_full_problem(&reply, 400, "invalid_json");
    }
    let register = app
        .client
        .post(format!("{}/api/v1/auth/register", app.address))
        .header("content-type", "text/plain")
        .body(r#"{"username": "bob", "password": "password123"}"#)
        .send()
        .await
        .unwrap();
    assert_full_problem(&TestApp::read(register).await, 400, "invalid_json");
    let rooms = app.get("/api/v1/rooms", &alice.token).await;
    assert_eq!(items(rooms.assert_status(200)).len(), 0);
}

#[actix_web::test]
async fn json_with_a_charset_parameter_is_accepted() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    let reply = app
        .raw(
            Method::POST,
            "/api/v1/rooms",
            &alice.token,
            Some("application/json; charset=utf-8"),
            r#"{"name": "fine"}"#,
        )
        .await;

    reply.assert_status(201);
}

#[actix_web::test]
async fn json_of_the_wrong_shape_is_validation_failed() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let messages = format!("/api/v1/rooms/{room}/messages");
    let cases = [
        ("/api/v1/rooms", "[]"),
        ("/api/v1/rooms", "[{\"name\": \"x\"}]"),
        ("/api/v1/rooms", "42"),
        ("/api/v1/rooms", "null"),
        ("/api/v1/rooms", "\"general\""),
        ("/api/v1/rooms", "{\"name\": null}"),
        ("/api/v1/rooms", "{\"name\": [\"a\"]}"),
        ("/api/v1/rooms", "{\"name\": \"ok\", \"topic\": 5}"),
        ("/api/v1/rooms", "{\"name\": {\"first\": \"a\"}}"),
        (messages.as_str(), "{\"body\": true}"),
        (messages.as_str(), "{\"body\": \"hi\", \"client_id\": [1]}"),
        (messages.as_str(), "[\"hi\"]"),
        (
            "/api/v1/auth/register",
            "{\"username\": [], \"password\": 12345678}",
        ),
    ];

    for (path, body) in cases {
        let reply = post_json_text(&app, &alice.token, path, body).await;

        assert_full_problem(&reply, 400, "validation_failed");
        assert!(
            reply.json["field"].as_str().is_some_and(|f| !f.is_empty()),
            "{body}: {}",
            reply.text
        );
    }
    assert_one_room_and_no_messages(&app, &alice, &messages).await;
}

#[actix_web::test]
async fn a_body_over_64_kib_is_payload_too_large() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let padded = |len: usize| {
        let mut body = br#"{"body": "padded"}"#.to_vec();
        body.resize(len, b' ');
        body
    };

    let just_over = post_json_text(
        &app,
        &alice.token,
        &format!("/api/v1/rooms/{room}/messages"),
        padded(64 * 1024 + 1),
    )
    .await;
    let huge = post_json_text(&app, &alice.token, "/api/v1/rooms", padded(1024 * 1024)).await;
    let at_the_limit = post_json_text(
        &app,
        &alice.token,
        &format!("/api/v1/rooms/{room}/messages"),
        padded(64 * 1024),
    )
    .await;

    assert_full_problem(&just_over, 413, "payload_too_large");
    assert_full_problem(&huge, 413, "payload_too_large");
    assert_eq!(at_the_limit.assert_status(201)["body"], "padded");
    let page = app
        .get(&format!("/api/v1/rooms/{room}/messages"), &alice.token)
        .await;
    assert_eq!(bodies(page.assert_status(200)), ["padded"]);
}

#[actix_web::test]
async fn unknown_routes_are_not_found_problems() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    for (method, path) in [
        (Method::GET, "/api/v1/nope"),
        (Method::GET, "/nope"),
        (Method::POST, "/api/v1/rooms/a/b/c"),
        (Method::GET, "/api/v2/rooms"),
        (Method::DELETE, "/api/v1/users/me/rooms/extra"),
    ] {
        let with_token = app
            .request(method.clone(), path, Some(&alice.token), None)
            .await;
        let without = app.request(method, path, None, None).await;

        assert_full_problem(&with_token, 404, "not_found");
        assert_full_problem(&without, 404, "not_found");
    }
}

#[actix_web::test]
async fn wrong_methods_get_a_4xx_problem() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;

    for (method, path) in [
        (Method::DELETE, "/api/v1/rooms".to_owned()),
        (Method::PATCH, format!("/api/v1/rooms/{room}")),
        (Method::POST, "/api/v1/users/me".to_owned()),
        (Method::PUT, "/api/v1/conversations".to_owned()),
    ] {
        let reply = app
            .request(method.clone(), &path, Some(&alice.token), None)
            .await;

        assert_some_4xx_problem(&reply, &format!("{method} {path}"));
    }
}

#[actix_web::test]
async fn undecodable_path_segments_get_a_4xx_problem() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    for (method, path) in [
        (Method::GET, "/api/v1/users/%FF%FE"),
        (Method::GET, "/api/v1/users/%FF%FE/messages"),
        (Method::GET, "/api/v1/rooms/%FF%FE"),
        (Method::GET, "/api/v1/rooms/%C0%80/members"),
        (Method::PUT, "/api/v1/rooms/%FF/members/me"),
        (Method::GET, "/api/v1/users/%"),
    ] {
        let reply = app
            .request(method.clone(), path, Some(&alice.token), None)
            .await;

        assert_some_4xx_problem(&reply, &format!("{method} {path}"));
    }
    let sent = post_json_text(
        &app,
        &alice.token,
        "/api/v1/users/%FF%FE/messages",
        r#"{"body": "hi"}"#,
    )
    .await;
    assert_some_4xx_problem(&sent, "POST to an undecodable username");
}

#[actix_web::test]
async fn malformed_query_strings_get_a_400_problem() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;

    for path in [
        "/api/v1/rooms?limit=%FF".to_owned(),
        "/api/v1/rooms?limit=1&limit=2".to_owned(),
        "/api/v1/rooms?limit=99999999999999999999999".to_owned(),
        format!("/api/v1/rooms/{room}/messages?before=%00"),
        format!("/api/v1/rooms/{room}/messages?limit=1.5"),
        "/api/v1/conversations?cursor=%FF%FE".to_owned(),
    ] {
        let reply = app.get(&path, &alice.token).await;

        assert_full_problem(&reply, 400, "validation_failed");
    }
}
