//! Rate limits: a GCRA limiter per (who, action) in Redis, shared by every
//! instance (`scripts/rate_limit.lua`), and the failed-login counters that
//! guard each username (`scripts/login_failures_check.lua`,
//! `scripts/login_failure.lua`).

use std::sync::LazyLock;
use std::time::Duration;

use redis::{AsyncCommands, Script};

use super::typing::TypingIn;
use super::{ScriptCall, Store, StoreResult};

static RATE_LIMIT: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/rate_limit.lua")));
static LOGIN_FAILURES_CHECK: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/login_failures_check.lua")));
static LOGIN_FAILURE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/login_failure.lua")));

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
}

/// How many failed logins a username takes before addresses that failed on
/// it must wait.
#[derive(Debug, Clone, Copy)]
pub struct FailureLimits {
    /// Failures on the username from one address.
    pub per_address: Rate,
    /// Failures on the username from all addresses together; beyond it,
    /// only addresses that have failures on the username must wait.
    pub per_username: Rate,
}

/// What an address's failed logins on a username allow it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCheck {
    /// It has no recent failures there: it may try, whatever others did.
    Clean,
    /// It has failures there, but may still try.
    Failed,
    /// It has failed too often (or the username has, and it is among
    /// those who failed): this long until it may try again.
    Wait(Duration),
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
        let wait_ms: i64 = self.call(rate.args(&mut call).arg("peek")).await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms.unsigned_abs())))
    }

    fn limiter_key(&self, what: Limited<'_>) -> String {
        match what {
            Limited::User(user_id, action) => self.keys.rate_limit(user_id, action),
            Limited::Address(address, action) => self.keys.rate_limit_other(action, address),
        }
    }

    /// Checks that a user's session lives and counts one `action` of theirs
    /// against `rate`, in one round trip (both keys are in the user's slot).
    /// With `ends_typing` (a send), an allowed request also ends the user's
    /// typing throttle there, so that their next typing notice goes out at
    /// once: the message ended the one others saw.
    pub async fn rate_limit_in_session(
        &self,
        user_id: &str,
        session_id: &str,
        action: &str,
        rate: Rate,
        ends_typing: Option<TypingIn<'_>>,
    ) -> StoreResult<SessionLimit> {
        let mut call = ScriptCall::new(&RATE_LIMIT);
        call.key(self.keys.rate_limit(user_id, action))
            .key(self.keys.session(user_id, session_id));
        if let Some(to) = ends_typing {
            call.key(self.keys.typing(user_id, &to.target()));
        }
        self.limit(&mut call, rate).await
    }

    async fn limit(&self, call: &mut ScriptCall<'_>, rate: Rate) -> StoreResult<SessionLimit> {
        let wait_ms: i64 = self.call(rate.args(call)).await?;
        Ok(match wait_ms {
            -1 => SessionLimit::Revoked,
            0 => SessionLimit::Allowed,
            ms => SessionLimit::Wait(Duration::from_millis(ms.unsigned_abs())),
        })
    }

    /// What `address`'s failed logins on the lower-cased username
    /// `canonical` allow now. Reads only, in one round trip (both counters
    /// are in the username's slot).
    pub async fn check_login_failures(
        &self,
        canonical: &str,
        address: &str,
        limits: FailureLimits,
    ) -> StoreResult<FailureCheck> {
        let mut call = self.login_failures_call(&LOGIN_FAILURES_CHECK, canonical, address, limits);
        let wait_ms: i64 = self.call(&mut call).await?;
        Ok(match wait_ms {
            0 => FailureCheck::Clean,
            -1 => FailureCheck::Failed,
            ms => FailureCheck::Wait(Duration::from_millis(ms.unsigned_abs())),
        })
    }

    /// Counts one failed password from `address` on `canonical`, against
    /// both counters, in one round trip.
    pub async fn count_login_failure(
        &self,
        canonical: &str,
        address: &str,
        limits: FailureLimits,
    ) -> StoreResult<()> {
        let mut call = self.login_failures_call(&LOGIN_FAILURE, canonical, address, limits);
        self.call::<i64>(&mut call).await.map(|_| ())
    }

    /// Forgets `address`'s failures on `canonical` (it has just given the
    /// right password). The username's count from all addresses stays.
    pub async fn forget_login_failures(&self, canonical: &str, address: &str) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        self.run(conn.del::<_, ()>(self.keys.login_failures_from(canonical, address)))
            .await
    }

    fn login_failures_call<'s>(
        &self,
        script: &'s Script,
        canonical: &str,
        address: &str,
        limits: FailureLimits,
    ) -> ScriptCall<'s> {
        let mut call = ScriptCall::new(script);
        call.key(self.keys.login_failures_from(canonical, address))
            .key(self.keys.login_failures(canonical));
        limits.per_address.args(&mut call);
        limits.per_username.args(&mut call);
        call
    }
}

impl Rate {
    /// Adds the script arguments of this rate: the interval in ms and the
    /// burst, each at least 1.
    fn args<'c, 's>(&self, call: &'c mut ScriptCall<'s>) -> &'c mut ScriptCall<'s> {
        let interval_ms = u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX);
        call.arg(interval_ms.max(1)).arg(self.burst.max(1))
    }
}
