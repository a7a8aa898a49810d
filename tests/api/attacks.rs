//! Holding up under attack: a login flood is refused beyond the password
//! hashing queue (503, memory stays bounded) while real users still get in.

use futures_util::future::join_all;

use crate::helpers::*;

/// Asserts a 503 `unavailable` answer that says to retry after a second.
#[track_caller]
fn assert_retry_shortly(reply: &Reply) {
    reply.assert_problem(503, "unavailable");
    assert_eq!(
        reply
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1"),
        "{reply:?}"
    );
}

/// `count` usernames starting with `stem`.
fn names(stem: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{stem}{i}")).collect()
}

#[actix_web::test]
async fn logins_beyond_the_hash_queue_get_503_at_once_and_a_real_login_then_succeeds() {
    let app = spawn_app_configured(|s| {
        s.auth.hash_workers = 1;
        s.auth.hash_queue = 2;
    })
    .await;
    app.register("owner", "owner-password")
        .await
        .assert_status(201);

    let names = names("nobody", 20);
    let replies = join_all(names.iter().map(|name| app.login(name, "a-guess-123"))).await;

    let mut refused = 0;
    for reply in &replies {
        match reply.status.as_u16() {
            401 => reply.assert_problem(401, "invalid_credentials"),
            503 => {
                assert_retry_shortly(reply);
                refused += 1;
            }
            _ => panic!("unexpected answer: {reply:?}"),
        }
    }
    assert!(refused >= 1, "no login was refused");
    assert!(refused < 20, "every login was refused");
    app.login("owner", "owner-password")
        .await
        .assert_status(200);
}

#[actix_web::test]
async fn registrations_beyond_the_hash_queue_get_503_and_store_nothing() {
    let app = spawn_app_configured(|s| {
        s.auth.hash_workers = 1;
        s.auth.hash_queue = 1;
    })
    .await;

    let names = names("user", 12);
    let replies = join_all(names.iter().map(|name| app.register(name, "password123"))).await;

    let refused: Vec<&String> = names
        .iter()
        .zip(&replies)
        .filter(|(_, reply)| reply.status == 503)
        .map(|(name, _)| name)
        .collect();
    assert!(!refused.is_empty(), "no registration was refused");
    for reply in &replies {
        if reply.status == 503 {
            assert_retry_shortly(reply);
        } else {
            reply.assert_status(201);
        }
    }
    // A refused name was not taken: registering it again works.
    app.register(refused[0], "password123")
        .await
        .assert_status(201);
}

#[actix_web::test]
async fn a_flood_of_unknown_usernames_does_not_keep_a_real_user_out() {
    let app = spawn_app_configured(|s| {
        s.auth.hash_workers = 1;
        s.auth.hash_queue = 1;
    })
    .await;
    app.register("owner", "owner-password")
        .await
        .assert_status(201);

    let names = names("nobody", 30);
    let flood = join_all(names.iter().map(|name| app.login(name, "a-guess-123")));
    let owner = async {
        // Once the flood fills the queue for unknown usernames.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        app.login("owner", "owner-password").await
    };
    let (flood, owner) = tokio::join!(flood, owner);

    owner.assert_status(200);
    assert!(flood.iter().any(|r| r.status == 503), "no flood");
}
