//! Read markers and typing notices: the small signals chat apps show beside
//! messages. Markers are stored (and synced to the user's streams with a
//! `read` event); typing notices are only forwarded.

use crate::auth::{AuthUser, SignedToken};
use crate::domain::{MessageId, is_valid_id};
use crate::error::{ApiError, Code};
use crate::event::Event;
use crate::metrics;
use crate::model::{ReadEvent, TypingEvent};
use crate::state::AppState;
use crate::store::rate_limit::Rate;
use crate::store::read_state::MarkerMove;
use crate::store::typing::TypingIn;

use super::find_user;
use super::messages::acting_user_rate_limited;

/// 400 for a marker id that names no message of the room or conversation.
fn not_here(what: &str) -> ApiError {
    ApiError::validation(
        "message_id",
        format!("is not the id of a message of this {what}"),
    )
}

/// Moves the caller's read marker in a room forward to `message_id` (an
/// older one changes nothing); when it moves, the caller's streams get a
/// `read` event so their other devices follow.
pub async fn mark_room_read(
    state: &AppState,
    auth: &AuthUser,
    room_id: &str,
    message_id: MessageId,
) -> Result<(), ApiError> {
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    let moved = state
        .store
        .set_room_read(room_id, &auth.user_id, message_id)
        .await?;
    match moved {
        MarkerMove::NoRoom => Err(ApiError::room_not_found(room_id)),
        MarkerMove::NotMember => Err(Code::NotAMember.into()),
        MarkerMove::NotHere => Err(not_here("room")),
        MarkerMove::Unchanged => Ok(()),
        MarkerMove::Moved => {
            let event = Event::Read(ReadEvent {
                room_id: Some(room_id.to_owned()),
                username: None,
                message_id: message_id.to_string(),
            });
            Ok(state.store.publish_to_user(&auth.user_id, &event).await?)
        }
    }
}

/// Moves the caller's read marker in their conversation with `username`
/// forward, like [`mark_room_read`].
pub async fn mark_conversation_read(
    state: &AppState,
    auth: &AuthUser,
    username: &str,
    message_id: MessageId,
) -> Result<(), ApiError> {
    let other = find_user(state, username).await?;
    let moved = state
        .store
        .set_direct_read(&auth.user_id, &other.id, message_id)
        .await?;
    match moved {
        MarkerMove::NoRoom | MarkerMove::NotMember | MarkerMove::NotHere => {
            Err(not_here("conversation"))
        }
        MarkerMove::Unchanged => Ok(()),
        MarkerMove::Moved => {
            let event = Event::Read(ReadEvent {
                room_id: None,
                username: Some(other.username),
                message_id: message_id.to_string(),
            });
            Ok(state.store.publish_to_user(&auth.user_id, &event).await?)
        }
    }
}

/// The typing rate: `limits.typing_per_min`, in a burst of as many.
fn typing_rate(state: &AppState) -> Rate {
    let per_min = state.settings.limits.typing_per_min;
    Rate::per_min(per_min, per_min)
}

/// The caller is typing in a room they belong to: the other members'
/// streams get `typing` (at most one per caller and room every 2 s goes
/// out; never stored or queued). Spends a typing token.
pub async fn room_typing_rate_limited(
    state: &AppState,
    token: &SignedToken,
    room_id: &str,
) -> Result<(), ApiError> {
    let user = acting_user_rate_limited(state, token, "typing", typing_rate(state)).await?;
    super::find_room_as_member(state, room_id, &user.id).await?;
    let event = Event::Typing(TypingEvent {
        room_id: Some(room_id.to_owned()),
        user: user.clone(),
    });
    if state
        .store
        .forward_typing(&user.id, TypingIn::Room(room_id), &event)
        .await?
    {
        metrics::inc(&metrics::TYPING_FORWARDED);
    }
    Ok(())
}

/// The caller is typing to a user: that user's streams get `typing`.
/// Spends a typing token.
pub async fn conversation_typing_rate_limited(
    state: &AppState,
    token: &SignedToken,
    username: &str,
) -> Result<(), ApiError> {
    let user = acting_user_rate_limited(state, token, "typing", typing_rate(state)).await?;
    let other = find_user(state, username).await?;
    if other.id == user.id {
        return Err(ApiError::validation(
            "username",
            "you cannot send typing notices to yourself",
        ));
    }
    let event = Event::Typing(TypingEvent {
        room_id: None,
        user: user.clone(),
    });
    if state
        .store
        .forward_typing(&user.id, TypingIn::Conversation(&other.id), &event)
        .await?
    {
        metrics::inc(&metrics::TYPING_FORWARDED);
    }
    Ok(())
}
