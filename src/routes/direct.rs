//! Direct messages and conversations.

use actix_web::{HttpResponse, get, post, web};

use crate::auth::AuthUser;
use crate::domain::ClientId;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, history_request, page_request};
use crate::metrics;
use crate::model::{Conversation, ConversationList, DirectMessage, DirectMessagePage, PublicUser};
use crate::routes::messages::{SendMessageRequest, sender};
use crate::routes::users::find_user;
use crate::routes::{HistoryParams, ListParams};
use crate::startup::AppState;
use crate::store::messages::{SendOutcome, Sender};

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
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{username}/messages")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn send_direct_message(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let send = body.check()?;
    let (recipient, recipient_id) = find_user(&state, &path).await?;
    if recipient_id == auth.user_id {
        return Err(ApiError::validation(
            "username",
            "you cannot send a direct message to yourself",
        ));
    }
    let sender = sender(&state, &auth).await?;
    let recipient = Sender {
        id: recipient_id,
        username: recipient.username,
        display_name: recipient.display_name,
    };
    let outcome = state
        .store
        .send_direct_message(
            &sender,
            &recipient,
            send.body.as_str(),
            send.client_id.as_ref().map(ClientId::as_str),
        )
        .await?;
    match outcome {
        SendOutcome::Created(m) => {
            metrics::inc(&metrics::DIRECT_MESSAGES);
            Ok(HttpResponse::Created().json(DirectMessage::from(m)))
        }
        SendOutcome::Duplicate(m) => Ok(HttpResponse::Ok().json(DirectMessage::from(m))),
        SendOutcome::NoRoom | SendOutcome::NotMember => {
            Err(ApiError::Internal("direct send cannot miss a room".into()))
        }
    }
}

/// A page of your conversation with a user, oldest first; paged like room
/// history.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The other user's username, any case"), HistoryParams),
    responses(
        (status = 200, description = "A page of the conversation", body = DirectMessagePage),
        (status = 400, description = "`validation_failed` (limit, before, after)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
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
    let (query, limit) = history_request(
        params.limit.as_deref(),
        params.before.as_deref(),
        params.after.as_deref(),
    )?;
    let (_, other_id) = find_user(&state, &path).await?;
    let (messages, has_more) = state
        .store
        .direct_history(&auth.user_id, &other_id, query, limit)
        .await?;
    Ok(web::Json(DirectMessagePage {
        messages: messages.into_iter().map(DirectMessage::from).collect(),
        has_more,
    }))
}

/// Your direct conversations, most recent first, each with its latest
/// message.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of conversations", body = ConversationList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/conversations")]
pub async fn list_conversations(
    state: web::Data<AppState>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<web::Json<ConversationList>, ApiError> {
    let page = page_request(params.limit.as_deref(), params.cursor.as_deref())?;
    let (conversations, next_cursor) = state.store.conversations(&auth.user_id, &page).await?;
    let ids: Vec<String> = conversations.iter().map(|(id, _)| id.clone()).collect();
    let users = state.store.public_users(&ids).await?;
    let items = conversations
        .into_iter()
        .zip(users)
        .filter_map(|((_, last), user)| {
            Some(Conversation {
                user: PublicUser::from(user?),
                last_message: DirectMessage::from(last),
            })
        })
        .collect();
    Ok(web::Json(ConversationList { items, next_cursor }))
}
