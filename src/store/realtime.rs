//! The Redis side of realtime delivery: tickets, stream bookkeeping and
//! presence, offline queues, publishing, and the history reads that resume
//! a dropped stream.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{AsyncCommands, Script};

use super::{Store, StoreError, StoreResult};
use crate::clock::now_ms;
use crate::domain::MessageId;

static STREAM_OPEN: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/stream_open.lua")));
static STREAM_CLOSE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/stream_close.lua")));
static NOTIFY: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/notify.lua")));
static NOTIFY_ALL: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/notify_all.lua")));

/// What opening a stream found.
#[derive(Debug)]
pub enum StreamOpen {
    /// The user already holds the maximum number of streams.
    Full,
    /// Recorded; these events were waiting in the offline queue (oldest
    /// first), which is now empty.
    Opened(Vec<String>),
}

/// Events a resuming stream missed.
#[derive(Debug, Default)]
pub struct Missed {
    /// Internal event JSON of room and direct messages after the resume
    /// point, in id order.
    pub events: Vec<(MessageId, String)>,
    /// Whether that is everything: false when some history after the resume
    /// point has been trimmed away (or there was more than could be sent).
    pub complete: bool,
}

impl Store {
    /// Issues an SSE ticket for a session, valid `ttl_secs`.
    pub async fn create_ticket(
        &self,
        user_id: &str,
        session_id: &str,
        ticket: &str,
        ttl_secs: u64,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(conn.set_ex::<_, _, ()>(
            self.keys.ticket(ticket),
            format!("{user_id} {session_id}"),
            ttl_secs,
        ))
        .await
    }

    /// The (user id, session id) a live ticket was issued for.
    pub async fn ticket(&self, ticket: &str) -> StoreResult<Option<(String, String)>> {
        let mut conn = self.conn();
        let value: Option<String> = self.run(conn.get(self.keys.ticket(ticket))).await?;
        Ok(value.and_then(|v| {
            let (user, session) = v.split_once(' ')?;
            Some((user.to_owned(), session.to_owned()))
        }))
    }

    /// Seconds a session has left; `None` when it is gone.
    pub async fn session_ttl(&self, user_id: &str, session_id: &str) -> StoreResult<Option<u64>> {
        let mut conn = self.conn();
        let ttl: i64 = self
            .run(conn.ttl(self.keys.session(user_id, session_id)))
            .await?;
        Ok(u64::try_from(ttl).ok())
    }

    /// Records an open stream (refused past `cap`), marks the user online
    /// and drains their offline queue, atomically.
    pub async fn open_stream(
        &self,
        user_id: &str,
        stream_id: &str,
        expiry_ms: u64,
        cap: u32,
    ) -> StoreResult<StreamOpen> {
        let k = &self.keys;
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .run(
                STREAM_OPEN
                    .key(k.user_streams(user_id))
                    .key(k.presence())
                    .key(k.offline(user_id))
                    .arg(user_id)
                    .arg(stream_id)
                    .arg(now_ms())
                    .arg(expiry_ms)
                    .arg(cap)
                    .arg(self.limits.offline_queue_max_len)
                    .invoke_async(&mut conn),
            )
            .await?;
        let mut reply = reply.into_iter();
        match reply.next().as_deref() {
            Some("ok") => Ok(StreamOpen::Opened(reply.collect())),
            Some("full") => Ok(StreamOpen::Full),
            other => Err(StoreError::Corrupt(format!("stream_open said {other:?}"))),
        }
    }

    /// Forgets a closed stream (`None`: only expired ones) and marks the user
    /// offline when it was their last. Returns whether they went offline.
    pub async fn close_stream(&self, user_id: &str, stream_id: Option<&str>) -> StoreResult<bool> {
        let k = &self.keys;
        let mut conn = self.conn();
        let offline: i64 = self
            .run(
                STREAM_CLOSE
                    .key(k.user_streams(user_id))
                    .key(k.presence())
                    .key(k.user(user_id))
                    .arg(user_id)
                    .arg(stream_id.unwrap_or(""))
                    .arg(now_ms())
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(offline == 1)
    }

    /// Extends the life of open streams (user id, stream id) to `expiry_ms`:
    /// the heartbeat that keeps a live instance's users online.
    pub async fn refresh_streams(
        &self,
        streams: &[(String, String)],
        expiry_ms: u64,
    ) -> StoreResult<()> {
        if streams.is_empty() {
            return Ok(());
        }
        let k = &self.keys;
        let mut pipe = redis::pipe();
        for (user, stream) in streams {
            pipe.cmd("ZADD")
                .arg(k.user_streams(user))
                .arg("XX")
                .arg(expiry_ms)
                .arg(stream)
                .ignore();
            pipe.cmd("ZADD")
                .arg(k.presence())
                .arg("GT")
                .arg(expiry_ms)
                .arg(user)
                .ignore();
        }
        let mut conn = self.conn();
        self.run(pipe.query_async::<()>(&mut conn)).await
    }

    /// Users whose presence has expired (their instance stopped refreshing
    /// it): at most `limit` of them.
    pub async fn expired_presence(&self, limit: usize) -> StoreResult<Vec<String>> {
        let mut conn = self.conn();
        self.run(
            redis::cmd("ZRANGE")
                .arg(self.keys.presence())
                .arg("-inf")
                .arg(now_ms())
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(0)
                .arg(limit)
                .query_async(&mut conn),
        )
        .await
    }

    /// Publishes an internal event on a channel.
    pub async fn publish(&self, channel: &str, event: &str) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(conn.publish::<_, _, ()>(channel, event)).await
    }

