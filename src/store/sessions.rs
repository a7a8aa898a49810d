//! Sessions: the server-side half of an access token. A token is honoured
//! only while its session key exists, so deleting the key revokes it at once.

use redis::AsyncCommands;

use super::{Store, StoreResult};

impl Store {
    /// Starts a session that expires with its token.
    pub async fn create_session(
        &self,
        user_id: &str,
        session_id: &str,
        ttl_secs: u64,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        self.run(conn.set_ex::<_, _, ()>(self.keys.session(user_id, session_id), "1", ttl_secs))
            .await
    }

    /// Whether the session is still live (not revoked, not expired).
    pub async fn session_exists(&self, user_id: &str, session_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        self.run(conn.exists(self.keys.session(user_id, session_id)))
            .await
    }

    /// Seconds a session has left; `None` when it is gone.
    pub async fn session_ttl(&self, user_id: &str, session_id: &str) -> StoreResult<Option<u64>> {
        let mut conn = self.conn().await?;
        let ttl: i64 = self
            .run(conn.ttl(self.keys.session(user_id, session_id)))
            .await?;
        Ok(u64::try_from(ttl).ok())
    }

    /// Revokes a session.
    pub async fn delete_session(&self, user_id: &str, session_id: &str) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        self.run(conn.del::<_, ()>(self.keys.session(user_id, session_id)))
            .await
    }
}
