//! Operator notifications.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::error::{ApiError, Problem};
use crate::extract::read_json;
use crate::service;
use crate::service::admin::Audience;
use crate::state::AppState;

/// Body of `POST /admin/notifications`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Maintenance at 22:00 UTC", "kind": "maintenance"}))]
pub struct NotificationRequest {
    /// 1..=1000 characters.
    #[schema(min_length = 1, max_length = 1000)]
    pub text: String,
    /// 1..=32 characters; default `announcement`.
    #[schema(min_length = 1, max_length = 32)]
    pub kind: Option<String>,
    /// Send to these users (1..=1000 usernames). Not with `room_id`.
    pub usernames: Option<Vec<String>>,
    /// Send to this room's members. Not with `usernames`.
    pub room_id: Option<String>,
}

/// How many users a notification was addressed to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"recipients": 3}))]
pub struct NotificationAccepted {
    /// Distinct users addressed (online ones get it live, the others from
    /// their offline queue).
    pub recipients: u64,
}

/// Send a notification to users, a room's members, or everyone.
///
/// Needs `X-Admin-Key` with the key from the settings, checked before the
/// body is read; without a configured key this endpoint does not exist
/// (404). Wrong keys are limited per client address (429 past the limit).
#[utoipa::path(
    tag = "admin",
    request_body = NotificationRequest,
    security(("admin_key" = [])),
    responses(
        (status = 202, description = "Sent", body = NotificationAccepted),
        (status = 400, description = "`invalid_json` or `validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token` (no key) or `invalid_token` (wrong key)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (no key configured), `user_not_found` or `room_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many wrong keys from this address; every key from it is refused until `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/notifications")]
pub async fn send_notification(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: Admin,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // The body is read only now that the key checked out.
    let body: NotificationRequest = read_json(&req, payload).await?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 1000 {
        return Err(ApiError::validation(
            "text",
            "must be 1 to 1000 characters, not only whitespace",
        ));
    }
    let kind = body.kind.as_deref().unwrap_or("announcement").trim();
    if kind.is_empty() || kind.chars().count() > 32 {
        return Err(ApiError::validation("kind", "must be 1 to 32 characters"));
    }
    let audience = match (body.usernames, body.room_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "usernames",
                "send either `usernames` or `room_id`, not both",
            ));
        }
        (Some(names), None) if names.is_empty() || names.len() > 1000 => {
            return Err(ApiError::validation(
                "usernames",
                "must list 1 to 1000 usernames",
            ));
        }
        (Some(names), None) => Audience::Users(names),
        (None, Some(room_id)) => Audience::Room(room_id),
        (None, None) => Audience::Everyone,
    };
    let recipients = service::admin::notify(&state, audience, kind, text).await?;
    Ok(HttpResponse::Accepted().json(NotificationAccepted { recipients }))
}
