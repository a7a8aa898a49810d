//! The realtime stream (`GET /events`) and the tickets that open it from
//! browsers.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, Responder, get, post, web};
use actix_web_lab::sse::Sse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AuthUser, bearer_token};
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::realtime::stream::{OpenRequest, StreamLimits};
use crate::routes::limit;
use crate::startup::AppState;
use crate::store::sessions::{Limited, Rate};

/// A short-lived credential that opens event streams.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ticket {
    /// Pass as `GET /api/v1/events?ticket=...`. Good for opening streams
    /// only, as often as needed until it expires or its session ends.
    pub ticket: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// One Server-Sent Event as the stream carries it (`event:`, `id:`,
/// `data:` lines). The stream also carries `: ping` comments and a `retry:`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerSentEvent {
    /// The event type.
    #[schema(pattern = "^(ready|message|direct_message|member_joined|member_left|notification)$")]
    pub event: String,
    /// One line of JSON: `Ready`, `Message`, `DirectMessage`, `MemberEvent`
    /// or `Notification`, by event type.
    pub data: String,
    /// The message id, on `message` and `direct_message` events.
    pub id: Option<String>,
}

/// Query of `GET /events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// A ticket from `POST /api/v1/events/tickets`, for clients (such as
    /// browser `EventSource`) that cannot send an `Authorization` header.
    pub ticket: Option<String>,
    /// Resume after this message id (the same as the `Last-Event-ID`
    /// header, which wins when both are present).
    #[param(example = "1732357500123-0")]
    pub last_event_id: Option<String>,
}

/// Get a ticket for opening event streams.
///
/// Browser `EventSource` cannot set headers, and long-lived tokens must not
/// travel in URLs (they end up in logs): a ticket is short-lived, opens
/// streams only (it is refused everywhere else) and dies with the session
/// that made it.
#[utoipa::path(
    tag = "realtime",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A ticket", body = Ticket),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/events/tickets")]
pub async fn create_ticket(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let limits = &state.settings.limits;
    let rate = Rate::per_min(limits.tickets_per_min, limits.tickets_burst);
    limit(&state, Limited::User(&auth.user_id, "ticket"), rate).await?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| ApiError::Internal(e.to_string()))?;
    let ticket = URL_SAFE_NO_PAD.encode(secret);
    let ttl = state.settings.auth.ticket_ttl_secs;
    state
        .store
        .create_ticket(&auth.user_id, &auth.session_id, &ticket, ttl)
        .await?;
    Ok(HttpResponse::Created().json(Ticket {
        ticket,
        expires_in: ttl,
    }))
}

/// The event stream (Server-Sent Events).
///
/// One stream carries everything addressed to the user: messages of the
/// rooms they belong to (joining or leaving changes an open stream at
/// once), their direct messages (sent and received, so all devices stay in
/// step), member events of their rooms, and notifications. Authenticate with
/// `Authorization: Bearer` or `?ticket=`.
///
/// Events, each `event: <type>`, `id: <id>` for messages, `data: <JSON>`:
/// - `ready` ([`Ready`](#/components/schemas/Ready)): always first.
/// - `message` ([`Message`](#/components/schemas/Message)), id = message id.
/// - `direct_message` ([`DirectMessage`](#/components/schemas/DirectMessage)), id = message id.
/// - `member_joined`, `member_left` ([`MemberEvent`](#/components/schemas/MemberEvent)).
/// - `notification` ([`Notification`](#/components/schemas/Notification)).
///
/// After `ready` come the events queued while the user had no open stream
/// (`offline_count` of them, oldest first, sent once), then live events. With
/// `Last-Event-ID` (header or `?last_event_id=`) the stream first replays
/// every message after that id (`resumed: true`), or says `resumed: false`
/// when it cannot (then backfill through the history endpoints). A `: ping`
/// comment goes out every 15 seconds; the stream sets `retry:`. A user may
/// hold a bounded number of streams (default 10); one more gets 429
/// `too_many_streams`. A stream ends when its session is revoked or expires.
#[utoipa::path(
    tag = "realtime",
    security(("bearer" = []), ("ticket" = [])),
    params(EventsParams, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this message id")),
    responses(
        (status = 200, description = "The stream", content_type = "text/event-stream", body = ServerSentEvent,
         example = "event: ready\ndata: {\"user_id\":\"6f1c...\",\"rooms\":[\"0b7e...\"],\"offline_count\":0,\"resumed\":false}\n\nevent: message\nid: 1732357500123-0\ndata: {\"id\":\"1732357500123-0\",...}\n\n"),
        (status = 401, description = "`missing_token` or `invalid_token` (a bad or expired ticket too)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_streams`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: Redis is unreachable, or this instance holds its maximum of streams; retry after `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/events")]
pub async fn open_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiQuery(params): ApiQuery<EventsParams>,
) -> Result<impl Responder, ApiError> {
    let auth = match params.ticket.as_deref() {
        Some(ticket) => {
            let (user_id, session_id) = state
                .store
                .ticket(ticket)
                .await?
                .ok_or(ApiError::InvalidToken("an unknown or expired ticket"))?;
            AuthUser {
                user_id,
                session_id,
                names: None,
            }
        }
        None => AuthUser::authenticate(bearer_token(&req).map(str::to_owned), &state).await?,
    };
    // The session must still live (a ticket dies with it); the stream ends
    // when it expires.
    let ttl = state
        .store
        .session_ttl(&auth.user_id, &auth.session_id)
        .await?
        .ok_or(ApiError::InvalidToken("revoked"))?;
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .or(params.last_event_id);
    let sse_settings = &state.settings.sse;
    let limits = StreamLimits {
        max_per_user: state.settings.limits.max_streams_per_user,
        resume_max: sse_settings.resume_max,
        ping: Duration::from_secs(sse_settings.ping_secs),
        max_per_instance: state.settings.limits.max_streams_per_instance,
    };
    let rx = state
        .realtime
        .open(
            OpenRequest {
                user_id: auth.user_id,
                session_id: auth.session_id,
                session_ends: tokio::time::Instant::now() + Duration::from_secs(ttl),
                last_event_id,
            },
            limits,
        )
        .await?;
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (*event, rx))
    });
    Ok(Sse::from_infallible_stream(events)
        .with_retry_duration(Duration::from_millis(sse_settings.retry_ms))
        .customize()
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header(("Cache-Control", "no-cache")))
}
