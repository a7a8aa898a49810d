//! Registration, login and logout.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::domain::{DisplayName, Password, Username};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::extract::client_address;
use crate::model::{LoginResponse, User};
use crate::service;
use crate::service::accounts::Registration;
use crate::state::AppState;

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
    /// 1..=64 characters, surrounding white space trimmed; no control or
    /// format characters (Unicode categories Cc and Cf: bidirectional
    /// overrides such as U+202E, zero-width spaces and joiners, soft
    /// hyphens); stored in Unicode NFC, which must be 64 characters at most
    /// too. Defaults to the username. Not unique: clients show the username
    /// beside it.
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
        (status = 503, description = "`unavailable`: Redis is unreachable, the instance or the client's address is at its connection cap (then the connection is closed), or too many passwords are waiting to be hashed (nothing was stored); retry after `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/register")]
#[tracing::instrument(skip_all)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let registration = Registration {
        username: Username::parse(&body.username)?,
        password: Password::parse(body.password)?,
        display_name: body
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()?,
    };
    let user =
        service::accounts::register_rate_limited(&state, &client_address(&req), registration)
            .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", user.username)))
        .json(user))
}

/// Sign in and get an access token.
///
/// The token is a JWT tied to a server-side session: it stops working at
/// once on logout, and after `expires_in` seconds. Failed passwords hold
/// back only the address they came from (and, when a username fails too
/// often from everywhere, the addresses that failed on it), so others
/// cannot lock an account's owner out.
#[utoipa::path(
    tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`: the same answer for an unknown user and a wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many attempts from this address, or too many failed passwords on this username from this address (the password was not checked); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: Redis is unreachable, the instance or the client's address is at its connection cap (then the connection is closed), or too many passwords are waiting to be checked (this one was not); retry after `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
#[tracing::instrument(skip_all)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<web::Json<LoginResponse>, ApiError> {
    let address = client_address(&req);
    let signed_in =
        service::accounts::login_rate_limited(&state, &address, &body.username, body.password)
            .await?;
    Ok(web::Json(signed_in))
}

/// Sign out: revoke this token's session at once.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out; the token now gets 401 everywhere and its open event streams end"),
    )
)]
#[post("/auth/logout")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn logout(state: web::Data<AppState>, auth: AuthUser) -> Result<HttpResponse, ApiError> {
    service::accounts::logout(&state, &auth).await?;
    Ok(HttpResponse::NoContent().finish())
}
