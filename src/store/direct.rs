//! Direct messages: one Redis List per pair of users, oldest first, each
//! element a message in the event wire form `<id> <json>` (see
//! [`crate::event`]); and a per-user index of conversations by last message.

use std::sync::LazyLock;

use redis::Script;
use serde::Deserialize;

use super::messages::{ChangeRequest, Changed, Found, HistoryQuery};
use super::pagination::{IdPage, PageRequest};
use super::{ScriptCall, Store, StoreError, StoreResult, decode};
use crate::domain::MessageId;
use crate::event::Event;
use crate::message::{DirectMessageRecord, EditState, Sent, UserLite};
use crate::store::notifications::Queue;

static SEND_DIRECT_MESSAGE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/send_direct_message.lua")));
static DIRECT_HISTORY: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/direct_history.lua")));
static CONVERSATION_SUMMARY: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/conversation_summary.lua")));
static FIND_DIRECT_MESSAGE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/find_direct_message.lua")));
static CHANGE_DIRECT_MESSAGE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/change_direct_message.lua")));

/// Reads a list element: the event wire form, or the form elements had
/// before it (`<id> {"s":[id, username, display name], "r":[...], "b":
/// body, "c": client id}`), which lists written then still hold.
fn parse_element(element: &str) -> StoreResult<DirectMessageRecord> {
    if let Some(Event::DirectMessage(message)) = Event::decode(element) {
        return Ok(message);
    }
    /// The earlier element form.
    #[derive(Deserialize)]
    struct Earlier {
        s: (String, String, String),
        r: (String, String, String),
        b: String,
        #[serde(default)]
        c: Option<String>,
    }
    let lite = |(id, username, display_name)| UserLite {
        id,
        username,
        display_name,
    };
    let corrupt = || StoreError::Corrupt(format!("bad direct message element {element:.60}"));
    let (id, json) = element.split_once(' ').ok_or_else(corrupt)?;
    let earlier: Earlier = serde_json::from_str(json).map_err(|_| corrupt())?;
    Ok(DirectMessageRecord {
        id: MessageId::parse(id).ok_or_else(corrupt)?,
        sender: lite(earlier.s),
        recipient: lite(earlier.r),
        body: earlier.b,
        client_id: earlier.c,
        edit: EditState::default(),
    })
}

/// A conversation as its list shows it to one user.
#[derive(Debug)]
pub struct ConversationSummary {
    /// The other user's id.
    pub other: String,
    /// The latest message, in its current state.
    pub last: DirectMessageRecord,
    /// The user's read marker.
    pub last_read: Option<MessageId>,
    /// Messages from the other user after it, not deleted, at most 100.
    pub unread: u64,
}

/// Reads an element and the state beside it ('' for none).
fn with_state(element: &str, state: &str) -> StoreResult<DirectMessageRecord> {
    let mut message = parse_element(element)?;
    if !state.is_empty() {
        message.edit = EditState::decode(state);
    }
    Ok(message)
}

impl Store {
    /// Stores `message` (its id is assigned here) once per `client_id` (one
    /// atomic script in the conversation's slot); then delivers it to the
    /// recipient, live or queued (in their slot), publishes it to the
    /// sender's other streams, and moves the conversation to the top of both
    /// users' conversation lists. A repeat with the same `client_id` runs
    /// the later steps again, so they heal if a first attempt failed there.
    #[tracing::instrument(skip_all, fields(sender_id = %message.sender.id, recipient_id = %message.recipient.id))]
    pub async fn send_direct_message(
        &self,
        message: DirectMessageRecord,
    ) -> StoreResult<Sent<DirectMessageRecord>> {
        let k = &self.keys;
        let sender = message.sender.id.clone();
        let recipient = message.recipient.id.clone();
        let mut call = ScriptCall::new(&SEND_DIRECT_MESSAGE);
        call.key(k.direct_messages(&sender, &recipient))
            .key(k.direct_meta(&sender, &recipient))
            .key(k.direct_own(&sender, &recipient, &sender));
        if let Some(client_id) = &message.client_id {
            call.key(k.direct_idempotency(&sender, &recipient, &sender, client_id));
        }
        call.arg(Event::DirectMessage(message.clone()).to_json())
            .arg(self.limits.direct_history_max_len)
            .arg(self.limits.idempotency_ttl_secs)
            .arg(&sender)
            .arg(&recipient);
        let (status, reply): (String, String) = self.call(&mut call).await?;
        self.replicated(&k.direct_messages(&sender, &recipient))
            .await?;
        let id = |reply: &str| {
            MessageId::parse(reply)
                .ok_or_else(|| StoreError::Corrupt(format!("bad message id {reply}")))
        };
        let sent = match status.as_str() {
            "new" => Sent::New(DirectMessageRecord {
                id: id(&reply)?,
                ..message
            }),
            // The original as stored, or, when it has been trimmed away, the
            // request (which said the same, by the client's promise).
            "dup" if reply.contains(' ') => Sent::Repeat(parse_element(&reply)?),
            "dup" => Sent::Repeat(DirectMessageRecord {
                id: id(&reply)?,
                ..message
            }),
            other => return Err(StoreError::Corrupt(format!("send script said {other}"))),
        };
        let stored = sent.message();
        if let Sent::New(_) = &sent {
            // The recipient live or queued; the sender's other devices live.
            let event = Event::DirectMessage(stored.clone());
            self.deliver_to_user(&recipient, &event.encode(), Queue::Messages)
                .await?;
            self.publish(&[(k.user_channel(&sender), &event)]).await?;
        }
        for (owner, other) in [(&sender, &recipient), (&recipient, &sender)] {
            self.touch_recency(&k.user_conversations(owner), stored.id.ms, other, "GT")
                .await?;
        }
        Ok(sent)
    }

