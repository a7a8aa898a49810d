//! Access tokens: HS256 JWTs naming a user and a server-side session. The
//! signature and expiry are checked here; whether the session still exists
//! (logout revokes it) is checked against Redis by the extractor.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Session id; the session key in Redis must exist.
    pub sid: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// Username, so sends need no profile look-up (profiles do not change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Display name, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
}

/// Signs and checks access tokens with one secret.
#[derive(Clone)]
pub struct Tokens {
    /// Signs new tokens (HS256 with the secret).
    encoding: EncodingKey,
    /// Verifies signatures of presented tokens.
    decoding: DecodingKey,
    /// HS256 only, no leeway: a token is dead the second it expires, the
    /// same moment its session key expires in Redis.
    validation: Validation,
    /// Token lifetime in seconds.
    ttl_secs: u64,
}

impl Tokens {
    /// Tokens signed with `secret`, valid for `ttl_secs`.
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs,
        }
    }

    /// Token lifetime in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A token for `user_id`'s session `session_id`, issued `now_secs`.
    pub fn issue(&self, user_id: &str, session_id: &str, now_secs: u64) -> Result<String, String> {
        self.issue_with_names(user_id, session_id, now_secs, None)
    }

    /// [`Tokens::issue`], carrying the user's (username, display name).
    pub fn issue_with_names(
        &self,
        user_id: &str,
        session_id: &str,
        now_secs: u64,
        names: Option<(&str, &str)>,
    ) -> Result<String, String> {
        let claims = Claims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            iat: now_secs,
            exp: now_secs + self.ttl_secs,
            name: names.map(|(n, _)| n.to_owned()),
            dn: names.map(|(_, d)| d.to_owned()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| e.to_string())
    }

    /// The claims of a well-signed, unexpired token; why not, otherwise.
    pub fn check(&self, token: &str) -> Result<Claims, &'static str> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => Err(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "expired",
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "not signed by this server",
                _ => "malformed",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_ms;

    fn now() -> u64 {
        now_ms() / 1000
    }

    #[test]
    fn an_issued_token_checks_out() {
        let t = Tokens::new(b"0123456789abcdef0123", 60);
        let token = t.issue("u1", "s1", now()).unwrap();
        let claims = t.check(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid.as_str()), ("u1", "s1"));
    }

    #[test]
    fn expired_foreign_and_garbage_tokens_are_refused() {
        let t = Tokens::new(b"0123456789abcdef0123", 60);
        let old = t.issue("u1", "s1", now() - 120).unwrap();
        assert_eq!(t.check(&old).unwrap_err(), "expired");
        let other = Tokens::new(b"another secret entirely", 60);
        let foreign = other.issue("u1", "s1", now()).unwrap();
        assert_eq!(t.check(&foreign).unwrap_err(), "not signed by this server");
        for junk in ["", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
            assert!(t.check(junk).is_err(), "{junk}");
        }
    }
}
