//! Property tests (proptest) for every parser of untrusted input: request
//! bodies, message ids and `Last-Event-ID`, cursors, tokens, tickets and
//! events. Each must answer every input with a value or a 4xx error, never
//! a panic, and round-trip what confab itself writes. They run with the unit
//! tests; `PROPTEST_CASES` raises the number of cases (default 256 each).

use proptest::prelude::*;
use unicode_normalization::{UnicodeNormalization, is_nfc};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::auth::token::Tokens;
use crate::domain::{
    ClientId, DisplayName, Limit, MessageBody, MessageId, RoomName, Topic, Username,
};
use crate::error::ApiError;
use crate::event::Event;
use crate::extract::{history_request, page_request, parse_json};
use crate::model::SendMessageRequest;
use crate::realtime::outgoing::Outgoing;
use crate::realtime::position::{self, Position, TokenKey};
use crate::routes::auth::{LoginRequest, RegisterRequest};
use crate::store::pagination::Cursor;

/// Errors from parsers of client input must be client errors (domain
/// parsers' errors become `validation_failed` at the edge).
fn is_client_error(err: impl Into<ApiError>) -> bool {
    err.into().status().is_client_error()
}

proptest! {
    #[test]
    fn message_ids_parse_any_text_without_panicking(text in ".{0,64}") {
        let _ = MessageId::parse(&text);
        if let Err(e) = MessageId::parse_param("before", &text) {
            prop_assert!(is_client_error(e));
        }
    }

    #[test]
    fn message_ids_round_trip(ms in any::<u64>(), seq in any::<u64>()) {
        let id = MessageId { ms, seq };
        prop_assert_eq!(MessageId::parse(&id.to_string()), Some(id));
    }

    #[test]
    fn cursors_decode_any_text_without_panicking(text in ".{0,128}") {
        let _ = Cursor::decode(&text);
        if let Err(e) = page_request(None, Some(&text)) {
            prop_assert!(is_client_error(e));
        }
    }

    #[test]
    fn cursors_round_trip(score in any::<i64>(), member in "[a-z0-9-]{1,64}") {
        let cursor = Cursor { score, member };
        prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn history_and_list_parameters_never_panic(
        limit in proptest::option::of(".{0,8}"),
        before in proptest::option::of(".{0,30}"),
        after in proptest::option::of(".{0,30}"),
    ) {
        if let Err(e) = history_request(limit.as_deref(), before.as_deref(), after.as_deref()) {
            prop_assert!(is_client_error(e));
        }
        if let Err(e) = Limit::parse(limit.as_deref()) {
            prop_assert!(is_client_error(e));
        }
    }

    #[test]
    fn request_bodies_of_any_bytes_are_parsed_or_refused_with_a_4xx(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for result in [
            parse_json::<RegisterRequest>(&bytes).err(),
            parse_json::<LoginRequest>(&bytes).err(),
            parse_json::<SendMessageRequest>(&bytes).err(),
        ].into_iter().flatten() {
            prop_assert!(is_client_error(result));
        }
    }

    #[test]
    fn request_bodies_of_json_like_text_are_parsed_or_refused_with_a_4xx(text in r#"\{("[a-z_]{1,12}": ?("[^"\\]{0,20}"|[0-9]{1,5}|null|true|\[\]|\{\}),? ?){0,4}\}"#) {
        for result in [
            parse_json::<RegisterRequest>(text.as_bytes()).err(),
            parse_json::<SendMessageRequest>(text.as_bytes()).err(),
        ].into_iter().flatten() {
            prop_assert!(is_client_error(result));
        }
    }

    #[test]
    fn field_rules_answer_any_text_without_panicking(text in "\\PC{0,80}|.{0,80}") {
        for result in [
            Username::parse(&text).err(),
            DisplayName::parse(&text).err(),
            RoomName::parse(&text).err(),
            Topic::parse(&text).err(),
            MessageBody::parse(text.clone()).err(),
            ClientId::parse(&text).err(),
        ].into_iter().flatten() {
            prop_assert!(is_client_error(result));
        }
    }

    #[test]
    fn accepted_names_are_trimmed_nfc_without_invisible_characters_and_parse_to_themselves(text in "\\PC{0,80}|.{0,80}") {
        let names = [
            DisplayName::parse(&text).map(|n| n.as_str().to_owned()),
            RoomName::parse(&text).map(|n| n.as_str().to_owned()),
        ];
        for name in names.into_iter().flatten() {
            prop_assert!(is_nfc(&name));
            prop_assert_eq!(name.trim(), name.as_str());
            prop_assert!((1..=64).contains(&name.chars().count()));
            prop_assert!(!name.chars().any(|c| c.is_control() || c.general_category() == GeneralCategory::Format));
            prop_assert_eq!(RoomName::parse(&name).map(|n| n.as_str().to_owned()), Ok(name.clone()));
            prop_assert_eq!(DisplayName::parse(&name).map(|n| n.as_str().to_owned()), Ok(name));
        }
    }

    #[test]
    fn names_with_a_format_character_anywhere_are_refused(
        before in "\\PC{0,30}",
        format in proptest::sample::select(vec!['\u{202E}', '\u{202A}', '\u{2067}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}', '\u{61C}', '\u{E0061}']),
        after in "\\PC{0,30}",
    ) {
        let text = format!("{before}{format}{after}");
        prop_assert_eq!(DisplayName::parse(&text).unwrap_err().field, "display_name");
        prop_assert_eq!(RoomName::parse(&text).unwrap_err().field, "name");
    }

    #[test]
    fn a_name_typed_composed_or_decomposed_is_one_name(text in "\\PC{1,30}") {
        let composed: String = text.nfc().collect();
        let decomposed: String = text.nfd().collect();
        if let (Ok(a), Ok(b)) = (RoomName::parse(&composed), RoomName::parse(&decomposed)) {
            prop_assert_eq!(a.look_alike_keys(), b.look_alike_keys());
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn room_names_equal_ignoring_case_share_a_look_alike_key(
        text in "\\PC{1,40}|[A-Za-zÀ-ÿΑ-ωА-я0-9 ]{1,40}",
        upper in proptest::collection::vec(any::<bool>(), 40),
    ) {
        let other: String = text
            .chars()
            .zip(upper.iter().cycle())
            .flat_map(|(c, &up)| -> Vec<char> {
                if up { c.to_uppercase().collect() } else { c.to_lowercase().collect() }
            })
            .collect();
        if let (Ok(a), Ok(b)) = (RoomName::parse(&text), RoomName::parse(&other))
            && a.canonical() == b.canonical()
        {
            let b_keys = b.look_alike_keys();
            prop_assert!(a.look_alike_keys().iter().any(|k| b_keys.contains(k)));
        }
    }

    #[test]
    fn tokens_and_tickets_of_any_shape_are_refused_without_panicking(text in "[A-Za-z0-9_.=-]{0,200}|.{0,200}") {
        let tokens = Tokens::new(b"property-test-secret", 60);
        prop_assert!(tokens.check(&text).is_err());
    }

    #[test]
    fn resume_tokens_of_any_text_are_read_or_refused_without_panicking(text in "c1\\.[A-Za-z0-9_-]{0,1100}|.{0,200}") {
        let key = TokenKey::derive(b"property-test-secret");
        let _ = Position::decode(&text, &key, "u1");
    }

    #[test]
    fn resume_tokens_round_trip(base in 0u64..1 << 50, entries in proptest::collection::vec(("[a-z0-9-]{1,36}", 0u64..1 << 50, any::<u64>()), 0..80)) {
        let key = TokenKey::derive(b"property-test-secret");
        let mut p = Position::starting_at(base);
        for (room, ms, seq) in &entries {
            p.advance(position::room(room), MessageId { ms: *ms, seq: *seq });
        }
        let token = p.encode(&key, "u1");
        prop_assert!(token.len() <= 1024);
        let back = Position::decode(&token, &key, "u1").unwrap();
        // Whatever the token kept is exact; what it dropped resumes from the base.
        let base_id = MessageId { ms: base, seq: 0 };
        for (room, _, _) in &entries {
            let kept = back.after(position::room(room));
            let exact = kept == p.after(position::room(room));
            prop_assert!(exact || kept < base_id);
        }
    }

    #[test]
    fn event_payloads_of_any_text_parse_or_are_ignored(text in ".{0,200}") {
        if let Some(event) = Event::decode(&text) {
            let _ = Outgoing::from_event(event);
        }
    }
}
