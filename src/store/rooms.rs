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
use super::read_state::ReadState;
use super::{ScriptCall, Store, StoreResult, decode, field, number};
use crate::clock::rfc3339_ms;
use crate::domain::MessageId;
use crate::model::Room;

/// Pushes rooms without messages below every room with one in the activity
/// index: 2^52, more than any recency until the year 2112, and the
/// difference stays exact in a double.
const NO_MESSAGE_OFFSET: i64 = 1 << 52;

/// Recency scores are milliseconds times this.
pub(super) const RECENCY_PER_MS: i64 = 1000;

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
    /// Members now (the members set's size, read with the hash).
    pub member_count: u64,
    /// Messages ever sent (history may hold fewer once capped).
    pub message_count: u64,
    /// Time of the last message, ms; `None` before the first.
    pub last_activity_ms: Option<u64>,
}

impl From<RoomRecord> for Room {
    fn from(r: RoomRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            topic: r.topic,
            created_by: r.created_by,
            created_at: rfc3339_ms(r.created_ms),
            member_count: r.member_count,
            message_count: r.message_count,
            last_activity_at: r.last_activity_ms.map(rfc3339_ms),
        }
    }
}

impl RoomRecord {
    /// A room from its hash's fields and its member count; `None` for the
    /// empty hash of a room that does not exist.
    pub(super) fn from_hash(
        hash: &HashMap<String, String>,
        member_count: u64,
    ) -> StoreResult<Option<Self>> {
        if hash.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            id: field(hash, "id")?.to_owned(),
            name: field(hash, "name")?.to_owned(),
            topic: hash.get("topic").cloned(),
            created_by: field(hash, "created_by")?.to_owned(),
            created_ms: number(field(hash, "created_at")?)?,
            member_count,
            message_count: hash.get("message_count").map_or(Ok(0), |v| number(v))?,
            last_activity_ms: hash
                .get("last_message_id")
                .and_then(|id| MessageId::parse(id))
                .map(|id| id.ms),
        }))
    }
}

/// A new room to store.
#[derive(Debug)]
pub struct NewRoom<'a> {
    /// Random id.
    pub id: &'a str,
    /// Display form of the name.
    pub name: &'a str,
    /// Lower-cased name, for uniqueness ignoring case.
    pub canonical_name: &'a str,
    /// Look-alike keys of the name (`domain::look_alike_keys`), for
    /// uniqueness by appearance.
    pub look_alike_keys: &'a [String],
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

/// A room's message statistics, as stored.
#[derive(Debug, Clone)]
pub struct RoomStatsRecord {
    /// Messages ever sent.
    pub message_count: u64,
    /// Up to 10 (user id, messages sent), most first.
    pub top_senders: Vec<(String, u64)>,
}

/// A user's standing towards a room, read before they join it.
#[derive(Debug, Clone, Copy)]
pub struct Membership {
    /// Whether they are a member already.
    pub is_member: bool,
    /// How many rooms they belong to.
    pub room_count: u64,
}

/// What joining did.
#[derive(Debug, Clone)]
pub struct Joined {
    /// Whether the user is a new member (false: they already were one).
    pub is_new: bool,
    /// The room after the join.
    pub room: RoomRecord,
}

impl Store {
    /// Creates a room with its creator as the first member. Returns `None`
    /// (and stores nothing) when the name is taken: its lower-cased form or
    /// one of its look-alike keys belongs to another room.
    ///
    /// The room and its first member are written first, then the name is
    /// claimed and the room listed in one script; a crash in between leaves
    /// an unlisted room that nobody knows the id of, never a taken name with
    /// no room.
    #[tracing::instrument(skip_all, fields(room_id = %room.id))]
    pub async fn create_room(&self, room: &NewRoom<'_>) -> StoreResult<Option<RoomRecord>> {
        let k = &self.keys;
        let mut conn = self.conn().await?;
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
        let Some(joined) = self
            .join_room(room.id, room.created_by, room.created_ms)
            .await?
        else {
            return Err(super::StoreError::Corrupt(
                "a room vanished while being created".into(),
            ));
        };
        let mut claim = ScriptCall::new(&CLAIM_ROOM_NAME);
        claim
            .key(k.rooms_by_created())
            .key(k.rooms_by_activity())
            .key(k.room_name(room.canonical_name));
        for look in room.look_alike_keys {
            claim.key(k.room_look_alike(look));
        }
        claim
            .arg(room.id)
            .arg(room.created_ms)
            .arg(NO_MESSAGE_OFFSET);
        let claimed: i64 = self.call(&mut claim).await?;
        if claimed == 1 {
            return Ok(Some(joined.room));
        }
        let mut forget_room = redis::cmd("DEL");
        forget_room
            .arg(k.room(room.id))
            .arg(k.room_members(room.id));
        let mut forget_membership = redis::cmd("ZREM");
        forget_membership
            .arg(k.user_rooms(room.created_by))
            .arg(room.id);
        self.each(vec![forget_room, forget_membership]).await?;
        Ok(None)
    }

