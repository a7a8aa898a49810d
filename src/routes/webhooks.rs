//! A room's outgoing webhooks.

use actix_web::{HttpResponse, delete, get, post, web};

use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, ListParams};
use crate::model::{CreateWebhookRequest, NewWebhook, Webhook, WebhookList};
use crate::service;
use crate::state::AppState;

/// Add a webhook: the room's messages are POSTed to its URL.
///
/// Every `message` sent to the room after this (and every later edit or
/// delete, as `message_edited` / `message_deleted`) is POSTed to `url` as
/// JSON `{"type", "webhook_id", "message": Message}` with the headers
/// `Confab-Webhook-Id`, `Confab-Delivery-Id` (the same on every retry:
/// dedupe by it) and `Confab-Signature: t=<unix seconds>,v1=<hex
/// HMAC-SHA256 of "<t>.<body>" keyed by the secret>`. A 2xx answer within
/// 10 s acknowledges a delivery; anything else is retried with exponential
/// backoff (about 1 s doubling to 10 min, with jitter) for 24 hours, then
/// counted in `failed`. Deliveries of one webhook go out in order, each
/// after the previous one is acknowledged or given up; redirects are not
/// followed. The `secret` is in this answer only.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id")),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Added, with its secret (shown only here)", body = NewWebhook),
        (status = 400, description = "`invalid_json`, or `validation_failed`: `url` is not an http(s) URL, or resolves to a private, loopback or link-local address (unless the server allows them); `description` too long", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_webhooks` (the room has its maximum), or `rate_limited` with `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rooms/{room_id}/webhooks")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, room_id = %path))]
pub async fn create_webhook(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.try_into()?;
    let created = service::webhooks::create_rate_limited(&state, &auth, &path, input).await?;
    Ok(HttpResponse::Created().json(created))
}

/// A room's webhooks, newest first (no secrets).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("room_id" = String, Path, description = "Room id"), ListParams),
    responses(
        (status = 200, description = "A page of the room's webhooks", body = WebhookList),
        (status = 400, description = "`validation_failed` (limit or cursor)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rooms/{room_id}/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<web::Json<WebhookList>, ApiError> {
    let page = params.page()?;
    Ok(web::Json(
        service::webhooks::list(&state, &auth, &path, &page).await?,
    ))
}

/// One of a room's webhooks, with its delivery counts (no secret).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("room_id" = String, Path, description = "Room id"),
        ("webhook_id" = String, Path, description = "Webhook id"),
    ),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found` or `webhook_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/rooms/{room_id}/webhooks/{webhook_id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Webhook>, ApiError> {
    let (room_id, webhook_id) = path.into_inner();
    Ok(web::Json(
        service::webhooks::get(&state, &auth, &room_id, &webhook_id).await?,
    ))
}

/// Remove a webhook (any member of the room may): deliveries stop.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("room_id" = String, Path, description = "Room id"),
        ("webhook_id" = String, Path, description = "Webhook id"),
    ),
    responses(
        (status = 204, description = "Removed; nothing more is delivered to it"),
        (status = 403, description = "`not_a_member`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`room_not_found` or `webhook_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/rooms/{room_id}/webhooks/{webhook_id}")]
#[tracing::instrument(skip_all, fields(user_id = %auth.user_id, room_id = %path.0))]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room_id, webhook_id) = path.into_inner();
    service::webhooks::delete(&state, &auth, &room_id, &webhook_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
