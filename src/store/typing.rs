//! Typing notices: never stored or queued, only published; at most one per
//! user and room (or conversation) every two seconds goes out.

use super::{Store, StoreResult};
use crate::event::Event;

/// How long a forwarded notice holds back the next one (ms).
const THROTTLE_MS: u64 = 2000;

/// Where a typing notice goes.
#[derive(Debug, Clone, Copy)]
pub enum TypingIn<'a> {
    /// A room (its id): every member's streams but the typist's.
    Room(&'a str),
    /// A conversation (the other user's id): their streams.
    Conversation(&'a str),
}

impl Store {
    /// Publishes a typing notice unless one from `user_id` went to the same
    /// place less than two seconds ago; returns whether it went.
    pub async fn forward_typing(
        &self,
        user_id: &str,
        to: TypingIn<'_>,
        event: &Event,
    ) -> StoreResult<bool> {
        let k = &self.keys;
        let (target, channel) = match to {
            TypingIn::Room(room) => (format!("r:{room}"), k.room_channel(room)),
            TypingIn::Conversation(other) => (format!("d:{other}"), k.user_channel(other)),
        };
        let mut conn = self.conn().await?;
        let first: Option<String> = self
            .run(
                redis::cmd("SET")
                    .arg(k.typing(user_id, &target))
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(THROTTLE_MS)
                    .query_async(&mut conn),
            )
            .await?;
        if first.is_none() {
            return Ok(false);
        }
        self.publish(&[(channel, event)]).await?;
        Ok(true)
    }
}
