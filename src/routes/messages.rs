//! Room messages: send and read history.

use actix_web::{HttpResponse, delete, get, patch, post, web};

use super::created_or_repeated;
use crate::auth::{AuthUser, SignedToken};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, HistoryParams};
use crate::model::{EditMessageRequest, Message, MessagePage, SendMessageRequest};
use crate::service;
use crate::service::messages::MessageChange;
use crate::state::AppState;

/// Send a message to a room you belong to.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    request_body = SendMessageRequest,
    responses(
        (status = 201, description = "Stored", body = Message),
        (status = 200, description = "A repeat of an earlier send with the same `client_id`: the original message; nothing stored", body = Message),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`, with `Retry-After`: Redis is unreachable, or (with `redis.acknowledge = \"replicated\"`) no replica acknowledged the message in time; it may be stored, so retry with the same `client_id`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rooms/{room_id}/messages")]
#[tracing::instrument(skip_all, fields(user_id = %auth.0.user_id, room_id = %path))]
pub async fn send_room_message(
    state: web::Data<AppState>,
    auth: SignedToken,
    path: web::Path<String>,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let message = body.try_into()?;
    let sent = service::messages::send_to_room_rate_limited(&state, &auth, &path, message).await?;
    Ok(created_or_repeated(sent))
}

/// A page of a room's history, oldest first.
///
/// Members only (they see everything, including what was sent before they
/// joined).
///
/// Without a cursor: the newest `limit` messages. Walk back with
/// `before=<id of the first message returned>` until `has_more` is false;
/// walk forward with `after=<id of the last>`.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id"), HistoryParams),
    responses(
        (status = 200, description = "A page of history", body = MessagePage),
        (status = 400, description = "`validation_failed` (limit, before, after)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rooms/{room_id}/messages")]
pub async fn list_room_messages(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<web::Json<MessagePage>, ApiError> {
    let page = params.page()?;
    let history = service::messages::room_history(&state, &auth, &path, page).await?;
    Ok(web::Json(history))
}

/// Edit one of your room messages (within 24 hours of sending).
///
/// History shows the new text with `edited_at` set; members' streams get
/// `message_edited` with the updated message (replayed on resume and to
/// members who were offline). Counts against your send rate.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(
        ("room_id" = String, Path, description = "Room id"),
        ("message_id" = String, Path, description = "Message id"),
    ),
    request_body = EditMessageRequest,
    responses(
        (status = 200, description = "The message as edited", body = Message),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_a_member`, `not_your_message` (only the sender edits) or `edit_window_closed` (more than 24 hours after sending)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`, or `message_not_found` (no such message in this room, or it was deleted)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/rooms/{room_id}/messages/{message_id}")]
#[tracing::instrument(skip_all, fields(user_id = %auth.0.user_id, room_id = %path.0))]
pub async fn edit_room_message(
    state: web::Data<AppState>,
    auth: SignedToken,
    path: web::Path<(String, String)>,
    ApiJson(body): ApiJson<EditMessageRequest>,
) -> Result<web::Json<Message>, ApiError> {
    let change = body.try_into()?;
    let (room_id, message_id) = path.into_inner();
    let message = service::messages::change_room_message_rate_limited(
        &state,
        &auth,
        &room_id,
        &message_id,
        change,
    )
    .await?;
    Ok(web::Json(message))
}

/// Delete one of your room messages (within 24 hours of sending).
///
/// Idempotent. History keeps the message's place with `body: null` and
/// `deleted_at` set; members' streams get `message_deleted`. Counts against
/// your send rate.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(
        ("room_id" = String, Path, description = "Room id"),
        ("message_id" = String, Path, description = "Message id"),
    ),
    responses(
        (status = 204, description = "Deleted (now or before)"),
        (status = 403, description = "`not_a_member`, `not_your_message` or `edit_window_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found` or `message_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/rooms/{room_id}/messages/{message_id}")]
#[tracing::instrument(skip_all, fields(user_id = %auth.0.user_id, room_id = %path.0))]
pub async fn delete_room_message(
    state: web::Data<AppState>,
    auth: SignedToken,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, message_id) = path.into_inner();
    service::messages::change_room_message_rate_limited(
        &state,
        &auth,
        &room_id,
        &message_id,
        MessageChange::Delete,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
