//! Every Redis key confab uses, built in one place. The README's key schema
//! table documents each one.
//!
//! Keys carry a hash tag (`{u:<id>}`, `{r:<id>}`, `{d:<a>:<b>}`, `{rooms}`) so
//! that everything one script or MULTI touches lands in one Redis Cluster slot:
//! a user's keys together, a room's keys together, a conversation's keys
//! together, and the room directory together. The prefix must therefore not
//! contain `{` (checked in [`Keys::new`]).

/// Builds keys under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Prepended to every key (`confab:` by default).
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`. A `{` or `}` in the prefix would change which
    /// part of each key Redis Cluster hashes, so those are dropped.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.replace(['{', '}'], ""),
        }
    }

    /// HASH: a user's profile and password hash.
    pub fn user(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:user", self.prefix)
    }

    /// STRING: user id of the lower-cased username (uniqueness and look-up).
    pub fn username(&self, canonical: &str) -> String {
        format!("{}username:{canonical}", self.prefix)
    }

    /// STRING with TTL: an access-token session; deleting it revokes tokens.
    pub fn session(&self, user_id: &str, session_id: &str) -> String {
        format!("{}{{u:{user_id}}}:session:{session_id}", self.prefix)
    }

    /// STRING with TTL: a user's rate limiter for `action` (GCRA arrival time).
    pub fn rate_limit(&self, user_id: &str, action: &str) -> String {
        format!("{}{{u:{user_id}}}:rate:{action}", self.prefix)
    }

    /// STRING with TTL: a rate limiter for `action` by a client address
    /// (GCRA arrival time).
    pub fn rate_limit_other(&self, action: &str, id: &str) -> String {
        format!("{}rate:{action}:{id}", self.prefix)
    }

    /// STRING with TTL: failed logins on a lower-cased username from all
    /// addresses (GCRA arrival time). In the username's slot, with
    /// [`Keys::login_failures_from`], so one script reads or counts both.
    pub fn login_failures(&self, canonical: &str) -> String {
        format!("{}{{n:{canonical}}}:login-failures", self.prefix)
    }

    /// STRING with TTL: failed logins on a lower-cased username from one
    /// client address (GCRA arrival time); while it exists, that address
    /// has failures on that username.
    pub fn login_failures_from(&self, canonical: &str, address: &str) -> String {
        format!("{}{{n:{canonical}}}:login-failures:{address}", self.prefix)
    }

    /// ZSET room id -> joined at (ms): the rooms a user belongs to.
    pub fn user_rooms(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:rooms", self.prefix)
    }

    /// ZSET other user id -> last message at (ms): a user's conversations.
    pub fn user_conversations(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:conversations", self.prefix)
    }

    /// HASH: a room's fields and counters.
    pub fn room(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:room", self.prefix)
    }

    /// ZSET user id -> joined at (ms): a room's members.
    pub fn room_members(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:members", self.prefix)
    }

    /// STREAM: a room's messages, capped with `MAXLEN ~`.
    pub fn room_messages(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:messages", self.prefix)
    }

    /// ZSET user id -> messages sent: a room's top senders.
    pub fn room_senders(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:senders", self.prefix)
    }

    /// HASH user id -> `<message id> <seq>`: read markers in a room (seq:
    /// the message's number in the room, see `room_unread.lua`).
    pub fn room_read(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:read", self.prefix)
    }

    /// ZSET seq -> seq: the numbers of a user's messages in a room that are
    /// not deleted (counting unread messages from others), capped like the
    /// room's history.
    pub fn room_own(&self, room_id: &str, user_id: &str) -> String {
        format!("{}{{r:{room_id}}}:own:{user_id}", self.prefix)
    }

    /// ZSET message id -> seq: a room's deleted messages.
    pub fn room_deleted(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:deleted", self.prefix)
    }

    /// HASH message id -> edit state (JSON, `message::EditState`): what
    /// edits and deletes made of a room's messages.
    pub fn room_edits(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:edits", self.prefix)
    }

    /// STREAM: a room's edits and deletes as events (field `e`), for
    /// streams that resume or come back; capped with `MAXLEN ~`.
    pub fn room_changes(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:changes", self.prefix)
    }

    /// HASH webhook id -> the webhook (JSON, `store::webhooks::WebhookRecord`,
    /// secret included): a room's webhooks. Each has a consumer group
    /// `webhook:<id>` on the room's messages and changes streams.
    pub fn room_webhooks(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:webhooks", self.prefix)
    }

    /// HASH: a webhook's delivery counters (`delivered`, `failed`) and
    /// `last_error`, `last_delivered_at` (ms).
    pub fn webhook_stats(&self, room_id: &str, webhook_id: &str) -> String {
        format!("{}{{r:{room_id}}}:webhook:{webhook_id}", self.prefix)
    }

    /// STRING with TTL: the instance that delivers a webhook's messages now
    /// (a lease, renewed while it works).
    pub fn webhook_lease(&self, room_id: &str, webhook_id: &str) -> String {
        format!("{}{{r:{room_id}}}:webhook:{webhook_id}:lease", self.prefix)
    }

    /// ZSET `<room id>/<webhook id>` -> created at (ms): every webhook, for
    /// the delivery workers of every instance to find.
    pub fn all_webhooks(&self) -> String {
        format!("{}{{webhooks}}:all", self.prefix)
    }

    /// STRING with TTL: message id of a room send with this `client_id`.
    pub fn room_idempotency(&self, room_id: &str, sender_id: &str, client_id: &str) -> String {
        format!(
            "{}{{r:{room_id}}}:idem:{sender_id}:{client_id}",
            self.prefix
        )
    }

    /// STRING: room id of the lower-cased room name (uniqueness ignoring
    /// case; the only name key of rooms created before look-alike keys).
    pub fn room_name(&self, canonical: &str) -> String {
        format!("{}{{rooms}}:name:{canonical}", self.prefix)
    }

    /// STRING: room id of a look-alike key of a room name (a UTS #39
    /// skeleton, `domain::look_alike_keys`): uniqueness by appearance.
    pub fn room_look_alike(&self, skeleton: &str) -> String {
        format!("{}{{rooms}}:look:{skeleton}", self.prefix)
    }

    /// STRING: how far the look-alike keys of existing rooms are built,
    /// `<Unicode version> <creation recency of the last room indexed>`
    /// (`service::rooms::index_look_alikes`).
    pub fn room_look_alike_progress(&self) -> String {
        format!("{}{{rooms}}:look_progress", self.prefix)
    }

    /// ZSET room id -> created at (ms): rooms, newest first.
    pub fn rooms_by_created(&self) -> String {
        format!("{}{{rooms}}:by_created", self.prefix)
    }

    /// ZSET room id -> recency of the last edit or delete: rooms with
    /// changes, so a resume reads only those.
    pub fn rooms_by_change(&self) -> String {
        format!("{}{{rooms}}:by_change", self.prefix)
    }

    /// ZSET room id -> activity score: rooms with messages by last message
    /// time, then rooms without by creation time (see `store::rooms`).
    pub fn rooms_by_activity(&self) -> String {
        format!("{}{{rooms}}:by_activity", self.prefix)
    }

    /// LIST of `<id> <json>`: a direct conversation, oldest first. The two
    /// user ids are ordered so both directions share one list.
    pub fn direct_messages(&self, a: &str, b: &str) -> String {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        format!("{}{{d:{lo}:{hi}}}:messages", self.prefix)
    }

    /// HASH: a conversation's counters and read markers: `count` (messages
    /// ever sent; a message's number is its place in that count) and
    /// `read:<user id>` -> `<message id> <seq>`.
    pub fn direct_meta(&self, a: &str, b: &str) -> String {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        format!("{}{{d:{lo}:{hi}}}:meta", self.prefix)
    }

    /// ZSET seq -> seq: the numbers of one user's messages in a conversation
    /// that are not deleted, capped like the conversation.
    pub fn direct_own(&self, a: &str, b: &str, user_id: &str) -> String {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        format!("{}{{d:{lo}:{hi}}}:own:{user_id}", self.prefix)
    }

    /// ZSET message id -> seq: a conversation's deleted messages.
    pub fn direct_deleted(&self, a: &str, b: &str) -> String {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        format!("{}{{d:{lo}:{hi}}}:deleted", self.prefix)
    }

    /// HASH message id -> edit state (JSON): what edits and deletes made of
    /// a conversation's messages.
    pub fn direct_edits(&self, a: &str, b: &str) -> String {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        format!("{}{{d:{lo}:{hi}}}:edits", self.prefix)
    }

    /// LIST of `<change id> <json>`: a conversation's edits and deletes as
    /// events, oldest first, capped.
    pub fn direct_changes(&self, a: &str, b: &str) -> String {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        format!("{}{{d:{lo}:{hi}}}:changes", self.prefix)
    }

    /// ZSET other user id -> recency of the last edit or delete: a user's
    /// conversations with changes, so a resume reads only those.
    pub fn user_conversation_changes(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:conversation_changes", self.prefix)
    }

    /// STRING with TTL (2 s): a user's last forwarded typing notice in a
    /// room (`r:<room id>`) or conversation (`d:<other user id>`).
    pub fn typing(&self, user_id: &str, target: &str) -> String {
        format!("{}{{u:{user_id}}}:typing:{target}", self.prefix)
    }

    /// STRING with TTL: the stored message of a direct send with this
    /// `client_id`.
    pub fn direct_idempotency(&self, a: &str, b: &str, sender_id: &str, client_id: &str) -> String {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        format!(
            "{}{{d:{lo}:{hi}}}:idem:{sender_id}:{client_id}",
            self.prefix
        )
    }

    /// ZSET user id -> presence expiry (ms): who is online (holds at least
    /// one open stream on some instance). An entry whose score is in the
    /// past belongs to a crashed instance; sweepers remove it.
    pub fn presence(&self) -> String {
        format!("{}{{presence}}:online", self.prefix)
    }

    /// ZSET user id -> registration recency: every user (for broadcasts).
    pub fn all_users(&self) -> String {
        format!("{}{{presence}}:users", self.prefix)
    }

    /// ZSET stream id -> expiry (ms): a user's open streams on all instances,
    /// refreshed by each instance's heartbeat.
    pub fn user_streams(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:streams", self.prefix)
    }

    /// LIST of events (wire form): direct messages that arrived while the
    /// user had no open stream, oldest first, capped.
    pub fn offline(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:offline", self.prefix)
    }

    /// LIST of events (wire form): operator notifications that arrived while
    /// the user had no open stream, oldest first, capped on their own so a
    /// flood of messages cannot push them out.
    pub fn offline_notifications(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:notices", self.prefix)
    }

    /// STRING: the resume token of the user's last stream to close (or of
    /// a live one, refreshed by the heartbeat): where their offline backlog
    /// of room messages starts.
    pub fn position(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:position", self.prefix)
    }

    /// STRING with TTL: `<user id> <session id>` of an SSE ticket.
    pub fn ticket(&self, ticket: &str) -> String {
        format!("{}ticket:{ticket}", self.prefix)
    }

    /// Pub/Sub channel of a user: their direct messages, notifications and
    /// control events (membership changes, revoked sessions).
    pub fn user_channel(&self, user_id: &str) -> String {
        format!("{}{{u:{user_id}}}:events", self.prefix)
    }

    /// Pub/Sub channel of a room: its messages and member events.
    pub fn room_channel(&self, room_id: &str) -> String {
        format!("{}{{r:{room_id}}}:events", self.prefix)
    }

    /// Which channel this is: the inverse of the two channel names above.
    pub fn parse_channel<'a>(&self, channel: &'a str) -> Option<Channel<'a>> {
        let rest = channel.strip_prefix(self.prefix.as_str())?;
        let inner = rest.strip_prefix('{')?.strip_suffix("}:events")?;
        if let Some(user) = inner.strip_prefix("u:") {
            return Some(Channel::User(user));
        }
        inner.strip_prefix("r:").map(Channel::Room)
    }
}

/// The Redis Cluster hash slot of a key (`CLUSTER KEYSLOT`): CRC16 (XMODEM)
/// of its hash tag (the part between the first `{` and the next `}`, when
/// that is not empty) or of the whole key, modulo 16384.
pub fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes.iter().position(|&b| b == b'{').and_then(|open| {
        let len = bytes[open + 1..].iter().position(|&b| b == b'}')?;
        (len > 0).then(|| &bytes[open + 1..open + 1 + len])
    });
    crc16(tagged.unwrap_or(bytes)) % 16384
}

/// Whether all `keys` share one hash slot, as a script or `MULTI` on Redis
/// Cluster needs.
pub fn same_slot<S: AsRef<str>>(keys: &[S]) -> bool {
    keys.windows(2)
        .all(|w| slot(w[0].as_ref()) == slot(w[1].as_ref()))
}

/// CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &byte| {
        (0..8).fold(crc ^ (u16::from(byte) << 8), |crc, _| {
            if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            }
        })
    })
}

/// A Pub/Sub channel, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel<'a> {
    /// A user's channel.
    User(&'a str),
    /// A room's channel.
    Room(&'a str),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of a key Redis Cluster hashes: the first `{...}` with content.
    fn hash_tag(key: &str) -> &str {
        let open = key.find('{').expect("key has a tag");
        let close = key[open..].find('}').expect("tag closes") + open;
        &key[open + 1..close]
    }

    #[test]
    fn every_key_starts_with_the_prefix() {
        let k = Keys::new("test:");
        for key in [
            k.user("u1"),
            k.username("alice"),
            k.session("u1", "s1"),
            k.login_failures("alice"),
            k.login_failures_from("alice", "127.0.0.1"),
            k.room("r1"),
            k.room_name("general"),
            k.room_look_alike("general"),
            k.rooms_by_activity(),
            k.direct_messages("a", "b"),
            k.presence(),
        ] {
            assert!(key.starts_with("test:"), "{key}");
        }
    }

    #[test]
    fn a_users_keys_share_one_cluster_slot() {
        let k = Keys::new("c:");
        let tag = hash_tag(&k.user("u1")).to_owned();
        for key in [
            k.session("u1", "s"),
            k.user_rooms("u1"),
            k.user_conversations("u1"),
            k.rate_limit("u1", "send"),
            k.user_streams("u1"),
            k.offline("u1"),
            k.position("u1"),
            k.user_channel("u1"),
            k.user_conversation_changes("u1"),
            k.typing("u1", "r:x"),
        ] {
            assert_eq!(hash_tag(&key), tag);
        }
    }

    #[test]
    fn a_rooms_keys_share_one_cluster_slot() {
        let k = Keys::new("c:");
        let tag = hash_tag(&k.room("r1")).to_owned();
        for key in [
            k.room_members("r1"),
            k.room_messages("r1"),
            k.room_senders("r1"),
            k.room_idempotency("r1", "u1", "c:1"),
            k.room_read("r1"),
            k.room_own("r1", "u1"),
            k.room_deleted("r1"),
            k.room_edits("r1"),
            k.room_changes("r1"),
            k.room_webhooks("r1"),
            k.webhook_stats("r1", "w1"),
            k.webhook_lease("r1", "w1"),
        ] {
            assert_eq!(hash_tag(&key), tag);
        }
        assert!(same_slot(&[
            k.room_name("x"),
            k.room_look_alike("x"),
            k.room_look_alike_progress(),
            k.rooms_by_created(),
            k.rooms_by_activity(),
            k.rooms_by_change(),
        ]));
        // A brace in a name cannot move its key out of the directory's slot.
        assert_eq!(slot(&k.room_look_alike("{x}")), slot(&k.rooms_by_created()));
    }

    #[test]
    fn a_usernames_login_failure_keys_share_one_cluster_slot() {
        let k = Keys::new("c:");
        let from = k.login_failures_from("alice", "2001:db8::1");
        assert_eq!(hash_tag(&from), hash_tag(&k.login_failures("alice")));
        assert_eq!(hash_tag(&from), "n:alice");
        assert!(same_slot(&[from, k.login_failures("alice")]));
    }

    #[test]
    fn both_directions_of_a_conversation_share_one_list() {
        let k = Keys::new("c:");
        assert_eq!(k.direct_messages("a", "b"), k.direct_messages("b", "a"));
        assert_eq!(
            hash_tag(&k.direct_messages("b", "a")),
            hash_tag(&k.direct_idempotency("a", "b", "a", "x"))
        );
        assert!(same_slot(&[
            k.direct_messages("a", "b"),
            k.direct_meta("b", "a"),
            k.direct_own("b", "a", "a"),
            k.direct_deleted("a", "b"),
            k.direct_edits("b", "a"),
            k.direct_changes("a", "b"),
        ]));
    }

    #[test]
    fn channel_names_parse_back() {
        let k = Keys::new("c:");
        assert_eq!(
            k.parse_channel(&k.user_channel("u1")),
            Some(Channel::User("u1"))
        );
        assert_eq!(
            k.parse_channel(&k.room_channel("r1")),
            Some(Channel::Room("r1"))
        );
        assert_eq!(k.parse_channel("other:{u:x}:events"), None);
    }

    #[test]
    fn slots_are_computed_as_redis_cluster_does() {
        // Values from `CLUSTER KEYSLOT` on a Redis 7 cluster.
        assert_eq!(slot("123456789"), 12739);
        assert_eq!(slot("somekey"), 11058);
        assert_eq!(slot("foo{hash_tag}"), slot("hash_tag"));
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(slot("foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(slot("foo{{bar}}zap"), slot("{bar"));
        let k = Keys::new("confab:");
        assert!(same_slot(&[
            k.room("r"),
            k.room_members("r"),
            k.room_channel("r")
        ]));
        assert!(!same_slot(&[k.room("r"), k.user("r")]));
    }

    #[test]
    fn braces_in_the_prefix_cannot_move_a_key_to_another_slot() {
        let k = Keys::new("{x}:");
        assert_eq!(hash_tag(&k.user("u1")), "u:u1");
    }
}
