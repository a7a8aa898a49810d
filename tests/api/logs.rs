//! Logs never carry secrets: a full run of the real binary, with debug
//! logging in JSON, is searched for every password, token and ticket it
//! used.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn a_full_run_logs_no_password_token_or_ticket() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = format!("logs:{}:", uuid::Uuid::new_v4().simple());
    let mut server = Command::new(env!("CARGO_BIN_EXE_confab"))
        .arg("serve")
        .env("CONFAB_BIND", format!("127.0.0.1:{port}"))
        .env("CONFAB_REDIS_URL", shared_redis().url())
        .env("CONFAB_KEY_PREFIX", &prefix)
        .env(
            "CONFAB_JWT_SECRET",
            "logs-test-secret-logs-test-secret-logs",
        )
        .env("CONFAB_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("confab starts");
    let app = TestApp::for_address(format!("http://127.0.0.1:{port}"));
    app.wait_until_ready(Duration::from_secs(10)).await;

    // A full run: registration, a failed and a good login, a room, messages,
    // a ticket, a stream opened with it, logout.
    let password = "Sup3r-Secret-Passw0rd";
    let wrong = "Wr0ng-Guess-Passw0rd";
    app.register("alice", password).await.assert_status(201);
    app.register("bob", "bobs-password")
        .await
        .assert_status(201);
    app.login("alice", wrong)
        .await
        .assert_problem(401, "invalid_credentials");
    let token = app.login("alice", password).await.assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = TestUser {
        id: String::new(),
        username: "alice".into(),
        password: password.into(),
        token: token.clone(),
    };
    let room = app.room(&alice, "general").await;
    app.send(&alice, &room, "hello").await.assert_status(201);
    app.send_direct(&alice, "bob", "hi bob")
        .await
        .assert_status(201);
    let ticket = app
        .post("/api/v1/events/tickets", &token, json!({}))
        .await
        .assert_status(201)["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = app
        .open_events(&format!("/api/v1/events?ticket={ticket}"), &[])
        .await
        .unwrap_or_else(|r| panic!("{}", r.text));
    stream.expect("ready").await;
    app.request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await
        .assert_status(204);
    stream.assert_ends_within(Duration::from_secs(2)).await;

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    let mut logs = String::new();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();

    assert!(
        logs.contains("\"request_id\""),
        "JSON logs with request ids:\n{logs:.2000}"
    );
    assert!(
        logs.contains("/api/v1/events"),
        "the stream request is logged"
    );
    for (what, secret) in [
        ("password", password),
        ("wrong password", wrong),
        ("token", &token),
        ("ticket", &ticket),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
    }
    // Nor any piece of the token (its signature, say).
    for part in token.split('.') {
        assert!(
            !logs.contains(part),
            "a part of the token appears in the logs"
        );
    }
}