    /// Delivers an event to these users: live where they have streams,
    /// queued where they have none.
    pub async fn notify_users(&self, user_ids: &[String], event: &str) -> StoreResult<u64> {
        let k = &self.keys;
        let mut invocation = NOTIFY.prepare_invoke();
        invocation
            .key(k.presence())
            .arg(event)
            .arg(self.limits.offline_queue_max_len);
        for user in user_ids {
            invocation
                .arg(user)
                .arg(k.user_channel(user))
                .arg(k.offline(user));
        }
        let mut conn = self.conn();
        self.run(invocation.invoke_async(&mut conn)).await
    }

    /// Delivers an event to every user. Returns how many there are.
    pub async fn notify_everyone(&self, event: &str) -> StoreResult<u64> {
        let k = &self.keys;
        let (head, tail) = k.offline_parts();
        let mut conn = self.conn();
        self.run(
            NOTIFY_ALL
                .key(k.all_users())
                .key(k.presence())
                .arg(event)
                .arg(k.broadcast_channel())
                .arg(head)
                .arg(tail)
                .arg(self.limits.offline_queue_max_len)
                .invoke_async(&mut conn),
        )
        .await
    }

    /// Every room a user belongs to (for subscribing their streams).
    pub async fn all_user_room_ids(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn();
        self.run(conn.zrange(self.keys.user_rooms(user_id), 0, -1))
            .await
    }

    /// Every member of a room (for notifications to a room).
    pub async fn all_member_ids(&self, room_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn();
        self.run(conn.zrange(self.keys.room_members(room_id), 0, -1))
            .await
    }

    /// The room and direct messages addressed to `user_id` after `after`, at
    /// most `limit`, as internal events in id order: what a stream that
    /// stopped at `after` missed.
    pub async fn missed_since(
        &self,
        user_id: &str,
        after: MessageId,
        limit: usize,
    ) -> StoreResult<Missed> {
        let k = &self.keys;
        if after == MessageId::MAX {
            return Ok(Missed {
                events: Vec::new(),
                complete: true,
            });
        }
        let rooms = self.all_user_room_ids(user_id).await?;
        let mut conn = self.conn();
        // Rooms: the entries after the id, plus each stream's first entry and
        // the room's message count, to tell whether history was trimmed.
        let mut pipe = redis::pipe();
        for room in &rooms {
            let stream = k.room_messages(room);
            pipe.cmd("XRANGE")
                .arg(&stream)
                .arg(format!("({after}"))
                .arg("+")
                .arg("COUNT")
                .arg(limit + 1);
            pipe.cmd("XRANGE")
                .arg(&stream)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1);
            pipe.cmd("XLEN").arg(&stream);
            pipe.hget(k.room(room), "message_count");
        }
        type Entries = Vec<(String, HashMap<String, String>)>;
        let replies: Vec<redis::Value> = if rooms.is_empty() {
            Vec::new()
        } else {
            self.run(pipe.query_async(&mut conn)).await?
        };
        let mut missed = Missed {
            events: Vec::new(),
            complete: true,
        };
        let mut replies = replies.into_iter();
        for room in &rooms {
            let (Some(after_entries), Some(first), Some(len), Some(count)) = (
                replies.next(),
                replies.next(),
                replies.next(),
                replies.next(),
            ) else {
                break;
            };
            let entries: Entries = decode(after_entries)?;
            let first: Entries = decode(first)?;
            let len: u64 = decode(len)?;
            let count: Option<u64> = decode(count)?;
            // Older entries were trimmed and the oldest one kept is newer
            // than the resume point: some of what was missed is gone.
            let trimmed = count.unwrap_or(0) > len;
            if trimmed
                && first
                    .first()
                    .and_then(|(id, _)| MessageId::parse(id))
                    .is_some_and(|first| first > after)
            {
                missed.complete = false;
            }
            for (id, fields) in entries {
                let id = MessageId::parse(&id)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad stream id {id}")))?;
                let get = |f: &str| fields.get(f).cloned().unwrap_or_default();
                let mut event = serde_json::json!({
                    "t": "m",
                    "id": id.to_string(),
                    "room": room,
                    "s": [get("u"), get("n"), get("d")],
                    "b": get("b"),
                });
                if let Some(c) = fields.get("c") {
                    event["c"] = serde_json::Value::String(c.clone());
                }
                missed.events.push((id, event.to_string()));
            }
        }
        // Conversations whose last message is after the resume point.
        let conversations: Vec<String> = self
            .run(
                redis::cmd("ZRANGE")
                    .arg(k.user_conversations(user_id))
                    .arg("+inf")
                    .arg(format!("({}", after.ms.saturating_mul(1000)))
                    .arg("BYSCORE")
                    .arg("REV")
                    .query_async(&mut conn),
            )
            .await?;
        for other in conversations {
            let (messages, more) = self
                .direct_history(
                    user_id,
                    &other,
                    super::messages::HistoryQuery::After(after),
                    limit,
                )
                .await?;
            if more {
                missed.complete = false;
            }
            for m in messages {
                let event = serde_json::json!({
                    "t": "d",
                    "id": m.id.to_string(),
                    "s": [m.sender.id, m.sender.username, m.sender.display_name],
                    "r": [m.recipient.id, m.recipient.username, m.recipient.display_name],
                    "b": m.body,
                    "c": m.client_id,
                });
                missed.events.push((m.id, event.to_string()));
            }
        }
        missed.events.sort_by_key(|(id, _)| *id);
        if missed.events.len() > limit {
            missed.events.truncate(limit);
            missed.complete = false;
        }
        Ok(missed)
    }
}

/// Decodes one reply of a pipeline.
fn decode<T: redis::FromRedisValue>(value: redis::Value) -> StoreResult<T> {
    redis::from_redis_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
