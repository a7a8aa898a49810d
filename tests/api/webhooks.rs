//! Outgoing webhooks (API v1.1): a room's messages POSTed to a receiver
//! started by the test, at least once, signed, in order, retried, taken
//! over after a crash; and the endpoints' rules.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

/// An app whose webhooks may reach the receiver on 127.0.0.1, retrying
/// after at most a second.
async fn app_for_webhooks() -> TestApp {
    spawn_app_configured(|s| {
        s.webhooks.allow_private_addresses = true;
        s.webhooks.max_backoff_secs = 1;
    })
    .await
}

/// Adds a webhook to `room` as `user`; returns the 201 body.
async fn add_webhook(app: &TestApp, user: &TestUser, room: &str, url: &str) -> Value {
    let reply = app
        .post(
            &format!("/api/v1/rooms/{room}/webhooks"),
            &user.token,
            json!({"url": url, "description": "test receiver"}),
        )
        .await;
    reply.assert_status(201).clone()
}

/// Checks `Confab-Signature: t=<secs>,v1=<hex>` against the raw body.
fn assert_signed(delivery: &Delivery, secret: &str) {
    let header = delivery.header("confab-signature");
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("malformed signature {header:?}"));
    let secs: u64 = t.parse().expect("t is seconds");
    let now = confab::clock::now_ms() / 1000;
    assert!(secs <= now + 1 && secs + 600 > now, "t={secs} now={now}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", delivery.raw).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "signature of {}", delivery.raw);
}

#[actix_web::test]
async fn every_message_after_creation_arrives_once_signed_and_in_order() {
    let app = app_for_webhooks().await;
    let receiver = Receiver::start().await;
    let (alice, bob, room) = room_with_two(&app).await;
    app.send(&alice, &room, "before the webhook")
        .await
        .assert_status(201);

    let created = add_webhook(&app, &bob, &room, &receiver.url).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let reply = app.send(&alice, &room, &format!("m{i}")).await;
        ids.push(reply.assert_status(201)["id"].as_str().unwrap().to_owned());
    }
    let delivered = receiver.wait_acknowledged(5, Duration::from_secs(15)).await;

    let hook_id = created["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.len() >= 32, "{created}");
    assert_eq!(created["url"], receiver.url.as_str());
    assert_eq!(created["description"], "test receiver");
    assert_eq!(created["created_by"], bob.id.as_str());
    assert_eq!(created["pending"], 0);
    assert_eq!(
        delivered
            .iter()
            .map(Delivery::message_id)
            .collect::<Vec<_>>(),
        ids
    );
    let mut delivery_ids = HashSet::new();
    for d in &delivered {
        assert_eq!(d.body["type"], "message");
        assert_eq!(d.body["webhook_id"], hook_id);
        assert_eq!(d.body["message"]["room_id"], room.as_str());
        assert_eq!(d.header("confab-webhook-id"), hook_id);
        assert!(delivery_ids.insert(d.header("confab-delivery-id").to_owned()));
        assert!(d.header("content-type").starts_with("application/json"));
        assert_signed(d, secret);
    }
    assert_eq!(delivered[0].body["message"]["body"], "m0");
    // The webhook's counters, read back without the secret.
    let read = eventually_some(Duration::from_secs(5), || async {
        let hook = app
            .get(
                &format!("/api/v1/rooms/{room}/webhooks/{hook_id}"),
                &alice.token,
            )
            .await;
        let hook = hook.assert_status(200).clone();
        (hook["delivered"] == 5).then_some(hook)
    })
    .await;
    assert_eq!(read["pending"], 0);
    assert_eq!(read["failed"], 0);
    assert!(read["last_delivered_at"].is_string());
    assert!(read.get("secret").is_none(), "{read}");
    let list = app
        .get(&format!("/api/v1/rooms/{room}/webhooks"), &bob.token)
        .await;
    let list = list.assert_status(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["items"][0].get("secret").is_none());
    assert_eq!(list["next_cursor"], Value::Null);
}

