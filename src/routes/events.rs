//! The realtime stream (`GET /events`) and the tickets that open it from
//! browsers.

use actix_web::http::header::ContentEncoding;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AuthUser, bearer_token};
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::model::{
    DirectMessage, MemberEvent, Message, Notification, ReadEvent, Ticket, TypingEvent,
};
use crate::realtime::stream::Ready;
use crate::service;
use crate::service::realtime::Credential;
use crate::state::AppState;

/// The `data:` of one stream event, parsed from its JSON. Which schema
/// applies follows from the event's `event:` name:
///
/// | `event:` | `data:` | `id:` |
/// |---|---|---|
/// | `ready` | `Ready` (always first) | none |
/// | `message` | `Message` | resume token |
/// | `direct_message` | `DirectMessage` | resume token |
/// | `member_joined`, `member_left` | `MemberEvent` | none |
/// | `notification` | `Notification` | none |
/// | `message_edited`, `message_deleted` | `Message` (room) or `DirectMessage` (conversation), as it is after the change | resume token |
/// | `typing` | `TypingEvent` | none |
/// | `read` | `ReadEvent` | none |
///
/// `message_edited` and `message_deleted` are replayed on resume and to
/// users who were offline, like messages; `typing` and `read` are live only.
/// A resume token (at most 1 KiB of `A-Z a-z 0-9 - _ .`) is opaque: send the
/// last one received back as `Last-Event-ID`; it is not the message id
/// (that is `data.id`, what clients dedupe by). The stream also carries
/// `: ping` comments and a `retry:` line; new event names may be added, so
/// ignore the ones you do not know.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(example = json!({"user_id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "rooms": ["0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b"], "offline_count": 0, "resumed": false}))]
pub enum StreamEvent {
    /// `event: ready`.
    Ready(Ready),
    /// `event: message`.
    Message(Message),
    /// `event: direct_message`.
    DirectMessage(DirectMessage),
    /// `event: member_joined` or `member_left`.
    MemberEvent(MemberEvent),
    /// `event: notification`.
    Notification(Notification),
    /// `event: typing`.
    Typing(TypingEvent),
    /// `event: read`.
    Read(ReadEvent),
}

/// Query of `GET /events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// A ticket from `POST /api/v1/events/tickets`, for clients (such as
    /// browser `EventSource`) that cannot send an `Authorization` header.
    /// Never the access token: tokens do not belong in URLs (they are
    /// refused here).
    pub ticket: Option<String>,
    /// Resume after this resume token: the `id:` of the last message event
    /// received (the same as the `Last-Event-ID` header, which wins when both
    /// are present). URL-safe as it is. Anything that is not a token confab
    /// made for this user (garbage, oversized, altered) opens the stream
    /// with `resumed: false`.
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
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/events/tickets")]
pub async fn create_ticket(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let ticket = service::realtime::create_ticket_rate_limited(&state, &auth).await?;
    Ok(HttpResponse::Created().json(ticket))
}

/// The event stream (Server-Sent Events).
///
/// One stream carries everything addressed to the user: messages of the
/// rooms they belong to (joining or leaving changes an open stream at
/// once), their direct messages (sent and received, so all devices stay in
/// step), member events of their rooms, and notifications. Authenticate with
/// `Authorization: Bearer` or `?ticket=`.
///
/// Events, each `event: <type>`, `id: <resume token>` for messages,
/// `data: <JSON>`:
/// - `ready` ([`Ready`](#/components/schemas/Ready)): always first.
/// - `message` ([`Message`](#/components/schemas/Message)), with a resume token.
/// - `direct_message` ([`DirectMessage`](#/components/schemas/DirectMessage)), with a resume token.
/// - `member_joined`, `member_left` ([`MemberEvent`](#/components/schemas/MemberEvent)).
/// - `notification` ([`Notification`](#/components/schemas/Notification)).
///
/// After `ready` come the events that arrived while the user had no open
/// stream (`offline_count` of them, oldest first, sent once; the newest up to
/// the offline cap; on a resume, the replayed messages too), then live
/// events. A message event's `id:` is an opaque
/// resume token, not the message id (`data.id` is, and is what clients
/// dedupe by). With `Last-Event-ID` (header or `?last_event_id=`) set to the
/// last token received, the stream first replays every message after it, in
/// order per room and conversation, without duplicates (`resumed: true`), or
/// says `resumed: false` when it cannot (an unknown, malformed, another
/// user's or pre-upgrade token, or too much missed: then backfill through the
/// history endpoints). A `: ping`
/// comment goes out every 15 seconds; the stream sets `retry:`. A user may
/// hold a bounded number of streams (default 10); one more gets 429
/// `too_many_streams`. A stream ends when its session is revoked or expires.
/// A client that stops reading while events wait (its socket stays full
/// for the server's write deadline, 10 s by default) has its connection
/// cut; it reconnects with `Last-Event-ID` and resumes.
#[utoipa::path(
    tag = "realtime",
    security(("bearer" = []), ()),
    params(EventsParams, ("Last-Event-ID" = Option<String>, Header, nullable = false, description = "Resume after this resume token (the `id:` of the last message event received)")),
    responses(
        (status = 200, description = "The stream: Server-Sent Events whose `data:` is JSON, one of the `StreamEvent` schemas by `event:` name", content_type = "text/event-stream", body = StreamEvent),
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
) -> Result<HttpResponse, ApiError> {
    let credential = match params.ticket {
        Some(ticket) => Credential::Ticket(ticket),
        None => Credential::Bearer(bearer_token(&req).map(str::to_owned)),
    };
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .or(params.last_event_id);
    let feed = service::realtime::open_stream(&state, credential, last_event_id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(ContentEncoding::Identity)
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .body(feed))
}
