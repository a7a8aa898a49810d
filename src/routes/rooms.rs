//! Rooms, membership and stats. Rooms are public: anyone signed in may read
//! a room and its members; only members read history or send.

use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::clock::{now_ms, rfc3339_ms};
use crate::domain::{RoomName, Topic, is_valid_id, new_id};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, page_request};
use crate::model::{
    Member, MemberList, PublicUser, Room, RoomList, RoomStats, TopSender, UserLite,
};
use crate::routes::ListParams;
use crate::startup::AppState;
use crate::store::messages::Sender;
use crate::store::rooms::{NewRoom, RECENCY_PER_MS, RoomSort};

/// Body of `POST /rooms`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "general", "topic": "Anything goes"}))]
pub struct CreateRoomRequest {
    /// 1..=64 characters, unique ignoring case (surrounding spaces trimmed).
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// Up to 256 characters; empty or null means none.
    #[schema(max_length = 256)]
    pub topic: Option<String>,
}

/// Query of `GET /rooms`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoomListParams {
    /// `active` (default): latest message first, then rooms without
    /// messages, newest first. `recent`: newest created first.
    #[param(value_type = Option<String>, pattern = "^(active|recent)$")]
    pub sort: Option<String>,
    /// Items per page, 1..=100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (anything else, even an
    /// empty string, is 400).
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// The room with this id, or 404 `room_not_found`.
pub(crate) async fn find_room(state: &AppState, room_id: &str) -> Result<Room, ApiError> {
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    state
        .store
        .room(room_id)
        .await?
        .map(Room::from)
        .ok_or_else(|| ApiError::room_not_found(room_id))
}

/// Create a room; you become its first member.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    request_body = CreateRoomRequest,
    responses(
        (status = 201, description = "Created", body = Room),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`room_name_taken` (names are unique ignoring case)", body = Problem, content_type = "application/problem+json"),
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
    let name = RoomName::parse(&body.name)?;
    let topic = match body.topic.as_deref() {
        Some(t) => Topic::parse(t)?,
        None => None,
    };
    check_room_cap(&state, &auth).await?;
    let id = new_id();
    let created_ms = now_ms();
    let created = state
        .store
        .create_room(&NewRoom {
            id: &id,
            name: name.as_str(),
            canonical_name: &name.canonical(),
            topic: topic.as_ref().map(Topic::as_str),
            created_by: &auth.user_id,
            created_ms,
        })
        .await?;
    if !created {
        return Err(ApiError::Conflict {
            code: "room_name_taken",
            detail: format!("a room called `{}` already exists", name.as_str()),
        });
    }
    // The creator's open streams carry the new room from now on.
    state
        .realtime
        .member_joined(&auth.user_id, &id, None)
        .await?;
    let room = find_room(&state, &id).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/rooms/{id}")))
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
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
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
    let (rooms, next_cursor) = state.store.list_rooms(sort, &page).await?;
    Ok(web::Json(RoomList {
        items: rooms.into_iter().map(Room::from).collect(),
        next_cursor,
    }))
}

