//! What wraps every request: CORS, security headers, request ids and the
//! request log (with its metrics). The problem-document middleware lives
//! with the error type ([`crate::error::middleware`]).

use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http;
use actix_web::middleware::{DefaultHeaders, Next};
use tracing::Instrument;

/// Headers every response carries: no MIME sniffing, no framing, no
/// referrers. (The web client's pages add a strict Content-Security-Policy.)
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
}

/// CORS for browser frontends on other origins.
pub fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE", "OPTIONS"])
        .allowed_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            http::header::ACCEPT,
            http::header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            http::header::HeaderName::from_static("x-request-id"),
            http::header::LOCATION,
            http::header::RETRY_AFTER,
            http::header::WWW_AUTHENTICATE,
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// The request id of a request: the client's `X-Request-Id` when it is a
/// short token, otherwise a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned)
}

/// Gives every request an id (in every log line it causes, through a span,
/// and in the `X-Request-Id` response header), and logs one line per request:
/// method, path (never the query string, which may carry a ticket), status
/// and duration.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span.clone()).await;
    let _entered = span.enter();
    if let Ok(res) = &mut res
        && let Ok(value) = http::header::HeaderValue::from_str(&id)
    {
        res.headers_mut()
            .insert(http::header::HeaderName::from_static("x-request-id"), value);
    }
    let (status, route) = match &res {
        Ok(res) => (res.status(), res.request().match_pattern()),
        Err(err) => (err.as_response_error().status_code(), None),
    };
    let elapsed: Duration = started.elapsed();
    let route = route.as_deref().unwrap_or("(unmatched)");
    crate::metrics::record_request(method.as_str(), route, status.as_u16());
    crate::metrics::observe_request(route, elapsed.as_secs_f64());
    tracing::info!(
        %method,
        %path,
        status = status.as_u16(),
        ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    res
}
