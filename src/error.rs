//! The one error type handlers return, and its wire form: an RFC 9457 problem
//! document with a stable `code`.
//!
//! Every failure inside confab converts into [`ApiError`]; the status code of
//! each variant is decided in one `match` ([`ApiError::status`]). Internal
//! causes (Redis errors, bugs) are logged and never sent to clients.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/username_taken",
    "title": "Username taken",
    "status": 409,
    "detail": "the username `alice` is already taken",
    "code": "username_taken"
}))]
pub struct Problem {
    /// A URI reference naming the kind of problem: `/problems/{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    /// A short summary of the kind of problem; the same for every instance.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, in words for a developer. For
    /// `validation_failed` it starts with the name of the offending field.
    pub detail: String,
    /// Stable snake_case identifier to switch on.
    pub code: String,
    /// For `validation_failed`: the offending field (JSON body field, query
    /// parameter or path segment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, not UTF-8, or not sent as `application/json`.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A field, query parameter or path segment breaks a rule.
    #[error("{field}: {message}")]
    Validation {
        /// The offending field.
        field: String,
        /// The rule it breaks.
        message: String,
    },
    /// No `Authorization: Bearer` credential.
    #[error("missing bearer token")]
    MissingToken,
    /// A credential that is malformed, expired, signed with another key or
    /// revoked.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// Unknown username or wrong password (deliberately the same).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Only members may do this.
    #[error("you are not a member of this room")]
    NotAMember,
    /// Something named in the request does not exist.
    #[error("{detail}")]
    NotFound {
        /// `user_not_found`, `room_not_found` or `not_found`.
        code: &'static str,
        /// Which thing.
        detail: String,
    },
    /// The request conflicts with existing state.
    #[error("{detail}")]
    Conflict {
        /// `username_taken`, `room_name_taken`.
        code: &'static str,
        /// What clashed.
        detail: String,
    },
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body is larger than the configured limit.
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Too many requests; try again after the given number of seconds.
    #[error("too many requests")]
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// The user already holds the maximum number of open streams.
    #[error("too many open event streams; close one first")]
    TooManyStreams {
        /// Seconds after which to try again.
        retry_after: u64,
    },
    /// The user already belongs to the maximum number of rooms.
    #[error("you already belong to the maximum of {0} rooms; leave one first")]
    TooManyRooms(u32),
    /// Redis is unreachable or too slow.
    #[error("service unavailable")]
    Unavailable,
    /// A bug or an impossible state; logged, answered with a generic 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A `validation_failed` error for `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// `404 user_not_found`.
    pub fn user_not_found(username: &str) -> Self {
        ApiError::NotFound {
            code: "user_not_found",
            detail: format!("no user is called `{username}`"),
        }
    }

    /// `404 room_not_found`.
    pub fn room_not_found(room_id: &str) -> Self {
        ApiError::NotFound {
            code: "room_not_found",
            detail: format!("no room has the id `{room_id}`"),
        }
    }

