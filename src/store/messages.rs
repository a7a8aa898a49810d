//! Room messages: one Redis Stream per room; the entry id is the message id.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;

use super::{ScriptCall, Store, StoreError, StoreResult, decode};
use crate::domain::MessageId;
use crate::event::Event;
use crate::message::{RoomMessageRecord, Sent, UserLite};

static SEND_ROOM_MESSAGE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/send_room_message.lua")));

/// What became of a room send.
#[derive(Debug)]
pub enum RoomSend {
    /// The room does not exist.
    NoRoom,
    /// The sender is not a member.
    NotMember,
    /// Stored now, or the original of a repeated `client_id`.
    Sent(Sent<RoomMessageRecord>),
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
    /// Stores `message` (its id is assigned here) in a room the sender
    /// belongs to, once per `client_id`, and hands it to realtime delivery.
    /// The message, its counters, its idempotency record and the publish are
    /// one atomic script in the room's slot, whatever the room's size:
    /// members without a stream read it from the Stream when they return.
    /// The room's place in the directory's activity order follows.
    #[tracing::instrument(skip_all, fields(room_id = %message.room_id, sender_id = %message.sender.id))]
    pub async fn send_room_message(&self, message: RoomMessageRecord) -> StoreResult<RoomSend> {
        let k = &self.keys;
        let room_id = message.room_id.as_str();
        let sender = &message.sender;
        let client_id = message.client_id.as_deref();
        let mut call = ScriptCall::new(&SEND_ROOM_MESSAGE);
        call.key(k.room(room_id))
            .key(k.room_members(room_id))
            .key(k.room_messages(room_id))
            .key(k.room_senders(room_id));
        if let Some(client_id) = client_id {
            call.key(k.room_idempotency(room_id, &sender.id, client_id));
        }
        call.arg(&sender.id)
            .arg(&sender.username)
            .arg(&sender.display_name)
            .arg(&message.body)
            .arg(client_id.unwrap_or(""))
            .arg(self.limits.room_history_max_len)
            .arg(self.limits.idempotency_ttl_secs)
            .channel(self.publish_command(), k.room_channel(room_id))
            .arg(self.limits.room_history_max_age_secs.saturating_mul(1000))
            .arg(Event::RoomMessage(message.clone()).to_json());
        let reply: Vec<redis::Value> = self.call(&mut call).await?;
        let mut reply = reply.into_iter();
        let status: String = decode(reply.next().unwrap_or(redis::Value::Nil))?;
        let is_new = match status.as_str() {
            "no_room" => return Ok(RoomSend::NoRoom),
            "not_member" => return Ok(RoomSend::NotMember),
            "new" => true,
            "dup" => false,
            other => return Err(StoreError::Corrupt(format!("send script said {other}"))),
        };
        let id = stream_id(&decode::<String>(
            reply.next().unwrap_or(redis::Value::Nil),
        )?)?;
        self.replicated(&k.room_messages(room_id)).await?;
        let extra = reply.next();
        if is_new {
            // The room rises in the directory's activity order (a derived
            // index in another slot: a failure here leaves the message
            // stored and the room listed where it was).
            self.touch_recency(&k.rooms_by_activity(), id.ms, room_id, "XX")
                .await?;
            return Ok(RoomSend::Sent(Sent::New(RoomMessageRecord {
                id,
                ..message
            })));
        }
        // A repeat: the original as stored, or, when it has been trimmed
        // away, the request (which said the same, by the client's promise).
        let original = match extra {
            Some(fields @ redis::Value::Array(_)) | Some(fields @ redis::Value::Map(_)) => {
                entry_to_message(room_id, id, &decode(fields)?)?
            }
            _ => RoomMessageRecord { id, ..message },
        };
        Ok(RoomSend::Sent(Sent::Repeat(original)))
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
        let (command, from, to) = match query {
            HistoryQuery::Before(id) if id == MessageId::MIN => return Ok((Vec::new(), false)),
            HistoryQuery::After(id) if id == MessageId::MAX => return Ok((Vec::new(), false)),
            HistoryQuery::Latest => ("XREVRANGE", "+".to_owned(), "-"),
            HistoryQuery::Before(id) => ("XREVRANGE", format!("({id}"), "-"),
            HistoryQuery::After(id) => ("XRANGE", format!("({id}"), "+"),
        };
        let mut conn = self.conn().await?;
        let entries: Vec<(String, HashMap<String, String>)> = self
            .run(
                redis::cmd(command)
                    .arg(self.keys.room_messages(room_id))
                    .arg(from)
                    .arg(to)
                    .arg("COUNT")
                    .arg(limit + 1)
                    .query_async(&mut conn),
            )
            .await?;
        let has_more = entries.len() > limit;
        let mut messages = entries
            .into_iter()
            .take(limit)
            .map(|(id, fields)| entry_to_message(room_id, stream_id(&id)?, &fields))
            .collect::<StoreResult<Vec<_>>>()?;
        if !matches!(query, HistoryQuery::After(_)) {
            messages.reverse();
        }
        Ok((messages, has_more))
    }
}

/// Parses a stream entry id confab wrote.
pub(super) fn stream_id(text: &str) -> StoreResult<MessageId> {
    MessageId::parse(text).ok_or_else(|| StoreError::Corrupt(format!("bad stream id {text}")))
}

/// A stream entry's fields (`u`, `n`, `d`: the sender; `b`: the body;
/// `c`: the client id, if any) as a message.
pub(super) fn entry_to_message(
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
        sender: UserLite {
            id: get("u")?,
            username: get("n")?,
            display_name: get("d")?,
        },
        body: get("b")?,
        client_id: fields.get("c").cloned(),
    })
}
