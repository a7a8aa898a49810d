//! Operator notifications.

use crate::clock::{now_ms, rfc3339_ms};
use crate::domain::{Username, is_valid_id};
use crate::error::ApiError;
use crate::event::Event;
use crate::model::Notification;
use crate::state::AppState;

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
