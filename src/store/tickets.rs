//! SSE tickets: short-lived credentials that open event streams only, for
//! browsers' `EventSource`, which cannot send an `Authorization` header.

use redis::AsyncCommands;

use super::{Store, StoreResult};

impl Store {
    /// Issues an SSE ticket for a session, valid `ttl_secs`.
    pub async fn create_ticket(
        &self,
        user_id: &str,
        session_id: &str,
        ticket: &str,
        ttl_secs: u64,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        self.run(conn.set_ex::<_, _, ()>(
            self.keys.ticket(ticket),
            format!("{user_id} {session_id}"),
            ttl_secs,
        ))
        .await
    }

    /// The (user id, session id) a live ticket was issued for.
    pub async fn ticket(&self, ticket: &str) -> StoreResult<Option<(String, String)>> {
        let mut conn = self.conn().await?;
        let value: Option<String> = self.run(conn.get(self.keys.ticket(ticket))).await?;
        Ok(value.and_then(|v| {
            let (user, session) = v.split_once(' ')?;
            Some((user.to_owned(), session.to_owned()))
        }))
    }
}
