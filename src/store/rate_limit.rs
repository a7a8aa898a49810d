//! Rate limits: a GCRA limiter per (who, action) in Redis, shared by every
//! instance (`scripts/rate_limit.lua`).

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::{ScriptCall, Store, StoreResult};

static RATE_LIMIT: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/rate_limit.lua")));

/// A rate: `burst` actions at once, then one every `interval`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Time between actions, sustained.
    pub interval: Duration,
    /// Actions allowed at once.
    pub burst: u32,
}

impl Rate {
    /// `per_sec` a second after a burst of `burst`.
    pub fn per_sec(per_sec: u32, burst: u32) -> Self {
        Self {
            interval: Duration::from_millis(1000 / u64::from(per_sec.max(1))),
            burst,
        }
    }

    /// `per_min` a minute after a burst of `burst`.
    pub fn per_min(per_min: u32, burst: u32) -> Self {
        Self {
            interval: Duration::from_millis(60_000 / u64::from(per_min.max(1))),
            burst,
        }
    }
}

/// What a rate limit is counted against.
#[derive(Debug, Clone, Copy)]
pub enum Limited<'a> {
    /// A signed-in user's action (`send`, `ticket`): the limiter lives in
    /// the user's hash slot.
    User(&'a str, &'a str),
    /// An action by a client address (`register`, `login`).
    Address(&'a str, &'a str),
    /// Logins to one (lower-cased) username.
    Username(&'a str),
}

/// What a rate-limited action in a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLimit {
    /// Counted; go ahead.
    Allowed,
    /// Over the rate: nothing counted; this long until one would be allowed.
    Wait(Duration),
    /// The session is gone (revoked or expired).
    Revoked,
}

impl Store {
    /// Counts one action against `rate`. `Ok(None)` when it is allowed,
    /// `Ok(Some(wait))` when it is not (and nothing was counted).
    pub async fn rate_limit(&self, what: Limited<'_>, rate: Rate) -> StoreResult<Option<Duration>> {
        let mut call = ScriptCall::new(&RATE_LIMIT);
        call.key(self.limiter_key(what));
        Ok(match self.limit(&mut call, rate).await? {
            SessionLimit::Wait(wait) => Some(wait),
            SessionLimit::Allowed | SessionLimit::Revoked => None,
        })
    }

    /// Whether one more action would be allowed under `rate`, counting
    /// nothing: `Ok(Some(wait))` when it would not. For limits on failures,
    /// looked at before an attempt and counted ([`Store::rate_limit`]) only
    /// once it has failed.
    pub async fn rate_limit_peek(
        &self,
        what: Limited<'_>,
        rate: Rate,
    ) -> StoreResult<Option<Duration>> {
        let mut call = ScriptCall::new(&RATE_LIMIT);
        call.key(self.limiter_key(what));
        let interval_ms = u64::try_from(rate.interval.as_millis()).unwrap_or(u64::MAX);
        let wait_ms: i64 = self
            .call(
                call.arg(interval_ms.max(1))
                    .arg(rate.burst.max(1))
                    .arg("peek"),
            )
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms.unsigned_abs())))
    }

    fn limiter_key(&self, what: Limited<'_>) -> String {
        match what {
            Limited::User(user_id, action) => self.keys.rate_limit(user_id, action),
            Limited::Address(address, action) => self.keys.rate_limit_other(action, address),
            Limited::Username(canonical) => self.keys.rate_limit_other("login-name", canonical),
        }
    }

    /// Checks that a user's session lives and counts one `action` of theirs
    /// against `rate`, in one round trip (both keys are in the user's slot).
    pub async fn rate_limit_in_session(
        &self,
        user_id: &str,
        session_id: &str,
        action: &str,
        rate: Rate,
    ) -> StoreResult<SessionLimit> {
        let mut call = ScriptCall::new(&RATE_LIMIT);
        call.key(self.keys.rate_limit(user_id, action))
            .key(self.keys.session(user_id, session_id));
        self.limit(&mut call, rate).await
    }

    async fn limit(&self, call: &mut ScriptCall<'_>, rate: Rate) -> StoreResult<SessionLimit> {
        let interval_ms = u64::try_from(rate.interval.as_millis()).unwrap_or(u64::MAX);
        let wait_ms: i64 = self
            .call(call.arg(interval_ms.max(1)).arg(rate.burst.max(1)))
            .await?;
        Ok(match wait_ms {
            -1 => SessionLimit::Revoked,
            0 => SessionLimit::Allowed,
            ms => SessionLimit::Wait(Duration::from_millis(ms.unsigned_abs())),
        })
    }
}
