//! Room messages: send and read history.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::domain::{ClientId, MessageBody};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, history_request};
use crate::metrics;
use crate::model::{Message, MessagePage};
use crate::routes::HistoryParams;
use crate::routes::limit;
use crate::routes::rooms::find_room;
use crate::startup::AppState;
use crate::store::messages::{SendOutcome, Sender};
use crate::store::sessions::{Limited, Rate};

/// Body of a message send (to a room or a user).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "hello, world", "client_id": "a1b2c3"}))]
pub struct SendMessageRequest {
    /// 1..=4000 characters, not only whitespace.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub body: String,
    /// 1..=64 characters. Makes the send idempotent: repeating it to the same
    /// room or user within 24 hours returns the original message with 200.
    #[schema(min_length = 1, max_length = 64)]
    pub client_id: Option<String>,
}

/// A send request checked against the rules.
pub(crate) struct CheckedSend {
    /// The body.
    pub body: MessageBody,
    /// The idempotency key.
    pub client_id: Option<ClientId>,
}

impl SendMessageRequest {
    /// Checks the body and client id.
    pub(crate) fn check(self) -> Result<CheckedSend, ApiError> {
        Ok(CheckedSend {
            body: MessageBody::parse(self.body)?,
            client_id: self.client_id.as_deref().map(ClientId::parse).transpose()?,
        })
    }
}

/// The caller as a message sender, once their send rate allows another
/// message (429 `rate_limited` otherwise, with nothing stored). The names
/// come from the token when it carries them (profiles never change), saving
/// a look-up per send.
pub(crate) async fn sender(state: &AppState, auth: &AuthUser) -> Result<Sender, ApiError> {
    let limits = &state.settings.limits;
    let rate = Rate::per_sec(limits.send_rate_per_sec, limits.send_burst);
    limit(state, Limited::User(&auth.user_id, "send"), rate).await?;
    if let Some((username, display_name)) = &auth.names {
        return Ok(Sender {
            id: auth.user_id.clone(),
            username: username.clone(),
            display_name: display_name.clone(),
        });
    }
    let user = state
        .store
        .user(&auth.user_id)
        .await?
        .ok_or(ApiError::InvalidToken("for a user that no longer exists"))?;
    Ok(Sender {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
    })
}

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
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rooms/{room_id}/messages")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, room_id = %path))]
pub async fn send_room_message(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let room_id = path.into_inner();
    let send = body.check()?;
    if !crate::domain::is_valid_id(&room_id) {
        return Err(ApiError::room_not_found(&room_id));
    }
    let sender = sender(&state, &auth).await?;
    let outcome = state
        .store
        .send_room_message(
            &room_id,
            &sender,
            send.body.as_str(),
            send.client_id.as_ref().map(ClientId::as_str),
        )
        .await?;
    match outcome {
        SendOutcome::NoRoom => Err(ApiError::room_not_found(&room_id)),
        SendOutcome::NotMember => Err(ApiError::NotAMember),
        SendOutcome::Created(m) => {
            metrics::inc(&metrics::ROOM_MESSAGES);
            Ok(HttpResponse::Created().json(Message::from(m)))
        }
        SendOutcome::Duplicate(m) => Ok(HttpResponse::Ok().json(Message::from(m))),
    }
}

/// A page of a room's history, oldest first. Members only (they see
/// everything, including what was sent before they joined).
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
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
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
    let (query, limit) = history_request(
        params.limit.as_deref(),
        params.before.as_deref(),
        params.after.as_deref(),
    )?;
    find_room(&state, &path).await?;
    if !state.store.is_member(&path, &auth.user_id).await? {
        return Err(ApiError::NotAMember);
    }
    let (messages, has_more) = state.store.room_history(&path, query, limit).await?;
    Ok(web::Json(MessagePage {
        messages: messages.into_iter().map(Message::from).collect(),
        has_more,
    }))
}
