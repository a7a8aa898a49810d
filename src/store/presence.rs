//! Presence: who holds an open stream somewhere. Each instance refreshes
//! the expiry of its own streams (a heartbeat); an entry whose expiry has
//! passed belongs to a crashed instance and is swept.

use super::pagination::{IdPage, PageRequest};
use super::{Store, StoreResult};
use crate::clock::now_ms;

impl Store {
    /// Extends the life of open streams (user id, stream id, resume token)
    /// to `expiry_ms`, and stores each token as its user's position: the
    /// heartbeat that keeps a live instance's users online, and bounds what
    /// repeats in their backlog should this instance die.
    pub async fn refresh_streams(
        &self,
        streams: &[(String, String, String)],
        expiry_ms: u64,
    ) -> StoreResult<()> {
        if streams.is_empty() {
            return Ok(());
        }
        let k = &self.keys;
        let mut cmds = Vec::with_capacity(streams.len() * 3);
        for (user, stream, token) in streams {
            if !token.is_empty() {
                let mut set = redis::cmd("SET");
                set.arg(k.position(user)).arg(token);
                cmds.push(set);
            }
            let mut refresh = redis::cmd("ZADD");
            refresh
                .arg(k.user_streams(user))
                .arg("XX")
                .arg(expiry_ms)
                .arg(stream);
            cmds.push(refresh);
            let mut online = redis::cmd("ZADD");
            online.arg(k.presence()).arg("GT").arg(expiry_ms).arg(user);
            cmds.push(online);
        }
        self.each(cmds).await.map(|_| ())
    }

    /// Users whose presence has expired (their instance stopped refreshing
    /// it): at most `limit` of them.
    pub async fn expired_presence(&self, limit: usize) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        self.run(
            redis::cmd("ZRANGE")
                .arg(self.keys.presence())
                .arg("-inf")
                .arg(now_ms())
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(0)
                .arg(limit)
                .query_async(&mut conn),
        )
        .await
    }

    /// Ids of users online now, most recently refreshed first, paged.
    pub async fn online_user_ids(&self, page: &PageRequest) -> StoreResult<IdPage> {
        self.zset_page(&self.keys.presence(), page, Some(now_ms()))
            .await
    }
}
