//! Holding up under attack: a login flood is refused beyond the password
//! hashing queue (503, memory stays bounded) while real users still get in,
//! and failed passwords from strangers cannot lock an account's owner out.

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

#[actix_web::test]
async fn a_stranger_failing_on_a_username_cannot_lock_its_owner_out() {
    let app = spawn_app_configured(|s| {
        s.limits.login_failures_per_address_burst = 3;
        s.limits.login_failures_per_address_per_min = 1;
        s.limits.login_failures_per_username_burst = 5;
        s.limits.login_failures_per_username_per_min = 1;
    })
    .await;
    app.register("owner", "owner-password")
        .await
        .assert_status(201);
    let attacker = app.connecting_from("127.0.0.2");

    for i in 0..3 {
        attacker
            .login("OWNER", &format!("guess-{i}-password"))
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let blocked = attacker.login("owner", "guess-3-password").await;
    // Held back before the password is checked: even the right one.
    let blocked_right = attacker.login("owner", "owner-password").await;
    let owner = app.login("owner", "owner-password").await;

    blocked.assert_problem(429, "rate_limited");
    assert!(blocked.headers.contains_key("retry-after"));
    blocked_right.assert_problem(429, "rate_limited");
    owner.assert_status(200);
    // The attacker may still try other usernames.
    attacker
        .login("someone-else", "guess-password")
        .await
        .assert_problem(401, "invalid_credentials");
}

#[actix_web::test]
async fn beyond_a_usernames_ceiling_only_addresses_that_failed_on_it_are_held_back() {
    let app = spawn_app_configured(|s| {
        s.limits.login_failures_per_address_burst = 3;
        s.limits.login_failures_per_address_per_min = 1;
        s.limits.login_failures_per_username_burst = 4;
        s.limits.login_failures_per_username_per_min = 1;
    })
    .await;
    app.register("owner", "owner-password")
        .await
        .assert_status(201);
    let first = app.connecting_from("127.0.0.2");
    let second = app.connecting_from("127.0.0.3");
    let fresh = app.connecting_from("127.0.0.4");
    for attacker in [&first, &second] {
        for _ in 0..2 {
            attacker
                .login("owner", "a-guess-123")
                .await
                .assert_problem(401, "invalid_credentials");
        }
    }

    // Four failures in all: the username is at its ceiling. Each attacker
    // has failed only twice (of 3 allowed) but is held back.
    let first_again = first.login("owner", "a-guess-123").await;
    let fresh_try = fresh.login("owner", "a-guess-123").await;
    let owner = app.login("owner", "owner-password").await;

    first_again.assert_problem(429, "rate_limited");
    fresh_try.assert_problem(401, "invalid_credentials");
    owner.assert_status(200);
    // The owner's success resets nothing of the attackers'.
    second
        .login("owner", "a-guess-123")
        .await
        .assert_problem(429, "rate_limited");
    fresh
        .login("owner", "owner-password")
        .await
        .assert_problem(429, "rate_limited");
}

#[actix_web::test]
async fn the_owners_own_failures_count_until_the_right_password_forgives_them() {
    let app = spawn_app_configured(|s| {
        s.limits.login_failures_per_address_burst = 3;
        s.limits.login_failures_per_address_per_min = 1;
    })
    .await;
    app.register("owner", "owner-password")
        .await
        .assert_status(201);
    let stranger = app.connecting_from("127.0.0.2");
    stranger
        .login("owner", "a-guess-123")
        .await
        .assert_problem(401, "invalid_credentials");
    for _ in 0..2 {
        app.login("owner", "mistyped-password")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    app.login("owner", "owner-password")
        .await
        .assert_status(200);

    // Forgiven: three more mistakes are checked before the limit applies.
    for _ in 0..3 {
        app.login("owner", "mistyped-password")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    app.login("owner", "owner-password")
        .await
        .assert_problem(429, "rate_limited");
    // The stranger's failure was not forgiven by the owner's success.
    for _ in 0..2 {
        stranger
            .login("owner", "a-guess-123")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    stranger
        .login("owner", "a-guess-123")
        .await
        .assert_problem(429, "rate_limited");
}
