//! Direct messages and conversations.

use actix_web::{HttpResponse, delete, get, patch, post, web};

use super::created_or_repeated;
use crate::auth::{AuthUser, SignedToken};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, HistoryParams, ListParams};
use crate::model::{
    ConversationList, DirectMessage, DirectMessagePage, EditMessageRequest, SendMessageRequest,
};
use crate::service;
use crate::service::messages::MessageChange;
use crate::state::AppState;

/// Send a direct message to a user (not yourself).
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Recipient's username, any case")),
    request_body = SendMessageRequest,
    responses(
        (status = 201, description = "Stored", body = DirectMessage),
        (status = 200, description = "A repeat of an earlier send with the same `client_id`: the original message; nothing stored", body = DirectMessage),
        (status = 400, description = "`invalid_json`, or `validation_failed` (including a message to yourself)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`, with `Retry-After`: Redis is unreachable, or (with `redis.acknowledge = \"replicated\"`) no replica acknowledged the message in time; it may be stored, so retry with the same `client_id`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{username}/messages")]
#[tracing::instrument(skip_all, fields(user_id = %auth.0.user_id))]
pub async fn send_direct_message(
    state: web::Data<AppState>,
    auth: SignedToken,
    path: web::Path<String>,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let message = body.try_into()?;
    let sent = service::messages::send_direct_rate_limited(&state, &auth, &path, message).await?;
    Ok(created_or_repeated(sent))
}

/// A page of your conversation with a user, oldest first.
///
/// Paged like room history.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The other user's username, any case"), HistoryParams),
    responses(
        (status = 200, description = "A page of the conversation", body = DirectMessagePage),
        (status = 400, description = "`validation_failed` (limit, before, after)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/{username}/messages")]
pub async fn list_direct_messages(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<web::Json<DirectMessagePage>, ApiError> {
    let page = params.page()?;
    let history = service::messages::direct_history(&state, &auth, &path, page).await?;
    Ok(web::Json(history))
}

/// Your direct conversations, most recent first.
///
/// Each comes with its latest message.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of conversations", body = ConversationList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/conversations")]
pub async fn list_conversations(
    state: web::Data<AppState>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<web::Json<ConversationList>, ApiError> {
    let page = params.page()?;
    let conversations = service::messages::conversations(&state, &auth, &page).await?;
    Ok(web::Json(conversations))
}

/// Edit one of your direct messages (within 24 hours of sending).
///
/// Both users' streams get `message_edited` (queued for the other user
/// while they are offline). Counts against your send rate.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(
        ("username" = String, Path, description = "The other user's username, any case"),
        ("message_id" = String, Path, description = "Message id"),
    ),
    request_body = EditMessageRequest,
    responses(
        (status = 200, description = "The message as edited", body = DirectMessage),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_your_message` or `edit_window_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`, or `message_not_found` (not in this conversation, or deleted)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/users/{username}/messages/{message_id}")]
#[tracing::instrument(skip_all, fields(user_id = %auth.0.user_id))]
pub async fn edit_direct_message(
    state: web::Data<AppState>,
    auth: SignedToken,
    path: web::Path<(String, String)>,
    ApiJson(body): ApiJson<EditMessageRequest>,
) -> Result<web::Json<DirectMessage>, ApiError> {
    let change = body.try_into()?;
    let (username, message_id) = path.into_inner();
    let message = service::messages::change_direct_message_rate_limited(
        &state,
        &auth,
        &username,
        &message_id,
        change,
    )
    .await?;
    Ok(web::Json(message))
}

/// Delete one of your direct messages (within 24 hours of sending).
///
/// Idempotent; the conversation keeps its place with `body: null`.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(
        ("username" = String, Path, description = "The other user's username, any case"),
        ("message_id" = String, Path, description = "Message id"),
    ),
    responses(
        (status = 204, description = "Deleted (now or before)"),
        (status = 403, description = "`not_your_message` or `edit_window_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found` or `message_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/users/{username}/messages/{message_id}")]
#[tracing::instrument(skip_all, fields(user_id = %auth.0.user_id))]
pub async fn delete_direct_message(
    state: web::Data<AppState>,
    auth: SignedToken,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (username, message_id) = path.into_inner();
    service::messages::change_direct_message_rate_limited(
        &state,
        &auth,
        &username,
        &message_id,
        MessageChange::Delete,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