    /// How far the look-alike keys of existing rooms are built (the value
    /// [`Store::index_look_alikes`] last recorded), if they ever were.
    pub async fn look_alike_progress(&self) -> StoreResult<Option<String>> {
        let mut conn = self.conn().await?;
        self.run(conn.get(self.keys.room_look_alike_progress()))
            .await
    }

    /// The rooms among the next `count` created after the creation recency
    /// `after` (exclusive; `None`: from the first), oldest first, and the
    /// recency of the last of those `count` (`None` when there are none
    /// left). Rooms whose hash is gone are left out.
    pub async fn rooms_created_after(
        &self,
        after: Option<i64>,
        count: usize,
    ) -> StoreResult<(Vec<RoomRecord>, Option<i64>)> {
        let mut conn = self.conn().await?;
        let min = after.map_or_else(|| "-inf".to_owned(), |a| format!("({a}"));
        let entries: Vec<(String, f64)> = self
            .run(
                redis::cmd("ZRANGE")
                    .arg(self.keys.rooms_by_created())
                    .arg(min)
                    .arg("+inf")
                    .arg("BYSCORE")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(count)
                    .arg("WITHSCORES")
                    .query_async(&mut conn),
            )
            .await?;
        let last = entries.last().map(|(_, score)| *score as i64);
        let ids: Vec<String> = entries.into_iter().map(|(id, _)| id).collect();
        let rooms = self.rooms(&ids).await?.into_iter().flatten().collect();
        Ok((rooms, last))
    }

    /// Gives existing rooms their look-alike keys: each `(key, room id)` is
    /// set unless the key is taken already (the older room keeps it), and
    /// `progress` is recorded, in one round trip on the directory's slot.
    pub async fn index_look_alikes(
        &self,
        keys: &[(String, String)],
        progress: &str,
    ) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        for (look, room_id) in keys {
            pipe.cmd("SET")
                .arg(self.keys.room_look_alike(look))
                .arg(room_id)
                .arg("NX")
                .ignore();
        }
        pipe.set(self.keys.room_look_alike_progress(), progress)
            .ignore();
        let mut conn = self.conn().await?;
        self.run(pipe.query_async::<()>(&mut conn)).await
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
        self.call::<Option<f64>>(
            ScriptCall::new(&TOUCH_RECENCY)
                .key(key.to_owned())
                .arg(ms)
                .arg(member)
                .arg(mode),
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
        // One pipeline per room: its hash and members share its slot.
        let pipes = ids
            .iter()
            .map(|id| {
                let mut pipe = redis::pipe();
                pipe.hgetall(self.keys.room(id))
                    .zcard(self.keys.room_members(id));
                pipe
            })
            .collect();
        let mut rooms = Vec::with_capacity(ids.len());
        for reply in self.pipelines(pipes).await? {
            let mut reply = reply.into_iter();
            let (Some(hash), Some(count)) = (reply.next(), reply.next()) else {
                return Err(super::StoreError::Corrupt("a short pipeline reply".into()));
            };
            rooms.push(RoomRecord::from_hash(&decode(hash)?, decode(count)?)?);
        }
        Ok(rooms)
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
        self.rooms_page(&key, page).await
    }

    /// The rooms of one page of an index of room ids.
    async fn rooms_page(
        &self,
        index: &str,
        page: &PageRequest,
    ) -> StoreResult<(Vec<RoomRecord>, Option<String>)> {
        let IdPage { items, next_cursor } = self.zset_page(index, page, None).await?;
        let ids: Vec<String> = items.into_iter().map(|(id, _)| id).collect();
        let rooms = self.rooms(&ids).await?.into_iter().flatten().collect();
        Ok((rooms, next_cursor))
    }

    /// Whether `user_id` belongs to the room, and to how many rooms: one
    /// round trip.
    pub async fn membership(&self, room_id: &str, user_id: &str) -> StoreResult<Membership> {
        let mut score = redis::cmd("ZSCORE");
        score.arg(self.keys.room_members(room_id)).arg(user_id);
        let mut count = redis::cmd("ZCARD");
        count.arg(self.keys.user_rooms(user_id));
        let mut replies = self.each(vec![score, count]).await?.into_iter();
        let score: Option<f64> = decode(replies.next().unwrap_or(redis::Value::Nil))?;
        let room_count: u64 = decode(replies.next().unwrap_or(redis::Value::Nil))?;
        Ok(Membership {
            is_member: score.is_some(),
            room_count,
        })
    }

