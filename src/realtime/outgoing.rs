//! Events as they leave on an SSE stream: the `event:` and `data:` lines
//! (one line of JSON) encoded once per event per instance and shared by
//! every stream it goes to; only a message's `id:` line, its resume token,
//! is made per stream.

use actix_web::web::Bytes;
use serde::Serialize;

use super::position::{self, Fingerprint};
use crate::domain::MessageId;
use crate::event::Event;
use crate::model::{DirectMessage, Message};

/// One SSE event, ready to write: shared (behind an `Arc`) by every stream
/// it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `event:` name.
    pub event: &'static str,
    /// For `message` and `direct_message` events: the room or conversation
    /// and the message id, which a stream's position advances to (its `id:`
    /// line is the resume token after it) and duplicates are told by.
    pub message: Option<(Fingerprint, MessageId)>,
    /// When a notification was sent (ms), to order it among messages.
    pub at_ms: Option<u64>,
    /// Whose streams do not get it: the typist's own, for a room's typing
    /// notice (every member's streams hear the room's channel).
    pub skip_user: Option<String>,
    /// The event as it is written after its `id:` line (if any):
    /// `event: <name>\ndata: <JSON>\n\n`.
    pub sse: Bytes,
}

impl Outgoing {
    /// The client-facing form of an event; `None` for control events, which
    /// only steer this instance's streams.
    pub fn from_event(event: Event) -> Option<Self> {
        let message = match &event {
            Event::RoomMessage(m) => Some((position::room(&m.room_id), m.id)),
            Event::DirectMessage(m) => {
                Some((position::conversation(&m.sender.id, &m.recipient.id), m.id))
            }
            Event::RoomMessageEdited(c) | Event::RoomMessageDeleted(c) => {
                Some((position::room_changes(&c.message.room_id), c.id))
            }
            Event::DirectMessageEdited(c) | Event::DirectMessageDeleted(c) => Some((
                position::conversation_changes(&c.message.sender.id, &c.message.recipient.id),
                c.id,
            )),
            _ => None,
        };
        let skip_user = match &event {
            Event::Typing(t) if t.room_id.is_some() => Some(t.user.id.clone()),
            _ => None,
        };
        let at_ms = match &event {
            Event::Notification(n) => crate::clock::parse_rfc3339_ms(&n.created_at),
            _ => None,
        };
        let (name, sse) = match event {
            Event::RoomMessage(m) => sse("message", &Message::from(m)),
            Event::DirectMessage(m) => sse("direct_message", &DirectMessage::from(m)),
            Event::MemberJoined(e) => sse("member_joined", &e),
            Event::MemberLeft(e) => sse("member_left", &e),
            Event::Notification(n) => sse("notification", &n),
            Event::RoomMessageEdited(c) => sse("message_edited", &c.message),
            Event::RoomMessageDeleted(c) => sse("message_deleted", &c.message),
            Event::DirectMessageEdited(c) => sse("message_edited", &c.message),
            Event::DirectMessageDeleted(c) => sse("message_deleted", &c.message),
            Event::Typing(t) => sse("typing", &t),
            Event::Read(r) => sse("read", &r),
            Event::Joined { .. } | Event::Left { .. } | Event::Revoked { .. } => return None,
        };
        Some(Self {
            event: name,
            message,
            at_ms,
            skip_user,
            sse,
        })
    }
}

/// An event's `event:` and `data:` lines, as shared bytes: every stream it
/// goes to writes the same buffer. serde_json's compact form escapes line
/// breaks, so the JSON is one `data:` line. (The public objects hold
/// strings, numbers and options only, so serialising cannot fail.)
pub fn sse<T: Serialize>(name: &'static str, value: &T) -> (&'static str, Bytes) {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    let _ = serde_json::to_writer(&mut out, value);
    out.extend_from_slice(b"\n\n");
    (name, Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DirectMessageRecord, RoomMessageRecord, UserLite};
    use crate::model::Notification;

    /// The event's JSON, checking the lines around it.
    fn data(out: &Outgoing) -> serde_json::Value {
        let text = std::str::from_utf8(&out.sse).unwrap();
        let rest = text
            .strip_prefix(&format!("event: {}\ndata: ", out.event))
            .unwrap();
        serde_json::from_str(rest.strip_suffix("\n\n").unwrap()).unwrap()
    }

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
            edit: Default::default(),
        }))
        .unwrap();
        assert_eq!(out.event, "message");
        assert_eq!(
            out.message,
            Some((
                position::room("r1"),
                MessageId::parse("1732357500123-0").unwrap()
            ))
        );
        let data = data(&out);
        assert_eq!(data["body"], "hi </b>");
        assert_eq!(data["room_id"], "r1");
        assert_eq!(data["sender"]["username"], "alice");
        assert_eq!(data["client_id"], serde_json::Value::Null);
        assert_eq!(data["created_at"], "2024-11-23T10:25:00.123Z");
    }

    #[test]
    fn a_body_with_line_breaks_stays_one_data_line() {
        let out = Outgoing::from_event(Event::RoomMessage(RoomMessageRecord {
            id: MessageId { ms: 1, seq: 0 },
            room_id: "r1".into(),
            sender: user("alice"),
            body: "one\ntwo\r\n\nthree".into(),
            client_id: None,
            edit: Default::default(),
        }))
        .unwrap();
        let text = std::str::from_utf8(&out.sse).unwrap();
        assert_eq!(text.matches('\n').count(), 3, "{text}");
        assert!(text.ends_with("\n\n"));
        assert_eq!(data(&out)["body"], "one\ntwo\r\n\nthree");
    }

    #[test]
    fn a_direct_message_becomes_a_direct_message_event() {
        let out = Outgoing::from_event(Event::DirectMessage(DirectMessageRecord {
            id: MessageId { ms: 5, seq: 1 },
            sender: user("al"),
            recipient: user("bo"),
            body: "x".into(),
            client_id: Some("k".into()),
            edit: Default::default(),
        }))
        .unwrap();
        assert_eq!(out.event, "direct_message");
        let data = data(&out);
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
        assert_eq!((note.event, note.message), ("notification", None));
    }
}
