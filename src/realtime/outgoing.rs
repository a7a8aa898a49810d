//! Events as they leave on an SSE stream: the `event:` name, the `id:` of
//! messages and one line of JSON `data:`, made once per event per instance
//! and shared by every stream it goes to.

use bytestring::ByteString;
use serde::Serialize;

use crate::domain::MessageId;
use crate::event::Event;
use crate::model::{DirectMessage, Message};

/// One SSE event, ready to write: shared (behind an `Arc`) by every stream
/// it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `event:` name.
    pub event: &'static str,
    /// The message id of `message` and `direct_message` events, used to
    /// drop duplicates.
    pub message_id: Option<MessageId>,
    /// The same id as the `id:` line writes it (what clients resume from),
    /// formatted once for every stream.
    pub id: Option<ByteString>,
    /// `data:`, one line of JSON.
    pub data: ByteString,
}

impl Outgoing {
    /// The client-facing form of an event; `None` for control events, which
    /// only steer this instance's streams.
    pub fn from_event(event: Event) -> Option<Self> {
        let message_id = event.message_id();
        let (name, data) = match event {
            Event::RoomMessage(m) => ("message", data(&Message::from(m))),
            Event::DirectMessage(m) => ("direct_message", data(&DirectMessage::from(m))),
            Event::MemberJoined(e) => ("member_joined", data(&e)),
            Event::MemberLeft(e) => ("member_left", data(&e)),
            Event::Notification(n) => ("notification", data(&n)),
            Event::Joined { .. } | Event::Left { .. } | Event::Revoked { .. } => return None,
        };
        Some(Self {
            event: name,
            message_id,
            id: message_id.map(|id| ByteString::from(id.to_string())),
            data,
        })
    }
}

/// One line of JSON as shared bytes: every stream an event goes to writes
/// the same buffer, without copying it. (The public objects hold strings,
/// numbers and options only, so serialising cannot fail.)
fn data<T: Serialize>(value: &T) -> ByteString {
    ByteString::from(serde_json::to_string(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DirectMessageRecord, RoomMessageRecord, UserLite};
    use crate::model::Notification;

    fn user(name: &str) -> UserLite {
        UserLite {
            id: format!("id-{name}"),
            username: name.into(),
            display_name: name.to_uppercase(),
        }
    }

    #[test]
    fn a_room_message_becomes_a_message_event_with_its_id() {
        let out = Outgoing::from_event(Event::RoomMessage(RoomMessageRecord {
            id: MessageId::parse("1732357500123-0").unwrap(),
            room_id: "r1".into(),
            sender: user("alice"),
            body: "hi </b>".into(),
            client_id: None,
        }))
        .unwrap();
        assert_eq!(out.event, "message");
        assert_eq!(out.id.as_deref(), Some("1732357500123-0"));
        let data: serde_json::Value = serde_json::from_str(&out.data).unwrap();
        assert_eq!(data["body"], "hi </b>");
        assert_eq!(data["room_id"], "r1");
        assert_eq!(data["sender"]["username"], "alice");
        assert_eq!(data["client_id"], serde_json::Value::Null);
        assert_eq!(data["created_at"], "2024-11-23T10:25:00.123Z");
    }

    #[test]
    fn a_direct_message_becomes_a_direct_message_event() {
        let out = Outgoing::from_event(Event::DirectMessage(DirectMessageRecord {
            id: MessageId { ms: 5, seq: 1 },
            sender: user("al"),
            recipient: user("bo"),
            body: "x".into(),
            client_id: Some("k".into()),
        }))
        .unwrap();
        assert_eq!(out.event, "direct_message");
        let data: serde_json::Value = serde_json::from_str(&out.data).unwrap();
        assert_eq!(data["recipient"]["username"], "bo");
        assert_eq!(data["client_id"], "k");
    }

    #[test]
    fn control_events_are_not_sent_to_clients() {
        assert!(Outgoing::from_event(Event::Revoked { sid: "s".into() }).is_none());
        let note = Outgoing::from_event(Event::Notification(Notification {
            kind: "k".into(),
            text: "t".into(),
            created_at: "2024-11-23T10:25:00.123Z".into(),
        }))
        .unwrap();
        assert_eq!((note.event, note.message_id), ("notification", None));
    }
}
