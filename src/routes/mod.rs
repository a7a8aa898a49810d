//! HTTP handlers, one file per resource, named verb_noun. Each handler
//! parses its input into domain types, asks the store, and shapes the answer;
//! its `#[utoipa::path]` is its entry in the OpenAPI document.

pub mod admin;
pub mod auth;
pub mod direct;
pub mod events;
pub mod health;
pub mod messages;
pub mod rooms;
pub mod users;
pub mod web;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every `/api/v1` handler. Order matters where paths overlap:
/// `/users/me` and `/users/online` come before `/users/{username}`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::register)
        .service(auth::login)
        .service(auth::logout)
        .service(users::get_me)
        .service(users::list_online_users)
        .service(rooms::list_my_rooms)
        .service(users::get_user)
        .service(rooms::create_room)
        .service(rooms::list_rooms)
        .service(rooms::get_room)
        .service(rooms::join_room)
        .service(rooms::leave_room)
        .service(rooms::list_members)
        .service(rooms::get_room_stats)
        .service(messages::send_room_message)
        .service(messages::list_room_messages)
        .service(direct::send_direct_message)
        .service(direct::list_direct_messages)
        .service(direct::list_conversations)
        .service(events::create_ticket)
        .service(events::open_events)
        .service(admin::send_notification);
}

/// Query parameters of every list endpoint.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Items per page, 1..=100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (anything else, even an
    /// empty string, is 400).
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// Query parameters of the history endpoints.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Messages per page, 1..=100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// Only messages older than this message id (exclusive). Not with `after`.
    #[param(example = "1732357500123-0", pattern = "^[0-9]{1,19}-[0-9]{1,19}$")]
    pub before: Option<String>,
    /// Only messages newer than this message id (exclusive). Not with `before`.
    #[param(example = "1732357500123-0", pattern = "^[0-9]{1,19}-[0-9]{1,19}$")]
    pub after: Option<String>,
}

/// Counts one action against a rate limit; 429 `rate_limited` (with
/// `Retry-After`) when it is over, before anything is stored.
pub(crate) async fn limit(
    state: &crate::startup::AppState,
    what: crate::store::sessions::Limited<'_>,
    rate: crate::store::sessions::Rate,
) -> Result<(), crate::error::ApiError> {
    match state.store.rate_limit(what, rate).await? {
        None => Ok(()),
        Some(wait) => {
            crate::metrics::inc(&crate::metrics::RATE_LIMITED);
            Err(crate::error::ApiError::RateLimited {
                retry_after: wait.as_secs() + 1,
            })
        }
    }
}

/// The client's address for per-address limits: the TCP peer (behind a
/// proxy, the proxy's address; forwarded headers are not trusted).
pub(crate) fn client_address(req: &actix_web::HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}
