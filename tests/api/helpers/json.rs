//! Reading reply bodies (the ids or bodies of a history page, the items of
//! a list page) and the JSON a test expects back, so that tests compare what
//! a client would see without repeating how to dig it out.

use serde_json::{Value, json};

use super::app::TestUser;

/// Ids of the messages in a history page.
pub fn ids(page: &Value) -> Vec<String> {
    strings(page, "messages", "id")
}

/// Bodies of the messages in a history page.
pub fn bodies(page: &Value) -> Vec<String> {
    strings(page, "messages", "body")
}

/// Asserts a history page's message bodies, oldest first, and whether it
/// says there are more.
#[track_caller]
pub fn assert_history_page(page: &Value, expected_bodies: Vec<String>, has_more: bool) {
    assert_eq!(bodies(page), expected_bodies, "{page}");
    assert_eq!(page["has_more"], has_more, "{page}");
}

/// The `items` of a list page.
pub fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("items")
}

/// The `id`s of the `items` of a list page.
pub fn item_ids(page: &Value) -> Vec<String> {
    strings(page, "items", "id")
}

/// The string `field` of every element of the array `list` in `page`.
fn strings(page: &Value, list: &str, field: &str) -> Vec<String> {
    page[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|m| {
            m[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field}"))
                .to_owned()
        })
        .collect()
}

/// A message id `<ms>-<seq>` as a pair that orders like the ids do.
#[track_caller]
pub fn parse_message_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id
        .split_once('-')
        .unwrap_or_else(|| panic!("not a message id: {id}"));
    (
        ms.parse()
            .unwrap_or_else(|_| panic!("not a message id: {id}")),
        seq.parse()
            .unwrap_or_else(|_| panic!("not a message id: {id}")),
    )
}

/// Whether `s` is an RFC 3339 UTC time with milliseconds.
pub fn is_timestamp(s: &Value) -> bool {
    s.as_str().is_some_and(|s| {
        s.len() == 24
            && s.ends_with('Z')
            && s.as_bytes()[10] == b'T'
            && s.as_bytes()[19] == b'.'
            && s[20..23].bytes().all(|b| b.is_ascii_digit())
    })
}

/// The public view of a user nobody has seen online.
pub fn offline_public_user(user: &TestUser) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.username,
        "online": false,
        "last_seen_at": null,
    })
}

/// How a user appears as the sender or recipient of a message.
pub fn user_lite(user: &TestUser) -> Value {
    json!({"id": user.id, "username": user.username, "display_name": user.username})
}
