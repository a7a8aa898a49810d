//! Where a stream stands: the resume token clients see as the SSE `id:` of
//! messages and send back as `Last-Event-ID`.
//!
//! Messages have no global order: a room's ids come from its own Stream and
//! a conversation's from its own List, each strictly increasing, and each
//! delivered in order (one Pub/Sub channel, on one Redis node). So a
//! position is kept per *container* (a room or a conversation): the last
//! message id delivered from it. Containers the stream delivered nothing
//! from stand at the `base`, the moment (by the Redis clock) the stream's
//! lineage began: nothing of theirs with an id at or after it was sent.
//!
//! Containers are named by a 48-bit fingerprint of their id, so a token
//! stays small: about 12 bytes per container, at most [`MAX_ENTRIES`] of
//! them (the oldest are dropped past that; such a container then resumes
//! from `base`, which may repeat messages but never skips one).
//!
//! # Wire form
//! `c1.` followed by unpadded base64url of: the base (varint ms), then per
//! entry the fingerprint (6 bytes, big-endian), the id's milliseconds as a
//! zigzag varint difference from the base, and its sequence (varint); then
//! 8 bytes of HMAC-SHA256 over the user id and all of that, keyed by a key
//! derived from the server's secret. A token is good only for the user it
//! was made for, and one that was not made by confab (forged, altered,
//! truncated) is refused like garbage. At most 1 KiB, and only
//! `A-Z a-z 0-9 - _ .`: safe in a URL unescaped.

use actix_web::web::BytesMut;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::MessageId;

/// Signs and checks tokens. Cheap to clone: a keyed HMAC state.
#[derive(Clone)]
pub struct TokenKey(Hmac<Sha256>);

impl TokenKey {
    /// The token key derived from the server's secret (so it differs from
    /// the key access tokens are signed with).
    pub fn derive(secret: &[u8]) -> Self {
        let derived = Hmac::<Sha256>::new_from_slice(secret)
            .map(|mac| mac.chain_update(b"confab resume token v1").finalize())
            .map(|out| out.into_bytes());
        // HMAC takes keys of any length, so both steps succeed.
        let key = derived.map(|d| d.to_vec()).unwrap_or_default();
        Self(Hmac::<Sha256>::new_from_slice(&key).unwrap_or_else(|_| unreachable!()))
    }

    /// The first 8 bytes of the MAC of `payload` for `user_id`.
    fn tag(&self, user_id: &str, payload: &[u8]) -> [u8; 8] {
        let mut mac = self.0.clone();
        mac.update(&(user_id.len() as u64).to_be_bytes());
        mac.update(user_id.as_bytes());
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&full[..8]);
        tag
    }
}

/// Most containers a position names.
pub const MAX_ENTRIES: usize = 60;

/// The token's version prefix (also what tells it from a message id, which
/// tokens were before).
const PREFIX: &str = "c1.";

/// A container's fingerprint: the first 48 bits of the FNV-1a hash of its
/// kind and id (`r:<room id>` or `d:<lower id>:<higher id>`).
pub type Fingerprint = u64;

/// The fingerprint of a room.
pub fn room(room_id: &str) -> Fingerprint {
    fingerprint(&["r:", room_id])
}

/// The fingerprint of the conversation between two users (either order).
pub fn conversation(a: &str, b: &str) -> Fingerprint {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    fingerprint(&["d:", lo, ":", hi])
}

/// The fingerprint of a room's list of changes (edits and deletes), a
/// container of its own: change ids order only among themselves.
pub fn room_changes(room_id: &str) -> Fingerprint {
    fingerprint(&["rc:", room_id])
}

/// The fingerprint of a conversation's list of changes.
pub fn conversation_changes(a: &str, b: &str) -> Fingerprint {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    fingerprint(&["dc:", lo, ":", hi])
}

fn fingerprint(parts: &[&str]) -> Fingerprint {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash >> 16
}

/// A stream's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Milliseconds (Redis clock) at which the lineage began.
    base_ms: u64,
    /// The last id delivered from each container, oldest first.
    entries: Vec<(Fingerprint, MessageId)>,
}

impl Position {
    /// A lineage beginning at `base_ms`.
    pub fn starting_at(base_ms: u64) -> Self {
        Self {
            base_ms,
            entries: Vec::new(),
        }
    }

    /// The milliseconds of the lineage's beginning.
    pub fn base_ms(&self) -> u64 {
        self.base_ms
    }

    /// Where `container` resumes: after this id (exclusive). For a container
    /// with nothing delivered, every id from the base on is after it.
    pub fn after(&self, container: Fingerprint) -> MessageId {
        self.entries.iter().find(|(fp, _)| *fp == container).map_or(
            MessageId {
                ms: self.base_ms.saturating_sub(1),
                seq: u64::MAX,
            },
            |(_, id)| *id,
        )
    }

