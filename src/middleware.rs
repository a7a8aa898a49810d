//! What wraps every request: CORS, security headers, request ids and the
//! request log (with its metrics), the request-body deadline and the
//! connection caps. The problem-document middleware lives with the error
//! type ([`crate::error::middleware`]).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{self as http, ConnectionType};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpMessage, ResponseError};
use futures_util::Stream;
use tracing::Instrument;

use crate::connections::{ConnectionSlot, OverCap};
use crate::error::{ApiError, Code};
use crate::state::AppState;

/// Headers every response carries: no MIME sniffing, no framing, no
/// referrers. (The web client's pages and the API docs add a strict
/// Content-Security-Policy.)
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
}

/// The Content-Security-Policy of the interactive API docs (`/docs`, the
/// vendored Swagger UI 5.32): its page loads its scripts and styles from
/// files (no inline `<script>`; React sets styles through the DOM, which
/// style-src does not govern), its CSS embeds icons as `data:` URIs, and
/// "Try it out" calls this same origin. The one inline style it uses, the
/// `<style>` inside its logo's SVG, is allowed by its hash (a newer Swagger
/// UI with another logo would only lose the logo's colours).
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Adds [`DOCS_CSP`] to every response under `/docs`.
pub async fn docs_content_security_policy(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let is_docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let mut res = next.call(req).await?;
    if is_docs {
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        );
    }
    Ok(res)
}

/// Paths answered on every connection, even one over a connection cap, so
/// that load balancers and orchestrators keep seeing a live instance.
fn is_health_check(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Refuses requests on connections accepted over a connection cap (see
/// [`crate::connections`]): 503 `unavailable` with `Retry-After`, and the
/// connection is closed. Health checks are answered as usual (and the
/// connection closed after them too).
pub async fn connection_cap(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(cap) = req
        .conn_data::<ConnectionSlot>()
        .and_then(ConnectionSlot::over_cap)
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let mut res = if is_health_check(req.path()) {
        next.call(req).await?.map_into_boxed_body()
    } else {
        let detail = match cap {
            OverCap::Instance => {
                "this instance serves as many connections as it can; retry shortly"
            }
            OverCap::Address => {
                "your address holds as many connections as this instance allows one address; \
                 close one or retry shortly"
            }
        };
        req.into_response(ApiError::new(Code::Unavailable, detail).error_response())
    };
    res.response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(res)
}

/// Gives every request body a deadline, `server.body_timeout_ms` from now
/// (its headers have just arrived): whoever reads the body after that gets
/// a `TimedOut` error, which [`crate::extract::ApiBody`] answers with 408
/// `request_timeout`.
///
/// It also makes actix close, rather than keep reading, a connection whose
/// body was not received whole when the response went out (a body nobody
/// read, one that timed out, one over the size limit). actix already does
/// that for a `Content-Length` body, but drains a dropped chunked body to
/// its end with no deadline; it closes instead while the body's receiving
/// end is alive, so the response body holds it (see [`HoldsPayload`]).
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<HoldsPayload>, actix_web::Error> {
    let payload = req.take_payload();
    let held = match payload {
        Payload::None => None,
        payload => {
            let timeout = req
                .app_data::<Data<AppState>>()
                .map_or(Duration::from_secs(10), |s| {
                    s.settings.server.body_timeout()
                });
            let payload = Rc::new(RefCell::new(payload));
            let stream = DeadlineStream {
                payload: Rc::clone(&payload),
                deadline: Box::pin(tokio::time::sleep(timeout)),
                timed_out: false,
            };
            req.set_payload(Payload::Stream {
                payload: Box::pin(stream),
            });
            Some(payload)
        }
    };
    match next.call(req).await {
        Ok(res) => Ok(res.map_into_boxed_body().map_body(|_, body| HoldsPayload {
            body,
            _payload: held,
        })),
        Err(err) => {
            // An inner middleware failed: actix answers with the error, so
            // no response body can hold the request body. Hold it for the
            // moment that answer takes instead.
            if let Some(held) = held {
                actix_web::rt::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    drop(held);
                });
            }
            Err(err)
        }
    }
}

/// A request body read through [`body_deadline`]: the body as it arrives,
/// until the deadline passes; then one `TimedOut` error and the end.
struct DeadlineStream {
    /// The body; shared with the response, which keeps it alive.
    payload: Rc<RefCell<Payload>>,
    /// When the body must have arrived.
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// Whether the deadline has passed (and been reported once).
    timed_out: bool,
}

impl Stream for DeadlineStream {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.timed_out {
            return Poll::Ready(None);
        }
        // Checked first too, so a body arriving steadily but slowly cannot
        // outlast it.
        if !this.deadline.is_elapsed() {
            let polled = Pin::new(&mut *this.payload.borrow_mut()).poll_next(cx);
            if polled.is_ready() {
                return polled;
            }
            if this.deadline.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        this.timed_out = true;
        crate::metrics::inc(&crate::metrics::BODY_TIMEOUTS);
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the request body did not arrive in time",
        )))))
    }
}

/// A response body that keeps its request's body alive until it has been
/// sent: actix decides whether to close the connection when the response
/// ends, and closes it when the request body is neither complete nor
/// dropped (see [`body_deadline`]).
pub struct HoldsPayload {
    /// The response body.
    body: BoxBody,
    /// The request body (`None` when the request had none).
    _payload: Option<Rc<RefCell<Payload>>>,
}

impl MessageBody for HoldsPayload {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
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
