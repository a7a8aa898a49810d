//! The bundled web client, embedded in the binary so `confab serve` alone
//! serves it: `GET /`, `/app.js`, `/style.css`. Not part of the API (and
//! not in the OpenAPI document).

use actix_web::{HttpResponse, web};

const INDEX: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const STYLE: &str = include_str!("../../web/style.css");

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        // Small files that change with the binary: revalidate each time.
        .insert_header(("Cache-Control", "no-cache"))
        // Only our own script, styles and API; nothing inline, no framing.
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ))
        .body(body)
}

/// Registers the client's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| async { asset("text/html; charset=utf-8", INDEX) }),
    )
    .route(
        "/app.js",
        web::get().to(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
    )
    .route(
        "/style.css",
        web::get().to(|| async { asset("text/css; charset=utf-8", STYLE) }),
    );
}
