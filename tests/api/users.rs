//! Profiles: yourself, others by username, and who is online.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn users_me_returns_exactly_the_signed_in_user() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;

    let reply = app.get("/api/v1/users/me", &alice.token).await;

    let me = reply.assert_status(200);
    assert!(is_timestamp(&me["created_at"]), "{me}");
    assert_eq!(
        me,
        &json!({"id": alice.id, "username": "alice", "display_name": "alice", "created_at": me["created_at"]})
    );
}

#[actix_web::test]
async fn another_user_is_seen_as_a_public_user_offline_and_never_seen() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;

    let reply = app.get("/api/v1/users/bob", &alice.token).await;

    assert_eq!(reply.assert_status(200), &offline_public_user(&bob));
}

#[actix_web::test]
async fn users_are_found_by_username_in_any_case() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("Bob.Builder").await;

    for name in ["Bob.Builder", "bob.builder", "BOB.BUILDER"] {
        let reply = app
            .get(&format!("/api/v1/users/{name}"), &alice.token)
            .await;

        let user = reply.assert_status(200);
        assert_eq!(user["id"], bob.id.as_str(), "{name}");
        assert_eq!(user["username"], "Bob.Builder", "{name}");
    }
}

#[actix_web::test]
async fn unknown_and_impossible_usernames_are_user_not_found() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let too_long = "a".repeat(33);

    for name in [
        "nobody",
        "ab",
        "bad%20name",
        "ONLINE",
        "caf%C3%A9",
        too_long.as_str(),
    ] {
        let reply = app
            .get(&format!("/api/v1/users/{name}"), &alice.token)
            .await;

        reply.assert_problem(404, "user_not_found");
    }
}

#[actix_web::test]
async fn nobody_is_online_without_event_streams() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;

    let reply = app.get("/api/v1/users/online", &alice.token).await;

    assert_eq!(
        reply.assert_status(200),
        &json!({"items": [], "next_cursor": null})
    );
}

#[actix_web::test]
async fn the_online_list_checks_its_paging_parameters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;

    for query in ["limit=0", "limit=101", "limit=abc", "cursor=garbage"] {
        let reply = app
            .get(&format!("/api/v1/users/online?{query}"), &alice.token)
            .await;

        reply.assert_problem(400, "validation_failed");
    }
}
