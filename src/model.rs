//! The JSON objects of the public contract, and their conversions from
//! messages as confab holds them. Their doc comments are the OpenAPI schema
//! descriptions. (The store's records of users and rooms convert into these
//! beside their definitions, in `store`.)

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::rfc3339_ms;
use crate::message::{DirectMessageRecord, RoomMessageRecord};

pub use crate::message::UserLite;

/// The signed-in user, as they see themselves.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11",
    "username": "alice",
    "display_name": "Alice",
    "created_at": "2026-11-23T10:25:00.123Z"
}))]
pub struct User {
    /// Stable user id.
    pub id: String,
    /// Unique ignoring case; 3..=32 of `[A-Za-z0-9_.-]`.
    pub username: String,
    /// 1..=64 characters in Unicode NFC, without control or format
    /// characters; defaults to the username.
    pub display_name: String,
    /// Registration time (RFC 3339, UTC, milliseconds).
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// Another user, as anyone signed in sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "username": "bob", "display_name": "Bob", "online": false, "last_seen_at": "2026-11-23T09:58:12.345Z"}))]
pub struct PublicUser {
    /// Stable user id.
    pub id: String,
    /// Unique ignoring case.
    pub username: String,
    /// Shown beside their messages, with the username (display names are
    /// not unique).
    pub display_name: String,
    /// Whether they hold at least one open event stream.
    pub online: bool,
    /// When their last stream closed; null if never seen or online now.
    #[schema(required = true, format = DateTime)]
    pub last_seen_at: Option<String>,
}

/// A chat room.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b", "name": "general", "topic": "Anything goes", "created_by": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "created_at": "2026-11-23T10:00:00.000Z", "member_count": 2, "message_count": 42, "last_activity_at": "2026-11-23T10:25:00.123Z"}))]
pub struct Room {
    /// Stable room id.
    pub id: String,
    /// 1..=64 characters in Unicode NFC, without control or format
    /// characters; unique ignoring case and look-alike letters.
    pub name: String,
    /// Up to 256 characters, or null.
    #[schema(required = true)]
    pub topic: Option<String>,
    /// Id of the user who created the room.
    pub created_by: String,
    /// Creation time.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Current number of members.
    pub member_count: u64,
    /// Messages ever sent to the room (history keeps the most recent ones).
    pub message_count: u64,
    /// Time of the latest message; null before the first.
    #[schema(required = true, format = DateTime)]
    pub last_activity_at: Option<String>,
}

/// A message in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "1732357500123-0",
    "room_id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b",
    "sender": {"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice"},
    "body": "hello, world",
    "created_at": "2024-11-23T10:25:00.123Z",
    "client_id": "a1b2c3",
    "edited_at": null,
    "deleted_at": null
}))]
pub struct Message {
    /// The Redis Stream entry id, `<ms>-<seq>`; orders by time.
    pub id: String,
    /// The room it was sent to.
    pub room_id: String,
    /// Who sent it.
    pub sender: UserLite,
    /// 1..=4000 characters (as last edited); null once deleted.
    #[schema(required = true)]
    pub body: Option<String>,
    /// When the server stored it.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The sender's idempotency key, if one was given.
    #[schema(required = true)]
    pub client_id: Option<String>,
    /// When its sender last edited it; null if never.
    #[schema(required = true, format = DateTime)]
    pub edited_at: Option<String>,
    /// When its sender deleted it; null unless deleted. A deleted message
    /// keeps its place in history, with a null body.
    #[schema(required = true, format = DateTime)]
    pub deleted_at: Option<String>,
}