#[actix_web::test]
async fn a_failing_receiver_gets_the_message_again_and_later_ones_wait() {
    let app = app_for_webhooks().await;
    let receiver = Receiver::start().await;
    let (alice, _, room) = room_with_two(&app).await;
    add_webhook(&app, &alice, &room, &receiver.url).await;
    receiver.fail_next(3);

    app.send(&alice, &room, "first").await.assert_status(201);
    app.send(&alice, &room, "second").await.assert_status(201);
    receiver.wait_acknowledged(2, Duration::from_secs(30)).await;

    let all = receiver.all();
    let bodies: Vec<&str> = all
        .iter()
        .map(|d| d.body["message"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["first", "first", "first", "first", "second"]);
    let first_ids: HashSet<&str> = all[..4]
        .iter()
        .map(|d| d.header("confab-delivery-id"))
        .collect();
    assert_eq!(first_ids.len(), 1, "retries keep their delivery id");
    assert_ne!(
        all[4].header("confab-delivery-id"),
        all[0].header("confab-delivery-id")
    );
    let hooks = app
        .get(&format!("/api/v1/rooms/{room}/webhooks"), &alice.token)
        .await;
    let hook = &hooks.assert_status(200)["items"][0];
    assert!(
        hook["last_error"].as_str().unwrap_or("").contains("500"),
        "{hook}"
    );
}

#[actix_web::test]
async fn edits_and_deletes_are_delivered_after_their_message() {
    let app = app_for_webhooks().await;
    let receiver = Receiver::start().await;
    let (alice, _, room) = room_with_two(&app).await;
    add_webhook(&app, &alice, &room, &receiver.url).await;

    let id = app.send(&alice, &room, "typo").await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/rooms/{room}/messages/{id}");
    app.patch(&path, &alice.token, json!({"body": "fixed"}))
        .await
        .assert_status(200);
    app.delete(&path, &alice.token).await.assert_status(204);
    let delivered = receiver.wait_acknowledged(3, Duration::from_secs(15)).await;

    let types: Vec<&str> = delivered
        .iter()
        .map(|d| d.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["message", "message_edited", "message_deleted"]);
    assert!(delivered.iter().all(|d| d.message_id() == id));
    assert_eq!(delivered[1].body["message"]["body"], "fixed");
    assert_eq!(delivered[2].body["message"]["body"], Value::Null);
    let ids: HashSet<&str> = delivered
        .iter()
        .map(|d| d.header("confab-delivery-id"))
        .collect();
    assert_eq!(ids.len(), 3);
}

#[actix_web::test]
async fn a_deleted_webhook_gets_nothing_more() {
    let app = app_for_webhooks().await;
    let stays = Receiver::start().await;
    let goes = Receiver::start().await;
    let (alice, bob, room) = room_with_two(&app).await;
    add_webhook(&app, &alice, &room, &stays.url).await;
    let gone = add_webhook(&app, &alice, &room, &goes.url).await;
    app.send(&alice, &room, "to both").await.assert_status(201);
    goes.wait_acknowledged(1, Duration::from_secs(15)).await;
    let gone_id = gone["id"].as_str().unwrap();

    // Any member may remove it.
    app.delete(
        &format!("/api/v1/rooms/{room}/webhooks/{gone_id}"),
        &bob.token,
    )
    .await
    .assert_status(204);
    app.send(&alice, &room, "after").await.assert_status(201);

    // Once the other webhook has "after", the removed one would have had
    // it too.
    stays.wait_acknowledged(2, Duration::from_secs(15)).await;
    assert_eq!(goes.all().len(), 1);
    app.get(
        &format!("/api/v1/rooms/{room}/webhooks/{gone_id}"),
        &alice.token,
    )
    .await
    .assert_problem(404, "webhook_not_found");
    app.delete(
        &format!("/api/v1/rooms/{room}/webhooks/{gone_id}"),
        &alice.token,
    )
    .await
    .assert_problem(404, "webhook_not_found");
}

#[actix_web::test]
async fn webhooks_to_internal_addresses_are_refused() {
    let app = spawn_app().await;
    let (alice, _, room) = room_with_two(&app).await;

    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://10.0.0.8/hook",
        "http://192.168.1.1/hook",
        "http://2130706433/hook",
        "ftp://example.com/hook",
        "not a url",
    ] {
        let reply = app
            .post(
                &format!("/api/v1/rooms/{room}/webhooks"),
                &alice.token,
                json!({"url": url}),
            )
            .await;
        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.json["field"], "url", "{url}");
    }
    let list = app
        .get(&format!("/api/v1/rooms/{room}/webhooks"), &alice.token)
        .await;
    assert_eq!(list.assert_status(200)["items"], json!([]));
}

