//! Read markers and unread counts. A member's marker in a room lives in the
//! room's slot (`{r:<id>}:read`), a user's marker in a conversation in the
//! conversation's (`{d:<a>:<b>}:meta`), beside the counters that make an
//! unread count a few sorted-set look-ups however busy the room: messages
//! are numbered as they are sent, a marker keeps its message's number, and
//! the unread count is the messages numbered after it less the reader's own
//! and the deleted ones there (`scripts/room_unread.lua`).

use std::sync::LazyLock;

use std::collections::HashMap;

use redis::Script;

use super::rooms::RoomRecord;
use super::{ScriptCall, Store, StoreError, StoreResult};
use crate::domain::MessageId;

static SET_ROOM_READ: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/set_room_read.lua")));
static SET_DIRECT_READ: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/set_direct_read.lua")));
static ROOM_UNREAD: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/room_unread.lua")));

/// What a marker update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerMove {
    /// The room does not exist (rooms only).
    NoRoom,
    /// The caller is not a member (rooms only).
    NotMember,
    /// The message is not one of this room or conversation.
    NotHere,
    /// The marker already stood there or further.
    Unchanged,
    /// The marker moved forward to the message.
    Moved,
}

/// A reader's state in one room or conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadState {
    /// Their marker, if they set one.
    pub last_read: Option<MessageId>,
    /// Messages from others after it, not deleted, at most 100.
    pub unread: u64,
}

impl Store {
    /// Moves `user_id`'s marker in a room forward to `message_id`.
    pub async fn set_room_read(
        &self,
        room_id: &str,
        user_id: &str,
        message_id: MessageId,
    ) -> StoreResult<MarkerMove> {
        let k = &self.keys;
        let reply: String = self
            .call(
                ScriptCall::new(&SET_ROOM_READ)
                    .key(k.room(room_id))
                    .key(k.room_members(room_id))
                    .key(k.room_messages(room_id))
                    .key(k.room_read(room_id))
                    .arg(user_id)
                    .arg(message_id.to_string()),
            )
            .await?;
        marker_move(&reply)
    }

    /// Moves `user_id`'s marker in their conversation with `other_id`
    /// forward to `message_id`.
    pub async fn set_direct_read(
        &self,
        user_id: &str,
        other_id: &str,
        message_id: MessageId,
    ) -> StoreResult<MarkerMove> {
        let k = &self.keys;
        let reply: String = self
            .call(
                ScriptCall::new(&SET_DIRECT_READ)
                    .key(k.direct_messages(user_id, other_id))
                    .key(k.direct_meta(user_id, other_id))
                    .arg(user_id)
                    .arg(other_id)
                    .arg(message_id.to_string()),
            )
            .await?;
        marker_move(&reply)
    }

    /// Each of `room_ids` with `user_id`'s read state in it, in order
    /// (`None` where a room does not exist): one script per room, all sent
    /// together (pipelined on one connection, or to each room's node on a
    /// cluster), so a hundred rooms cost one round trip.
    pub async fn rooms_with_read_state(
        &self,
        user_id: &str,
        room_ids: &[String],
    ) -> StoreResult<Vec<Option<(RoomRecord, ReadState)>>> {
        let k = &self.keys;
        let calls = room_ids.iter().map(|room| async move {
            let (fields, members, marker, unread): (HashMap<String, String>, u64, String, u64) =
                self.call(
                    ScriptCall::new(&ROOM_UNREAD)
                        .key(k.room(room))
                        .key(k.room_members(room))
                        .key(k.room_read(room))
                        .key(k.room_own(room, user_id))
                        .key(k.room_deleted(room))
                        .arg(user_id),
                )
                .await?;
            let Some(record) = RoomRecord::from_hash(&fields, members)? else {
                return Ok::<_, StoreError>(None);
            };
            Ok(Some((
                record,
                ReadState {
                    last_read: MessageId::parse(&marker),
                    unread,
                },
            )))
        });
        futures_util::future::try_join_all(calls).await
    }
}

fn marker_move(reply: &str) -> StoreResult<MarkerMove> {
    Ok(match reply {
        "no_room" => MarkerMove::NoRoom,
        "not_member" => MarkerMove::NotMember,
        "not_in_room" | "not_in_conversation" => MarkerMove::NotHere,
        "unchanged" => MarkerMove::Unchanged,
        "moved" => MarkerMove::Moved,
        other => return Err(StoreError::Corrupt(format!("read script said {other}"))),
    })
}
