//! Read markers and typing notices, for rooms and conversations.

use actix_web::{HttpResponse, post, put, web};

use crate::auth::{AuthUser, SignedToken};
use crate::domain::MessageId;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::model::ReadRequest;
use crate::service;
use crate::state::AppState;

/// Mark a room read up to a message.
///
/// Your marker only moves forward: an older message id is accepted and
/// changes nothing. When it moves, your open streams get a `read` event, so
/// your other devices clear the same messages. `unread_count` in
/// `GET /api/v1/users/me/rooms` counts from it.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    request_body = ReadRequest,
    responses(
        (status = 204, description = "The marker stands at the message (or was already further)"),
        (status = 400, description = "`invalid_json`, or `validation_failed`: `message_id` is malformed or not the id of a message of this room", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/rooms/{room_id}/read")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, room_id = %path))]
pub async fn mark_room_read(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    ApiJson(body): ApiJson<ReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let message_id = MessageId::parse_param("message_id", &body.message_id)?;
    service::read_state::mark_room_read(&state, &auth, &path, message_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mark your conversation with a user read up to a message.
///
/// Like a room's marker: only forward, synced to your streams with `read`.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The other user's username, any case")),
    request_body = ReadRequest,
    responses(
        (status = 204, description = "The marker stands at the message (or was already further)"),
        (status = 400, description = "`invalid_json`, or `validation_failed`: `message_id` is malformed or not the id of a message of this conversation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/users/{username}/read")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn mark_conversation_read(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    ApiJson(body): ApiJson<ReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let message_id = MessageId::parse_param("message_id", &body.message_id)?;
    service::read_state::mark_conversation_read(&state, &auth, &path, message_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Tell a room you are typing.
///
/// The other members' streams get a `typing` event; it is not stored or
/// queued. Send it every few seconds while typing: at most one per user
/// and room every 2 seconds is forwarded (a message the user sends there
/// ends that wait, so typing the next one is announced at once), and
/// clients show it for 5.
/// More than `limits.typing_per_min` (30) a minute get 429.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    responses(
        (status = 204, description = "Forwarded, or held back because one went less than 2 s ago (and no message from you since)"),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`; nothing forwarded", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rooms/{room_id}/typing")]
#[tracing::instrument(skip_all, fields(user_id = %auth.0.user_id, room_id = %path))]
pub async fn send_room_typing(
    state: web::Data<AppState>,
    auth: SignedToken,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    service::read_state::room_typing_rate_limited(&state, &auth, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Tell a user you are typing to them.
///
/// Their streams get a `typing` event with a null `room_id`; throttled and
/// limited like room typing notices.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The other user's username, any case")),
    responses(
        (status = 204, description = "Forwarded, or held back because one went less than 2 s ago (and no message from you since)"),
        (status = 400, description = "`validation_failed`: that is you", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`; nothing forwarded", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{username}/typing")]
#[tracing::instrument(skip_all, fields(user_id = %auth.0.user_id))]
pub async fn send_direct_typing(
    state: web::Data<AppState>,
    auth: SignedToken,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    service::read_state::conversation_typing_rate_limited(&state, &auth, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