#[actix_web::test]
async fn webhook_endpoints_check_the_room_the_member_and_the_cap() {
    let app = spawn_app_configured(|s| {
        s.webhooks.allow_private_addresses = true;
        s.webhooks.max_per_room = 1;
    })
    .await;
    let (alice, _, room) = room_with_two(&app).await;
    let carol = app.user("carol").await;
    let path = format!("/api/v1/rooms/{room}/webhooks");
    let hook = json!({"url": "http://127.0.0.1:9/hook"});

    app.post(&path, &carol.token, hook.clone())
        .await
        .assert_problem(403, "not_a_member");
    app.get(&path, &carol.token)
        .await
        .assert_problem(403, "not_a_member");
    app.post(
        "/api/v1/rooms/no-such-room/webhooks",
        &alice.token,
        hook.clone(),
    )
    .await
    .assert_problem(404, "room_not_found");
    app.post(&path, &alice.token, hook.clone())
        .await
        .assert_status(201);
    app.post(&path, &alice.token, hook.clone())
        .await
        .assert_problem(429, "too_many_webhooks");
    app.get(&format!("{path}/not-a-webhook"), &alice.token)
        .await
        .assert_problem(404, "webhook_not_found");
    app.post(
        &path,
        &alice.token,
        json!({"url": "http://127.0.0.1:9/", "description": "x".repeat(257)}),
    )
    .await
    .assert_problem(400, "validation_failed");
    app.post(&path, &alice.token, json!({"link": "http://127.0.0.1:9/"}))
        .await
        .assert_problem(400, "validation_failed");
}

#[actix_web::test]
async fn a_slow_receiver_times_out_and_the_delivery_is_retried() {
    let app = app_for_webhooks().await;
    let receiver = Receiver::start().await;
    let (alice, _, room) = room_with_two(&app).await;
    add_webhook(&app, &alice, &room, &receiver.url).await;
    // The first answer would come after 30 s; confab gives up after 10.
    receiver.delay_next(Duration::from_secs(30));

    app.send(&alice, &room, "patience").await.assert_status(201);
    let acked = receiver.wait_acknowledged(1, Duration::from_secs(30)).await;

    assert_eq!(acked[0].body["message"]["body"], "patience");
    let hooks = app
        .get(&format!("/api/v1/rooms/{room}/webhooks"), &alice.token)
        .await;
    let hook = &hooks.assert_status(200)["items"][0];
    assert_eq!(hook["last_error"], "timed out", "{hook}");
    assert_eq!(hook["delivered"], 1);
}

/// A confab in a process of its own on the shared Redis under `prefix`,
/// which the test can SIGKILL.
fn confab_process(prefix: &str, port: u16) -> Child {
    let settings = shared_settings();
    let mut command = Command::new(env!("CARGO_BIN_EXE_confab"));
    command
        .arg("serve")
        .env("CONFAB_BIND", format!("127.0.0.1:{port}"))
        .env("CONFAB_KEY_PREFIX", prefix)
        .env("CONFAB_JWT_SECRET", "test-secret-test-secret-test-secret")
        .env("CONFAB_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true")
        .env("CONFAB_WEBHOOKS__MAX_BACKOFF_SECS", "1")
        .env("CONFAB_WEBHOOKS__TIMEOUT_MS", "1000")
        .env("CONFAB_WEBHOOKS__TAKEOVER_MS", "2000")
        .env("RUST_LOG", "warn")
        .env_remove("CONFAB_REDIS_URL")
        .env_remove("CONFAB_REDIS_CLUSTER_NODES")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if settings.redis.cluster_nodes.is_empty() {
        command.env("CONFAB_REDIS_URL", &settings.redis.url);
    } else {
        command.env(
            "CONFAB_REDIS_CLUSTER_NODES",
            settings.redis.cluster_nodes.join(","),
        );
    }
    command.spawn().expect("confab starts")
}

