//! Delivering events to users: live on their channel when they hold a live
//! stream, queued in their offline list when they hold none, decided per
//! user in their own hash slot (`scripts/deliver_to_user.lua`).

use std::sync::LazyLock;

use redis::Script;

use super::{ScriptCall, Store, StoreResult};
use crate::clock::now_ms;
use crate::event::Event;

static DELIVER_TO_USER: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/deliver_to_user.lua")));

/// Which offline queue an event waits in for a user without a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Direct messages.
    Messages,
    /// Operator notifications, which messages cannot push out.
    Notifications,
}

/// Users delivered to per round trip when addressing many.
const BATCH: usize = 500;

impl Store {
    /// Delivers an event (wire form) to one user; returns whether it was
    /// queued (they had no live stream). Operator notifications queue apart
    /// from messages, each queue with its own cap.
    pub async fn deliver_to_user(
        &self,
        user_id: &str,
        wire: &str,
        queue: Queue,
    ) -> StoreResult<bool> {
        let k = &self.keys;
        let (queue, cap) = match queue {
            Queue::Messages => (k.offline(user_id), self.limits.offline_queue_max_len),
            Queue::Notifications => (
                k.offline_notifications(user_id),
                self.limits.offline_notifications_max_len,
            ),
        };
        let queued: i64 = self
            .call(
                ScriptCall::new(&DELIVER_TO_USER)
                    .key(k.user_streams(user_id))
                    .key(queue)
                    .arg(now_ms())
                    .arg(wire)
                    .arg(cap)
                    .channel(self.publish_command(), k.user_channel(user_id)),
            )
            .await?;
        if queued == 1 {
            crate::metrics::inc(&crate::metrics::OFFLINE_QUEUED);
        }
        Ok(queued == 1)
    }

    /// Delivers an operator notification to these users, a batch at a time (the calls of a
    /// batch go out together on the multiplexed connection, or to each
    /// user's node on a cluster). Returns how many users there are.
    pub async fn notify_users(&self, user_ids: &[String], event: &Event) -> StoreResult<u64> {
        let wire = event.encode();
        for batch in user_ids.chunks(BATCH) {
            futures_util::future::try_join_all(
                batch
                    .iter()
                    .map(|user| self.deliver_to_user(user, &wire, Queue::Notifications)),
            )
            .await?;
        }
        Ok(user_ids.len() as u64)
    }

    /// Delivers an operator notification to every user, in batches. Returns how many there
    /// are.
    pub async fn notify_everyone(&self, event: &Event) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let mut total = 0;
        let mut start = 0isize;
        loop {
            let end = start + BATCH as isize - 1;
            let users: Vec<String> = self
                .run(redis::AsyncCommands::zrange(
                    &mut conn,
                    self.keys.all_users(),
                    start,
                    end,
                ))
                .await?;
            if users.is_empty() {
                return Ok(total);
            }
            total += self.notify_users(&users, event).await?;
            start = end + 1;
        }
    }
}
