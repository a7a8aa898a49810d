//! Extractors for untrusted request parts that answer with confab's problem
//! documents instead of actix's plain-text errors: [`ApiJson`] and
//! [`ApiBody`] for bodies, [`ApiQuery`] for query strings, and
//! [`path_error`] for path segments.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::domain::{Limit, MessageId};
use crate::error::ApiError;
use crate::service::messages::HistoryPage;
use crate::state::AppState;
use crate::store::messages::HistoryQuery;
use crate::store::pagination::{Cursor, PageRequest};

/// A JSON request body. Refuses (with `invalid_json`) a body that is not
/// sent as JSON or does not parse, and (with `validation_failed`, naming the
/// field) one whose fields have the wrong type, are missing or unknown.
/// Read as [`ApiBody`] is.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// A request body, read whole. One over `server.max_body_bytes` gets 413
/// `payload_too_large`; one not received within `server.body_timeout_ms`
/// (the deadline [`crate::middleware::body_deadline`] sets) gets 408
/// `request_timeout`, and its connection is closed. Every handler reads its
/// body through this (or [`ApiJson`]), never through actix's extractors,
/// whose errors are neither.
#[derive(Debug)]
pub struct ApiBody(pub web::Bytes);

impl FromRequest for ApiBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (limit, timeout_ms) = req.app_data::<web::Data<AppState>>().map_or((0, 0), |s| {
            let server = &s.settings.server;
            (server.max_body_bytes, server.body_timeout_ms)
        });
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            bytes
                .await
                .map(ApiBody)
                .map_err(|err| match err.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => ApiError::payload_too_large(limit),
                    Some(PayloadError::Io(io)) if io.kind() == std::io::ErrorKind::TimedOut => {
                        ApiError::request_timeout(timeout_ms)
                    }
                    _ => match err.as_response_error().status_code().as_u16() {
                        413 => ApiError::payload_too_large(limit),
                        _ => ApiError::invalid_json(format!("the body could not be read: {err}")),
                    },
                })
        })
    }
}

/// Whether the request says its body is JSON (`application/json` or any
/// `+json` type, parameters allowed).
pub fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses JSON, classifying failures the way clients need them: a body that
/// is not JSON at all is `invalid_json` (checked first, over the whole body),
/// and JSON of the wrong shape is `validation_failed` naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_json(format!("the body is not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        // serde's message, naming the field for a missing one (which is
        // reported at its parent).
        let message = err.into_inner().to_string();
        let named = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (named, path.as_str()) {
            (Some(name), ".") => name.to_owned(),
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, ".") => "body".to_owned(),
            (None, _) => path,
        };
        ApiError::validation(field, message)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let body = ApiBody::from_request(req, payload);
        Box::pin(async move {
            let ApiBody(bytes) = body.await?;
            if !json {
                return Err(not_json());
            }
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// The client's address for per-address limits: the TCP peer (behind a
/// proxy, the proxy's address; forwarded headers are not trusted).
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

/// Reads a JSON body from a payload the handler took (`web::Payload`)
/// exactly as [`ApiJson`] would have: for handlers that must check
/// something (a key) before the body is read.
pub async fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let mut payload = payload.into_inner();
    ApiJson::<T>::from_request(req, &mut payload)
        .await
        .map(|ApiJson(body)| body)
}

/// The answer to a body not sent as JSON.
pub fn not_json() -> ApiError {
    ApiError::invalid_json("send the body as JSON with `Content-Type: application/json`")
}

/// A query string parsed into `T`; a malformed one is 400 naming the
/// parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(req.query_string()));
        std::future::ready(
            serde_path_to_error::deserialize(de)
                .map(ApiQuery)
                .map_err(|err| {
                    let path = err.path().to_string();
                    ApiError::validation(
                        if path == "." { "query".into() } else { path },
                        err.into_inner().to_string(),
                    )
                }),
        )
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// Query parameters of every list endpoint.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Items per page, 1..=100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (anything else, even an
    /// empty string, is 400).
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

impl ListParams {
    /// The page asked for, checked.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        page_request(self.limit.as_deref(), self.cursor.as_deref())
    }
}

/// Query parameters of the history endpoints.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Messages per page, 1..=100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<String>,
    /// Only messages older than this message id (exclusive). Not with `after`.
    #[param(example = "1732357500123-0", pattern = "^[0-9]{1,19}-[0-9]{1,19}$")]
    pub before: Option<String>,
    /// Only messages newer than this message id (exclusive). Not with `before`.
    #[param(example = "1732357500123-0", pattern = "^[0-9]{1,19}-[0-9]{1,19}$")]
    pub after: Option<String>,
}

impl HistoryParams {
    /// The history page asked for, checked.
    pub fn page(&self) -> Result<HistoryPage, ApiError> {
        let (query, limit) = history_request(
            self.limit.as_deref(),
            self.before.as_deref(),
            self.after.as_deref(),
        )?;
        Ok(HistoryPage { query, limit })
    }
}

/// `?limit=&cursor=` of a list endpoint, checked.
pub fn page_request(limit: Option<&str>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    let Limit(limit) = Limit::parse(limit)?;
    let cursor =
        match cursor {
            None => None,
            Some(text) => Some(Cursor::decode(text).ok_or_else(|| {
                ApiError::validation("cursor", "is not a cursor this server issued")
            })?),
        };
    Ok(PageRequest { limit, cursor })
}

/// `?limit=&before=&after=` of a history endpoint, checked.
pub fn history_request(
    limit: Option<&str>,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<(HistoryQuery, usize), ApiError> {
    let Limit(limit) = Limit::parse(limit)?;
    let query = match (before, after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "before",
                "use either `before` or `after`, not both",
            ));
        }
        (Some(id), None) => HistoryQuery::Before(MessageId::parse_param("before", id)?),
        (None, Some(id)) => HistoryQuery::After(MessageId::parse_param("after", id)?),
        (None, None) => HistoryQuery::Latest,
    };
    Ok((query, limit))
}

/// The `PathConfig` error handler: a path segment that cannot be decoded
/// (invalid UTF-8, say) is 400 `validation_failed`.
pub fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::validation(
        "path",
        format!("a path segment could not be decoded: {err}"),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: Option<u32>,
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        for bad in [
            "",
            "{",
            "nul",
            "{\"name\": \"x\"} trailing",
            "{\"name\": \"x\",}",
            "[1,",
            "{\"name\": 5",
        ] {
            assert_eq!(
                parse_json::<Body>(bad.as_bytes()).unwrap_err().code(),
                crate::error::Code::InvalidJson,
                "{bad}"
            );
        }
    }

    #[test]
    fn shape_errors_name_the_field() {
        let cases = [
            (r#"{"name": 5}"#, "name"),
            (r#"{}"#, "name"),
            (r#"{"name": "x", "count": "many"}"#, "count"),
            (r#"{"name": "x", "extra": 1}"#, "extra"),
            (r#"[]"#, "body"),
        ];
        for (json, field) in cases {
            let err = parse_json::<Body>(json.as_bytes()).unwrap_err();
            assert_eq!(err.field(), Some(field), "{json}: {err:?}");
        }
    }

    #[test]
    fn history_cursors_are_checked() {
        assert!(history_request(None, Some("1-0"), Some("2-0")).is_err());
        assert!(history_request(None, Some("nope"), None).is_err());
        assert!(history_request(Some("0"), None, None).is_err());
        assert_eq!(
            history_request(None, None, None).unwrap(),
            (HistoryQuery::Latest, 50)
        );
    }
}