    /// The earliest point any container resumes from.
    pub fn earliest(&self) -> MessageId {
        let base = self.after(Fingerprint::MAX);
        self.entries
            .iter()
            .map(|(_, id)| *id)
            .fold(base, MessageId::min)
    }

    /// Records that `id` of `container` was delivered. Ids of one container
    /// arrive in order; an older one (a duplicate) changes nothing.
    pub fn advance(&mut self, container: Fingerprint, id: MessageId) {
        if let Some(i) = self.entries.iter().position(|(fp, _)| *fp == container) {
            let (_, last) = self.entries.remove(i);
            self.entries.push((container, last.max(id)));
            return;
        }
        if id <= self.after(container) {
            return;
        }
        if self.entries.len() == MAX_ENTRIES {
            // Drop the container delivered from longest ago: it resumes from
            // the base, repeating rather than skipping.
            self.entries.remove(0);
        }
        self.entries.push((container, id));
    }

    /// Whether `id` of `container` was delivered (is at or before where the
    /// container stands).
    pub fn covers(&self, container: Fingerprint, id: MessageId) -> bool {
        id <= self.after(container)
    }

    /// The token, for `user_id`. Entries that would take it past 1 KiB
    /// are left out, oldest first (those containers resume from the base).
    pub fn encode(&self, key: &TokenKey, user_id: &str) -> String {
        let mut out = BytesMut::with_capacity(64);
        self.write_token(key, user_id, &mut out);
        // Base64url and the prefix are ASCII.
        String::from_utf8(out.to_vec()).unwrap_or_default()
    }

    /// Appends the token ([`Position::encode`]) to `out` without allocating
    /// anything else: what a stream does for every message it sends.
    pub fn write_token(&self, key: &TokenKey, user_id: &str, out: &mut BytesMut) {
        let mut raw = [0u8; MAX_RAW];
        let len = self.raw(key, user_id, &mut raw);
        out.extend_from_slice(PREFIX.as_bytes());
        let start = out.len();
        // `MAX_RAW` bytes take at most 1024 - PREFIX.len() characters.
        let chars = base64::encoded_len(len, false).unwrap_or(0);
        out.resize(start + chars, 0);
        let written = URL_SAFE_NO_PAD
            .encode_slice(&raw[..len], &mut out[start..])
            .unwrap_or(0);
        out.truncate(start + written);
    }

    /// The token's binary form in `raw`: the base, the newest entries that
    /// fit (oldest first), the tag; returns its length.
    fn raw(&self, key: &TokenKey, user_id: &str, raw: &mut [u8; MAX_RAW]) -> usize {
        const BUDGET: usize = MAX_RAW - 8;
        let mut len = 0;
        put_varint(raw, &mut len, self.base_ms);
        let mut size = len;
        let mut first = self.entries.len();
        for (i, (_, id)) in self.entries.iter().enumerate().rev() {
            let entry = 6 + varint_len(zigzag(id.ms, self.base_ms)) + varint_len(id.seq);
            if size + entry > BUDGET {
                break;
            }
            size += entry;
            first = i;
        }
        for (fp, id) in &self.entries[first..] {
            raw[len..len + 6].copy_from_slice(&fp.to_be_bytes()[2..]);
            len += 6;
            put_varint(raw, &mut len, zigzag(id.ms, self.base_ms));
            put_varint(raw, &mut len, id.seq);
        }
        let tag = key.tag(user_id, &raw[..len]);
        raw[len..len + 8].copy_from_slice(&tag);
        len + 8
    }

    /// Reads a token made for `user_id`; `None` for anything that is not
    /// one (a message id from before tokens, garbage, a forged, altered,
    /// truncated or oversized token, another user's token).
    pub fn decode(token: &str, key: &TokenKey, user_id: &str) -> Option<Self> {
        if token.len() > 1024 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token.strip_prefix(PREFIX)?).ok()?;
        let (payload, tag) = bytes.split_at_checked(bytes.len().checked_sub(8)?)?;
        // Compared whole, not byte by byte, so timing says nothing.
        if key.tag(user_id, payload) != tag {
            return None;
        }
        let mut input = payload;
        let base_ms = take_varint(&mut input)?;
        let mut entries = Vec::new();
        while !input.is_empty() {
            if entries.len() == MAX_ENTRIES || input.len() < 6 {
                return None;
            }
            let (fp, rest) = input.split_at(6);
            input = rest;
            let mut wide = [0u8; 8];
            wide[2..].copy_from_slice(fp);
            let zigzag = i128::from(take_varint(&mut input)?);
            let delta = (zigzag >> 1) ^ -(zigzag & 1);
            let ms = u64::try_from(i128::from(base_ms) + delta).ok()?;
            let seq = take_varint(&mut input)?;
            entries.push((u64::from_be_bytes(wide), MessageId { ms, seq }));
        }
        Some(Self { base_ms, entries })
    }
}

