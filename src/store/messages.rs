//! Room messages: one Redis Stream per room; the entry id is the message id.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;

use super::{Store, StoreError, StoreResult};
use crate::domain::MessageId;

static SEND_ROOM_MESSAGE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/send_room_message.lua")));

/// Who sent a message, as stored beside it (so history needs no user look-ups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// User id.
    pub id: String,
    /// Username at the time of sending.
    pub username: String,
    /// Display name at the time of sending.
    pub display_name: String,
}

/// A room message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMessageRecord {
    /// Stream entry id.
    pub id: MessageId,
    /// The room it was sent to.
    pub room_id: String,
    /// Its sender.
    pub sender: Sender,
    /// Its text.
    pub body: String,
    /// The sender's idempotency key, if any.
    pub client_id: Option<String>,
}

/// What became of a send.
#[derive(Debug)]
pub enum SendOutcome<M> {
    /// The room does not exist.
    NoRoom,
    /// The sender is not a member.
    NotMember,
    /// Stored now.
    Created(M),
    /// The `client_id` was seen before: the original message, nothing stored.
    Duplicate(M),
}

/// Which part of a history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The newest messages.
    Latest,
    /// Messages older than this id.
    Before(MessageId),
    /// Messages newer than this id.
    After(MessageId),
}

impl Store {
    /// Stores a message in a room the sender belongs to, once per
    /// `client_id`, and hands it to realtime delivery. The message, its
    /// counters, its idempotency record, the room's activity order, the
    /// publish and the offline queues are one atomic script.
    #[tracing::instrument(skip_all, fields(room_id, sender_id = %sender.id))]
    pub async fn send_room_message(
        &self,
        room_id: &str,
        sender: &Sender,
        body: &str,
        client_id: Option<&str>,
    ) -> StoreResult<SendOutcome<RoomMessageRecord>> {
        let k = &self.keys;
        let mut invocation = SEND_ROOM_MESSAGE.prepare_invoke();
        invocation
            .key(k.room(room_id))
            .key(k.room_members(room_id))
            .key(k.room_messages(room_id))
            .key(k.room_senders(room_id))
            .key(k.presence())
            .key(k.last_message_id())
            .key(k.rooms_by_activity());
        if let Some(client_id) = client_id {
            invocation.key(k.room_idempotency(room_id, &sender.id, client_id));
        }
        let (offline_head, offline_tail) = k.offline_parts();
        invocation
            .arg(&sender.id)
            .arg(&sender.username)
            .arg(&sender.display_name)
            .arg(body)
            .arg(client_id.unwrap_or(""))
            .arg(self.limits.room_history_max_len)
            .arg(self.limits.idempotency_ttl_secs)
            .arg(room_id)
            .arg(k.room_channel(room_id))
            .arg(offline_head)
            .arg(offline_tail)
            .arg(self.limits.offline_queue_max_len)
            .arg(self.limits.room_history_max_age_secs.saturating_mul(1000));
        let mut conn = self.conn();
        let reply: Vec<redis::Value> = self.run(invocation.invoke_async(&mut conn)).await?;
        let mut reply = reply.into_iter();
        let status: String = from_value(reply.next())?;
        let outcome = match status.as_str() {
            "no_room" => return Ok(SendOutcome::NoRoom),
            "not_member" => return Ok(SendOutcome::NotMember),
            "new" | "dup" => {
                let id_text: String = from_value(reply.next())?;
                let id = MessageId::parse(&id_text)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad stream id {id_text}")))?;
                let extra = reply.next();
                if status == "new" {
                    let queued: u64 = from_value(extra.clone())?;
                    crate::metrics::add(&crate::metrics::OFFLINE_QUEUED, queued);
                }
                let message = match extra.filter(|_| status == "dup") {
                    Some(fields) => {
                        let fields: HashMap<String, String> = from_value(Some(fields))?;
                        entry_to_message(room_id, id, &fields)?
                    }
                    // New, or a duplicate whose original was trimmed away:
                    // the request holds what was stored.
                    None => RoomMessageRecord {
                        id,
                        room_id: room_id.to_owned(),
                        sender: sender.clone(),
                        body: body.to_owned(),
                        client_id: client_id.map(str::to_owned),
                    },
                };
                if status == "new" {
                    SendOutcome::Created(message)
                } else {
                    SendOutcome::Duplicate(message)
                }
            }
            other => return Err(StoreError::Corrupt(format!("send script said {other}"))),
        };
        Ok(outcome)
    }

    /// A page of a room's history, oldest first, and whether more messages
    /// lie beyond it in the direction of travel.
    pub async fn room_history(
        &self,
        room_id: &str,
        query: HistoryQuery,
        limit: usize,
    ) -> StoreResult<(Vec<RoomMessageRecord>, bool)> {
        // Redis refuses an exclusive range that starts past the largest id or
        // ends before the smallest; nothing lies beyond those anyway.
        match query {
            HistoryQuery::Before(id) if id == MessageId::MIN => return Ok((Vec::new(), false)),
            HistoryQuery::After(id) if id == MessageId::MAX => return Ok((Vec::new(), false)),
            _ => {}
        }
        let key = self.keys.room_messages(room_id);
        let count = limit + 1;
        let cmd = match query {
            HistoryQuery::Latest => redis::cmd("XREVRANGE")
                .arg(&key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(count)
                .clone(),
            HistoryQuery::Before(id) => redis::cmd("XREVRANGE")
                .arg(&key)
                .arg(format!("({id}"))
                .arg("-")
                .arg("COUNT")
                .arg(count)
                .clone(),
            HistoryQuery::After(id) => redis::cmd("XRANGE")
                .arg(&key)
                .arg(format!("({id}"))
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .clone(),
        };
        let mut conn = self.conn();
        let entries: Vec<(String, HashMap<String, String>)> =
            self.run(cmd.query_async(&mut conn)).await?;
        let has_more = entries.len() > limit;
        let mut messages = entries
            .into_iter()
            .take(limit)
            .map(|(id, fields)| {
                let id = MessageId::parse(&id)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad stream id {id}")))?;
                entry_to_message(room_id, id, &fields)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        if !matches!(query, HistoryQuery::After(_)) {
            messages.reverse();
        }
        Ok((messages, has_more))
    }
}

/// Decodes one reply value, or reports what was wrong with it.
fn from_value<T: redis::FromRedisValue>(value: Option<redis::Value>) -> StoreResult<T> {
    redis::from_redis_value(value.unwrap_or(redis::Value::Nil))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stream entry's fields as a message.
fn entry_to_message(
    room_id: &str,
    id: MessageId,
    fields: &HashMap<String, String>,
) -> StoreResult<RoomMessageRecord> {
    let get = |name: &str| {
        fields
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("stream entry without `{name}`")))
    };
    Ok(RoomMessageRecord {
        id,
        room_id: room_id.to_owned(),
        sender: Sender {
            id: get("u")?,
            username: get("n")?,
            display_name: get("d")?,
        },
        body: get("b")?,
        client_id: fields.get("c").cloned(),
    })
}
