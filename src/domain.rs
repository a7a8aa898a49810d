//! Newtypes that parse untrusted input at the edge, so the inside of confab
//! never sees an invalid username, body or id. Each `parse` returns an
//! [`Invalid`] naming the field, which the HTTP edge answers as
//! `validation_failed`.
//!
//! Lengths are checked on the value as sent, as the OpenAPI document states
//! them (`maxLength`), before surrounding white space is trimmed; the
//! trimmed value must then still meet the minimum.
//!
//! # Names people tell apart
//! Display names and room names are what people recognise each other and
//! rooms by, so they get stricter rules than prose (topics, message
//! bodies), checked in this order:
//! 1. at most 64 characters as sent, then trimmed to at least 1;
//! 2. no control characters (general category Cc) and no format
//!    characters (Cf: bidirectional overrides such as U+202E, zero-width
//!    spaces and joiners, soft hyphens, the byte order mark, tags), which
//!    are invisible or reorder what is shown;
//! 3. normalised to NFC, which is what is stored and returned: the same
//!    text typed as precomposed `é` or as `e` + U+0301 is one name. NFC
//!    shortens decomposed input and, for a few characters that have no
//!    precomposed form (U+FB2C, U+0958...), lengthens it, so the NFC form
//!    must be 1..=64 characters too.
//!
//! Room names are unique by how they look, not only ignoring case: see
//! [`RoomName::look_alike_keys`].

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_security::confusable_detection::skeleton;

/// A value that breaks a rule: which field, and which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The field, query parameter or path segment.
    pub field: String,
    /// The rule it breaks.
    pub message: String,
}

impl Invalid {
    /// `field` breaks the rule `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks that `value` has `min..=max` characters.
fn chars_between(field: &str, value: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(Invalid::new(
            field,
            format!("must be {min} to {max} characters long (got {n})"),
        ));
    }
    Ok(())
}

/// Checks the length as sent (at most `max`), then trims and checks the
/// trimmed value is at least `min` long.
fn trimmed_between<'a>(
    field: &str,
    value: &'a str,
    min: usize,
    max: usize,
) -> Result<&'a str, Invalid> {
    chars_between(field, value, 0, max)?;
    let trimmed = value.trim();
    chars_between(field, trimmed, min, max)?;
    Ok(trimmed)
}

