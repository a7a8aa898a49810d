//! Events as they travel through Redis (Pub/Sub payloads and offline queue
//! entries) and as they leave on an SSE stream.
//!
//! The internal form is compact JSON tagged by `t`; Lua scripts write it
//! (with `cjson`), so its field names are part of the scripts' contract.
//! Turning it into the public objects (with `created_at`) happens once per
//! event per instance, not once per stream.

use bytestring::ByteString;
use serde::{Deserialize, Serialize};

use crate::clock::rfc3339_ms;
use crate::domain::MessageId;
use crate::model::{DirectMessage, MemberEvent, Message, Notification, PublicUser, UserLite};

/// (id, username, display name) of a user inside a message.
pub type LiteTuple = (String, String, String);

/// An event in its internal form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Internal {
    /// A room message (written by `send_room_message.lua`).
    #[serde(rename = "m")]
    RoomMessage {
        /// Message id.
        id: String,
        /// Room id.
        room: String,
        /// Sender.
        s: LiteTuple,
        /// Body.
        b: String,
        /// Client id.
        #[serde(default)]
        c: Option<String>,
    },
    /// A direct message (written by `send_direct_message.lua`).
    #[serde(rename = "d")]
    Direct {
        /// Message id.
        id: String,
        /// Sender.
        s: LiteTuple,
        /// Recipient.
        r: LiteTuple,
        /// Body.
        b: String,
        /// Client id.
        #[serde(default)]
        c: Option<String>,
    },
    /// Someone joined a room.
    #[serde(rename = "j")]
    MemberJoined {
        /// Room id.
        room: String,
        /// Who.
        user: PublicUser,
    },
    /// Someone left a room.
    #[serde(rename = "l")]
    MemberLeft {
        /// Room id.
        room: String,
        /// Who.
        user: PublicUser,
    },
    /// An operator's notification.
    #[serde(rename = "n")]
    Notification {
        /// Kind, chosen by the operator.
        kind: String,
        /// Text.
        text: String,
        /// When it was sent (ms).
        at: u64,
    },
    /// Control, on a user's channel: they joined a room, so their streams
    /// subscribe to it.
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

/// One SSE event, ready to write: shared (behind an `Arc`) by every stream
/// it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// `event:` name.
    pub event: &'static str,
    /// `id:`, for messages.
    pub id: Option<ByteString>,
    /// `data:`, one line of JSON.
    pub data: ByteString,
}

impl Outgoing {
    /// The message id, for messages.
    pub fn message_id(&self) -> Option<MessageId> {
        self.id.as_deref().and_then(MessageId::parse)
    }
}

fn lite((id, username, display_name): LiteTuple) -> UserLite {
    UserLite {
        id,
        username,
        display_name,
    }
}

fn created_at(id: &str) -> String {
    rfc3339_ms(MessageId::parse(id).map_or(0, |id| id.ms))
}

impl Internal {
    /// Parses a payload; `None` for anything confab did not write.
    pub fn parse(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }

    /// The public SSE event; `None` for control events.
    pub fn to_outgoing(&self) -> Option<Outgoing> {
        Some(match self.clone() {
            Internal::RoomMessage { id, room, s, b, c } => Outgoing {
                event: "message",
                data: data(&Message {
                    created_at: created_at(&id),
                    id: id.clone(),
                    room_id: room,
                    sender: lite(s),
                    body: b,
                    client_id: c,
                }),
                id: Some(id.into()),
            },
            Internal::Direct { id, s, r, b, c } => Outgoing {
                event: "direct_message",
                data: data(&DirectMessage {
                    created_at: created_at(&id),
                    id: id.clone(),
                    sender: lite(s),
                    recipient: lite(r),
                    body: b,
                    client_id: c,
                }),
                id: Some(id.into()),
            },
            Internal::MemberJoined { room, user } => Outgoing {
                event: "member_joined",
                id: None,
                data: data(&MemberEvent {
                    room_id: room,
                    user,
                }),
            },
            Internal::MemberLeft { room, user } => Outgoing {
                event: "member_left",
                id: None,
                data: data(&MemberEvent {
                    room_id: room,
                    user,
                }),
            },
            Internal::Notification { kind, text, at } => Outgoing {
                event: "notification",
                id: None,
                data: data(&Notification {
                    kind,
                    text,
                    created_at: rfc3339_ms(at),
                }),
            },
            Internal::Joined { .. } | Internal::Left { .. } | Internal::Revoked { .. } => {
                return None;
            }
        })
    }

    /// The internal JSON.
    pub fn to_json(&self) -> String {
        json(self)
    }
}

/// One line of JSON (the types serialised here cannot fail to).
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// One line of JSON as shared bytes: every stream an event goes to writes
/// the same buffer, without copying it.
fn data<T: Serialize>(value: &T) -> ByteString {
    ByteString::from(json(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_message_written_by_lua_becomes_a_message_event() {
        // The shape cjson produces in send_room_message.lua (with `\/`).
        let payload = r#"{"b":"hi <\/b>","id":"1732357500123-0","room":"r1","s":["u1","alice","Alice"],"t":"m"}"#;
        let out = Internal::parse(payload).unwrap().to_outgoing().unwrap();
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
    fn a_direct_message_spliced_by_lua_becomes_a_direct_message_event() {
        let payload =
            r#"{"t":"d","id":"5-1","s":["a","al","Al"],"r":["b","bo","Bo"],"b":"x","c":"k"}"#;
        let out = Internal::parse(payload).unwrap().to_outgoing().unwrap();
        assert_eq!(out.event, "direct_message");
        let data: serde_json::Value = serde_json::from_str(&out.data).unwrap();
        assert_eq!(data["recipient"]["username"], "bo");
        assert_eq!(data["client_id"], "k");
    }

    #[test]
    fn control_events_are_not_sent_to_clients_and_garbage_is_ignored() {
        assert!(
            Internal::Revoked { sid: "s".into() }
                .to_outgoing()
                .is_none()
        );
        assert!(Internal::parse("{\"t\":\"zz\"}").is_none());
        assert!(Internal::parse("nope").is_none());
    }
}