    /// A page of the conversation between `a` and `b`, oldest first, and
    /// whether more lie beyond it in the direction of travel.
    pub async fn direct_history(
        &self,
        a: &str,
        b: &str,
        query: HistoryQuery,
        limit: usize,
    ) -> StoreResult<(Vec<DirectMessageRecord>, bool)> {
        let (mode, cursor) = match query {
            HistoryQuery::Latest => ("latest", MessageId::MIN),
            HistoryQuery::Before(id) => ("before", id),
            HistoryQuery::After(id) => ("after", id),
        };
        let (elements, has_more) = self
            .list_page(
                &self.keys.direct_messages(a, b),
                Some(self.keys.direct_edits(a, b)),
                mode,
                cursor,
                limit,
            )
            .await?;
        let messages = elements
            .iter()
            .map(|(element, state)| with_state(element, state))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((messages, has_more))
    }

    /// A page of a list of `<id> <json>` elements (a conversation or its
    /// changes), oldest first, each with its state from `edits` ('' for
    /// none, or without `edits`), and whether more lie beyond it.
    pub(super) async fn list_page(
        &self,
        list: &str,
        edits: Option<String>,
        mode: &str,
        cursor: MessageId,
        limit: usize,
    ) -> StoreResult<(Vec<(String, String)>, bool)> {
        let mut call = ScriptCall::new(&DIRECT_HISTORY);
        call.key(list.to_owned());
        if let Some(edits) = edits {
            call.key(edits);
        }
        let reply: Vec<redis::Value> = self
            .call(call.arg(mode).arg(cursor.ms).arg(cursor.seq).arg(limit))
            .await?;
        let mut reply = reply.into_iter();
        let has_more: i64 = decode(reply.next().unwrap_or(redis::Value::Nil))?;
        let mut elements = Vec::new();
        while let (Some(element), Some(state)) = (reply.next(), reply.next()) {
            elements.push((decode::<String>(element)?, decode::<String>(state)?));
        }
        Ok((elements, has_more == 1))
    }

    /// A page of `user_id`'s conversations, most recent first: the other
    /// user, the last message and the user's read state.
    pub async fn conversations(
        &self,
        user_id: &str,
        page: &PageRequest,
    ) -> StoreResult<(Vec<ConversationSummary>, Option<String>)> {
        let k = &self.keys;
        let IdPage { items, next_cursor } = self
            .zset_page(&k.user_conversations(user_id), page, None)
            .await?;
        // One script per conversation (each in its own slot), together.
        let calls = items.iter().map(|(other, _)| async move {
            let reply: Vec<redis::Value> = self
                .call(
                    ScriptCall::new(&CONVERSATION_SUMMARY)
                        .key(k.direct_messages(user_id, other))
                        .key(k.direct_meta(user_id, other))
                        .key(k.direct_own(user_id, other, user_id))
                        .key(k.direct_deleted(user_id, other))
                        .key(k.direct_edits(user_id, other))
                        .arg(user_id),
                )
                .await?;
            let mut reply = reply.into_iter();
            let mut text = || decode::<String>(reply.next().unwrap_or(redis::Value::Nil));
            let (last, state, marker) = (text()?, text()?, text()?);
            let unread: u64 = decode(reply.next().unwrap_or(redis::Value::Nil))?;
            if last.is_empty() {
                return Ok::<_, StoreError>(None);
            }
            Ok(Some(ConversationSummary {
                other: other.clone(),
                last: with_state(&last, &state)?,
                last_read: MessageId::parse(&marker),
                unread,
            }))
        });
        let summaries = futures_util::future::try_join_all(calls).await?;
        Ok((summaries.into_iter().flatten().collect(), next_cursor))
    }