/// A direct message between two users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "1732357600456-0", "sender": {"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice"}, "recipient": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "username": "bob", "display_name": "Bob"}, "body": "hi bob", "created_at": "2024-11-23T10:26:40.456Z", "client_id": null, "edited_at": null, "deleted_at": null}))]
pub struct DirectMessage {
    /// `<ms>-<seq>`, the same kind of id as room messages; orders by time.
    pub id: String,
    /// Who sent it.
    pub sender: UserLite,
    /// Who it was sent to.
    pub recipient: UserLite,
    /// 1..=4000 characters (as last edited); null once deleted.
    #[schema(required = true)]
    pub body: Option<String>,
    /// When the server stored it.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The sender's idempotency key, if one was given.
    #[schema(required = true)]
    pub client_id: Option<String>,
    /// When its sender last edited it; null if never.
    #[schema(required = true, format = DateTime)]
    pub edited_at: Option<String>,
    /// When its sender deleted it; null unless deleted. A deleted message
    /// keeps its place in history, with a null body.
    #[schema(required = true, format = DateTime)]
    pub deleted_at: Option<String>,
}

/// A page of room history, always oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"messages": [{"id": "1732357500123-0", "room_id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b", "sender": {"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice"}, "body": "hello, world", "created_at": "2024-11-23T10:25:00.123Z", "client_id": "a1b2c3", "edited_at": null, "deleted_at": null}], "has_more": false}))]
pub struct MessagePage {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Whether messages exist beyond this page in the direction of travel
    /// (older for `before` and for no cursor, newer for `after`).
    pub has_more: bool,
}

/// A page of a direct conversation, always oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"messages": [{"id": "1732357600456-0", "sender": {"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice"}, "recipient": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "username": "bob", "display_name": "Bob"}, "body": "hi bob", "created_at": "2024-11-23T10:26:40.456Z", "client_id": null, "edited_at": null, "deleted_at": null}], "has_more": false}))]
pub struct DirectMessagePage {
    /// Oldest first.
    pub messages: Vec<DirectMessage>,
    /// Whether messages exist beyond this page in the direction of travel.
    pub has_more: bool,
}

/// A room member.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"user": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "username": "bob", "display_name": "Bob", "online": false, "last_seen_at": "2026-11-23T09:58:12.345Z"}, "joined_at": "2026-11-23T10:01:30.000Z"}))]
pub struct Member {
    /// The member.
    pub user: PublicUser,
    /// When they joined.
    #[schema(format = DateTime)]
    pub joined_at: String,
}

/// A direct conversation and its latest message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"user": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "username": "bob", "display_name": "Bob", "online": false, "last_seen_at": "2026-11-23T09:58:12.345Z"}, "last_message": {"id": "1732357600456-0", "sender": {"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice"}, "recipient": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "username": "bob", "display_name": "Bob"}, "body": "hi bob", "created_at": "2024-11-23T10:26:40.456Z", "client_id": null, "edited_at": null, "deleted_at": null}, "last_read_id": null, "unread_count": 1}))]
pub struct Conversation {
    /// The other participant.
    pub user: PublicUser,
    /// The latest message either of you sent.
    pub last_message: DirectMessage,
    /// Your read marker in the conversation: the id of the last message you
    /// marked read (`PUT /api/v1/users/{username}/read`); null before the
    /// first.
    #[schema(required = true)]
    pub last_read_id: Option<String>,
    /// Messages from the other user after your read marker that are not
    /// deleted, counted exactly up to 100: 100 means "100 or more" (show
    /// "99+").
    #[schema(maximum = 100)]
    pub unread_count: u64,
}

/// One of your rooms, with your read state in it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b", "name": "general", "topic": "Anything goes", "created_by": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "created_at": "2026-11-23T10:00:00.000Z", "member_count": 2, "message_count": 42, "last_activity_at": "2026-11-23T10:25:00.123Z", "last_read_id": "1732357500123-0", "unread_count": 3}))]
pub struct MyRoom {
    /// The room.
    #[serde(flatten)]
    pub room: Room,
    /// Your read marker in the room: the id of the last message you marked
    /// read (`PUT /api/v1/rooms/{room_id}/read`); null before the first.
    #[schema(required = true)]
    pub last_read_id: Option<String>,
    /// Messages from others after your read marker that are not deleted,
    /// counted exactly up to 100: 100 means "100 or more" (show "99+").
    /// Without a marker, every message from others counts.
    #[schema(maximum = 100)]
    pub unread_count: u64,
}

/// Body of a read-marker update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"message_id": "1732357500123-0"}))]
pub struct ReadRequest {
    /// The id of a message of this room or conversation: everything up to
    /// it counts as read. Markers only move forward; an older id is
    /// accepted and changes nothing.
    pub message_id: String,
}

