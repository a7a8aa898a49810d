//! The internal event: what travels through Redis as a Pub/Sub payload and
//! waits in an offline queue, defined once. Lua scripts never build it;
//! they receive it encoded by serde and only put a message id in front.
//!
//! # Wire form
//! An event is its JSON, tagged by `t`. A message event (`m`, `d`) has no id
//! in its JSON — the send script assigns one — and travels as `<id> <json>`;
//! every other event is the JSON alone. [`Event::encode`] and
//! [`Event::decode`] are the two ends; a direct conversation's list stores
//! its messages in this same form.

use serde::{Deserialize, Serialize};

use crate::domain::MessageId;
use crate::message::{Change, DirectMessageRecord, RoomMessageRecord};
use crate::model::{DirectMessage, MemberEvent, Message, Notification, ReadEvent, TypingEvent};

/// An event, internal form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Event {
    /// A room message, on the room's channel.
    #[serde(rename = "m")]
    RoomMessage(RoomMessageRecord),
    /// A direct message, on both users' channels.
    #[serde(rename = "d")]
    DirectMessage(DirectMessageRecord),
    /// Someone joined a room, on the room's channel.
    #[serde(rename = "j")]
    MemberJoined(MemberEvent),
    /// Someone left a room, on the room's channel.
    #[serde(rename = "l")]
    MemberLeft(MemberEvent),
    /// An operator's notification, on users' channels.
    #[serde(rename = "n")]
    Notification(Notification),
    /// A room message was edited, on the room's channel and in its list of
    /// changes.
    #[serde(rename = "me")]
    RoomMessageEdited(Change<Message>),
    /// A room message was deleted, likewise.
    #[serde(rename = "mx")]
    RoomMessageDeleted(Change<Message>),
    /// A direct message was edited, on both users' channels and in the
    /// conversation's list of changes.
    #[serde(rename = "de")]
    DirectMessageEdited(Change<DirectMessage>),
    /// A direct message was deleted, likewise.
    #[serde(rename = "dx")]
    DirectMessageDeleted(Change<DirectMessage>),
    /// Someone is typing: on a room's channel (every member's streams but
    /// the typist's take it) or the other user's channel. Never stored.
    #[serde(rename = "ty")]
    Typing(TypingEvent),
    /// A user moved a read marker, on their own channel. Never stored.
    #[serde(rename = "rd")]
    Read(ReadEvent),
    /// Control, on a user's channel: they joined a room, so their streams on
    /// every instance subscribe to it.
    #[serde(rename = "mj")]
    Joined {
        /// Room id.
        room: String,
    },
    /// Control, on a user's channel: they left a room.
    #[serde(rename = "ml")]
    Left {
        /// Room id.
        room: String,
    },
    /// Control, on a user's channel: a session was revoked; its streams end.
    #[serde(rename = "x")]
    Revoked {
        /// Session id.
        sid: String,
    },
}

impl Event {
    /// The id of an event that has one in its room's or conversation's
    /// lists: a message's id, or a change's id in the list of changes.
    pub fn message_id(&self) -> Option<MessageId> {
        match self {
            Event::RoomMessage(m) => Some(m.id),
            Event::DirectMessage(m) => Some(m.id),
            Event::RoomMessageEdited(c) | Event::RoomMessageDeleted(c) => Some(c.id),
            Event::DirectMessageEdited(c) | Event::DirectMessageDeleted(c) => Some(c.id),
            _ => None,
        }
    }

    /// The JSON alone: what a send script receives before it assigns the
    /// id and puts it in front.
    pub fn to_json(&self) -> String {
        // Strings, numbers and options only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The wire form (see the module docs).
    pub fn encode(&self) -> String {
        match self.message_id() {
            Some(id) => format!("{id} {}", self.to_json()),
            None => self.to_json(),
        }
    }

    /// Reads the wire form; `None` for anything confab did not write.
    pub fn decode(payload: &str) -> Option<Self> {
        if payload.starts_with('{') {
            let event: Event = serde_json::from_str(payload).ok()?;
            // A message event always has its id in front.
            return event.message_id().is_none().then_some(event);
        }
        let (id, json) = payload.split_once(' ')?;
        let id = MessageId::parse(id)?;
        let mut event: Event = serde_json::from_str(json).ok()?;
        event.set_id(id).then_some(event)
    }

    /// Gives a message or change event the id its script assigned; false
    /// (and nothing changes) for an event without one.
    pub fn set_id(&mut self, id: MessageId) -> bool {
        match self {
            Event::RoomMessage(m) => m.id = id,
            Event::DirectMessage(m) => m.id = id,
            Event::RoomMessageEdited(c) | Event::RoomMessageDeleted(c) => c.id = id,
            Event::DirectMessageEdited(c) | Event::DirectMessageDeleted(c) => c.id = id,
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::UserLite;

    fn alice() -> UserLite {
        UserLite {
            id: "u1".into(),
            username: "alice".into(),
            display_name: "Alice".into(),
        }
    }

    #[test]
    fn a_message_event_travels_with_its_id_in_front() {
        let event = Event::RoomMessage(RoomMessageRecord {
            id: MessageId { ms: 5, seq: 1 },
            room_id: "r1".into(),
            sender: alice(),
            body: "hi </b> \"quoted\"".into(),
            client_id: None,
            edit: Default::default(),
        });
        let wire = event.encode();
        assert!(wire.starts_with("5-1 {"), "{wire}");
        assert_eq!(Event::decode(&wire), Some(event));
    }

    #[test]
    fn what_a_send_script_frames_decodes_with_the_id_it_assigned() {
        let json = Event::DirectMessage(DirectMessageRecord {
            id: MessageId::default(),
            sender: alice(),
            recipient: alice(),
            body: "x".into(),
            client_id: Some("k".into()),
            edit: Default::default(),
        })
        .to_json();
        // What the Lua does: id, space, the JSON it was given.
        let decoded = Event::decode(&format!("7-0 {json}")).unwrap();
        assert_eq!(decoded.message_id(), Some(MessageId { ms: 7, seq: 0 }));
    }

    #[test]
    fn other_events_are_plain_json_and_garbage_is_refused() {
        let revoked = Event::Revoked { sid: "s".into() };
        assert_eq!(revoked.encode(), r#"{"t":"x","sid":"s"}"#);
        assert_eq!(Event::decode(&revoked.encode()), Some(revoked));
        for bad in [
            "",
            "nope",
            "{\"t\":\"zz\"}",
            "1-0 {\"t\":\"x\",\"sid\":\"s\"}",
            "{\"t\":\"m\",\"room_id\":\"r\",\"sender\":{\"id\":\"a\",\"username\":\"a\",\"display_name\":\"a\"},\"body\":\"b\"}",
        ] {
            assert_eq!(Event::decode(bad), None, "{bad}");
        }
    }
}
