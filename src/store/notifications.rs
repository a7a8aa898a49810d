//! Operator notifications: published live and queued for users without an
//! open stream, in one script.

use std::sync::LazyLock;

use redis::Script;

use super::{Store, StoreResult};
use crate::event::Event;

static NOTIFY: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/notify.lua")));
static NOTIFY_ALL: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/notify_all.lua")));

impl Store {
    /// Delivers an event to these users: live where they have streams,
    /// queued where they have none. Returns how many users there are.
    pub async fn notify_users(&self, user_ids: &[String], event: &Event) -> StoreResult<u64> {
        let k = &self.keys;
        let mut invocation = NOTIFY.prepare_invoke();
        invocation
            .key(k.presence())
            .arg(event.encode())
            .arg(self.limits.offline_queue_max_len);
        for user in user_ids {
            invocation
                .arg(user)
                .arg(k.user_channel(user))
                .arg(k.offline(user));
        }
        let mut conn = self.conn();
        self.run(invocation.invoke_async(&mut conn)).await
    }

    /// Delivers an event to every user. Returns how many there are.
    pub async fn notify_everyone(&self, event: &Event) -> StoreResult<u64> {
        let k = &self.keys;
        let (head, tail) = k.offline_parts();
        let mut conn = self.conn();
        self.run(
            NOTIFY_ALL
                .key(k.all_users())
                .key(k.presence())
                .arg(event.encode())
                .arg(k.broadcast_channel())
                .arg(head)
                .arg(tail)
                .arg(self.limits.offline_queue_max_len)
                .invoke_async(&mut conn),
        )
        .await
    }
}