    /// Makes `user_id` a member; `None` when the room does not exist.
    #[tracing::instrument(skip_all, fields(room_id, user_id))]
    pub async fn join_room(
        &self,
        room_id: &str,
        user_id: &str,
        now_ms: u64,
    ) -> StoreResult<Option<Joined>> {
        let reply: Vec<redis::Value> = self
            .call(
                ScriptCall::new(&JOIN_ROOM)
                    .key(self.keys.room(room_id))
                    .key(self.keys.room_members(room_id))
                    .arg(user_id)
                    .arg(now_ms),
            )
            .await?;
        let mut reply = reply.into_iter();
        let added: i64 = decode(reply.next().unwrap_or(redis::Value::Nil))?;
        let (Some(hash), Some(count)) = (reply.next(), reply.next()) else {
            return Ok(None);
        };
        let Some(room) = RoomRecord::from_hash(&decode(hash)?, decode(count)?)? else {
            return Ok(None);
        };
        // Also on a repeated join, so a join whose index write failed heals.
        self.touch_recency(&self.keys.user_rooms(user_id), now_ms, room_id, "NX")
            .await?;
        Ok(Some(Joined {
            is_new: added == 1,
            room,
        }))
    }

    /// Removes `user_id` from a room. `None` when the room does not exist,
    /// otherwise whether they were a member.
    #[tracing::instrument(skip_all, fields(room_id, user_id))]
    pub async fn leave_room(&self, room_id: &str, user_id: &str) -> StoreResult<Option<bool>> {
        let mut conn = self.conn().await?;
        let removed: i64 = self
            .call(
                ScriptCall::new(&LEAVE_ROOM)
                    .key(self.keys.room(room_id))
                    .key(self.keys.room_members(room_id))
                    .arg(user_id),
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
        let mut conn = self.conn().await?;
        self.run(conn.zcard(self.keys.user_rooms(user_id))).await
    }

    /// Whether `user_id` belongs to the room.
    pub async fn is_member(&self, room_id: &str, user_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let score: Option<f64> = self
            .run(conn.zscore(self.keys.room_members(room_id), user_id))
            .await?;
        Ok(score.is_some())
    }

    /// A page of a room's members, latest joined first: (user id, joined
    /// at in ms).
    pub async fn room_members(
        &self,
        room_id: &str,
        page: &PageRequest,
    ) -> StoreResult<(Vec<(String, u64)>, Option<String>)> {
        let IdPage { items, next_cursor } = self
            .zset_page(&self.keys.room_members(room_id), page, None)
            .await?;
        let members = items
            .into_iter()
            .map(|(id, recency)| (id, u64::try_from(recency / RECENCY_PER_MS).unwrap_or(0)))
            .collect();
        Ok((members, next_cursor))
    }

    /// Every member of a room (for notifications to a room).
    pub async fn member_ids(&self, room_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        self.run(conn.zrange(self.keys.room_members(room_id), 0, -1))
            .await
    }

    /// A page of the rooms `user_id` belongs to, latest joined first, each
    /// with their read state in it, read together with the room (one script
    /// per room): one round trip after the page's ids.
    pub async fn user_rooms_with_read_state(
        &self,
        user_id: &str,
        page: &PageRequest,
    ) -> StoreResult<(Vec<(RoomRecord, ReadState)>, Option<String>)> {
        let IdPage { items, next_cursor } = self
            .zset_page(&self.keys.user_rooms(user_id), page, None)
            .await?;
        let ids: Vec<String> = items.into_iter().map(|(id, _)| id).collect();
        let rooms = self.rooms_with_read_state(user_id, &ids).await?;
        Ok((rooms.into_iter().flatten().collect(), next_cursor))
    }

    /// Every room a user belongs to (for subscribing their streams).
    pub async fn user_room_ids(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        self.run(conn.zrange(self.keys.user_rooms(user_id), 0, -1))
            .await
    }

    /// Message count and top senders of a room.
    pub async fn room_stats(&self, room_id: &str) -> StoreResult<RoomStatsRecord> {
        let mut pipe = redis::pipe();
        pipe.hget(self.keys.room(room_id), "message_count")
            .cmd("ZRANGE")
            .arg(self.keys.room_senders(room_id))
            .arg(0)
            .arg(9)
            .arg("REV")
            .arg("WITHSCORES");
        let mut conn = self.conn().await?;
        let (count, top): (Option<u64>, Vec<(String, f64)>) =
            self.run(pipe.query_async(&mut conn)).await?;
        Ok(RoomStatsRecord {
            message_count: count.unwrap_or(0),
            top_senders: top.into_iter().map(|(id, n)| (id, n as u64)).collect(),
        })
    }
}
