//! Direct messages: one Redis List per pair of users, oldest first, each
//! element a message in the event wire form `<id> <json>` (see
//! [`crate::event`]); and a per-user index of conversations by last message.

use std::sync::LazyLock;

use redis::Script;
use serde::Deserialize;

use super::messages::HistoryQuery;
use super::pagination::{IdPage, PageRequest};
use super::{ScriptCall, Store, StoreError, StoreResult, decode};
use crate::domain::MessageId;
use crate::event::Event;
use crate::message::{DirectMessageRecord, Sent, UserLite};
use crate::store::notifications::Queue;

static SEND_DIRECT_MESSAGE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/send_direct_message.lua")));
static DIRECT_HISTORY: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/direct_history.lua")));

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
    })
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
        call.key(k.direct_messages(&sender, &recipient));
        if let Some(client_id) = &message.client_id {
            call.key(k.direct_idempotency(&sender, &recipient, &sender, client_id));
        }
        call.arg(Event::DirectMessage(message.clone()).to_json())
            .arg(self.limits.direct_history_max_len)
            .arg(self.limits.idempotency_ttl_secs);
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
        let reply: Vec<redis::Value> = self
            .call(
                ScriptCall::new(&DIRECT_HISTORY)
                    .key(self.keys.direct_messages(a, b))
                    .arg(mode)
                    .arg(cursor.ms)
                    .arg(cursor.seq)
                    .arg(limit),
            )
            .await?;
        let mut reply = reply.into_iter();
        let has_more: i64 = decode(reply.next().unwrap_or(redis::Value::Nil))?;
        let messages = reply
            .map(|v| parse_element(&decode::<String>(v)?))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((messages, has_more == 1))
    }

    /// A page of `user_id`'s conversations, most recent first: the other
    /// user's id and the last message.
    pub async fn conversations(
        &self,
        user_id: &str,
        page: &PageRequest,
    ) -> StoreResult<(Vec<(String, DirectMessageRecord)>, Option<String>)> {
        let IdPage { items, next_cursor } = self
            .zset_page(&self.keys.user_conversations(user_id), page, None)
            .await?;
        if items.is_empty() {
            return Ok((Vec::new(), next_cursor));
        }
        let lasts = items
            .iter()
            .map(|(other, _)| {
                let mut cmd = redis::cmd("LINDEX");
                cmd.arg(self.keys.direct_messages(user_id, other)).arg(-1);
                cmd
            })
            .collect();
        let lasts = self.each(lasts).await?;
        let mut out = Vec::with_capacity(items.len());
        for ((other, _), last) in items.into_iter().zip(lasts) {
            if let Some(element) = decode::<Option<String>>(last)? {
                out.push((other, parse_element(&element)?));
            }
        }
        Ok((out, next_cursor))
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
