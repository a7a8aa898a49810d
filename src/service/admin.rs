//! Operator notifications.

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::clock::{now_ms, rfc3339_ms};
use crate::domain::{Username, is_valid_id};
use crate::error::{ApiError, Code};
use crate::event::Event;
use crate::model::Notification;
use crate::state::AppState;
use crate::store::rate_limit::{Limited, Rate};

/// Checks an `X-Admin-Key` before anything else of the request is read.
/// Without a configured key the endpoint does not exist (404). Wrong keys
/// count per client address: past the limit every key from there gets 429
/// (checked before comparing, so a right guess looks no different), and
/// the comparison reveals neither, through timing, how much of the key
/// matched nor its length.
pub async fn check_admin_key_rate_limited(
    state: &AppState,
    address: &str,
    given: Option<&str>,
) -> Result<(), ApiError> {
    let Some(key) = state.settings.auth.admin_key.as_ref() else {
        return Err(ApiError::no_route("POST", "/api/v1/admin/notifications"));
    };
    let given = given.ok_or(Code::MissingToken)?;
    let limits = &state.settings.limits;
    let rate = Rate::per_min(
        limits.admin_key_failures_per_min,
        limits.admin_key_failures_burst,
    );
    let limited = Limited::Address(address, "admin-key");
    if let Some(wait) = state.store.rate_limit_peek(limited, rate).await? {
        return Err(super::rate_limited(wait));
    }
    if keys_match(given.as_bytes(), key.expose_secret().as_bytes()) {
        return Ok(());
    }
    super::spend_rate_limit_token(state, limited, rate).await?;
    Err(ApiError::invalid_token("not the admin key"))
}

/// Compares two keys in constant time, length included: their SHA-256
/// digests, which are always 32 bytes, are compared in full.
fn keys_match(given: &[u8], key: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(key));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Who a notification is for.
pub enum Audience {
    /// These users, by username (1..=1000 of them).
    Users(Vec<String>),
    /// A room's members.
    Room(String),
    /// Every user.
    Everyone,
}

/// Sends a `notification` event, live to users with an open stream and
/// queued for the others. Returns how many distinct users it was for.
pub async fn notify(
    state: &AppState,
    audience: Audience,
    kind: &str,
    text: &str,
) -> Result<u64, ApiError> {
    let event = Event::Notification(Notification {
        kind: kind.to_owned(),
        text: text.to_owned(),
        created_at: rfc3339_ms(now_ms()),
    });
    let store = &state.store;
    let recipients = match audience {
        Audience::Users(names) => {
            let mut ids = Vec::with_capacity(names.len());
            for name in &names {
                let id = match Username::parse(name) {
                    Ok(u) => store.user_id_by_username(&u.canonical()).await?,
                    Err(_) => None,
                };
                ids.push(id.ok_or_else(|| ApiError::user_not_found(name))?);
            }
            ids.sort();
            ids.dedup();
            store.notify_users(&ids, &event).await?
        }
        Audience::Room(room_id) => {
            if !is_valid_id(&room_id) || store.room(&room_id).await?.is_none() {
                return Err(ApiError::room_not_found(&room_id));
            }
            let members = store.member_ids(&room_id).await?;
            store.notify_users(&members, &event).await?
        }
        Audience::Everyone => store.notify_everyone(&event).await?,
    };
    Ok(recipients)
}

#[cfg(test)]
mod tests {
    use super::keys_match;

    #[test]
    fn keys_match_only_when_equal() {
        assert!(keys_match(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!keys_match(b"0123456789abcdeF", b"0123456789abcdef"));
        assert!(!keys_match(b"0123456789abcde", b"0123456789abcdef"));
        assert!(!keys_match(b"", b"0123456789abcdef"));
    }
}
