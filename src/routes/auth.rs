//! Registration, login and logout.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{AuthUser, password};
use crate::clock::now_ms;
use crate::domain::{DisplayName, Password, Username, new_id};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::model::{LoginResponse, User};
use crate::routes::{client_address, limit};
use crate::startup::AppState;
use crate::store::sessions::{Limited, Rate};
use crate::store::users::UserRecord;

/// Body of `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "alice", "password": "correct horse battery", "display_name": "Alice"}))]
pub struct RegisterRequest {
    /// 3..=32 of `[A-Za-z0-9_.-]`, unique ignoring case, not `online`.
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    /// 8..=128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// 1..=64 characters; defaults to the username.
    #[schema(min_length = 1, max_length = 64)]
    pub display_name: Option<String>,
}

/// Body of `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "alice", "password": "correct horse battery"}))]
pub struct LoginRequest {
    /// The username (any case).
    pub username: String,
    /// The password.
    pub password: String,
}

/// Create an account.
#[utoipa::path(
    tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = User),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`username_taken` (ignoring case)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many registrations from this address; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/register")]
#[tracing::instrument(skip_all)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let limits = &state.settings.limits;
    let address = client_address(&req);
    let rate = Rate::per_min(limits.register_per_ip_per_min, limits.register_per_ip_burst);
    limit(&state, Limited::Address(&address, "register"), rate).await?;
    let username = Username::parse(&body.username)?;
    let password = Password::parse(body.password)?;
    let display_name = match body.display_name.as_deref() {
        Some(name) => DisplayName::parse(name)?,
        None => DisplayName::from_username(&username),
    };
    let canonical = username.canonical();
    // Cheap pre-check so a taken name does not cost an Argon2 hash; the
    // claim in `create_user` is what actually decides.
    if state.store.user_id_by_username(&canonical).await?.is_some() {
        return Err(taken(&username));
    }
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
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", record.username)))
        .json(User::from(&record)))
}

fn taken(username: &Username) -> ApiError {
    ApiError::Conflict {
        code: "username_taken",
        detail: format!("the username `{}` is already taken", username.as_str()),
    }
}

/// Sign in and get an access token.
///
/// The token is a JWT tied to a server-side session: it stops working at
/// once on logout, and after `expires_in` seconds.
#[utoipa::path(
    tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`: the same answer for an unknown user and a wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many attempts from this address or on this username; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
#[tracing::instrument(skip_all)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<web::Json<LoginResponse>, ApiError> {
    // Attempts count before the password is checked: per address, and per
    // username from anywhere (password guessing).
    let limits = &state.settings.limits;
    let address = client_address(&req);
    let per_address = Rate::per_min(limits.login_per_ip_per_min, limits.login_per_ip_burst);
    limit(&state, Limited::Address(&address, "login"), per_address).await?;
    let per_name = Rate::per_min(
        limits.login_per_username_per_min,
        limits.login_per_username_burst,
    );
    let canonical = body.username.to_ascii_lowercase();
    if canonical.len() <= 64 {
        limit(&state, Limited::Username(&canonical), per_name).await?;
    }
    // Look-ups with a name that cannot be valid still run the dummy hash, so
    // every failure looks and takes the same.
    let user = match Username::parse(&body.username) {
        Ok(u) => state.store.user_by_username(&u.canonical()).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(body.password, hash).await {
        return Err(ApiError::InvalidCredentials);
    }
    let user = user.ok_or(ApiError::InvalidCredentials)?;
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
        .map_err(ApiError::Internal)?;
    tracing::info!(user_id = %user.id, "signed in");
    Ok(web::Json(LoginResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: tokens.ttl_secs(),
        user: User::from(&user),
    }))
}

/// Sign out: revoke this token's session at once.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out; the token now gets 401 everywhere and its open event streams end"),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/logout")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn logout(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ApiError> {
    state
        .store
        .delete_session(&auth.user_id, &auth.session_id)
        .await?;
    state
        .realtime
        .session_revoked(&auth.user_id, &auth.session_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
