//! Room and direct messages: sending (idempotent per `client_id`) and
//! reading history.

use crate::auth::{AuthUser, SignedToken};
use crate::domain::{ClientId, Invalid, MessageBody, MessageId, is_valid_id};
use crate::error::{ApiError, Code};
use crate::message::{DirectMessageRecord, RoomMessageRecord, Sent, UserLite};
use crate::metrics;
use crate::model::{
    Conversation, ConversationList, DirectMessage, DirectMessagePage, Message, MessagePage,
    SendMessageRequest,
};
use crate::state::AppState;
use crate::store::messages::{HistoryQuery, RoomSend};
use crate::store::pagination::PageRequest;
use crate::store::rate_limit::{Rate, SessionLimit};

use super::{find_room_as_member, find_user};

/// A message to send, checked.
pub struct NewMessage {
    /// Its text.
    pub body: MessageBody,
    /// The sender's idempotency key, if any.
    pub client_id: Option<ClientId>,
}

impl TryFrom<SendMessageRequest> for NewMessage {
    type Error = Invalid;

    fn try_from(request: SendMessageRequest) -> Result<Self, Invalid> {
        Ok(Self {
            body: MessageBody::parse(request.body)?,
            client_id: request
                .client_id
                .as_deref()
                .map(ClientId::parse)
                .transpose()?,
        })
    }
}

/// Which page of a history, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPage {
    /// Where the page starts.
    pub query: HistoryQuery,
    /// How many messages at most.
    pub limit: usize,
}

/// The caller as a message sender, once their session is found live (401
/// otherwise) and their send rate allows another message (429
/// `rate_limited` otherwise, with nothing stored): one Redis call for both.
/// The names come from the token when it carries them (profiles never
/// change), saving a look-up per send.
async fn sender_rate_limited(
    state: &AppState,
    SignedToken(auth): &SignedToken,
) -> Result<UserLite, ApiError> {
    let limits = &state.settings.limits;
    let rate = Rate::per_sec(limits.send_rate_per_sec, limits.send_burst);
    let limit = state
        .store
        .rate_limit_in_session(&auth.user_id, &auth.session_id, "send", rate)
        .await?;
    match limit {
        SessionLimit::Allowed => {}
        SessionLimit::Revoked => return Err(ApiError::invalid_token("revoked")),
        SessionLimit::Wait(wait) => return Err(super::rate_limited(wait)),
    }
    if let Some((username, display_name)) = &auth.names {
        return Ok(UserLite {
            id: auth.user_id.clone(),
            username: username.clone(),
            display_name: display_name.clone(),
        });
    }
    let user = state
        .store
        .user(&auth.user_id)
        .await?
        .ok_or_else(|| ApiError::invalid_token("for a user that no longer exists"))?;
    Ok(UserLite {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
    })
}

/// Sends a message to a room the caller belongs to.
pub async fn send_to_room_rate_limited(
    state: &AppState,
    token: &SignedToken,
    room_id: &str,
    message: NewMessage,
) -> Result<Sent<Message>, ApiError> {
    let sender = sender_rate_limited(state, token).await?;
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    let record = RoomMessageRecord {
        id: MessageId::default(),
        room_id: room_id.to_owned(),
        sender,
        body: message.body.into_inner(),
        client_id: message.client_id.map(ClientId::into_inner),
    };
    match state.store.send_room_message(record).await? {
        RoomSend::NoRoom => Err(ApiError::room_not_found(room_id)),
        RoomSend::NotMember => Err(Code::NotAMember.into()),
        RoomSend::Sent(sent) => {
            if let Sent::New(_) = sent {
                metrics::inc(&metrics::ROOM_MESSAGES);
            }
            Ok(sent.map(Message::from))
        }
    }
}

/// A page of a room's history, oldest first; members only (they see all
/// of it, including what was sent before they joined).
pub async fn room_history(
    state: &AppState,
    auth: &AuthUser,
    room_id: &str,
    page: HistoryPage,
) -> Result<MessagePage, ApiError> {
    find_room_as_member(state, room_id, &auth.user_id).await?;
    let (messages, has_more) = state
        .store
        .room_history(room_id, page.query, page.limit)
        .await?;
    Ok(MessagePage {
        messages: messages.into_iter().map(Message::from).collect(),
        has_more,
    })
}

/// Sends a direct message to another user (not oneself).
pub async fn send_direct_rate_limited(
    state: &AppState,
    token: &SignedToken,
    username: &str,
    message: NewMessage,
) -> Result<Sent<DirectMessage>, ApiError> {
    let sender = sender_rate_limited(state, token).await?;
    let recipient = find_user(state, username).await?;
    if recipient.id == sender.id {
        return Err(ApiError::validation(
            "username",
            "you cannot send a direct message to yourself",
        ));
    }
    let record = DirectMessageRecord {
        id: MessageId::default(),
        sender,
        recipient: recipient.into(),
        body: message.body.into_inner(),
        client_id: message.client_id.map(ClientId::into_inner),
    };
    let sent = state.store.send_direct_message(record).await?;
    if let Sent::New(_) = sent {
        metrics::inc(&metrics::DIRECT_MESSAGES);
    }
    Ok(sent.map(DirectMessage::from))
}

/// A page of the caller's conversation with a user, oldest first.
pub async fn direct_history(
    state: &AppState,
    auth: &AuthUser,
    username: &str,
    page: HistoryPage,
) -> Result<DirectMessagePage, ApiError> {
    let other = find_user(state, username).await?;
    let (messages, has_more) = state
        .store
        .direct_history(&auth.user_id, &other.id, page.query, page.limit)
        .await?;
    Ok(DirectMessagePage {
        messages: messages.into_iter().map(DirectMessage::from).collect(),
        has_more,
    })
}

/// A page of the caller's conversations, most recent first, each with its
/// latest message.
pub async fn conversations(
    state: &AppState,
    auth: &AuthUser,
    page: &PageRequest,
) -> Result<ConversationList, ApiError> {
    let (conversations, next_cursor) = state.store.conversations(&auth.user_id, page).await?;
    let items = super::with_public_users(state, conversations)
        .await?
        .into_iter()
        .map(|(user, last)| Conversation {
            user,
            last_message: DirectMessage::from(last),
        })
        .collect();
    Ok(ConversationList { items, next_cursor })
}
