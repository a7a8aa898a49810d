//! The committed OpenAPI document is what the code generates, and the live
//! server serves it.

use crate::helpers::*;

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = confab::startup::openapi()
        .to_pretty_json()
        .expect("renders");
    assert!(
        generated.trim_end() == COMMITTED.trim_end(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
}

#[actix_web::test]
async fn the_server_serves_the_document_and_the_docs_page() {
    let app = spawn_app().await;

    let doc = app.get_anonymous("/openapi.json").await;
    let docs = app.get_anonymous("/docs/").await;

    assert_eq!(doc.status, 200);
    assert_eq!(doc.json["openapi"], "3.1.0");
    assert!(doc.json["paths"]["/api/v1/rooms/{room_id}/messages"]["post"].is_object());
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("swagger"));
}

#[actix_web::test]
async fn the_docs_are_served_under_a_content_security_policy_their_page_keeps() {
    let app = spawn_app().await;

    let page = app.get_anonymous("/docs/").await;
    let initializer = app.get_anonymous("/docs/swagger-initializer.js").await;
    let bundle = app.get_anonymous("/docs/swagger-ui-bundle.js").await;

    for reply in [&page, &initializer, &bundle] {
        assert_eq!(reply.status, 200);
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self';",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
    }
    // What the policy allows is what the page uses: scripts from files (no
    // inline script, no event-handler attributes), styles from files.
    let html = page.text.to_ascii_lowercase();
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "{html}"
    );
    assert!(!html.contains("<style") && !html.contains(" style=") && !html.contains(" onload="));
    // The initializer points the UI at this server's document and turns
    // off the third-party validator badge.
    assert!(
        initializer.text.contains("/openapi.json"),
        "{}",
        initializer.text
    );
    assert!(
        initializer.text.contains("\"validatorUrl\": \"none\""),
        "{}",
        initializer.text
    );
}

#[test]
fn every_documented_error_response_is_a_problem_document() {
    let generated: serde_json::Value =
        serde_json::from_str(&confab::startup::openapi().to_json().expect("renders")).unwrap();
    let mut checked = 0;
    for (path, item) in generated["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = &response["content"]["application/problem+json"];
                    assert!(
                        content.is_object(),
                        "{method} {path} {status} is not problem+json"
                    );
                    checked += 1;
                }
            }
            if path.starts_with("/api/v1") && !path.starts_with("/api/v1/auth/")
                || path == "/api/v1/auth/logout"
            {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} does not declare bearer auth"
                );
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path} does not document 401"
                );
            }
        }
    }
    assert!(checked > 40);
}
