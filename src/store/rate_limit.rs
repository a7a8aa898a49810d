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

impl Store {
    /// Counts one action against `rate`. `Ok(None)` when it is allowed,
    /// `Ok(Some(wait))` when it is not (and nothing was counted).
    pub async fn rate_limit(&self, what: Limited<'_>, rate: Rate) -> StoreResult<Option<Duration>> {
        let key = match what {
            Limited::User(user_id, action) => self.keys.rate_limit(user_id, action),
            Limited::Address(address, action) => self.keys.rate_limit_other(action, address),
            Limited::Username(canonical) => self.keys.rate_limit_other("login-name", canonical),
        };
        let interval_ms = u64::try_from(rate.interval.as_millis()).unwrap_or(u64::MAX);
        let wait_ms: u64 = self
            .call(
                ScriptCall::new(&RATE_LIMIT)
                    .key(key)
                    .arg(interval_ms.max(1))
                    .arg(rate.burst.max(1)),
            )
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }
}
