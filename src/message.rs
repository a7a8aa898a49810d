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
