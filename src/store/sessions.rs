//! Sessions: the server-side half of an access token. A token is honoured
//! only while its session key exists, so deleting the key revokes it at once.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{AsyncCommands, Script};

use super::{Store, StoreResult};

static RATE_LIMIT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/rate_limit.lua")));

/// A rate: `burst` actions at once, refilled at `per_sec` a second.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Sustained actions per second.
    pub per_sec: u32,
    /// Actions allowed at once.
    pub burst: u32,
}

impl Store {
    /// Starts a session that expires with its token.
    pub async fn create_session(
        &self,
        user_id: &str,
        session_id: &str,
        ttl_secs: u64,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(conn.set_ex::<_, _, ()>(self.keys.session(user_id, session_id), "1", ttl_secs))
            .await
    }

    /// Whether the session is still live (not revoked, not expired).
    pub async fn session_exists(&self, user_id: &str, session_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn();
        self.run(conn.exists(self.keys.session(user_id, session_id)))
            .await
    }

    /// Revokes a session.
    pub async fn delete_session(&self, user_id: &str, session_id: &str) -> StoreResult<()> {
        let mut conn = self.conn();
        self.run(conn.del::<_, ()>(self.keys.session(user_id, session_id)))
            .await
    }
}

impl Store {
    /// Counts one `action` by `user_id` against `rate`. `Ok(None)` when it
    /// is allowed, `Ok(Some(wait))` when it is not (and nothing was counted).
    pub async fn rate_limit(
        &self,
        user_id: &str,
        action: &str,
        rate: Rate,
    ) -> StoreResult<Option<Duration>> {
        let interval_ms = 1000 / u64::from(rate.per_sec.max(1));
        let mut conn = self.conn();
        let wait_ms: u64 = self
            .run(
                RATE_LIMIT
                    .key(self.keys.rate_limit(user_id, action))
                    .arg(interval_ms.max(1))
                    .arg(rate.burst.max(1))
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }
}
