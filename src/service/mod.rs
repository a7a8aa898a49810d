//! The use cases: one function per thing a client can do (register, join a
//! room, send a message, open a stream...). This is the only layer that
//! orchestrates the store, realtime delivery and rate limits; handlers parse
//! their input, call exactly one function here and shape the response.
//!
//! Functions take input already parsed into domain types and answer with
//! the public objects of [`crate::model`] or an [`ApiError`]. A function
//! that spends a rate-limit token says so in its name (`_rate_limited`):
//! calling it counts against the caller's limit even when it then fails.

pub mod accounts;
pub mod admin;
pub mod messages;
pub mod operations;
pub mod read_state;
pub mod realtime;
pub mod rooms;
pub mod users;
pub mod webhooks;

use crate::domain::is_valid_id;
use crate::error::{ApiError, Code};
use crate::metrics;
use crate::model::PublicUser;
use crate::state::AppState;
use crate::store::rate_limit::{Limited, Rate};
use crate::store::rooms::RoomRecord;
use crate::store::users::PublicUserRecord;

/// Counts one action against a rate limit; 429 `rate_limited` (with
/// `Retry-After`) when it is over, before anything is stored.
async fn spend_rate_limit_token(
    state: &AppState,
    what: Limited<'_>,
    rate: Rate,
) -> Result<(), ApiError> {
    match state.store.rate_limit(what, rate).await? {
        None => Ok(()),
        Some(wait) => Err(rate_limited(wait)),
    }
}

/// `429 rate_limited`, retry after `wait` (rounded up to whole seconds).
fn rate_limited(wait: std::time::Duration) -> ApiError {
    metrics::inc(&metrics::RATE_LIMITED);
    ApiError::retry_after(Code::RateLimited, wait.as_secs() + 1)
}

/// The room with this id, or 404 `room_not_found`.
async fn find_room(state: &AppState, room_id: &str) -> Result<RoomRecord, ApiError> {
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    state
        .store
        .room(room_id)
        .await?
        .ok_or_else(|| ApiError::room_not_found(room_id))
}

/// The room with this id if the caller belongs to it: 404 `room_not_found`,
/// then 403 `not_a_member`.
async fn find_room_as_member(
    state: &AppState,
    room_id: &str,
    user_id: &str,
) -> Result<RoomRecord, ApiError> {
    let room = find_room(state, room_id).await?;
    if !state.store.is_member(room_id, user_id).await? {
        return Err(Code::NotAMember.into());
    }
    Ok(room)
}

/// The user with this username (any case), or 404 `user_not_found`.
async fn find_user(state: &AppState, username: &str) -> Result<PublicUserRecord, ApiError> {
    let not_found = || ApiError::user_not_found(username);
    let parsed = crate::domain::Username::parse(username).map_err(|_| not_found())?;
    let id = state
        .store
        .user_id_by_username(&parsed.canonical())
        .await?
        .ok_or_else(not_found)?;
    state
        .store
        .public_users(std::slice::from_ref(&id))
        .await?
        .pop()
        .flatten()
        .ok_or_else(not_found)
}

/// Pairs each item with its user's public view (presence included), in
/// order, leaving out items whose user no longer exists. One round trip.
async fn with_public_users<T>(
    state: &AppState,
    items: Vec<(String, T)>,
) -> Result<Vec<(PublicUser, T)>, ApiError> {
    let ids: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
    let users = state.store.public_users(&ids).await?;
    Ok(items
        .into_iter()
        .zip(users)
        .filter_map(|((_, item), user)| Some((PublicUser::from(user?), item)))
        .collect())
}