/// The rooms you belong to, latest joined first.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of your rooms", body = RoomList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/me/rooms")]
pub async fn list_my_rooms(
    state: web::Data<AppState>,
    auth: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<web::Json<RoomList>, ApiError> {
    let page = page_request(params.limit.as_deref(), params.cursor.as_deref())?;
    let (rooms, next_cursor) = state.store.user_rooms(&auth.user_id, &page).await?;
    Ok(web::Json(RoomList {
        items: rooms.into_iter().map(Room::from).collect(),
        next_cursor,
    }))
}

/// A room.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    responses(
        (status = 200, description = "The room", body = Room),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rooms/{room_id}")]
pub async fn get_room(
    state: web::Data<AppState>,
    _auth: AuthUser,
    path: web::Path<String>,
) -> Result<web::Json<Room>, ApiError> {
    Ok(web::Json(find_room(&state, &path).await?))
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
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
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
    let room_id = path.into_inner();
    if !is_valid_id(&room_id) {
        return Err(ApiError::room_not_found(&room_id));
    }
    if !state.store.is_member(&room_id, &auth.user_id).await?
        && let Err(full) = check_room_cap(&state, &auth).await
    {
        // A missing room is still 404, whatever the cap.
        find_room(&state, &room_id).await?;
        return Err(full);
    }
    let is_new = state
        .store
        .join_room(&room_id, &auth.user_id, now_ms())
        .await?
        .ok_or_else(|| ApiError::room_not_found(&room_id))?;
    let announce = if is_new {
        me(&state, &auth).await?
    } else {
        None
    };
    state
        .realtime
        .member_joined(&auth.user_id, &room_id, announce)
        .await?;
    Ok(web::Json(find_room(&state, &room_id).await?))
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
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
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
    let room_id = path.into_inner();
    if !is_valid_id(&room_id) {
        return Err(ApiError::room_not_found(&room_id));
    }
    let was_member = state
        .store
        .leave_room(&room_id, &auth.user_id)
        .await?
        .ok_or_else(|| ApiError::room_not_found(&room_id))?;
    let announce = if was_member {
        me(&state, &auth).await?
    } else {
        None
    };
    state
        .realtime
        .member_left(&auth.user_id, &room_id, announce)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Refuses a user who already belongs to the maximum number of rooms (a
/// soft cap: concurrent joins may pass it by a few).
async fn check_room_cap(state: &AppState, auth: &AuthUser) -> Result<(), ApiError> {
    let cap = state.settings.limits.max_rooms_per_user;
    if state.store.user_room_count(&auth.user_id).await? >= u64::from(cap) {
        return Err(ApiError::TooManyRooms(cap));
    }
    Ok(())
}

/// The caller as others see them, for member events.
async fn me(state: &AppState, auth: &AuthUser) -> Result<Option<PublicUser>, ApiError> {
    Ok(state
        .store
        .public_users(std::slice::from_ref(&auth.user_id))
        .await?
        .pop()
        .flatten()
        .map(PublicUser::from))
}

/// A room's members, latest joined first. Readable by anyone signed in.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id"), ListParams),
    responses(
        (status = 200, description = "A page of members", body = MemberList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
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
    let page = page_request(params.limit.as_deref(), params.cursor.as_deref())?;
    find_room(&state, &path).await?;
    let members = state.store.room_members(&path, &page).await?;
    let ids: Vec<String> = members.items.iter().map(|(id, _)| id.clone()).collect();
    let users = state.store.public_users(&ids).await?;
    let items = members
        .items
        .into_iter()
        .zip(users)
        .filter_map(|((_, joined), user)| {
            Some(Member {
                user: PublicUser::from(user?),
                joined_at: rfc3339_ms(u64::try_from(joined / RECENCY_PER_MS).unwrap_or(0)),
            })
        })
        .collect();
    Ok(web::Json(MemberList {
        items,
        next_cursor: members.next_cursor,
    }))
}

/// A room's message count and its 10 most active senders. Members only.
#[utoipa::path(
    tag = "rooms",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    responses(
        (status = 200, description = "Stats", body = RoomStats),
        (status = 401, description = "`missing_token` or `invalid_token`", body = Problem, content_type = "application/problem+json"),
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
    find_room(&state, &path).await?;
    if !state.store.is_member(&path, &auth.user_id).await? {
        return Err(ApiError::NotAMember);
    }
    let stats = state.store.room_stats(&path).await?;
    let ids: Vec<String> = stats.top_senders.iter().map(|(id, _)| id.clone()).collect();
    let users: HashMap<String, UserLite> = state
        .store
        .public_users(&ids)
        .await?
        .into_iter()
        .flatten()
        .map(|u| {
            let lite = UserLite::from(Sender {
                id: u.id.clone(),
                username: u.username,
                display_name: u.display_name,
            });
            (u.id, lite)
        })
        .collect();
    let top_senders = stats
        .top_senders
        .into_iter()
        .filter_map(|(id, count)| {
            Some(TopSender {
                user: users.get(&id)?.clone(),
                count,
            })
        })
        .collect();
    Ok(web::Json(RoomStats {
        message_count: stats.message_count,
        top_senders,
    }))
}
