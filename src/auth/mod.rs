//! Authentication: password hashing, access tokens, sessions and the
//! [`AuthUser`] extractor that guards every signed-in endpoint.

pub mod password;
pub mod token;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use crate::error::{ApiError, Code};
use crate::state::AppState;

/// The signed-in caller: a valid token whose session is live. Taking this as
/// a handler argument is what makes an endpoint require a token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The caller's user id.
    pub user_id: String,
    /// The session the token belongs to.
    pub session_id: String,
    /// (username, display name) when the token carries them.
    pub names: Option<(String, String)>,
}

/// The bearer token of a request, if it carries one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl AuthUser {
    /// Checks the request's bearer token and its session.
    pub async fn authenticate(token: Option<String>, state: &AppState) -> Result<Self, ApiError> {
        let SignedToken(user) = SignedToken::check(token, state)?;
        if !state
            .store
            .session_exists(&user.user_id, &user.session_id)
            .await?
        {
            return Err(ApiError::invalid_token("revoked"));
        }
        Ok(user)
    }
}

/// A bearer token whose signature and expiry hold, but whose session has
/// not been checked yet: for the hot paths (sends) whose service function
/// checks the session in the same Redis call as the caller's rate limit
/// (`Store::rate_limit_in_session`), saving a round trip. Anything taking
/// one must do that check before acting.
#[derive(Debug, Clone)]
pub struct SignedToken(pub AuthUser);

impl SignedToken {
    /// Checks the token's signature and expiry (no Redis).
    fn check(token: Option<String>, state: &AppState) -> Result<Self, ApiError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(Code::MissingToken)?;
        let claims = state
            .tokens
            .check(&token)
            .map_err(ApiError::invalid_token)?;
        Ok(Self(AuthUser {
            user_id: claims.sub,
            session_id: claims.sid,
            names: claims.name.zip(claims.dn),
        }))
    }
}

impl FromRequest for SignedToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer_token(req).map(str::to_owned);
        std::future::ready(match req.app_data::<web::Data<AppState>>() {
            Some(state) => SignedToken::check(token, state),
            None => Err(ApiError::internal(anyhow::anyhow!("app state missing"))),
        })
    }
}

/// An operator holding the admin key (`X-Admin-Key`). As a handler argument
/// before the body, it makes the key be checked before the body is read.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let given = req
            .headers()
            .get("x-admin-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let address = crate::extract::client_address(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
            crate::service::admin::check_admin_key_rate_limited(&state, &address, given.as_deref())
                .await?;
            Ok(Admin)
        })
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer_token(req).map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
            AuthUser::authenticate(token, &state).await
        })
    }
}
