//! Room messages: one Redis Stream per room; the entry id is the message id.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;

use super::{ScriptCall, Store, StoreError, StoreResult, decode};
use crate::domain::MessageId;
use crate::event::Event;
use crate::message::{EditState, RoomMessageRecord, Sent, UserLite};

static SEND_ROOM_MESSAGE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/send_room_message.lua")));
static ROOM_HISTORY: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/room_history.lua")));
static CHANGE_ROOM_MESSAGE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/change_room_message.lua")));

/// What became of a room send.
#[derive(Debug)]
pub enum RoomSend {
    /// The room does not exist.
    NoRoom,
    /// The sender is not a member.
    NotMember,
    /// Stored now, or the original of a repeated `client_id`.
    Sent(Box<Sent<RoomMessageRecord>>),
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
            .key(k.room_senders(room_id))
            .key(k.room_own(room_id, &sender.id));
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
            return Ok(RoomSend::Sent(Box::new(Sent::New(RoomMessageRecord {
                id,
                ..message
            }))));
        }
        // A repeat: the original as stored, or, when it has been trimmed
        // away, the request (which said the same, by the client's promise).
        let original = match extra {
            Some(fields @ redis::Value::Array(_)) | Some(fields @ redis::Value::Map(_)) => {
                entry_to_message(room_id, id, &decode(fields)?)?
            }
            _ => RoomMessageRecord { id, ..message },
        };
        Ok(RoomSend::Sent(Box::new(Sent::Repeat(original))))
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
        let reply: (Entries, Vec<String>) = self
            .call(
                ScriptCall::new(&ROOM_HISTORY)
                    .key(self.keys.room_messages(room_id))
                    .key(self.keys.room_edits(room_id))
                    .arg(command)
                    .arg(from)
                    .arg(to)
                    .arg(limit + 1),
            )
            .await?;
        let (entries, states) = reply;
        let has_more = entries.len() > limit;
        let mut messages = entries
            .into_iter()
            .zip(states)
            .take(limit)
            .map(|((id, fields), state)| {
                let mut message = entry_to_message(room_id, stream_id(&id)?, &fields)?;
                if !state.is_empty() {
                    message.edit = EditState::decode(&state);
                }
                Ok(message)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        if !matches!(query, HistoryQuery::After(_)) {
            messages.reverse();
        }
        Ok((messages, has_more))
    }
}

impl Store {
    /// The room message with this id as `user_id` may edit it: whether the
    /// room exists and they belong to it, and the message with its current
    /// state. One round trip.
    pub async fn room_message(
        &self,
        room_id: &str,
        user_id: &str,
        id: MessageId,
    ) -> StoreResult<Found<RoomMessageRecord>> {
        let k = &self.keys;
        let id_text = id.to_string();
        let mut pipe = redis::pipe();
        pipe.exists(k.room(room_id))
            .zscore(k.room_members(room_id), user_id)
            .cmd("XRANGE")
            .arg(k.room_messages(room_id))
            .arg(&id_text)
            .arg(&id_text)
            .hget(k.room_edits(room_id), &id_text);
        let mut conn = self.conn().await?;
        let (exists, member, entries, state): (bool, Option<f64>, Entries, Option<String>) =
            self.run(pipe.query_async(&mut conn)).await?;
        if !exists {
            return Ok(Found::NoRoom);
        }
        if member.is_none() {
            return Ok(Found::NotMember);
        }
        let Some((entry_id, fields)) = entries.into_iter().next() else {
            return Ok(Found::NoMessage);
        };
        let mut message = entry_to_message(room_id, stream_id(&entry_id)?, &fields)?;
        message.edit = state.as_deref().map(EditState::decode).unwrap_or_default();
        Ok(Found::Message(message, entry_number(&fields)))
    }