    /// The direct message with this id between `a` and `b`, with its
    /// current state and number.
    pub async fn direct_message(
        &self,
        a: &str,
        b: &str,
        id: MessageId,
    ) -> StoreResult<Found<DirectMessageRecord>> {
        let k = &self.keys;
        let reply: Vec<String> = self
            .call(
                ScriptCall::new(&FIND_DIRECT_MESSAGE)
                    .key(k.direct_messages(a, b))
                    .key(k.direct_meta(a, b))
                    .key(k.direct_edits(a, b))
                    .key(k.direct_deleted(a, b))
                    .arg(id.to_string()),
            )
            .await?;
        let [element, number, state] = reply.as_slice() else {
            return Ok(Found::NoMessage);
        };
        Ok(Found::Message(
            with_state(element, state)?,
            number.parse().ok(),
        ))
    }

    /// Stores an edit or delete of a direct message (one script in the
    /// conversation's slot), then delivers its event like a message: to the
    /// other user live or queued, to the sender's other streams live; both
    /// users' indexes of changed conversations follow.
    #[tracing::instrument(skip_all, fields(message_id = %change.message_id))]
    pub async fn change_direct_message(
        &self,
        message: &DirectMessageRecord,
        change: ChangeRequest<'_>,
    ) -> StoreResult<Changed> {
        let k = &self.keys;
        let (sender, recipient) = (&message.sender.id, &message.recipient.id);
        let reply: Vec<String> = self
            .call(
                ScriptCall::new(&CHANGE_DIRECT_MESSAGE)
                    .key(k.direct_edits(sender, recipient))
                    .key(k.direct_deleted(sender, recipient))
                    .key(k.direct_changes(sender, recipient))
                    .key(k.direct_own(sender, recipient, sender))
                    .arg(change.message_id.to_string())
                    .arg(if change.delete { "delete" } else { "edit" })
                    .arg(change.state.encode())
                    .arg(change.number.map(|n| n.to_string()).unwrap_or_default())
                    .arg(self.limits.changes_max_len)
                    .arg(change.event.to_json()),
            )
            .await?;
        let id = match reply.first().map(String::as_str) {
            Some("ok") => MessageId::parse(reply.get(1).map_or("", String::as_str))
                .ok_or_else(|| StoreError::Corrupt(format!("bad change id {reply:?}")))?,
            Some("deleted") => return Ok(Changed::Deleted),
            other => return Err(StoreError::Corrupt(format!("change script said {other:?}"))),
        };
        self.replicated(&k.direct_changes(sender, recipient))
            .await?;
        for (owner, other) in [(sender, recipient), (recipient, sender)] {
            self.touch_recency(&k.user_conversation_changes(owner), id.ms, other, "GT")
                .await?;
        }
        let mut event = change.event.clone();
        event.set_id(id);
        self.deliver_to_user(recipient, &event.encode(), Queue::Messages)
            .await?;
        self.publish(&[(k.user_channel(sender), &event)]).await?;
        Ok(Changed::Done(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_of_the_earlier_form_still_read() {
        let element = r#"1732357500123-4 {"s":["a","alice","Alice A."],"r":["b","bob","Bob"],"b":"hi there 😀 \"quoted\""}"#;
        let parsed = parse_element(element).unwrap();
        assert_eq!(parsed.id, MessageId::parse("1732357500123-4").unwrap());
        assert_eq!(parsed.sender.display_name, "Alice A.");
        assert_eq!(parsed.recipient.username, "bob");
        assert_eq!(parsed.body, "hi there 😀 \"quoted\"");
        assert_eq!(parsed.client_id, None);
    }

    #[test]
    fn elements_in_the_event_form_read() {
        let lite = |name: &str| UserLite {
            id: name.into(),
            username: name.into(),
            display_name: name.into(),
        };
        let message = DirectMessageRecord {
            id: MessageId { ms: 9, seq: 2 },
            sender: lite("a"),
            recipient: lite("b"),
            body: "x".into(),
            client_id: Some("k".into()),
            edit: EditState::default(),
        };
        let element = Event::DirectMessage(message.clone()).encode();
        assert_eq!(parse_element(&element).unwrap(), message);
    }

    #[test]
    fn garbage_elements_are_reported_not_panicked_on() {
        for bad in ["", "x", "1-0", "1-0 {", "nope {}"] {
            assert!(parse_element(bad).is_err(), "{bad}");
        }
    }
}
