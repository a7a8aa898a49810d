//! Profiles and presence.

use actix_web::{get, web};

use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, ListParams};
use crate::model::{PublicUser, PublicUserList, User};
use crate::service;
use crate::state::AppState;

/// The signed-in user.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "You", body = User),
    )
)]
#[get("/users/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<web::Json<User>, ApiError> {
    Ok(web::Json(service::accounts::me(&state, &auth).await?))
}

/// Users online now, most recently active first.
///
/// Online means holding at least one open event stream.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "Online users", body = PublicUserList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/online")]
pub async fn list_online_users(
    state: web::Data<AppState>,
    _auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<web::Json<PublicUserList>, ApiError> {
    let page = params.page()?;
    Ok(web::Json(service::users::online(&state, &page).await?))
}

/// A user's public profile and presence, by username (any case).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Username, any case")),
    responses(
        (status = 200, description = "The user", body = PublicUser),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/{username}")]
pub async fn get_user(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
) -> Result<web::Json<PublicUser>, ApiError> {
    Ok(web::Json(service::users::profile(&state, &path).await?))
}
