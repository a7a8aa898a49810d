//! Rooms: the room hash, its members, the room directory and stats.
//!
//! The "newest first" indexes (rooms by creation and by activity, members by
//! join time, a user's rooms) score entries by *recency*: milliseconds times
//! 1000, raised past the current top when several entries share a
//! millisecond, so they still list in the order they happened
//! (`scripts/touch_recency.lua`). Readers divide by 1000 for the time.
//!
//! The activity index orders rooms with messages by their last message, then
//! rooms without messages by creation, both newest first, in one sorted set:
//! a room without messages scores its creation recency minus
//! `NO_MESSAGE_OFFSET`, below every real recency, and its first message
//! raises it (`ZADD XX GT`).

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{AsyncCommands, Script};

use super::pagination::{IdPage, PageRequest};
use super::{Store, StoreError, StoreResult, field, number};
use crate::domain::MessageId;

/// Pushes rooms without messages below every room with one in the activity
/// index: 2^52, more than any recency until the year 2112, and the
/// difference stays exact in a double.
const NO_MESSAGE_OFFSET: i64 = 1 << 52;

/// Recency scores are milliseconds times this.
pub const RECENCY_PER_MS: i64 = 1000;

static CLAIM_ROOM_NAME: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/claim_room_name.lua")));
static JOIN_ROOM: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/join_room.lua")));
static LEAVE_ROOM: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/leave_room.lua")));
pub(super) static TOUCH_RECENCY: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/touch_recency.lua")));

/// A room as stored, with its member count.
#[derive(Debug, Clone)]
pub struct RoomRecord {
    /// Random id.
    pub id: String,
    /// Unique ignoring case.
    pub name: String,
    /// Optional description.
    pub topic: Option<String>,
    /// Id of the user who created it.
    pub created_by: String,
    /// Creation time, ms.
    pub created_ms: u64,
    /// Current members.
    pub member_count: u64,
    /// Messages ever sent (history may hold fewer once capped).
    pub message_count: u64,
    /// Time of the last message, ms; `None` before the first.
    pub last_activity_ms: Option<u64>,
}

/// A new room to store.
#[derive(Debug)]
pub struct NewRoom<'a> {
    /// Random id.
    pub id: &'a str,
    /// Display form of the name.
    pub name: &'a str,
    /// Lower-cased name, for uniqueness.
    pub canonical_name: &'a str,
    /// Optional topic.
    pub topic: Option<&'a str>,
    /// Creator's user id; becomes the first member.
    pub created_by: &'a str,
    /// Creation time, ms.
    pub created_ms: u64,
}

/// How to order the room directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomSort {
    /// Latest message first, then rooms without messages, newest first.
    Active,
    /// Newest created first.
    Recent,
}

/// A room's message statistics.
#[derive(Debug, Clone)]
pub struct RoomStats {
    /// Messages ever sent.
    pub message_count: u64,
    /// Up to 10 (user id, messages sent), most first.
    pub top_senders: Vec<(String, u64)>,
}

impl Store {
    /// Creates a room with its creator as the first member. Returns `false`
    /// (and stores nothing) when the name is taken, ignoring case.
    ///
    /// The room and its first member are written first, then the name is
    /// claimed and the room listed in one script; a crash in between leaves
    /// an unlisted room that nobody knows the id of, never a taken name with
    /// no room.
    #[tracing::instrument(skip_all, fields(room_id = %room.id))]
    pub async fn create_room(&self, room: &NewRoom<'_>) -> StoreResult<bool> {
        let k = &self.keys;
        let mut conn = self.conn();
        let created = room.created_ms.to_string();
        let mut fields = vec![
            ("id", room.id),
            ("name", room.name),
            ("created_by", room.created_by),
            ("created_at", created.as_str()),
            ("message_count", "0"),
        ];
        if let Some(topic) = room.topic {
            fields.push(("topic", topic));
        }
        self.run(conn.hset_multiple::<_, _, _, ()>(k.room(room.id), &fields))
            .await?;
        self.join_room(room.id, room.created_by, room.created_ms)
            .await?;
        let claimed: i64 = self
            .run(
                CLAIM_ROOM_NAME
                    .key(k.room_name(room.canonical_name))
                    .key(k.rooms_by_created())
                    .key(k.rooms_by_activity())
                    .arg(room.id)
                    .arg(room.created_ms)
                    .arg(NO_MESSAGE_OFFSET)
                    .invoke_async(&mut conn),
            )
            .await?;
        if claimed == 1 {
            return Ok(true);
        }
        let mut undo = redis::pipe();
        undo.del(&[k.room(room.id), k.room_members(room.id)])
            .ignore()
            .zrem(k.user_rooms(room.created_by), room.id)
            .ignore();
        self.run(undo.query_async::<()>(&mut conn)).await?;
        Ok(false)
    }

