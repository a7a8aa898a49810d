//! Profiles and presence.

use crate::error::ApiError;
use crate::model::{PublicUser, PublicUserList};
use crate::state::AppState;
use crate::store::pagination::{IdPage, PageRequest};

/// A user's public profile and presence, by username (any case).
pub async fn profile(state: &AppState, username: &str) -> Result<PublicUser, ApiError> {
    Ok(super::find_user(state, username).await?.into())
}

/// A page of the users online now, most recently active first.
pub async fn online(state: &AppState, page: &PageRequest) -> Result<PublicUserList, ApiError> {
    let IdPage { items, next_cursor } = state.store.online_user_ids(page).await?;
    let users = super::with_public_users(state, items).await?;
    Ok(PublicUserList {
        items: users.into_iter().map(|(user, _)| user).collect(),
        next_cursor,
    })
}
