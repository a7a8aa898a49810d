//! Rooms and membership. Rooms are public: anyone signed in may read a room
//! and its members; only members read history, stats or send.

use std::collections::HashMap;

use crate::auth::AuthUser;
use crate::clock::{now_ms, rfc3339_ms};
use crate::domain::{RoomName, Topic, is_valid_id, new_id};
use crate::error::{ApiError, Code};
use crate::message::UserLite;
use crate::model::{Member, MemberList, PublicUser, Room, RoomList, RoomStats, TopSender};
use crate::state::AppState;
use crate::store::pagination::PageRequest;
use crate::store::rooms::{NewRoom, RoomSort};

use super::{find_room, find_room_as_member};

/// A new room, checked.
pub struct NewRoomInput {
    /// Its name.
    pub name: RoomName,
    /// Its topic, if any.
    pub topic: Option<Topic>,
}

/// Creates a room with the caller as its first member; their open streams
/// carry it from then on.
pub async fn create(
    state: &AppState,
    auth: &AuthUser,
    input: NewRoomInput,
) -> Result<Room, ApiError> {
    check_room_cap(state, &auth.user_id).await?;
    let id = new_id();
    let created = state
        .store
        .create_room(&NewRoom {
            id: &id,
            name: input.name.as_str(),
            canonical_name: &input.name.canonical(),
            topic: input.topic.as_ref().map(Topic::as_str),
            created_by: &auth.user_id,
            created_ms: now_ms(),
        })
        .await?
        .ok_or_else(|| {
            ApiError::new(
                Code::RoomNameTaken,
                format!("a room called `{}` already exists", input.name.as_str()),
            )
        })?;
    state
        .realtime
        .member_joined(&auth.user_id, &id, None)
        .await?;
    Ok(created.into())
}

/// A page of the room directory.
pub async fn list(
    state: &AppState,
    sort: RoomSort,
    page: &PageRequest,
) -> Result<RoomList, ApiError> {
    let (rooms, next_cursor) = state.store.list_rooms(sort, page).await?;
    Ok(RoomList {
        items: rooms.into_iter().map(Room::from).collect(),
        next_cursor,
    })
}

/// A page of the caller's rooms, latest joined first.
pub async fn list_mine(
    state: &AppState,
    auth: &AuthUser,
    page: &PageRequest,
) -> Result<RoomList, ApiError> {
    let (rooms, next_cursor) = state.store.user_rooms(&auth.user_id, page).await?;
    Ok(RoomList {
        items: rooms.into_iter().map(Room::from).collect(),
        next_cursor,
    })
}

/// The room with this id, or 404 `room_not_found`.
pub async fn get(state: &AppState, room_id: &str) -> Result<Room, ApiError> {
    Ok(find_room(state, room_id).await?.into())
}

/// Makes the caller a member (idempotent). Their streams here carry the
/// room before this returns, streams elsewhere within moments; a new member
/// is announced with `member_joined`.
pub async fn join(state: &AppState, auth: &AuthUser, room_id: &str) -> Result<Room, ApiError> {
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    let membership = state.store.membership(room_id, &auth.user_id).await?;
    let cap = state.settings.limits.max_rooms_per_user;
    if !membership.is_member && membership.room_count >= u64::from(cap) {
        // A missing room is still 404, whatever the cap. (A soft cap:
        // concurrent joins may pass it by a few.)
        find_room(state, room_id).await?;
        return Err(ApiError::too_many_rooms(cap));
    }
    let joined = state
        .store
        .join_room(room_id, &auth.user_id, now_ms())
        .await?
        .ok_or_else(|| ApiError::room_not_found(room_id))?;
    let announce = announcement(state, auth, joined.is_new).await?;
    state
        .realtime
        .member_joined(&auth.user_id, room_id, announce)
        .await?;
    Ok(joined.room.into())
}

/// Removes the caller from a room (idempotent); their streams stop carrying
/// it, and a member who left is announced with `member_left`.
pub async fn leave(state: &AppState, auth: &AuthUser, room_id: &str) -> Result<(), ApiError> {
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    let was_member = state
        .store
        .leave_room(room_id, &auth.user_id)
        .await?
        .ok_or_else(|| ApiError::room_not_found(room_id))?;
    let announce = announcement(state, auth, was_member).await?;
    state
        .realtime
        .member_left(&auth.user_id, room_id, announce)
        .await?;
    Ok(())
}

/// A page of a room's members, latest joined first.
pub async fn members(
    state: &AppState,
    room_id: &str,
    page: &PageRequest,
) -> Result<MemberList, ApiError> {
    find_room(state, room_id).await?;
    let (members, next_cursor) = state.store.room_members(room_id, page).await?;
    let items = super::with_public_users(state, members)
        .await?
        .into_iter()
        .map(|(user, joined_ms)| Member {
            user,
            joined_at: rfc3339_ms(joined_ms),
        })
        .collect();
    Ok(MemberList { items, next_cursor })
}

/// A room's message count and its 10 most active senders; members only.
pub async fn stats(
    state: &AppState,
    auth: &AuthUser,
    room_id: &str,
) -> Result<RoomStats, ApiError> {
    find_room_as_member(state, room_id, &auth.user_id).await?;
    let stats = state.store.room_stats(room_id).await?;
    let ids: Vec<String> = stats.top_senders.iter().map(|(id, _)| id.clone()).collect();
    let users: HashMap<String, UserLite> = state
        .store
        .public_users(&ids)
        .await?
        .into_iter()
        .flatten()
        .map(|u| (u.id.clone(), UserLite::from(u)))
        .collect();
    let top_senders = stats
        .top_senders
        .into_iter()
        .filter_map(|(id, count)| {
            Some(TopSender {
                user: users.get(&id)?.clone(),
                count,
            })
        })
        .collect();
    Ok(RoomStats {
        message_count: stats.message_count,
        top_senders,
    })
}

/// Refuses a user who already belongs to the maximum number of rooms (a
/// soft cap: concurrent joins may pass it by a few).
async fn check_room_cap(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let cap = state.settings.limits.max_rooms_per_user;
    if state.store.user_room_count(user_id).await? >= u64::from(cap) {
        return Err(ApiError::too_many_rooms(cap));
    }
    Ok(())
}

/// The caller as others see them, for a member event when their membership
/// `changed` (a repeated join or leave announces nothing).
async fn announcement(
    state: &AppState,
    auth: &AuthUser,
    changed: bool,
) -> Result<Option<PublicUser>, ApiError> {
    if !changed {
        return Ok(None);
    }
    Ok(state
        .store
        .public_users(std::slice::from_ref(&auth.user_id))
        .await?
        .pop()
        .flatten()
        .map(PublicUser::from))
}