    /// The stable `code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::Validation { .. } => "validation_failed",
            ApiError::MissingToken => "missing_token",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::NotAMember => "not_a_member",
            ApiError::NotFound { code, .. } | ApiError::Conflict { code, .. } => code,
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyStreams { .. } => "too_many_streams",
            ApiError::TooManyRooms(_) => "too_many_rooms",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The HTTP status of this error: the single place that decides it.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson(_) | ApiError::Validation { .. } => StatusCode::BAD_REQUEST,
            ApiError::MissingToken | ApiError::InvalidToken(_) | ApiError::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::NotAMember => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. }
            | ApiError::TooManyStreams { .. }
            | ApiError::TooManyRooms(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "Invalid JSON",
            ApiError::Validation { .. } => "Validation failed",
            ApiError::MissingToken => "Missing token",
            ApiError::InvalidToken(_) => "Invalid token",
            ApiError::InvalidCredentials => "Invalid credentials",
            ApiError::NotAMember => "Not a member",
            ApiError::NotFound { code, .. } => match *code {
                "user_not_found" => "User not found",
                "room_not_found" => "Room not found",
                _ => "Not found",
            },
            ApiError::Conflict { code, .. } => match *code {
                "username_taken" => "Username taken",
                "room_name_taken" => "Room name taken",
                _ => "Conflict",
            },
            ApiError::MethodNotAllowed => "Method not allowed",
            ApiError::PayloadTooLarge(_) => "Payload too large",
            ApiError::RateLimited { .. } => "Rate limited",
            ApiError::TooManyStreams { .. } => "Too many streams",
            ApiError::TooManyRooms(_) => "Too many rooms",
            ApiError::Unavailable => "Service unavailable",
            ApiError::Internal(_) => "Internal server error",
        }
    }

    /// The problem document sent for this error.
    pub fn problem(&self) -> Problem {
        let detail = match self {
            ApiError::Internal(_) => "an unexpected error occurred; it has been logged".into(),
            ApiError::Unavailable => "the message store is unreachable; retry shortly".into(),
            ApiError::InvalidToken(why) => format!("the access token is {why}"),
            other => other.to_string(),
        };
        let field = match self {
            ApiError::Validation { field, .. } => Some(field.clone()),
            _ => None,
        };
        Problem {
            type_: format!("/problems/{}", self.code()),
            title: self.title().into(),
            status: self.status().as_u16(),
            detail,
            code: self.code().into(),
            field,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        let mut response = HttpResponse::build(self.status());
        response.content_type("application/problem+json");
        match self {
            ApiError::MissingToken | ApiError::InvalidToken(_) => {
                let value = match self {
                    ApiError::InvalidToken(_) => "Bearer error=\"invalid_token\"",
                    _ => "Bearer",
                };
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(value)));
            }
            ApiError::InvalidCredentials => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::RateLimited { retry_after } | ApiError::TooManyStreams { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "redis unavailable");
                ApiError::Unavailable
            }
            StoreError::Corrupt(cause) => ApiError::Internal(cause),
        }
    }
}

/// Turns every error response into a problem document, whatever produced
/// it: actix itself (an undecodable path, a payload error), a middleware
/// (CORS refusing a preflight), or a handler. No response leaves with a 4xx
/// or 5xx status and a body that is not `application/problem+json`.
pub mod middleware {
    use actix_web::body::{BoxBody, MessageBody};
    use actix_web::dev::{ServiceRequest, ServiceResponse};
    use actix_web::http::{StatusCode, header};
    use actix_web::middleware::Next;

    use super::ApiError;

    /// The problem to answer for an error response with this status that
    /// carries no problem document of its own.
    fn problem_for(status: StatusCode, path: &str) -> ApiError {
        match status.as_u16() {
            404 => ApiError::NotFound {
                code: "not_found",
                detail: format!("no route matches {path}"),
            },
            405 => ApiError::MethodNotAllowed,
            413 => ApiError::PayloadTooLarge(0),
            503 => ApiError::Unavailable,
            s if (400..500).contains(&s) => ApiError::validation(
                "request",
                format!(
                    "the request was refused: {}",
                    status.canonical_reason().unwrap_or("client error")
                ),
            ),
            _ => ApiError::Internal(format!("unhandled {status} response")),
        }
    }

    /// The middleware function (`actix_web::middleware::from_fn`).
    pub async fn problem_responses(
        req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
        let path = req.path().to_owned();
        let res = match next.call(req).await {
            Ok(res) => res.map_into_boxed_body(),
            // An error raised by an inner middleware: answer it as a problem
            // (keeping ApiErrors, which already are).
            Err(err) => {
                if err.as_error::<ApiError>().is_some() {
                    return Err(err);
                }
                let status = err.as_response_error().status_code();
                return Err(problem_for(status, &path).into());
            }
        };
        let status = res.status();
        let is_problem = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/problem+json"));
        if !(status.is_client_error() || status.is_server_error()) || is_problem {
            return Ok(res);
        }
        let error = problem_for(status, &path);
        let (req, old) = res.into_parts();
        let mut new = actix_web::ResponseError::error_response(&error);
        // Keep headers such as `Allow` or CORS headers the original carried.
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                new.headers_mut().insert(name.clone(), value.clone());
            }
        }
        *new.status_mut() = status;
        // The status is the original one; the body must say the same.
        let mut problem = error.problem();
        problem.status = status.as_u16();
        let new = new.set_body(BoxBody::new(
            serde_json::to_vec(&problem).unwrap_or_default(),
        ));
        Ok(ServiceResponse::new(req, new))
    }
}
