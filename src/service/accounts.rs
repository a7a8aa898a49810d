//! Accounts and sessions: register, sign in, sign out, who am I.

use crate::auth::AuthUser;
use crate::clock::now_ms;
use crate::domain::{DisplayName, Password, Username, new_id};
use crate::error::{ApiError, Code};
use crate::model::{LoginResponse, User};
use crate::state::AppState;
use crate::store::rate_limit::{FailureCheck, FailureLimits, Limited, Rate};
use crate::store::users::UserRecord;

use super::{rate_limited, spend_rate_limit_token};

/// A registration, checked.
pub struct Registration {
    /// The username asked for.
    pub username: Username,
    /// The password, to be hashed.
    pub password: Password,
    /// The display name; the username when none was given.
    pub display_name: Option<DisplayName>,
}

/// Creates an account, counting against the per-address registration limit.
/// 503 `unavailable` when too many passwords wait to be hashed.
pub async fn register_rate_limited(
    state: &AppState,
    address: &str,
    registration: Registration,
) -> Result<User, ApiError> {
    let limits = &state.settings.limits;
    let rate = Rate::per_min(limits.register_per_ip_per_min, limits.register_per_ip_burst);
    spend_rate_limit_token(state, Limited::Address(address, "register"), rate).await?;
    let Registration {
        username,
        password,
        display_name,
    } = registration;
    let canonical = username.canonical();
    // Cheap pre-check so a taken name does not cost an Argon2 hash; the
    // claim in `create_user` is what actually decides.
    if state.store.user_id_by_username(&canonical).await?.is_some() {
        return Err(taken(&username));
    }
    let display_name = display_name.unwrap_or_else(|| DisplayName::from_username(&username));
    let record = UserRecord {
        id: new_id(),
        username: username.as_str().to_owned(),
        display_name: display_name.as_str().to_owned(),
        created_ms: now_ms(),
        password_hash: state.hasher.hash(password.expose().to_owned()).await?,
    };
    if !state.store.create_user(&record, &canonical).await? {
        return Err(taken(&username));
    }
    tracing::info!(user_id = %record.id, "registered");
    Ok(User::from(&record))
}

fn taken(username: &Username) -> ApiError {
    ApiError::new(
        Code::UsernameTaken,
        format!("the username `{}` is already taken", username.as_str()),
    )
}

/// Checks a username and password and starts a session.
///
/// 503 `unavailable` first when too many passwords wait to be checked
/// (nothing counted). Otherwise the attempt counts against the address's
/// login limit. Failed passwords count per (username, address) and per
/// username, and only addresses that have failed on a username are ever
/// held back on it (429, checked before the password, costing no hash):
/// strangers cannot lock the owner out, and the owner's right password from
/// an address without failures there always gets checked.
pub async fn login_rate_limited(
    state: &AppState,
    address: &str,
    username: &str,
    password: String,
) -> Result<LoginResponse, ApiError> {
    // A name that cannot be valid names no account and is not counted; it
    // still runs the dummy check, so every failure looks and takes the same.
    let canonical = Username::parse(username).ok().map(|u| u.canonical());
    let user = match &canonical {
        Some(name) => state.store.user_by_username(name).await?,
        None => None,
    };
    // Refused first when its queue is full: in a flood, most logins cost
    // this one look-up and nothing more.
    state.hasher.room_for_check(user.is_some())?;
    let limits = &state.settings.limits;
    let per_address = Rate::per_min(limits.login_per_ip_per_min, limits.login_per_ip_burst);
    let failures = failure_limits(state);
    // The address's attempt and its failures on the name: keys in two
    // slots, so two calls, sent at once.
    let (attempt, before) = tokio::join!(
        spend_rate_limit_token(state, Limited::Address(address, "login"), per_address),
        async {
            match &canonical {
                Some(name) => state
                    .store
                    .check_login_failures(name, address, failures)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        },
    );
    attempt?;
    let before = before?;
    if let Some(FailureCheck::Wait(wait)) = before {
        return Err(rate_limited(wait));
    }
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !state.hasher.verify(password, hash).await? {
        if let Some(name) = &canonical {
            state
                .store
                .count_login_failure(name, address, failures)
                .await?;
        }
        return Err(Code::InvalidCredentials.into());
    }
    let user = user.ok_or(Code::InvalidCredentials)?;
    if let (Some(name), Some(FailureCheck::Failed)) = (&canonical, before) {
        // The right password from here: this address's failures on the name
        // are forgiven; other addresses' and the username's count stay.
        state.store.forget_login_failures(name, address).await?;
    }
    let session_id = new_id();
    let tokens = &state.tokens;
    state
        .store
        .create_session(&user.id, &session_id, tokens.ttl_secs())
        .await?;
    let access_token = tokens
        .issue_with_names(
            &user.id,
            &session_id,
            now_ms() / 1000,
            Some((&user.username, &user.display_name)),
        )
        .map_err(|e| ApiError::internal(anyhow::anyhow!("signing a token: {e}")))?;
    tracing::info!(user_id = %user.id, "signed in");
    Ok(LoginResponse {
        access_token,
        token_type: crate::model::TokenType::Bearer,
        expires_in: tokens.ttl_secs(),
        user: User::from(&user),
    })
}

/// The failed-login limits from the settings.
fn failure_limits(state: &AppState) -> FailureLimits {
    let limits = &state.settings.limits;
    FailureLimits {
        per_address: Rate::per_min(
            limits.login_failures_per_address_per_min,
            limits.login_failures_per_address_burst,
        ),
        per_username: Rate::per_min(
            limits.login_failures_per_username_per_min,
            limits.login_failures_per_username_burst,
        ),
    }
}

/// Revokes the caller's session: its token gets 401 everywhere at once and
/// its open streams end.
pub async fn logout(state: &AppState, auth: &AuthUser) -> Result<(), ApiError> {
    state
        .store
        .delete_session(&auth.user_id, &auth.session_id)
        .await?;
    state
        .realtime
        .session_revoked(&auth.user_id, &auth.session_id)
        .await?;
    Ok(())
}

/// The caller's own account.
pub async fn me(state: &AppState, auth: &AuthUser) -> Result<User, ApiError> {
    let user = state
        .store
        .user(&auth.user_id)
        .await?
        .ok_or_else(|| ApiError::invalid_token("for a user that no longer exists"))?;
    Ok(User::from(&user))
}