/// Body of a message edit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "hello, world (edited)"}))]
pub struct EditMessageRequest {
    /// The new text: 1..=4000 characters, not only whitespace.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub body: String,
}

/// The data of a `typing` event: someone is typing in a room you belong to
/// (`room_id` set) or in your conversation with them (`room_id` null).
/// Show it for about 5 seconds; while they keep typing another comes at
/// most every 2 seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"room_id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b", "user": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "username": "bob", "display_name": "Bob"}}))]
pub struct TypingEvent {
    /// The room, or null for a direct conversation.
    #[schema(required = true)]
    pub room_id: Option<String>,
    /// Who is typing.
    pub user: UserLite,
}

/// The data of a `read` event: you moved a read marker (on this or another
/// device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"room_id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b", "username": null, "message_id": "1732357500123-0"}))]
pub struct ReadEvent {
    /// The room whose marker moved, or null for a conversation.
    #[schema(required = true)]
    pub room_id: Option<String>,
    /// The other user of the conversation whose marker moved, or null for
    /// a room.
    #[schema(required = true)]
    pub username: Option<String>,
    /// Where the marker stands now.
    pub message_id: String,
}

/// One of a room's most active senders.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"user": {"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice"}, "count": 17}))]
pub struct TopSender {
    /// The sender.
    pub user: UserLite,
    /// Messages they sent to the room.
    pub count: u64,
}

/// A room's message statistics.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"message_count": 42, "top_senders": [{"user": {"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice"}, "count": 17}]}))]
pub struct RoomStats {
    /// Messages ever sent to the room.
    pub message_count: u64,
    /// At most 10, most messages first.
    pub top_senders: Vec<TopSender>,
}

/// The data of `member_joined` and `member_left` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"room_id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b", "user": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "username": "bob", "display_name": "Bob", "online": true, "last_seen_at": null}}))]
pub struct MemberEvent {
    /// The room.
    pub room_id: String,
    /// Who joined or left.
    pub user: PublicUser,
}

impl MemberEvent {
    /// `user` joined or left `room_id`.
    pub fn new(room_id: &str, user: PublicUser) -> Self {
        Self {
            room_id: room_id.to_owned(),
            user,
        }
    }
}

/// The data of a `notification` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "maintenance", "text": "Maintenance at 22:00 UTC", "created_at": "2026-11-23T12:00:00.000Z"}))]
pub struct Notification {
    /// What kind of notification (`announcement` unless the operator said).
    pub kind: String,
    /// The text.
    pub text: String,
    /// When it was sent.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A successful login.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI2ZjFjIn0.c2lnbmF0dXJl", "token_type": "Bearer", "expires_in": 86400, "user": {"id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "username": "alice", "display_name": "Alice", "created_at": "2026-11-23T10:25:00.123Z"}}))]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: TokenType,
    /// Seconds until the token (and its session) expires.
    pub expires_in: u64,
    /// The signed-in user.
    pub user: User,
}

/// How to present an access token: always `Bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum TokenType {
    /// `Authorization: Bearer <access_token>`.
    Bearer,
}

macro_rules! list_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
        pub struct $name {
            /// This page, newest first.
            pub items: Vec<$item>,
            /// Pass as `?cursor=` for the next page; null on the last page.
            #[schema(required = true)]
            pub next_cursor: Option<String>,
        }
    };
}

list_type!(RoomList, Room, "A page of rooms.");
list_type!(
    MyRoomList,
    MyRoom,
    "A page of your rooms, latest joined first, with your read state."
);
list_type!(
    MemberList,
    Member,
    "A page of room members, latest joined first."
);
list_type!(PublicUserList, PublicUser, "A page of users.");
list_type!(WebhookList, Webhook, "A page of a room's webhooks.");
list_type!(
    ConversationList,
    Conversation,
    "A page of conversations, most recent first."
);

