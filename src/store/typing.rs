//! Typing notices: never stored or queued, only published; at most one per
//! user and room (or conversation) every two seconds goes out, and a
//! message the user sends there ends that wait.

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

impl TypingIn<'_> {
    /// Names the place in the typist's throttle key.
    pub fn target(&self) -> String {
        match self {
            TypingIn::Room(room) => format!("r:{room}"),
            TypingIn::Conversation(other) => format!("d:{other}"),
        }
    }
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
        let channel = match to {
            TypingIn::Room(room) => k.room_channel(room),
            TypingIn::Conversation(other) => k.user_channel(other),
        };
        let target = to.target();
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

    /// Ends `user_id`'s typing throttle at `to` (they sent a message there):
    /// their next notice goes out at once.
    pub async fn end_typing(&self, user_id: &str, to: TypingIn<'_>) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        self.run(
            redis::cmd("DEL")
                .arg(self.keys.typing(user_id, &to.target()))
                .query_async::<()>(&mut conn),
        )
        .await
    }
}
