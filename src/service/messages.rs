//! Room and direct messages: sending (idempotent per `client_id`) and
//! reading history.

use crate::auth::{AuthUser, SignedToken};
use crate::clock::now_ms;
use crate::domain::{ClientId, Invalid, MessageBody, MessageId, is_valid_id};
use crate::error::{ApiError, Code};
use crate::event::Event;
use crate::message::{Change, DirectMessageRecord, EditState, RoomMessageRecord, Sent, UserLite};
use crate::metrics;
use crate::model::{
    Conversation, ConversationList, DirectMessage, DirectMessagePage, EditMessageRequest, Message,
    MessagePage, SendMessageRequest,
};
use crate::state::AppState;
use crate::store::messages::{ChangeRequest, Changed, Found, HistoryQuery, RoomSend};
use crate::store::pagination::PageRequest;
use crate::store::rate_limit::{Rate, SessionLimit};
use crate::store::typing::TypingIn;

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
async fn sender_rate_limited(
    state: &AppState,
    token: &SignedToken,
    ends_typing: Option<TypingIn<'_>>,
) -> Result<UserLite, ApiError> {
    let limits = &state.settings.limits;
    let rate = Rate::per_sec(limits.send_rate_per_sec, limits.send_burst);
    acting_user_limited(state, token, "send", rate, ends_typing).await
}

/// The caller, once their session is found live (401 otherwise) and their
/// rate for `action` allows one more (429 `rate_limited` otherwise): one
/// Redis call for both. The names come from the token when it carries them
/// (profiles never change), saving a look-up.
pub(super) async fn acting_user_rate_limited(
    state: &AppState,
    token: &SignedToken,
    action: &str,
    rate: Rate,
) -> Result<UserLite, ApiError> {
    acting_user_limited(state, token, action, rate, None).await
}