    /// Stores an edit or delete of a room message and publishes its event,
    /// in one script in the room's slot (in order with the room's
    /// messages); the room is then listed as changed, so resuming streams
    /// read its changes.
    #[tracing::instrument(skip_all, fields(room_id, message_id = %change.message_id))]
    pub async fn change_room_message(
        &self,
        room_id: &str,
        user_id: &str,
        change: ChangeRequest<'_>,
    ) -> StoreResult<Changed> {
        let k = &self.keys;
        let reply: Vec<String> = self
            .call(
                ScriptCall::new(&CHANGE_ROOM_MESSAGE)
                    .key(k.room(room_id))
                    .key(k.room_members(room_id))
                    .key(k.room_edits(room_id))
                    .key(k.room_deleted(room_id))
                    .key(k.room_changes(room_id))
                    .key(k.room_own(room_id, user_id))
                    .arg(user_id)
                    .arg(change.message_id.to_string())
                    .arg(if change.delete { "delete" } else { "edit" })
                    .arg(change.state.encode())
                    .arg(change.number.map(|n| n.to_string()).unwrap_or_default())
                    .arg(self.limits.changes_max_len)
                    .channel(self.publish_command(), k.room_channel(room_id))
                    .arg(change.event.to_json()),
            )
            .await?;
        let changed = match reply.first().map(String::as_str) {
            Some("ok") => Changed::Done(stream_id(reply.get(1).map_or("", String::as_str))?),
            Some("deleted") => return Ok(Changed::Deleted),
            Some("not_member") => return Ok(Changed::NotMember),
            other => return Err(StoreError::Corrupt(format!("change script said {other:?}"))),
        };
        self.replicated(&k.room_changes(room_id)).await?;
        if let Changed::Done(id) = changed {
            self.touch_recency(&k.rooms_by_change(), id.ms, room_id, "GT")
                .await?;
        }
        Ok(changed)
    }
}

impl Store {
    /// Brings the messages among `events` to their current version (edits
    /// and deletes laid over them): one `HMGET` per room or conversation,
    /// all sent together. A backlog goes out this way, so a deleted
    /// message's text is never sent again; the changes follow it anyway.
    pub async fn current_versions(&self, events: &mut [Event]) -> StoreResult<()> {
        let k = &self.keys;
        // Edits hash -> (message id, index in `events`).
        let mut wanted: HashMap<String, Vec<(String, usize)>> = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            let (hash, id) = match event {
                Event::RoomMessage(m) => (k.room_edits(&m.room_id), m.id),
                Event::DirectMessage(m) => (k.direct_edits(&m.sender.id, &m.recipient.id), m.id),
                _ => continue,
            };
            wanted.entry(hash).or_default().push((id.to_string(), i));
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let groups: Vec<(String, Vec<(String, usize)>)> = wanted.into_iter().collect();
        let reads = groups
            .iter()
            .map(|(hash, ids)| {
                let mut cmd = redis::cmd("HMGET");
                cmd.arg(hash);
                for (id, _) in ids {
                    cmd.arg(id);
                }
                cmd
            })
            .collect();
        let replies = self.each(reads).await?;
        for ((_, ids), reply) in groups.iter().zip(replies) {
            let states: Vec<Option<String>> = decode(reply)?;
            for ((_, i), state) in ids.iter().zip(states) {
                let Some(state) = state else { continue };
                match &mut events[*i] {
                    Event::RoomMessage(m) => m.edit = EditState::decode(&state),
                    Event::DirectMessage(m) => m.edit = EditState::decode(&state),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// Stream entries as Redis answers them.
pub(super) type Entries = Vec<(String, HashMap<String, String>)>;

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
        edit: EditState::default(),
    })
}

/// A stream entry's number in its room (`s`), if it has one (messages from
/// before numbering have none).
fn entry_number(fields: &HashMap<String, String>) -> Option<u64> {
    fields.get("s").and_then(|s| s.parse().ok())
}

/// A room message as an edit or delete finds it.
#[derive(Debug)]
pub enum Found<M> {
    /// The room does not exist (rooms only).
    NoRoom,
    /// The caller is not a member (rooms only).
    NotMember,
    /// No message with that id here.
    NoMessage,
    /// The message with its current state, and its number in its room or
    /// conversation (`None` for one from before numbering).
    Message(M, Option<u64>),
}

/// What became of an edit or delete that passed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// Stored and delivered, as the change with this id.
    Done(MessageId),
    /// The message was deleted meanwhile: nothing changed.
    Deleted,
    /// The caller stopped being a member meanwhile (rooms only).
    NotMember,
}

/// An edit or a delete, ready to store.
#[derive(Debug)]
pub struct ChangeRequest<'a> {
    /// The message's id.
    pub message_id: MessageId,
    /// Its number in its room or conversation, if it has one.
    pub number: Option<u64>,
    /// Whether it is a delete.
    pub delete: bool,
    /// The message's state after the change.
    pub state: &'a EditState,
    /// The change's event (its id is assigned when it is stored).
    pub event: &'a Event,
}
