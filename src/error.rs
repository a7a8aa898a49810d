//! The one error type handlers return, and its wire form: an RFC 9457 problem
//! document with a stable `code`.
//!
//! Every `code` a client can see is one row of the table below
//! (`error_codes!`, in the manner of Meilisearch's `make_error_codes!`):
//! its HTTP status, its title, and the detail sent when nothing more
//! specific is known. An [`ApiError`] is a [`Code`] plus what this
//! occurrence adds (a detail, the offending field, a `Retry-After`).
//! Internal causes (Redis errors, bugs) keep their source chain for the logs
//! and are never sent to clients.

use std::borrow::Cow;
use std::fmt;

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
    #[schema(nullable = false)]
    pub field: Option<String>,
}

/// Declares [`Code`] from the table: one row per code, `Variant =
/// (STATUS, "code", "Title", "default detail")`.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($status:ident, $code:literal, $title:literal, $detail:literal); )*) => {
        /// Every error code confab answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The HTTP status answered with this code.
            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::$status,)* }
            }

            /// The stable snake_case name clients switch on.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The problem title, the same for every occurrence.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }

            /// The detail sent when the occurrence adds none.
            fn default_detail(self) -> &'static str {
                match self { $(Code::$variant => $detail,)* }
            }
        }
    };
}

error_codes! {
    /// The body is not JSON, not UTF-8, or not sent as `application/json`.
    InvalidJson = (BAD_REQUEST, "invalid_json", "Invalid JSON", "invalid JSON");
    /// A field, query parameter or path segment breaks a rule.
    ValidationFailed = (BAD_REQUEST, "validation_failed", "Validation failed", "the request breaks a rule");
    /// No credential where one is needed.
    MissingToken = (UNAUTHORIZED, "missing_token", "Missing token", "missing bearer token");
    /// A credential that is malformed, expired, signed with another key or
    /// revoked.
    InvalidToken = (UNAUTHORIZED, "invalid_token", "Invalid token", "the access token is invalid");
    /// Unknown username or wrong password (deliberately the same answer).
    InvalidCredentials = (UNAUTHORIZED, "invalid_credentials", "Invalid credentials", "invalid username or password");
    /// Only members may do this.
    NotAMember = (FORBIDDEN, "not_a_member", "Not a member", "you are not a member of this room");
    /// Only a message's sender may edit or delete it.
    NotYourMessage = (FORBIDDEN, "not_your_message", "Not your message", "only the sender may edit or delete a message");
    /// Messages may be edited or deleted for 24 hours after sending.
    EditWindowClosed = (FORBIDDEN, "edit_window_closed", "Edit window closed", "messages can be edited or deleted for 24 hours after sending");
    /// No route matches the path.
    NotFound = (NOT_FOUND, "not_found", "Not found", "no route matches");
    /// The username in the path or body names no user.
    UserNotFound = (NOT_FOUND, "user_not_found", "User not found", "no such user");
    /// The room id names no room.
    RoomNotFound = (NOT_FOUND, "room_not_found", "Room not found", "no such room");
    /// The message id names no message of this room or conversation.
    MessageNotFound = (NOT_FOUND, "message_not_found", "Message not found", "no such message here");
    /// The webhook id names no webhook of this room.
    WebhookNotFound = (NOT_FOUND, "webhook_not_found", "Webhook not found", "no such webhook in this room");
    /// The route exists but not with this method.
    MethodNotAllowed = (METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed", "method not allowed");
    /// The request body did not arrive within `server.body_timeout_ms`; the
    /// connection is closed.
    RequestTimeout = (REQUEST_TIMEOUT, "request_timeout", "Request timeout", "the request body did not arrive in time");
    /// Someone has the username already (ignoring case).
    UsernameTaken = (CONFLICT, "username_taken", "Username taken", "the username is already taken");
    /// A room has the name already (ignoring case).
    RoomNameTaken = (CONFLICT, "room_name_taken", "Room name taken", "a room with this name already exists");
    /// The body is larger than the configured limit.
    PayloadTooLarge = (PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large", "request body too large");
    /// Too many requests; `Retry-After` says when to try again.
    RateLimited = (TOO_MANY_REQUESTS, "rate_limited", "Rate limited", "too many requests");
    /// The user already holds the maximum number of open streams.
    TooManyStreams = (TOO_MANY_REQUESTS, "too_many_streams", "Too many streams", "too many open event streams; close one first");
    /// The user already belongs to the maximum number of rooms.
    TooManyRooms = (TOO_MANY_REQUESTS, "too_many_rooms", "Too many rooms", "you belong to the maximum number of rooms; leave one first");
    /// The room has the maximum number of webhooks.
    TooManyWebhooks = (TOO_MANY_REQUESTS, "too_many_webhooks", "Too many webhooks", "this room has the maximum number of webhooks; delete one first");
    /// Redis is unreachable or too slow, or this instance is full (streams
    /// or connections).
    Unavailable = (SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", "the message store is unreachable; retry shortly");
    /// A bug or an impossible state; logged, answered without its cause.
    Internal = (INTERNAL_SERVER_ERROR, "internal", "Internal server error", "an unexpected error occurred; it has been logged");
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a request can fail with: a [`Code`] and what this occurrence
/// adds to it.
#[derive(Debug)]
pub struct ApiError {
    /// The row of the table.
    code: Code,
    /// Sent as the problem's `detail`; the code's default when `None`.
    detail: Option<Cow<'static, str>>,
    /// For `validation_failed`: the offending field.
    field: Option<String>,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
    /// For `internal`: the cause, logged with its whole chain.
    source: Option<anyhow::Error>,
}

impl From<Code> for ApiError {
    fn from(code: Code) -> Self {
        Self {
            code,
            detail: None,
            field: None,
            // A client told the store is away may retry after a second.
            retry_after: (code == Code::Unavailable).then_some(1),
            source: None,
        }
    }
}

impl ApiError {
    /// An error of `code` with this detail.
    pub fn new(code: Code, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..Self::from(code)
        }
    }

    /// `400 validation_failed` naming `field`; the detail starts with it.
    pub fn validation(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let field = field.into();
        Self {
            field: Some(field.clone()),
            ..Self::new(Code::ValidationFailed, format!("{field}: {message}"))
        }
    }

    /// `400 invalid_json`.
    pub fn invalid_json(why: impl fmt::Display) -> Self {
        Self::new(Code::InvalidJson, format!("invalid JSON: {why}"))
    }

    /// `401 invalid_token`, saying why (`"revoked"`, `"expired"`...).
    pub fn invalid_token(why: &str) -> Self {
        Self::new(Code::InvalidToken, format!("the access token is {why}"))
    }

    /// `404 user_not_found`.
    pub fn user_not_found(username: &str) -> Self {
        Self::new(
            Code::UserNotFound,
            format!("no user is called `{username}`"),
        )
    }

    /// `404 room_not_found`.
    pub fn room_not_found(room_id: &str) -> Self {
        Self::new(
            Code::RoomNotFound,
            format!("no room has the id `{room_id}`"),
        )
    }

    /// `404 message_not_found` for a message id that names no message here.
    pub fn message_not_found(message_id: &str) -> Self {
        Self::new(
            Code::MessageNotFound,
            format!("no message here has the id `{message_id}`"),
        )
    }

    /// `404 not_found` for a request no route takes.
    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(Code::NotFound, format!("no route matches {method} {path}"))
    }

    /// `413 payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            Code::PayloadTooLarge,
            format!("request body larger than {limit} bytes"),
        )
    }

    /// `408 request_timeout`: the body took longer than `timeout_ms`.
    pub fn request_timeout(timeout_ms: u64) -> Self {
        Self::new(
            Code::RequestTimeout,
            format!("the request body did not arrive within {timeout_ms} ms"),
        )
    }

    /// `429` with `Retry-After` (`rate_limited` or `too_many_streams`).
    pub fn retry_after(code: Code, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::from(code)
        }
    }

    /// `429 too_many_rooms`.
    pub fn too_many_rooms(cap: u32) -> Self {
        Self::new(
            Code::TooManyRooms,
            format!("you already belong to the maximum of {cap} rooms; leave one first"),
        )
    }

    /// `500 internal`: `cause` is logged (with its source chain), never sent.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(cause.into()),
            ..Self::from(Code::Internal)
        }
    }

    /// The row of the table this error belongs to.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The HTTP status, from the table.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// For `validation_failed`: the offending field.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The detail sent to the client.
    pub fn detail(&self) -> &str {
        self.detail
            .as_deref()
            .unwrap_or_else(|| self.code.default_detail())
    }

    /// The problem document sent for this error.
    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("/problems/{}", self.code),
            title: self.code.title().into(),
            status: self.status().as_u16(),
            detail: self.detail().into(),
            code: self.code.as_str().into(),
            field: self.field.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e.as_ref() as _)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.source {
            tracing::error!(cause = format!("{cause:#}"), "internal error");
        }
        let mut response = HttpResponse::build(self.status());
        response.content_type("application/problem+json");
        let challenge = match self.code {
            Code::InvalidToken => Some("Bearer error=\"invalid_token\""),
            Code::MissingToken | Code::InvalidCredentials => Some("Bearer"),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(self.problem())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "redis unavailable");
                Code::Unavailable.into()
            }
            corrupt @ StoreError::Corrupt(_) => ApiError::internal(corrupt),
        }
    }
}

