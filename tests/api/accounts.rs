//! Registration, login, logout, tokens.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn registering_returns_the_user_with_display_name_defaulting_to_the_username() {
    let app = spawn_app().await;

    let reply = app.register("alice", "password123").await;

    let user = reply.assert_status(201);
    assert_eq!(user["username"], "alice");
    assert_eq!(user["display_name"], "alice");
    assert!(user["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        user["created_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z') && s.len() == 24),
        "{user}"
    );
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());
}

#[actix_web::test]
async fn usernames_are_unique_ignoring_case() {
    let app = spawn_app().await;
    app.register("Alice", "password123")
        .await
        .assert_status(201);

    let reply = app.register("aLiCe", "password456").await;

    reply.assert_problem(409, "username_taken");
}

#[actix_web::test]
async fn concurrent_registrations_of_one_name_let_exactly_one_win() {
    let app = spawn_app().await;

    let replies = futures_util::future::join_all((0..8).map(|i| {
        let name = if i % 2 == 0 { "racer" } else { "RACER" };
        app.register(name, "password123")
    }))
    .await;

    let created = replies.iter().filter(|r| r.status == 201).count();
    let taken = replies
        .iter()
        .filter(|r| r.code() == "username_taken")
        .count();
    assert_eq!((created, taken), (1, 7));
}

#[actix_web::test]
async fn registration_rules_are_enforced_and_name_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"username": "ab", "password": "password123"}),
            "username",
        ),
        (
            json!({"username": "a".repeat(33), "password": "password123"}),
            "username",
        ),
        (
            json!({"username": "bad name", "password": "password123"}),
            "username",
        ),
        (
            json!({"username": "online", "password": "password123"}),
            "username",
        ),
        (
            json!({"username": "ONLINE", "password": "password123"}),
            "username",
        ),
        (
            json!({"username": "carol", "password": "short"}),
            "password",
        ),
        (
            json!({"username": "carol", "password": "p".repeat(129)}),
            "password",
        ),
        (
            json!({"username": "carol", "password": "password123", "display_name": ""}),
            "display_name",
        ),
        (
            json!({"username": "carol", "password": "password123", "display_name": "d".repeat(65)}),
            "display_name",
        ),
        (json!({"username": "carol"}), "password"),
        (
            json!({"username": 7, "password": "password123"}),
            "username",
        ),
        (
            json!({"username": "carol", "password": "password123", "admin": true}),
            "admin",
        ),
    ];
    for (body, field) in cases {
        let reply = app
            .request(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(body.clone()),
            )
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], field, "{body}");
        assert!(
            reply.json["detail"].as_str().unwrap().contains(field),
            "{}",
            reply.text
        );
    }
    // Nothing was stored by any of them.
    app.login("carol", "password123")
        .await
        .assert_problem(401, "invalid_credentials");
    app.register("carol", "password123")
        .await
        .assert_status(201);
}

#[actix_web::test]
async fn a_chosen_display_name_is_kept() {
    let app = spawn_app().await;
    let reply = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "dora", "password": "password123", "display_name": "Dora the Great"})),
        )
        .await;
    assert_eq!(reply.assert_status(201)["display_name"], "Dora the Great");
}

#[actix_web::test]
async fn login_returns_a_bearer_token_that_opens_users_me() {
    let app = spawn_app().await;
    app.register("erin", "password123").await.assert_status(201);

    let login = app.login("ERIN", "password123").await;

    let body = login.assert_status(200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["user"]["username"], "erin");
    let token = body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/users/me", token).await;
    assert_eq!(me.assert_status(200)["username"], "erin");
    assert_eq!(me.json["id"], body["user"]["id"]);
}

#[actix_web::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("frank", "password123")
        .await
        .assert_status(201);

    let wrong = app.login("frank", "password124").await;
    let unknown = app.login("nobody", "password123").await;

    wrong.assert_problem(401, "invalid_credentials");
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.json, unknown.json);
}

#[actix_web::test]
async fn logout_revokes_the_token_at_once_but_not_other_sessions() {
    let app = spawn_app().await;
    let user = app.user("gina").await;
    let other = app.login("gina", &user.password).await.assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let out = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&user.token), None)
        .await;

    assert_eq!(out.status, 204);
    app.get("/api/v1/users/me", &user.token)
        .await
        .assert_problem(401, "invalid_token");
    app.request(Method::POST, "/api/v1/auth/logout", Some(&user.token), None)
        .await
        .assert_problem(401, "invalid_token");
    app.get("/api/v1/users/me", &other).await.assert_status(200);
}

#[actix_web::test]
async fn requests_without_a_token_get_missing_token() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/users/me",
        "/api/v1/rooms",
        "/api/v1/conversations",
        "/api/v1/users/online",
    ] {
        app.request(Method::GET, path, None, None)
            .await
            .assert_problem(401, "missing_token");
    }
    let basic = app
        .client
        .get(format!("{}/api/v1/users/me", app.address))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    TestApp::read(basic)
        .await
        .assert_problem(401, "missing_token");
}

#[actix_web::test]
async fn garbage_foreign_and_expired_tokens_get_invalid_token() {
    let app = spawn_app().await;
    let user = app.user("hank").await;
    let foreign = {
        let other = confab::auth::token::Tokens::new(b"some-other-secret-entirely", 60);
        other
            .issue(&user.id, "session", confab::clock::now_ms() / 1000)
            .unwrap()
    };
    let expired = {
        let same = confab::auth::token::Tokens::new(b"test-secret-test-secret", 60);
        same.issue(&user.id, "session", confab::clock::now_ms() / 1000 - 3600)
            .unwrap()
    };
    let unknown_session = {
        let same = confab::auth::token::Tokens::new(b"test-secret-test-secret", 60);
        same.issue(&user.id, "no-such-session", confab::clock::now_ms() / 1000)
            .unwrap()
    };
    for token in ["garbage", "a.b.c", &foreign, &expired, &unknown_session] {
        app.get("/api/v1/users/me", token)
            .await
            .assert_problem(401, "invalid_token");
    }
}