#[actix_web::test]
async fn an_instance_killed_while_delivering_loses_nothing() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut doomed = confab_process(&prefix, port);
    let first = TestApp::for_address(format!("http://127.0.0.1:{port}"));
    first.wait_until_ready(Duration::from_secs(10)).await;
    let receiver = Receiver::start().await;
    receiver.set_failing(true);
    let (alice, _, room) = room_with_two(&first).await;
    add_webhook(&first, &alice, &room, &receiver.url).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let reply = first.send(&alice, &room, &format!("m{i}")).await;
        sent.push(reply.assert_status(201)["id"].as_str().unwrap().to_owned());
    }
    // The first instance holds the first message (its receiver failing).
    receiver.wait_requests(1, Duration::from_secs(15)).await;

    doomed.kill().expect("SIGKILL");
    doomed.wait().expect("reaped");
    receiver.set_failing(false);
    let _second = spawn_app_configured(|s| {
        s.redis.key_prefix = prefix.clone();
        s.webhooks.allow_private_addresses = true;
        s.webhooks.max_backoff_secs = 1;
        s.webhooks.timeout_ms = 1000;
        s.webhooks.takeover_ms = 2000;
    })
    .await;

    let acked = receiver.wait_acknowledged(5, Duration::from_secs(30)).await;
    // Every message, in order; any repeat carries its original delivery id.
    let mut order: Vec<String> = Vec::new();
    let mut id_of_message = std::collections::HashMap::new();
    for d in &acked {
        let id = d.message_id();
        let delivery = d.header("confab-delivery-id").to_owned();
        assert_eq!(
            id_of_message
                .entry(id.clone())
                .or_insert_with(|| delivery.clone()),
            &delivery
        );
        if order.last() != Some(&id) {
            order.push(id);
        }
    }
    order.dedup();
    assert_eq!(order, sent);
    for d in receiver.all() {
        if let Some(original) = id_of_message.get(&d.message_id()) {
            assert_eq!(d.header("confab-delivery-id"), original);
        }
    }
}

#[actix_web::test]
async fn a_message_undelivered_for_the_give_up_time_is_counted_failed_and_the_next_goes() {
    let app = spawn_app_configured(|s| {
        s.webhooks.allow_private_addresses = true;
        s.webhooks.max_backoff_secs = 1;
        s.webhooks.give_up_after_secs = 2;
    })
    .await;
    let receiver = Receiver::start().await;
    let (alice, _, room) = room_with_two(&app).await;
    let hook = add_webhook(&app, &alice, &room, &receiver.url).await;
    let hook_id = hook["id"].as_str().unwrap();
    receiver.set_failing(true);

    app.send(&alice, &room, "doomed").await.assert_status(201);
    // Given up once it is 2 s old; then the next message goes through.
    let path = format!("/api/v1/rooms/{room}/webhooks/{hook_id}");
    let given_up = eventually_some(Duration::from_secs(20), || async {
        let hook = app.get(&path, &alice.token).await;
        let hook = hook.assert_status(200).clone();
        (hook["failed"] == 1).then_some(hook)
    })
    .await;
    receiver.set_failing(false);
    app.send(&alice, &room, "survivor").await.assert_status(201);
    let acked = receiver.wait_acknowledged(1, Duration::from_secs(15)).await;

    assert!(
        given_up["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("503"),
        "{given_up}"
    );
    assert_eq!(acked[0].body["message"]["body"], "survivor");
    assert!(
        receiver
            .all()
            .iter()
            .filter(|d| d.body["message"]["body"] == "doomed")
            .all(|d| d.answered == 503)
    );
    let metrics = app.get_anonymous("/metrics").await;
    for name in [
        "confab_webhook_deliveries_total",
        "confab_webhook_failed_attempts_total",
        "confab_webhook_retries_total",
        "confab_webhook_given_up_total",
        "confab_webhook_delivery_lag_seconds_bucket",
    ] {
        assert!(metrics.text.contains(name), "{name} missing from /metrics");
    }
}
