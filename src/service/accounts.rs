//! Accounts and sessions: register, sign in, sign out, who am I.

use crate::auth::{AuthUser, password};
use crate::clock::now_ms;
use crate::domain::{DisplayName, Password, Username, new_id};
use crate::error::{ApiError, Code};
use crate::model::{LoginResponse, User};
use crate::state::AppState;
use crate::store::rate_limit::{Limited, Rate};
use crate::store::users::UserRecord;

use super::spend_rate_limit_token;

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
        password_hash: password::hash(password.expose().to_owned()).await?,
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

/// Checks a username and password and starts a session. Attempts count
/// before the password is checked: per address, and per username from
/// anywhere (password guessing).
pub async fn login_rate_limited(
    state: &AppState,
    address: &str,
    username: &str,
    password: String,
) -> Result<LoginResponse, ApiError> {
    let limits = &state.settings.limits;
    let per_address = Rate::per_min(limits.login_per_ip_per_min, limits.login_per_ip_burst);
    spend_rate_limit_token(state, Limited::Address(address, "login"), per_address).await?;
    let per_name = Rate::per_min(
        limits.login_per_username_per_min,
        limits.login_per_username_burst,
    );
    let canonical = username.to_ascii_lowercase();
    if canonical.len() <= 64 {
        spend_rate_limit_token(state, Limited::Username(&canonical), per_name).await?;
    }
    // Look-ups with a name that cannot be valid still run the dummy hash, so
    // every failure looks and takes the same.
    let user = match Username::parse(username) {
        Ok(u) => state.store.user_by_username(&u.canonical()).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(password, hash).await {
        return Err(Code::InvalidCredentials.into());
    }
    let user = user.ok_or(Code::InvalidCredentials)?;
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