impl From<crate::domain::Invalid> for ApiError {
    fn from(err: crate::domain::Invalid) -> Self {
        ApiError::validation(err.field, err.message)
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

    use super::{ApiError, Code};

    /// The problem to answer for an error response with this status that
    /// carries no problem document of its own.
    fn problem_for(status: StatusCode, path: &str) -> ApiError {
        match status.as_u16() {
            404 => ApiError::new(Code::NotFound, format!("no route matches {path}")),
            405 => Code::MethodNotAllowed.into(),
            408 => Code::RequestTimeout.into(),
            413 => ApiError::payload_too_large(0),
            503 => Code::Unavailable.into(),
            s if (400..500).contains(&s) => ApiError::validation(
                "request",
                format!(
                    "the request was refused: {}",
                    status.canonical_reason().unwrap_or("client error")
                ),
            ),
            _ => ApiError::internal(anyhow::anyhow!("unhandled {status} response")),
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_is_one_row_with_a_distinct_name_and_an_error_status() {
        let names: HashSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len());
        for code in Code::ALL {
            assert!(code.status().is_client_error() || code.status().is_server_error());
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
    }

    #[test]
    fn an_internal_cause_is_never_sent() {
        let err = ApiError::internal(anyhow::anyhow!("secret redis detail"));
        let problem = err.problem();
        assert_eq!(problem.code, "internal");
        assert!(!problem.detail.contains("secret"));
    }

    #[test]
    fn a_validation_error_names_its_field() {
        let problem = ApiError::validation("body", "must not be empty").problem();
        assert_eq!(problem.field.as_deref(), Some("body"));
        assert!(problem.detail.starts_with("body: "));
        assert_eq!(problem.status, 400);
    }
}
