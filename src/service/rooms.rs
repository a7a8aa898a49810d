//! Rooms and membership. Rooms are public: anyone signed in may read a room
//! and its members; only members read history, stats or send.

use std::collections::HashMap;

use crate::auth::AuthUser;
use crate::clock::{now_ms, rfc3339_ms};
use crate::domain::{RoomName, Topic, is_valid_id, look_alike_keys, new_id};
use crate::error::{ApiError, Code};
use crate::message::UserLite;
use crate::model::{
    Member, MemberList, MyRoom, MyRoomList, PublicUser, Room, RoomList, RoomStats, TopSender,
};
use crate::state::AppState;
use crate::store::pagination::PageRequest;
use crate::store::rooms::{NewRoom, RoomSort};
use crate::store::{Store, StoreError};

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
            look_alike_keys: &input.name.look_alike_keys(),
            topic: input.topic.as_ref().map(Topic::as_str),
            created_by: &auth.user_id,
            created_ms: now_ms(),
        })
        .await?
        .ok_or_else(|| {
            ApiError::new(
                Code::RoomNameTaken,
                format!(
                    "a room called `{}`, or one that looks like it, already exists",
                    input.name.as_str()
                ),
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

/// A page of the caller's rooms, latest joined first, with their read
/// marker and unread count in each.
pub async fn list_mine(
    state: &AppState,
    auth: &AuthUser,
    page: &PageRequest,
) -> Result<MyRoomList, ApiError> {
    let (rooms, next_cursor) = state
        .store
        .user_rooms_with_read_state(&auth.user_id, page)
        .await?;
    Ok(MyRoomList {
        items: rooms
            .into_iter()
            .map(|(room, read)| MyRoom {
                room: room.into(),
                last_read_id: read.last_read.map(|id| id.to_string()),
                unread_count: read.unread,
            })
            .collect(),
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

/// Rooms indexed per round of [`index_look_alikes`].
const INDEX_BATCH: usize = 200;

/// Gives the rooms created before look-alike keys existed (and any that an
/// instance of an older version created since) their look-alike keys, so
/// new names that look like theirs are refused too. Runs at start-up, in the
/// background: until it is done a look-alike of an old room may still be
/// created, while names equal ignoring case are refused throughout (every
/// room has its lower-cased key). Walks the rooms oldest first from where
/// the last run stopped (recorded in Redis with the Unicode version of the
/// skeleton data: a new version walks them all again); a key two old rooms
/// share stays with the older. Several instances may run it at once. Waits
/// and retries while Redis is unavailable.
pub async fn index_look_alikes(store: Store) {
    let version = {
        let (major, minor, update) = unicode_security::UNICODE_VERSION;
        format!("{major}.{minor}.{update}")
    };
    let mut delay = std::time::Duration::from_secs(1);
    loop {
        match index_look_alikes_once(&store, &version).await {
            Ok(rooms) => {
                if rooms > 0 {
                    tracing::info!(rooms, "gave existing rooms their look-alike keys");
                }
                return;
            }
            Err(StoreError::Unavailable(e)) => {
                tracing::debug!(error = %e, "look-alike keys wait for Redis");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(30));
            }
            Err(e) => {
                tracing::error!(error = %e, "could not give existing rooms their look-alike keys");
                return;
            }
        }
    }
}

/// One walk of [`index_look_alikes`] from where the last stopped; how many
/// rooms it indexed.
async fn index_look_alikes_once(store: &Store, version: &str) -> Result<usize, StoreError> {
    let mut after = store.look_alike_progress().await?.and_then(|p| {
        let (v, recency) = p.split_once(' ')?;
        (v == version)
            .then(|| recency.parse::<i64>().ok())
            .flatten()
    });
    let mut indexed = 0;
    loop {
        let (rooms, last) = store.rooms_created_after(after, INDEX_BATCH).await?;
        let Some(last) = last else {
            return Ok(indexed);
        };
        let keys: Vec<(String, String)> = rooms
            .iter()
            .flat_map(|room| {
                look_alike_keys(&room.name)
                    .into_iter()
                    .map(|key| (key, room.id.clone()))
            })
            .collect();
        store
            .index_look_alikes(&keys, &format!("{version} {last}"))
            .await?;
        indexed += rooms.len();
        after = Some(last);
    }
}
