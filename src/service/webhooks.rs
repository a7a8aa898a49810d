//! Outgoing webhooks: adding, listing and removing a room's webhooks.
//! Delivery itself runs in [`crate::webhooks`].

use crate::auth::AuthUser;
use crate::clock::{now_ms, rfc3339_ms};
use crate::domain::{Invalid, WebhookDescription, is_valid_id, new_id};
use crate::error::{ApiError, Code};
use crate::model::{CreateWebhookRequest, NewWebhook, Webhook, WebhookList};
use crate::state::AppState;
use crate::store::pagination::{Cursor, PageRequest};
use crate::store::rate_limit::{Limited, Rate};
use crate::store::webhooks::{WebhookChange, WebhookRecord, WebhookStats};
use crate::webhooks::client::check_url;

use super::{find_room_as_member, spend_rate_limit_token};

/// A webhook to add, its fields checked (the URL's addresses are checked
/// when it is added).
pub struct NewWebhookInput {
    /// Where deliveries go, as given.
    pub url: String,
    /// What it is for.
    pub description: Option<WebhookDescription>,
}

impl TryFrom<CreateWebhookRequest> for NewWebhookInput {
    type Error = Invalid;

    fn try_from(request: CreateWebhookRequest) -> Result<Self, Invalid> {
        Ok(Self {
            url: request.url,
            description: request
                .description
                .as_deref()
                .map(WebhookDescription::parse)
                .transpose()?
                .flatten(),
        })
    }
}

/// The public form of a webhook and its delivery counts.
fn public(record: WebhookRecord, stats: WebhookStats) -> Webhook {
    Webhook {
        id: record.id,
        room_id: record.room_id,
        url: record.url,
        description: record.description,
        created_by: record.created_by,
        created_at: rfc3339_ms(record.created_ms),
        pending: stats.pending,
        delivered: stats.delivered,
        failed: stats.failed,
        last_error: stats.last_error,
        last_delivered_at: stats.last_delivered_ms.map(rfc3339_ms),
    }
}

/// A fresh signing secret: 32 random bytes, hex, after `whsec_`.
fn new_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("no randomness: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("whsec_{hex}"))
}

/// Adds a webhook to a room the caller belongs to: every message sent to
/// the room from now on is delivered to it. The URL must be `http(s)` and,
/// unless the server allows private addresses, resolve to public ones
/// only. Spends a webhook-creation token.
pub async fn create_rate_limited(
    state: &AppState,
    auth: &AuthUser,
    room_id: &str,
    input: NewWebhookInput,
) -> Result<NewWebhook, ApiError> {
    let settings = &state.settings.webhooks;
    let rate = Rate::per_min(settings.creates_per_min, settings.creates_per_min);
    spend_rate_limit_token(state, Limited::User(&auth.user_id, "webhook"), rate).await?;
    find_room_as_member(state, room_id, &auth.user_id).await?;
    let url = check_url(&input.url, settings.allow_private_addresses)
        .await
        .map_err(|why| ApiError::validation("url", why))?;
    let record = WebhookRecord {
        id: new_id(),
        room_id: room_id.to_owned(),
        url: url.to_string(),
        description: input.description.map(WebhookDescription::into_inner),
        created_by: auth.user_id.clone(),
        created_ms: now_ms(),
        secret: new_secret()?,
    };
    match state
        .store
        .create_webhook(&auth.user_id, &record, settings.max_per_room)
        .await?
    {
        WebhookChange::Done => {}
        WebhookChange::NoRoom => return Err(ApiError::room_not_found(room_id)),
        WebhookChange::NotMember => return Err(Code::NotAMember.into()),
        WebhookChange::TooMany => {
            return Err(ApiError::new(
                Code::TooManyWebhooks,
                format!(
                    "this room has the maximum of {} webhooks; delete one first",
                    settings.max_per_room
                ),
            ));
        }
        WebhookChange::NotFound => return Err(ApiError::room_not_found(room_id)),
    }
    let secret = record.secret.clone();
    Ok(NewWebhook {
        webhook: public(record, WebhookStats::default()),
        secret,
    })
}

/// A page of a room's webhooks, newest first (members only; no secrets).
pub async fn list(
    state: &AppState,
    auth: &AuthUser,
    room_id: &str,
    page: &PageRequest,
) -> Result<WebhookList, ApiError> {
    find_room_as_member(state, room_id, &auth.user_id).await?;
    let hooks = state.store.room_webhooks(room_id).await?;
    // A room has a handful of webhooks: paged in memory, by (creation time,
    // id) descending, the cursor naming the last one returned.
    let after = |h: &WebhookRecord| match &page.cursor {
        None => true,
        Some(c) => {
            let key = (h.created_ms as i64, h.id.as_str());
            key < (c.score, c.member.as_str())
        }
    };
    let mut rest: Vec<WebhookRecord> = hooks.into_iter().filter(after).collect();
    let more = rest.len() > page.limit;
    rest.truncate(page.limit);
    let next_cursor = more.then(|| rest.last()).flatten().map(|h| {
        Cursor {
            score: h.created_ms as i64,
            member: h.id.clone(),
        }
        .encode()
    });
    let stats = state.store.webhook_stats(&rest).await?;
    Ok(WebhookList {
        items: rest
            .into_iter()
            .zip(stats)
            .map(|(h, s)| public(h, s))
            .collect(),
        next_cursor,
    })
}

/// One of a room's webhooks (members only; no secret).
pub async fn get(
    state: &AppState,
    auth: &AuthUser,
    room_id: &str,
    webhook_id: &str,
) -> Result<Webhook, ApiError> {
    find_room_as_member(state, room_id, &auth.user_id).await?;
    let not_found = || {
        ApiError::new(
            Code::WebhookNotFound,
            format!("no webhook of this room has the id `{webhook_id}`"),
        )
    };
    if !is_valid_id(webhook_id) {
        return Err(not_found());
    }
    let record = state
        .store
        .webhook(room_id, webhook_id)
        .await?
        .ok_or_else(not_found)?;
    let stats = state
        .store
        .webhook_stats(std::slice::from_ref(&record))
        .await?
        .pop()
        .unwrap_or_default();
    Ok(public(record, stats))
}

/// Removes one of a room's webhooks (any member may): nothing more is
/// delivered to it.
pub async fn delete(
    state: &AppState,
    auth: &AuthUser,
    room_id: &str,
    webhook_id: &str,
) -> Result<(), ApiError> {
    if !is_valid_id(room_id) {
        return Err(ApiError::room_not_found(room_id));
    }
    let not_found = || {
        ApiError::new(
            Code::WebhookNotFound,
            format!("no webhook of this room has the id `{webhook_id}`"),
        )
    };
    if !is_valid_id(webhook_id) {
        find_room_as_member(state, room_id, &auth.user_id).await?;
        return Err(not_found());
    }
    match state
        .store
        .delete_webhook(room_id, &auth.user_id, webhook_id)
        .await?
    {
        WebhookChange::Done => Ok(()),
        WebhookChange::NoRoom => Err(ApiError::room_not_found(room_id)),
        WebhookChange::NotMember => Err(Code::NotAMember.into()),
        WebhookChange::NotFound | WebhookChange::TooMany => Err(not_found()),
    }
}