/// Most bytes of a token's binary form, tag included: what 1 KiB of
/// base64 holds after the prefix.
const MAX_RAW: usize = (1024 - PREFIX.len()) / 4 * 3;

/// `ms` as a zigzag-encoded difference from `base_ms` (small either way).
fn zigzag(ms: u64, base_ms: u64) -> u64 {
    let delta = i128::from(ms) - i128::from(base_ms);
    u64::try_from(((delta << 1) ^ (delta >> 127)) as u128).unwrap_or(u64::MAX)
}

/// Writes `value` as a varint at `out[*len..]`, advancing `len`.
fn put_varint(out: &mut [u8], len: &mut usize, mut value: u64) {
    while value >= 0x80 {
        out[*len] = (value as u8) | 0x80;
        *len += 1;
        value >>= 7;
    }
    out[*len] = value as u8;
    *len += 1;
}

/// How many bytes `value` takes as a varint.
fn varint_len(value: u64) -> usize {
    (64 - value.leading_zeros() as usize).max(1).div_ceil(7)
}

fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> MessageId {
        MessageId { ms, seq }
    }

    fn key() -> TokenKey {
        TokenKey::derive(b"test-secret-test-secret")
    }

    #[test]
    fn a_position_round_trips_through_its_token() {
        let mut p = Position::starting_at(1_732_357_500_000);
        p.advance(room("r1"), id(1_732_357_500_123, 0));
        p.advance(conversation("b", "a"), id(1_732_357_499_000, 7));
        p.advance(room("r1"), id(1_732_357_500_124, 2));
        let token = p.encode(&key(), "u1");
        assert!(token.starts_with("c1."));
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        );
        assert_eq!(Position::decode(&token, &key(), "u1"), Some(p));
    }

    #[test]
    fn a_token_is_good_only_for_its_user_and_its_server() {
        let mut p = Position::starting_at(1000);
        p.advance(room("a"), id(1005, 1));
        let token = p.encode(&key(), "u1");
        assert!(Position::decode(&token, &key(), "u2").is_none());
        let other = TokenKey::derive(b"another-secret-entirely");
        assert!(Position::decode(&token, &other, "u1").is_none());
        // Any change to it is noticed.
        let mut altered = token.clone().into_bytes();
        let last = altered.len() - 5;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(Position::decode(&altered, &key(), "u1").is_none());
    }

    #[test]
    fn containers_resume_after_what_was_delivered_or_from_the_base() {
        let mut p = Position::starting_at(1000);
        p.advance(room("a"), id(1005, 1));
        assert_eq!(p.after(room("a")), id(1005, 1));
        assert!(p.after(room("b")) < id(1000, 0));
        assert!(p.covers(room("a"), id(1005, 0)));
        assert!(!p.covers(room("a"), id(1005, 2)));
        assert!(!p.covers(room("b"), id(1000, 0)));
        assert_eq!(conversation("x", "y"), conversation("y", "x"));
    }

    #[test]
    fn tokens_stay_under_a_kilobyte_and_drop_the_oldest_container() {
        let mut p = Position::starting_at(1_732_357_500_000);
        for i in 0..200u64 {
            p.advance(
                room(&format!("room-{i}")),
                id(1_732_357_600_000 + i * 997, i),
            );
        }
        let token = p.encode(&key(), "u1");
        assert!(token.len() <= 1024, "{}", token.len());
        let back = Position::decode(&token, &key(), "u1").unwrap();
        assert!(!back.covers(room("room-0"), id(1_732_357_600_000, 0)));
        assert!(back.covers(room("room-199"), id(1_732_357_600_000 + 199 * 997, 199)));
    }

    #[test]
    fn even_the_widest_entries_stay_under_a_kilobyte() {
        const YEAR_9999: u64 = 253_402_300_799_000;
        let mut p = Position::starting_at(0);
        for i in 0..MAX_ENTRIES as u64 {
            p.advance(room(&format!("r{i}")), id(YEAR_9999 + i, u64::MAX - i));
        }
        let token = p.encode(&key(), "u1");
        assert!(token.len() <= 1024, "{}", token.len());
        let back = Position::decode(&token, &key(), "u1").unwrap();
        let newest = MAX_ENTRIES as u64 - 1;
        assert!(back.covers(room(&format!("r{newest}")), id(YEAR_9999 + newest, 0)));
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for bad in [
            "",
            "1732357500123-0",
            "c1.",
            "c1.!!!",
            "c1.gA",
            "c2.AAAA",
            &format!("c1.{}", "A".repeat(2000)),
        ] {
            assert_eq!(Position::decode(bad, &key(), "u1"), None, "{bad}");
        }
    }
}
