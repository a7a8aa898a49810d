//! Profiles and presence.

use actix_web::{get, web};

use crate::auth::AuthUser;
use crate::domain::Username;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, page_request};
use crate::model::{PublicUser, PublicUserList, User};
use crate::routes::ListParams;
use crate::startup::AppState;

/// The signed-in user.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "You", body = User),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<web::Json<User>, ApiError> {
    let user = state
        .store
        .user(&auth.user_id)
        .await?
        .ok_or(ApiError::InvalidToken("for a user that no longer exists"))?;
    Ok(web::Json(User::from(&user)))
}

/// Users online now (holding at least one open event stream), most recently
/// active first.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "Online users", body = PublicUserList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/online")]
pub async fn list_online_users(
    state: web::Data<AppState>,
    _auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<web::Json<PublicUserList>, ApiError> {
    let page = page_request(params.limit.as_deref(), params.cursor.as_deref())?;
    let ids = state.store.online_user_ids(&page).await?;
    let members: Vec<String> = ids.items.into_iter().map(|(id, _)| id).collect();
    let users = state.store.public_users(&members).await?;
    Ok(web::Json(PublicUserList {
        items: users.into_iter().flatten().map(PublicUser::from).collect(),
        next_cursor: ids.next_cursor,
    }))
}

/// A user's public profile and presence, by username (any case).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Username, any case")),
    responses(
        (status = 200, description = "The user", body = PublicUser),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/{username}")]
pub async fn get_user(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
) -> Result<web::Json<PublicUser>, ApiError> {
    let (user, _) = find_user(&state, &path).await?;
    Ok(web::Json(user))
}

/// Finds a user by username for the routes that name one in their path:
/// their public view and their stored record's id.
pub(crate) async fn find_user(
    state: &AppState,
    username: &str,
) -> Result<(PublicUser, String), ApiError> {
    let not_found = || ApiError::user_not_found(username);
    let parsed = Username::parse(username).map_err(|_| not_found())?;
    let id = state
        .store
        .user_id_by_username(&parsed.canonical())
        .await?
        .ok_or_else(not_found)?;
    let user = state
        .store
        .public_users(std::slice::from_ref(&id))
        .await?
        .pop()
        .flatten()
        .ok_or_else(not_found)?;
    Ok((PublicUser::from(user), id))
}