/// [`acting_user_rate_limited`], ending the user's typing throttle at
/// `ends_typing` in the same call when allowed (a message sent there).
async fn acting_user_limited(
    state: &AppState,
    SignedToken(auth): &SignedToken,
    action: &str,
    rate: Rate,
    ends_typing: Option<TypingIn<'_>>,
) -> Result<UserLite, ApiError> {
    let limit = state
        .store
        .rate_limit_in_session(&auth.user_id, &auth.session_id, action, rate, ends_typing)
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
    let sender = sender_rate_limited(state, token, Some(TypingIn::Room(room_id))).await?;
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    let record = RoomMessageRecord {
        id: MessageId::default(),
        room_id: room_id.to_owned(),
        sender,
        body: message.body.into_inner(),
        client_id: message.client_id.map(ClientId::into_inner),
        edit: EditState::default(),
    };
    match state.store.send_room_message(record).await? {
        RoomSend::NoRoom => Err(ApiError::room_not_found(room_id)),
        RoomSend::NotMember => Err(Code::NotAMember.into()),
        RoomSend::Sent(sent) => {
            let sent = *sent;
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
    let sender = sender_rate_limited(state, token, None).await?;
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
        edit: EditState::default(),
    };
    let sent = state.store.send_direct_message(record).await?;
    if let Sent::New(m) = &sent {
        metrics::inc(&metrics::DIRECT_MESSAGES);
        // The message ends the notice the recipient saw: the sender's next
        // one goes out at once. (The recipient is known only now, so this
        // is a call of its own; failing it only delays that notice.)
        let to = TypingIn::Conversation(&m.recipient.id);
        if let Err(e) = state.store.end_typing(&m.sender.id, to).await {
            tracing::debug!(error = %e, "could not end a typing throttle");
        }
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
    let conversations = conversations
        .into_iter()
        .map(|c| (c.other.clone(), c))
        .collect();
    let items = super::with_public_users(state, conversations)
        .await?
        .into_iter()
        .map(|(user, c)| Conversation {
            user,
            last_message: DirectMessage::from(c.last),
            last_read_id: c.last_read.map(|id| id.to_string()),
            unread_count: c.unread,
        })
        .collect();
    Ok(ConversationList { items, next_cursor })
}

/// An edit or a delete, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageChange {
    /// New text.
    Edit(MessageBody),
    /// Deletion: the message keeps its place, without its text.
    Delete,
}

impl TryFrom<EditMessageRequest> for MessageChange {
    type Error = Invalid;

    fn try_from(request: EditMessageRequest) -> Result<Self, Invalid> {
        Ok(Self::Edit(MessageBody::parse(request.body)?))
    }
}

/// Which message an edit or delete names: a well-formed id, or 404
/// `message_not_found`.
fn message_id(text: &str) -> Result<MessageId, ApiError> {
    MessageId::parse(text).ok_or_else(|| ApiError::message_not_found(text))
}

/// What a message becomes: its new state, or `None` when nothing is to be
/// done (deleting a deleted message). Checks, in order: the caller sent it
/// (403 `not_your_message`), it is not deleted (an edit of a deleted
/// message is 404 `message_not_found`: it is gone), and the edit window is
/// open (403 `edit_window_closed`).
fn changed_state(
    state: &AppState,
    change: &MessageChange,
    id: MessageId,
    sender_id: &str,
    current: &EditState,
    caller_id: &str,
) -> Result<Option<EditState>, ApiError> {
    if sender_id != caller_id {
        return Err(Code::NotYourMessage.into());
    }
    if current.deleted_ms.is_some() {
        return match change {
            MessageChange::Delete => Ok(None),
            MessageChange::Edit(_) => Err(ApiError::message_not_found(&id.to_string())),
        };
    }
    let now = now_ms();
    let window_ms = state.settings.limits.edit_window_secs.saturating_mul(1000);
    if now > id.ms.saturating_add(window_ms) {
        return Err(Code::EditWindowClosed.into());
    }
    Ok(Some(match change {
        MessageChange::Edit(body) => EditState {
            body: Some(body.as_str().to_owned()),
            edited_ms: Some(now),
            deleted_ms: None,
        },
        MessageChange::Delete => EditState {
            body: None,
            edited_ms: current.edited_ms,
            deleted_ms: Some(now),
        },
    }))
}

/// Edits or deletes one of the caller's room messages within 24 hours of
/// sending; members' streams get `message_edited` / `message_deleted`
/// (replayed on resume and offline). Returns the message as it is now.
/// Spends a send token (edits count as sends).
pub async fn change_room_message_rate_limited(
    state: &AppState,
    token: &SignedToken,
    room_id: &str,
    message_id: &str,
    change: MessageChange,
) -> Result<Message, ApiError> {
    let caller = sender_rate_limited(state, token, None).await?;
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    let id = self::message_id(message_id)?;
    let (mut message, number) = match state.store.room_message(room_id, &caller.id, id).await? {
        Found::NoRoom => return Err(ApiError::room_not_found(room_id)),
        Found::NotMember => return Err(Code::NotAMember.into()),
        Found::NoMessage => return Err(ApiError::message_not_found(message_id)),
        Found::Message(message, number) => (message, number),
    };
    let Some(new_state) = changed_state(
        state,
        &change,
        id,
        &message.sender.id,
        &message.edit,
        &caller.id,
    )?
    else {
        return Ok(Message::from(message));
    };
    message.edit = new_state.clone();
    let public = Message::from(message);
    let delete = change == MessageChange::Delete;
    let change_event = Change {
        id: MessageId::default(),
        message: public.clone(),
    };
    let event = if delete {
        Event::RoomMessageDeleted(change_event)
    } else {
        Event::RoomMessageEdited(change_event)
    };
    let request = ChangeRequest {
        message_id: id,
        number,
        delete,
        state: &new_state,
        event: &event,
    };
    match state
        .store
        .change_room_message(room_id, &caller.id, request)
        .await?
    {
        Changed::Done(_) => {
            metrics::inc(if delete {
                &metrics::MESSAGES_DELETED
            } else {
                &metrics::MESSAGES_EDITED
            });
            Ok(public)
        }
        Changed::NotMember => Err(Code::NotAMember.into()),
        // Deleted by a racing request: a delete is done, an edit too late.
        Changed::Deleted if delete => Ok(public),
        Changed::Deleted => Err(ApiError::message_not_found(message_id)),
    }
}

/// Edits or deletes one of the caller's direct messages within 24 hours of
/// sending; both users' streams get `message_edited` / `message_deleted`
/// (queued for the other user while offline). Returns the message as it is
/// now. Spends a send token.
pub async fn change_direct_message_rate_limited(
    state: &AppState,
    token: &SignedToken,
    username: &str,
    message_id: &str,
    change: MessageChange,
) -> Result<DirectMessage, ApiError> {
    let caller = sender_rate_limited(state, token, None).await?;
    let other = find_user(state, username).await?;
    let id = self::message_id(message_id)?;
    let (mut message, number) = match state
        .store
        .direct_message(&caller.id, &other.id, id)
        .await?
    {
        Found::Message(message, number) => (message, number),
        _ => return Err(ApiError::message_not_found(message_id)),
    };
    let Some(new_state) = changed_state(
        state,
        &change,
        id,
        &message.sender.id,
        &message.edit,
        &caller.id,
    )?
    else {
        return Ok(DirectMessage::from(message));
    };
    message.edit = new_state.clone();
    let public = DirectMessage::from(message.clone());
    let delete = change == MessageChange::Delete;
    let change_event = Change {
        id: MessageId::default(),
        message: public.clone(),
    };
    let event = if delete {
        Event::DirectMessageDeleted(change_event)
    } else {
        Event::DirectMessageEdited(change_event)
    };
    let request = ChangeRequest {
        message_id: id,
        number,
        delete,
        state: &new_state,
        event: &event,
    };
    match state.store.change_direct_message(&message, request).await? {
        Changed::Done(_) | Changed::NotMember => {
            metrics::inc(if delete {
                &metrics::MESSAGES_DELETED
            } else {
                &metrics::MESSAGES_EDITED
            });
            Ok(public)
        }
        Changed::Deleted if delete => Ok(public),
        Changed::Deleted => Err(ApiError::message_not_found(message_id)),
    }
}
