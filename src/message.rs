//! Messages as confab holds them: what the store reads and writes, what
//! events carry, and what the public [`crate::model::Message`] and
//! [`crate::model::DirectMessage`] are made from. Each shape is defined
//! here once.
//!
//! A message's id is not part of its JSON: the send scripts assign it and
//! put it in front (`<id> <json>`, see [`crate::event`]), so a record is
//! encoded by serde before its id exists.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::MessageId;

// The one short form of a user: in the API, in events and in stored
// messages alike. (Its doc comment is its OpenAPI description.)
/// The short form of a user carried inside messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice"}))]
pub struct UserLite {
    /// Stable user id.
    pub id: String,
    /// Username at the time of sending.
    pub username: String,
    /// Display name at the time of sending.
    pub display_name: String,
}

/// A room message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMessageRecord {
    /// Assigned by the send script; travels in front of the JSON.
    #[serde(skip)]
    pub id: MessageId,
    /// The room it was sent to.
    pub room_id: String,
    /// Its sender, as they were named when sending.
    pub sender: UserLite,
    /// Its text.
    pub body: String,
    /// The sender's idempotency key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// What edits and deletes made of it (never part of the stored message:
    /// kept beside it, see [`EditState`]).
    #[serde(skip)]
    pub edit: EditState,
}

/// A direct message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectMessageRecord {
    /// Assigned by the send script; travels in front of the JSON.
    #[serde(skip)]
    pub id: MessageId,
    /// Who sent it.
    pub sender: UserLite,
    /// Who it was sent to.
    pub recipient: UserLite,
    /// Its text.
    pub body: String,
    /// The sender's idempotency key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// What edits and deletes made of it (kept beside it).
    #[serde(skip)]
    pub edit: EditState,
}

/// What edits and deletes made of a message. A message itself is never
/// rewritten (a room's Stream entries cannot be, and rewriting a
/// conversation's List would move nothing but cost a search): its current
/// state is kept beside it, in its room's or conversation's hash of edits,
/// and laid over it when it is read. History pages stay exactly where they
/// were while edits happen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditState {
    /// The text as last edited; `None` while unedited (and once deleted).
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// When it was last edited (ms).
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub edited_ms: Option<u64>,
    /// When it was deleted (ms); a deleted message has no text.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub deleted_ms: Option<u64>,
}

impl EditState {
    /// The stored form (JSON), as the edits hash keeps it.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the stored form; an unreadable value counts as no edit.
    pub fn decode(stored: &str) -> Self {
        serde_json::from_str(stored).unwrap_or_default()
    }

    /// The text shown for a message whose original text is `original`:
    /// `None` once deleted.
    pub fn shown_body(&self, original: String) -> Option<String> {
        if self.deleted_ms.is_some() {
            return None;
        }
        Some(self.body.clone().unwrap_or(original))
    }
}

/// A change to a message (an edit or a delete), as its event carries it: the
/// message as it is after the change. Like a message, a change has an id of
/// its own in its room's or conversation's list of changes, assigned by the
/// script that stores it and travelling in front of its JSON; a stream's
/// resume token advances over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<M> {
    /// The change's id in its list of changes (not the message's id).
    #[serde(skip)]
    pub id: MessageId,
    /// The message after the change.
    pub message: M,
}

/// What became of a send that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent<M> {
    /// Stored (and delivered) now.
    New(M),
    /// The `client_id` was seen before: the original message; nothing was
    /// stored or delivered again.
    Repeat(M),
}

impl<M> Sent<M> {
    /// The message, new or repeated.
    pub fn message(&self) -> &M {
        match self {
            Sent::New(m) | Sent::Repeat(m) => m,
        }
    }

    /// The same outcome for a converted message.
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> Sent<N> {
        match self {
            Sent::New(m) => Sent::New(f(m)),
            Sent::Repeat(m) => Sent::Repeat(f(m)),
        }
    }
}
