//! Operations endpoints: health, readiness, metrics.

use reqwest::Method;

use crate::helpers::*;

/// The value of an unlabelled metric in an exposition text.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

#[actix_web::test]
async fn metrics_count_real_traffic_in_prometheus_text() {
    let app = spawn_app().await;
    let scrape = || async {
        let res = app.get_anonymous("/metrics").await;
        assert_eq!(res.status, 200);
        let content_type = res.headers["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        res.text
    };
    let before = scrape().await;
    let alice = app.user("alice").await;
    let room = app.room(&alice, "general").await;
    let bob = app.user("bob").await;
    app.join(&bob, &room).await.assert_status(200);

    app.send(&alice, &room, "counted").await.assert_status(201);
    app.send_direct(&alice, "bob", "queued")
        .await
        .assert_status(201);
    let (_stream, _) = app.events(&alice).await;

    let after = scrape().await;
    assert!(
        metric(&after, "confab_room_messages_total")
            > metric(&before, "confab_room_messages_total")
    );
    assert!(metric(&after, "confab_open_streams") >= 1);
    assert!(
        after.contains(r#"confab_http_requests_total{method="POST",route="/api/v1/rooms/{room_id}/messages",status="201"}"#),
        "{after}"
    );
    assert!(after.contains("# TYPE confab_http_requests_total counter"));
    // Bob had no stream: the direct message was queued for him.
    assert!(
        metric(&after, "confab_offline_events_queued_total")
            > metric(&before, "confab_offline_events_queued_total")
    );
    assert!(after.contains(r#"confab_http_request_duration_seconds_bucket{route="/api/v1/rooms/{room_id}/messages",le="+Inf"}"#));
    assert!(metric(&after, "confab_redis_command_duration_seconds_count") > 0);
    for counter in [
        "confab_redis_errors_total",
        "confab_pubsub_disconnects_total",
        "confab_resumes_total",
    ] {
        metric(&after, counter);
    }
}

#[actix_web::test]
async fn metrics_are_on_the_main_address_unless_metrics_bind_moves_them() {
    let default = spawn_app().await;
    let app = spawn_app_configured(|s| s.server.metrics_bind = "127.0.0.1:0".into()).await;
    let operations = TestApp::for_address(app.metrics_address.clone().expect("metrics address"));

    assert!(default.metrics_address.is_none());
    assert_eq!(default.get_anonymous("/metrics").await.status, 200);
    app.get_anonymous("/metrics")
        .await
        .assert_problem(404, "not_found");
    let metrics = operations.get_anonymous("/metrics").await;
    assert_eq!(metrics.status, 200, "{}", metrics.text);
    assert!(
        metrics
            .text
            .contains("# TYPE confab_http_requests_total counter")
    );
    for path in ["/healthz", "/readyz"] {
        assert_eq!(app.get_anonymous(path).await.status, 200, "{path}");
        assert_eq!(operations.get_anonymous(path).await.status, 200, "{path}");
    }
    for path in ["/api/v1/rooms", "/docs/", "/openapi.json", "/"] {
        operations
            .get_anonymous(path)
            .await
            .assert_problem(404, "not_found");
    }
}

#[actix_web::test]
async fn health_and_readiness_answer_while_redis_is_up() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let res = app.get_anonymous(path).await;
        assert_eq!(res.status, 200, "{path}");
    }
}

#[actix_web::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;

    let api = app.get_anonymous("/api/v1/nope").await;
    let echoed = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    let echoed = TestApp::read(echoed).await;
    let page = app.get_anonymous("/").await;

    for res in [&api, &echoed, &page] {
        assert_eq!(res.headers["x-content-type-options"], "nosniff");
        assert_eq!(res.headers["x-frame-options"], "DENY");
        assert!(!res.headers["x-request-id"].is_empty());
    }
    assert_eq!(echoed.headers["x-request-id"], "abc-123");
    assert_ne!(api.headers["x-request-id"], page.headers["x-request-id"]);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(page.text.contains("<title>confab</title>"));
}

#[actix_web::test]
async fn a_wrong_method_on_a_known_path_is_405_with_allow_and_an_unknown_path_is_404() {
    let app = spawn_app().await;

    let wrong = app
        .request(Method::PATCH, "/api/v1/rooms", None, None)
        .await;
    let wrong_with_id = app
        .request(Method::POST, "/api/v1/rooms/some-id", None, None)
        .await;
    let wrong_on_a_message = app
        .request(Method::PUT, "/api/v1/rooms/r/messages/1-0", None, None)
        .await;
    let unknown = app.get_anonymous("/api/v1/nothing/here").await;

    assert_eq!(wrong.headers["allow"], "GET, POST");
    assert_eq!(wrong_with_id.headers["allow"], "GET");
    assert_eq!(wrong_on_a_message.headers["allow"], "DELETE, PATCH");
    wrong_on_a_message.assert_problem(405, "method_not_allowed");
    wrong.assert_problem(405, "method_not_allowed");
    wrong_with_id.assert_problem(405, "method_not_allowed");
    unknown.assert_problem(404, "not_found");
}