    /// Puts `member` into a "newest first" index at the recency of `ms`
    /// (see the module docs); `mode` is `GT`, `XX` or `NX` as in
    /// `scripts/touch_recency.lua`.
    pub(super) async fn touch_recency(
        &self,
        key: &str,
        ms: u64,
        member: &str,
        mode: &str,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(
            TOUCH_RECENCY
                .key(key)
                .arg(ms)
                .arg(member)
                .arg(mode)
                .invoke_async::<Option<f64>>(&mut conn),
        )
        .await
        .map(|_| ())
    }

    /// The room with this id.
    pub async fn room(&self, room_id: &str) -> StoreResult<Option<RoomRecord>> {
        Ok(self.rooms(&[room_id.to_owned()]).await?.pop().flatten())
    }

    /// Rooms by id, in the order asked; `None` where a room does not exist.
    /// One round trip.
    pub async fn rooms(&self, ids: &[String]) -> StoreResult<Vec<Option<RoomRecord>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.keys.room(id))
                .zcard(self.keys.room_members(id));
        }
        let mut conn = self.conn();
        let replies: Vec<(HashMap<String, String>, u64)> = {
            let flat: Vec<redis::Value> = self.run(pipe.query_async(&mut conn)).await?;
            let mut out = Vec::with_capacity(ids.len());
            let mut it = flat.into_iter();
            while let (Some(hash), Some(count)) = (it.next(), it.next()) {
                out.push((
                    redis::from_redis_value(hash)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    redis::from_redis_value(count)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                ));
            }
            out
        };
        replies
            .into_iter()
            .map(|(hash, member_count)| {
                if hash.is_empty() {
                    return Ok(None);
                }
                Ok(Some(RoomRecord {
                    id: field(&hash, "id")?.to_owned(),
                    name: field(&hash, "name")?.to_owned(),
                    topic: hash.get("topic").cloned(),
                    created_by: field(&hash, "created_by")?.to_owned(),
                    created_ms: number(field(&hash, "created_at")?)?,
                    member_count,
                    message_count: hash.get("message_count").map_or(Ok(0), |v| number(v))?,
                    last_activity_ms: hash
                        .get("last_message_id")
                        .and_then(|id| MessageId::parse(id))
                        .map(|id| id.ms),
                }))
            })
            .collect()
    }

    /// A page of the room directory.
    pub async fn list_rooms(
        &self,
        sort: RoomSort,
        page: &PageRequest,
    ) -> StoreResult<(Vec<RoomRecord>, Option<String>)> {
        let key = match sort {
            RoomSort::Active => self.keys.rooms_by_activity(),
            RoomSort::Recent => self.keys.rooms_by_created(),
        };
        let IdPage { items, next_cursor } = self.zset_page(&key, page, None).await?;
        let ids: Vec<String> = items.into_iter().map(|(id, _)| id).collect();
        let rooms = self.rooms(&ids).await?.into_iter().flatten().collect();
        Ok((rooms, next_cursor))
    }

    /// Makes `user_id` a member. `None` when the room does not exist,
    /// otherwise whether they are a new member.
    #[tracing::instrument(skip_all, fields(room_id, user_id))]
    pub async fn join_room(
        &self,
        room_id: &str,
        user_id: &str,
        now_ms: u64,
    ) -> StoreResult<Option<bool>> {
        let mut conn = self.conn();
        let added: i64 = self
            .run(
                JOIN_ROOM
                    .key(self.keys.room(room_id))
                    .key(self.keys.room_members(room_id))
                    .arg(user_id)
                    .arg(now_ms)
                    .invoke_async(&mut conn),
            )
            .await?;
        if added < 0 {
            return Ok(None);
        }
        // Also on a repeated join, so a join whose index write failed heals.
        self.touch_recency(&self.keys.user_rooms(user_id), now_ms, room_id, "NX")
            .await?;
        Ok(Some(added == 1))
    }

    /// Removes `user_id` from a room. `None` when the room does not exist,
    /// otherwise whether they were a member.
    #[tracing::instrument(skip_all, fields(room_id, user_id))]
    pub async fn leave_room(&self, room_id: &str, user_id: &str) -> StoreResult<Option<bool>> {
        let mut conn = self.conn();
        let removed: i64 = self
            .run(
                LEAVE_ROOM
                    .key(self.keys.room(room_id))
                    .key(self.keys.room_members(room_id))
                    .arg(user_id)
                    .invoke_async(&mut conn),
            )
            .await?;
        if removed < 0 {
            return Ok(None);
        }
        self.run(conn.zrem::<_, _, ()>(self.keys.user_rooms(user_id), room_id))
            .await?;
        Ok(Some(removed == 1))
    }

    /// How many rooms `user_id` belongs to.
    pub async fn user_room_count(&self, user_id: &str) -> StoreResult<u64> {
        let mut conn = self.conn();
        self.run(conn.zcard(self.keys.user_rooms(user_id))).await
    }

    /// Whether `user_id` belongs to the room.
    pub async fn is_member(&self, room_id: &str, user_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn();
        let score: Option<f64> = self
            .run(conn.zscore(self.keys.room_members(room_id), user_id))
            .await?;
        Ok(score.is_some())
    }

    /// A page of a room's members (user id, join recency), latest joined
    /// first; the join time is the recency divided by [`RECENCY_PER_MS`].
    pub async fn room_members(&self, room_id: &str, page: &PageRequest) -> StoreResult<IdPage> {
        self.zset_page(&self.keys.room_members(room_id), page, None)
            .await
    }

    /// A page of the rooms `user_id` belongs to, latest joined first.
    pub async fn user_rooms(
        &self,
        user_id: &str,
        page: &PageRequest,
    ) -> StoreResult<(Vec<RoomRecord>, Option<String>)> {
        let IdPage { items, next_cursor } = self
            .zset_page(&self.keys.user_rooms(user_id), page, None)
            .await?;
        let ids: Vec<String> = items.into_iter().map(|(id, _)| id).collect();
        let rooms = self.rooms(&ids).await?.into_iter().flatten().collect();
        Ok((rooms, next_cursor))
    }

    /// Message count and top senders of a room.
    pub async fn room_stats(&self, room_id: &str) -> StoreResult<RoomStats> {
        let mut pipe = redis::pipe();
        pipe.hget(self.keys.room(room_id), "message_count")
            .cmd("ZRANGE")
            .arg(self.keys.room_senders(room_id))
            .arg(0)
            .arg(9)
            .arg("REV")
            .arg("WITHSCORES");
        let mut conn = self.conn();
        let (count, top): (Option<u64>, Vec<(String, f64)>) =
            self.run(pipe.query_async(&mut conn)).await?;
        Ok(RoomStats {
            message_count: count.unwrap_or(0),
            top_senders: top.into_iter().map(|(id, n)| (id, n as u64)).collect(),
        })
    }
}