/// A string with no control characters (newlines and tabs are allowed where
/// `allow_newlines` says so).
fn no_control_chars(field: &str, value: &str, allow_newlines: bool) -> Result<(), Invalid> {
    let bad = value
        .chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')));
    if bad {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(())
}

/// A string with no format characters (general category Cf): bidirectional
/// overrides and isolates, zero-width spaces and joiners, soft hyphens, the
/// byte order mark, tag characters. The detail names the first one found,
/// since the client cannot see it.
fn no_format_chars(field: &str, value: &str) -> Result<(), Invalid> {
    match value
        .chars()
        .find(|c| c.general_category() == GeneralCategory::Format)
    {
        Some(c) => Err(Invalid::new(
            field,
            format!(
                "must not contain invisible format characters such as bidirectional \
                 overrides or zero-width spaces (found U+{:04X})",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// A name people tell apart (see the module docs, "Names people tell
/// apart"): at most `max` characters as sent, trimmed, no control or format
/// characters, returned in NFC, which must be 1..=`max` characters too.
fn checked_name(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = trimmed_between(field, value, 1, max)?;
    no_control_chars(field, trimmed, false)?;
    no_format_chars(field, trimmed)?;
    let nfc: String = trimmed.nfc().collect();
    let n = nfc.chars().count();
    if n > max {
        return Err(Invalid::new(
            field,
            format!("must be 1 to {max} characters long once normalised to NFC (got {n})"),
        ));
    }
    Ok(nfc)
}

/// A username: 3..=32 of `[A-Za-z0-9_.-]`, not `online` in any case. Unique
/// ignoring case; [`Username::canonical`] is the form uniqueness is checked on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Checks the username rules.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        const FIELD: &str = "username";
        chars_between(FIELD, value, 3, 32)?;
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(Invalid::new(
                FIELD,
                "may contain only letters A-Z and a-z, digits, `_`, `.` and `-`",
            ));
        }
        if value.eq_ignore_ascii_case("online") {
            return Err(Invalid::new(FIELD, "`online` is reserved"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The lower-case form that uniqueness and look-ups use.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The username as the user typed it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password: 8..=128 characters. Never logged; only its hash is stored.
pub struct Password(String);

impl Password {
    /// Checks the password rules.
    pub fn parse(value: String) -> Result<Self, Invalid> {
        chars_between("password", &value, 8, 128)?;
        Ok(Self(value))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A display name: 1..=64 characters after trimming, no control or format
/// characters, in NFC (see the module docs). Not unique: clients show the
/// username beside it wherever people could be confused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Checks the display name rules and normalises to NFC.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        checked_name("display_name", value, 64).map(Self)
    }

    /// The display name of someone who did not choose one: their username.
    pub fn from_username(username: &Username) -> Self {
        Self(username.as_str().to_owned())
    }

    /// The checked value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A room name: 1..=64 characters after trimming, no control or format
/// characters, in NFC (see the module docs); unique ignoring case and
/// look-alikes ([`RoomName::look_alike_keys`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    /// Checks the room name rules and normalises to NFC.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        checked_name("name", value, 64).map(Self)
    }

    /// The lower-case form: two names equal ignoring case have the same one.
    /// (The uniqueness key of rooms created before look-alike checks, still
    /// claimed by every new room.)
    pub fn canonical(&self) -> String {
        self.0.to_lowercase()
    }

    /// The keys a room name is unique by: two rooms may not share any. See
    /// [`look_alike_keys`].
    pub fn look_alike_keys(&self) -> Vec<String> {
        look_alike_keys(&self.0)
    }

    /// The checked value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A room topic: up to 256 characters; empty means none. A topic is prose,
/// like a message body, and identifies nothing (it is not unique and is not
/// who or where someone is), so unlike names it may hold format characters
/// (emoji joined with U+200D, U+200C in Persian or Indic words, marks that
/// set the direction of mixed text) and is stored as sent. Clients show it
/// isolated from the text around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic(String);

impl Topic {
    /// Checks the topic rules; an empty topic is `None`.
    pub fn parse(value: &str) -> Result<Option<Self>, Invalid> {
        const FIELD: &str = "topic";
        let value = trimmed_between(FIELD, value, 0, 256)?;
        no_control_chars(FIELD, value, false)?;
        Ok((!value.is_empty()).then(|| Self(value.to_owned())))
    }

    /// The checked value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A webhook's description: up to 256 characters, no control characters;
/// an empty one is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDescription(String);

impl WebhookDescription {
    /// Checks the description rules; an empty description is `None`.
    pub fn parse(value: &str) -> Result<Option<Self>, Invalid> {
        const FIELD: &str = "description";
        let value = trimmed_between(FIELD, value, 0, 256)?;
        no_control_chars(FIELD, value, false)?;
        Ok((!value.is_empty()).then(|| Self(value.to_owned())))
    }

    /// The checked value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A message body: 1..=4000 characters, not only whitespace. Newlines are
/// kept; other control characters are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    /// Checks the body rules.
    pub fn parse(value: String) -> Result<Self, Invalid> {
        const FIELD: &str = "body";
        chars_between(FIELD, &value, 1, 4000)?;
        if value.trim().is_empty() {
            return Err(Invalid::new(FIELD, "must not be only whitespace"));
        }
        no_control_chars(FIELD, &value, true)?;
        Ok(Self(value))
    }

    /// The checked value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The checked value, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A client-chosen idempotency key: 1..=64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    /// Checks the client id rules.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        const FIELD: &str = "client_id";
        chars_between(FIELD, value, 1, 64)?;
        no_control_chars(FIELD, value, false)?;
        Ok(Self(value.to_owned()))
    }

    /// The checked value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The checked value, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A message id: a Redis Stream entry id `<unix ms>-<sequence>`. Room and
/// direct messages share this form, so ids order by time across both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId {
    /// Milliseconds since the Unix epoch.
    pub ms: u64,
    /// Order among messages of the same millisecond.
    pub seq: u64,
}

impl MessageId {
    /// The smallest id (`0-0`): nothing is older.
    pub const MIN: MessageId = MessageId { ms: 0, seq: 0 };
    /// The largest id: nothing is newer.
    pub const MAX: MessageId = MessageId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// Parses `<ms>-<seq>`, both plain decimal numbers.
    pub fn parse(value: &str) -> Option<Self> {
        let (ms, seq) = value.split_once('-')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// Parses a query parameter, answering 400 naming it when malformed.
    pub fn parse_param(field: &str, value: &str) -> Result<Self, Invalid> {
        Self::parse(value)
            .ok_or_else(|| Invalid::new(field, "must be a message id such as `1732357500123-0`"))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The `?limit=` of a list or history request: 1..=100, default 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub usize);

impl Limit {
    /// The page size when the client names none.
    pub const DEFAULT: Limit = Limit(50);

    /// Checks the limit rules.
    pub fn parse(value: Option<&str>) -> Result<Self, Invalid> {
        let Some(value) = value else {
            return Ok(Self::DEFAULT);
        };
        match value.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(Self(n)),
            _ => Err(Invalid::new("limit", "must be an integer from 1 to 100")),
        }
    }
}

/// The keys a room name is unique by (UTS #39 confusable skeletons), of
/// `name` in NFC (`n`): `skeleton(lowercase(n))` and `skeleton(n)`, without
/// repeats. Two names clash when they share any key:
/// - equal ignoring case: their lower-case forms are equal, so are the
///   skeletons of them (the rule rooms had before stays exactly);
/// - look-alike in lower case: `Cafe` and `Cаfe` (Cyrillic `а`), `modern`
///   and `rnodern`;
/// - look-alike as written, which the lower-case skeleton misses where
///   capitals look alike but their small letters do not: `TOM` and `ТОМ`
///   (Cyrillic, whose small `т` and `м` look like no Latin letter), `label`
///   and `Iabel` (capital i).
///
/// The skeleton drops default-ignorable characters (the format characters
/// new names may not hold), so names stored before those were refused get
/// the keys of what they look like. A skeleton is for comparing only, never
/// for showing; it can be longer than the name (`m` becomes `rn`).
pub fn look_alike_keys(name: &str) -> Vec<String> {
    let nfc: String = name.nfc().collect();
    let folded: String = skeleton(&nfc.to_lowercase()).collect();
    let as_written: String = skeleton(&nfc).collect();
    if folded == as_written {
        vec![folded]
    } else {
        vec![folded, as_written]
    }
}

/// Whether `id` has the form of the ids confab generates (UUIDs). Anything
/// else cannot name a room or user, so it is "not found" without asking Redis.
pub fn is_valid_id(id: &str) -> bool {
    uuid::Uuid::try_parse(id).is_ok()
}

/// A new random id for a user or room.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(Username::parse("al").is_err());
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("a.l-i_ce9").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("alicé").is_err());
        assert!(Username::parse("OnLine").is_err());
        assert_eq!(Username::parse("Alice").unwrap().canonical(), "alice");
    }

    #[test]
    fn a_bad_username_names_the_field() {
        let err = Username::parse("x").unwrap_err();
        assert_eq!(err.field, "username");
        assert!(err.to_string().starts_with("username: "));
    }

    #[test]
    fn passwords_are_8_to_128_characters_and_never_printed() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(128)).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
        let p = Password::parse("hunter22secret".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter22"));
    }

    #[test]
    fn display_names_and_room_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Al  ").unwrap().as_str(), "Al");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"é".repeat(64)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(65)).is_err());
        assert!(RoomName::parse(&format!("{}  ", "r".repeat(63))).is_err());
        assert!(RoomName::parse("").is_err());
        assert!(RoomName::parse("a\u{0}b").is_err());
        assert_eq!(RoomName::parse("General").unwrap().canonical(), "general");
    }

    #[test]
    fn names_refuse_format_characters_naming_the_field_and_the_character() {
        for bad in [
            "evil\u{202E}gnp.exe",
            "a\u{200B}b",
            "a\u{200D}b",
            "\u{FEFF}bom",
            "soft\u{AD}hyphen",
            "\u{2066}isolated\u{2069}",
            "tag\u{E0041}",
        ] {
            let err = DisplayName::parse(bad).unwrap_err();
            assert_eq!(err.field, "display_name", "{bad:?}");
            assert!(err.message.contains("format characters"), "{err}");
            let err = RoomName::parse(bad).unwrap_err();
            assert_eq!(err.field, "name", "{bad:?}");
        }
        let err = RoomName::parse("Ca\u{200B}fe").unwrap_err();
        assert!(err.message.ends_with("(found U+200B)"), "{err}");
        // Control characters stay refused, inside and between words.
        assert!(DisplayName::parse("a\u{1B}[31mred").is_err());
        assert!(RoomName::parse("two\nlines").is_err());
        assert!(RoomName::parse("next\u{85}line").is_err());
        // Prose keeps them: an emoji joined with U+200D in a topic.
        assert!(
            Topic::parse("we \u{1F469}\u{200D}\u{1F4BB}")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn names_are_stored_in_nfc() {
        let decomposed = "Cafe\u{301}";
        assert_eq!(RoomName::parse(decomposed).unwrap().as_str(), "Caf\u{E9}");
        assert_eq!(
            DisplayName::parse(" Zoe\u{308} ").unwrap().as_str(),
            "Zo\u{EB}"
        );
        // 64 characters as sent, 32 once composed.
        assert_eq!(
            RoomName::parse(&"e\u{301}".repeat(32)).unwrap().as_str(),
            "\u{E9}".repeat(32)
        );
        // Some characters have no composed form and grow under NFC: the
        // stored form must fit too.
        assert!(RoomName::parse(&"\u{FB2C}".repeat(21)).is_ok());
        let err = RoomName::parse(&"\u{FB2C}".repeat(22)).unwrap_err();
        assert!(
            err.message.contains("once normalised to NFC (got 66)"),
            "{err}"
        );
    }

    #[test]
    fn look_alike_room_names_share_a_key() {
        let keys = |name: &str| RoomName::parse(name).unwrap().look_alike_keys();
        let clash = |a: &str, b: &str| keys(a).iter().any(|k| keys(b).contains(k));
        for (a, b) in [
            ("Cafe", "C\u{430}fe"),                             // Cyrillic a
            ("General", "gENERAL"),                             // case
            ("paypal", "\u{440}\u{430}\u{443}\u{440}\u{430}l"), // Cyrillic p, a, y
            ("TOM", "\u{422}\u{41E}\u{41C}"),                   // Cyrillic capitals
            ("label", "Iabel"),                                 // capital i
            ("modern", "rnodern"),
            ("Caf\u{E9}", "Cafe\u{301}"), // NFC and NFD
            ("\u{3A3}\u{39F}\u{3A3}", "\u{3C3}\u{3BF}\u{3C2}"), // Greek, final sigma
        ] {
            assert!(clash(a, b), "{a} and {b} should clash");
        }
        for (a, b) in [
            ("bail", "ball"),
            ("mail", "MALL"),
            ("tom", "\u{442}\u{43E}\u{43C}"),
            ("Stra\u{DF}e", "Strasse"),
        ] {
            assert!(!clash(a, b), "{a} and {b} should not clash");
        }
        // A name stored before format characters were refused gets the keys
        // of what it looks like.
        assert_eq!(look_alike_keys("Ca\u{200B}fe"), keys("Cafe"));
    }

    #[test]
    fn topics_may_be_empty_but_not_long() {
        assert_eq!(Topic::parse("").unwrap(), None);
        // Lengths count as sent: trimming does not make a long topic short.
        assert!(Topic::parse(&" ".repeat(300)).is_err());
        assert!(Topic::parse(&"\u{85}".repeat(300)).is_err());
        assert_eq!(Topic::parse(&" ".repeat(256)).unwrap(), None);
        assert!(Topic::parse(&"t".repeat(256)).unwrap().is_some());
        assert!(Topic::parse(&"t".repeat(257)).is_err());
    }

    #[test]
    fn message_bodies_are_1_to_4000_characters_and_not_blank() {
        assert!(MessageBody::parse(String::new()).is_err());
        assert!(MessageBody::parse(" \n\t ".into()).is_err());
        assert!(MessageBody::parse("line one\nline two".into()).is_ok());
        assert!(MessageBody::parse("😀".repeat(4000)).is_ok());
        assert!(MessageBody::parse("x".repeat(4001)).is_err());
        assert!(MessageBody::parse("bell\u{7}".into()).is_err());
    }

    #[test]
    fn client_ids_are_1_to_64_characters() {
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"c".repeat(64)).is_ok());
        assert!(ClientId::parse(&"c".repeat(65)).is_err());
    }

    #[test]
    fn message_ids_parse_and_order_by_time() {
        let a = MessageId::parse("1732357500123-0").unwrap();
        let b = MessageId::parse("1732357500123-1").unwrap();
        let c = MessageId::parse("1732357500124-0").unwrap();
        assert!(a < b && b < c);
        assert_eq!(a.to_string(), "1732357500123-0");
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "1",
            "a-1",
            "1-b",
            "+1-0",
            "1-0-0",
            "99999999999999999999999-0",
        ] {
            assert!(MessageId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn limits_default_to_50_and_stay_within_1_to_100() {
        assert_eq!(Limit::parse(None).unwrap(), Limit(50));
        assert_eq!(Limit::parse(Some("100")).unwrap(), Limit(100));
        for bad in ["0", "101", "-1", "abc", ""] {
            assert!(Limit::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}