impl From<RoomMessageRecord> for Message {
    fn from(m: RoomMessageRecord) -> Self {
        Self {
            id: m.id.to_string(),
            room_id: m.room_id,
            sender: m.sender,
            body: m.edit.shown_body(m.body),
            created_at: rfc3339_ms(m.id.ms),
            client_id: m.client_id,
            edited_at: m.edit.edited_ms.map(rfc3339_ms),
            deleted_at: m.edit.deleted_ms.map(rfc3339_ms),
        }
    }
}

impl From<DirectMessageRecord> for DirectMessage {
    fn from(m: DirectMessageRecord) -> Self {
        Self {
            id: m.id.to_string(),
            sender: m.sender,
            recipient: m.recipient,
            body: m.edit.shown_body(m.body),
            created_at: rfc3339_ms(m.id.ms),
            client_id: m.client_id,
            edited_at: m.edit.edited_ms.map(rfc3339_ms),
            deleted_at: m.edit.deleted_ms.map(rfc3339_ms),
        }
    }
}

/// Body of a message send (to a room or a user).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "hello, world", "client_id": "a1b2c3"}))]
pub struct SendMessageRequest {
    /// 1..=4000 characters, not only whitespace.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub body: String,
    /// 1..=64 characters. Makes the send idempotent: repeating it to the same
    /// room or user within 24 hours returns the original message with 200.
    #[schema(min_length = 1, max_length = 64)]
    pub client_id: Option<String>,
}

/// An outgoing webhook: a room's messages POSTed to `url`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "5b0d3c2e-7f1a-4e8b-9c6d-2a1b0c9d8e7f", "room_id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b", "url": "https://bots.example.com/confab", "description": "CI notifier", "created_by": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "created_at": "2026-11-30T10:00:00.000Z", "pending": 0, "delivered": 42, "failed": 0, "last_error": null, "last_delivered_at": "2026-11-30T10:25:00.123Z"}))]
pub struct Webhook {
    /// Stable webhook id (`Confab-Webhook-Id` on its deliveries).
    pub id: String,
    /// The room whose messages it receives.
    pub room_id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// What it is for; null if its creator said nothing.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Id of the member who added it.
    pub created_by: String,
    /// When it was added; messages sent after this are delivered.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Messages (and edits, deletes) not yet delivered or given up.
    pub pending: u64,
    /// Delivered: the receiver answered 2xx.
    pub delivered: u64,
    /// Given up after 24 hours of retries.
    pub failed: u64,
    /// Why the last failed attempt failed (a status and the start of the
    /// answer, a timeout, an unreachable host); null before any failure.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// When the last delivery was acknowledged; null before the first.
    #[schema(required = true, format = DateTime)]
    pub last_delivered_at: Option<String>,
}

/// A webhook just added, with its signing secret: shown only this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "5b0d3c2e-7f1a-4e8b-9c6d-2a1b0c9d8e7f", "room_id": "0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b", "url": "https://bots.example.com/confab", "description": "CI notifier", "created_by": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "created_at": "2026-11-30T10:00:00.000Z", "pending": 0, "delivered": 0, "failed": 0, "last_error": null, "last_delivered_at": null, "secret": "whsec_9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}))]
pub struct NewWebhook {
    /// The webhook.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// Keys the HMAC-SHA256 in each delivery's `Confab-Signature`
    /// (`t=<unix seconds>,v1=<hex of HMAC("<t>.<body>")>`). Keep it: it is
    /// never shown again.
    pub secret: String,
}

/// Body of a webhook creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://bots.example.com/confab", "description": "CI notifier"}))]
pub struct CreateWebhookRequest {
    /// An `http` or `https` URL, at most 2048 characters, that resolves to
    /// public addresses (unless the server allows private ones).
    #[schema(max_length = 2048)]
    pub url: String,
    /// Up to 256 characters.
    #[schema(max_length = 256)]
    pub description: Option<String>,
}

/// A short-lived credential that opens event streams.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"ticket": "3q2-7wE9fT0yXk1cVb4nMa", "expires_in": 60}))]
pub struct Ticket {
    /// Pass as `GET /api/v1/events?ticket=...`. Good for opening streams
    /// only, as often as needed until it expires or its session ends.
    pub ticket: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}
