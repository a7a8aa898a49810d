//! Rooms, membership and stats. Rooms are public: anyone signed in may read
//! a room and its members; only members read history or send.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::domain::{RoomName, Topic};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, ListParams, page_request};
use crate::model::{MemberList, MyRoomList, Room, RoomList, RoomStats};
use crate::service;
use crate::service::rooms::NewRoomInput;
use crate::state::AppState;
use crate::store::rooms::RoomSort;

/// Body of `POST /rooms`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "general", "topic": "Anything goes"}))]
pub struct CreateRoomRequest {
    /// 1..=64 characters, surrounding white space trimmed; no control or
    /// format characters (Unicode categories Cc and Cf: bidirectional
    /// overrides such as U+202E, zero-width spaces and joiners, soft
    /// hyphens); stored in Unicode NFC, which must be 64 characters at most
    /// too. Unique ignoring case and look-alike letters: a name is taken
    /// when its Unicode (UTS #39) confusable skeleton, as written or in
    /// lower case, is one of an existing room's (`Cafe` and `Cаfe` with a
    /// Cyrillic `а`, `TOM` and `ТОМ`).
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// Up to 256 characters, no control characters; empty or null means
    /// none. Prose, like a message body: format characters are allowed and
    /// it is stored as sent.
    #[schema(max_length = 256)]
    pub topic: Option<String>,
}

/// The orders of the room directory (`?sort=`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoomOrder {
    /// Latest message first, then rooms without messages, newest first.
    Active,
    /// Newest created first.
    Recent,
}

/// Query of `GET /rooms`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoomListParams {
    /// `active` (default): latest message first, then rooms without
    /// messages, newest first. `recent`: newest created first.
    #[param(value_type = Option<RoomOrder>, default = "active")]
    pub sort: Option<String>,
    /// Items per page, 1..=100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (anything else, even an
    /// empty string, is 400).
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// Create a room; you become its first member.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    request_body = CreateRoomRequest,
    responses(
        (status = 201, description = "Created", body = Room),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`room_name_taken` (names are unique ignoring case and look-alike letters)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_rooms`: you belong to the maximum number of rooms", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rooms")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id))]
pub async fn create_room(
    state: web::Data<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<CreateRoomRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = NewRoomInput {
        name: RoomName::parse(&body.name)?,
        topic: body
            .topic
            .as_deref()
            .map(Topic::parse)
            .transpose()?
            .flatten(),
    };
    let room = service::rooms::create(&state, &auth, input).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/rooms/{}", room.id)))
        .json(room))
}

/// The room directory.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(RoomListParams),
    responses(
        (status = 200, description = "A page of rooms", body = RoomList),
        (status = 400, description = "`validation_failed` (sort, limit or cursor)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rooms")]
pub async fn list_rooms(
    state: web::Data<AppState>,
    _auth: AuthUser,
    ApiQuery(params): ApiQuery<RoomListParams>,
) -> Result<web::Json<RoomList>, ApiError> {
    let sort = match params.sort.as_deref() {
        None | Some("active") => RoomSort::Active,
        Some("recent") => RoomSort::Recent,
        Some(_) => return Err(ApiError::validation("sort", "must be `active` or `recent`")),
    };
    let page = page_request(params.limit.as_deref(), params.cursor.as_deref())?;
    Ok(web::Json(service::rooms::list(&state, sort, &page).await?))
}

/// The rooms you belong to, latest joined first, with your unread counts.
///
/// Each room also carries your read marker (`last_read_id`) and
/// `unread_count`: messages from others after the marker that are not
/// deleted, exact up to 100 (100 means "99+").
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of your rooms", body = MyRoomList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/me/rooms")]
pub async fn list_my_rooms(
    state: web::Data<AppState>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<web::Json<MyRoomList>, ApiError> {
    let page = params.page()?;
    Ok(web::Json(
        service::rooms::list_mine(&state, &auth, &page).await?,
    ))
}

/// A room.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    responses(
        (status = 200, description = "The room", body = Room),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rooms/{room_id}")]
pub async fn get_room(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
) -> Result<web::Json<Room>, ApiError> {
    Ok(web::Json(service::rooms::get(&state, &path).await?))
}

/// Join a room. Idempotent: joining a room you are in changes nothing.
///
/// Your open event streams carry the room's events from the moment this
/// returns; a new member is announced with `member_joined`.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    responses(
        (status = 200, description = "You are a member; the room as it is now", body = Room),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_rooms`: you belong to the maximum number of rooms", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/rooms/{room_id}/members/me")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, room_id = %path))]
pub async fn join_room(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<web::Json<Room>, ApiError> {
    Ok(web::Json(service::rooms::join(&state, &auth, &path).await?))
}

/// Leave a room. Idempotent: leaving a room you are not in is also 204.
///
/// Your open event streams stop carrying the room's events; a member who
/// left is announced with `member_left`.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    responses(
        (status = 204, description = "You are not a member (any more)"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/rooms/{room_id}/members/me")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, room_id = %path))]
pub async fn leave_room(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    service::rooms::leave(&state, &auth, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A room's members, latest joined first. Readable by anyone signed in.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id"), ListParams),
    responses(
        (status = 200, description = "A page of members", body = MemberList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rooms/{room_id}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<web::Json<MemberList>, ApiError> {
    let page = params.page()?;
    Ok(web::Json(
        service::rooms::members(&state, &path, &page).await?,
    ))
}

/// A room's message count and its 10 most active senders. Members only.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    responses(
        (status = 200, description = "Stats", body = RoomStats),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rooms/{room_id}/stats")]
pub async fn get_room_stats(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> Result<web::Json<RoomStats>, ApiError> {
    Ok(web::Json(
        service::rooms::stats(&state, &auth, &path).await?,
    ))
}
