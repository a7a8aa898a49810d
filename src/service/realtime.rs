//! The event stream: tickets for browsers, and opening a stream.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::model::Ticket;
use crate::realtime::stream::{Feed, OpenRequest, StreamLimits};
use crate::state::AppState;
use crate::store::rate_limit::{Limited, Rate};

use super::spend_rate_limit_token;

/// How a stream request proves who it is.
pub enum Credential {
    /// `?ticket=` from `POST /events/tickets` (browsers' `EventSource`).
    Ticket(String),
    /// The `Authorization: Bearer` token, if any.
    Bearer(Option<String>),
}

/// Issues a short-lived ticket that opens event streams for the caller's
/// session.
pub async fn create_ticket_rate_limited(
    state: &AppState,
    auth: &AuthUser,
) -> Result<Ticket, ApiError> {
    let limits = &state.settings.limits;
    let rate = Rate::per_min(limits.tickets_per_min, limits.tickets_burst);
    spend_rate_limit_token(state, Limited::User(&auth.user_id, "ticket"), rate).await?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    let ticket = URL_SAFE_NO_PAD.encode(secret);
    let ttl = state.settings.auth.ticket_ttl_secs;
    state
        .store
        .create_ticket(&auth.user_id, &auth.session_id, &ticket, ttl)
        .await?;
    Ok(Ticket {
        ticket,
        expires_in: ttl,
    })
}

/// Opens an event stream for the credential's user: `ready`, the backlog
/// (offline queue, and with `last_event_id` what was missed), then live
/// events, until the client goes or the session ends.
pub async fn open_stream(
    state: &AppState,
    credential: Credential,
    last_event_id: Option<String>,
) -> Result<Feed, ApiError> {
    let auth = match credential {
        Credential::Ticket(ticket) => {
            let (user_id, session_id) = state
                .store
                .ticket(&ticket)
                .await?
                .ok_or_else(|| ApiError::invalid_token("an unknown or expired ticket"))?;
            AuthUser {
                user_id,
                session_id,
                names: None,
            }
        }
        Credential::Bearer(token) => AuthUser::authenticate(token, state).await?,
    };
    // The session must still live (a ticket dies with it); the stream ends
    // when it expires.
    let ttl = state
        .store
        .session_ttl(&auth.user_id, &auth.session_id)
        .await?
        .ok_or_else(|| ApiError::invalid_token("revoked"))?;
    let settings = &state.settings;
    let limits = StreamLimits {
        max_per_user: settings.limits.max_streams_per_user,
        resume_max: settings.sse.resume_max,
        ping: Duration::from_secs(settings.sse.ping_secs),
        max_per_instance: settings.limits.max_streams_per_instance,
        retry: Duration::from_millis(settings.sse.retry_ms),
    };
    state
        .realtime
        .open(
            OpenRequest {
                user_id: auth.user_id,
                session_id: auth.session_id,
                session_ends: tokio::time::Instant::now() + Duration::from_secs(ttl),
                last_event_id,
            },
            limits,
        )
        .await
}
