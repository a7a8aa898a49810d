//! Stream bookkeeping: which streams a user holds open (on every instance),
//! and the moments a stream opens (taking what waited for an offline user)
//! and closes (maybe taking the user offline). Both are scripts in the
//! user's hash slot, atomic with respect to deliveries to the user, which
//! queue only while they hold no live stream. The presence index (who is
//! online, for listings) is updated after each, as a separate command.

use std::sync::LazyLock;

use redis::{AsyncCommands, Script};

use super::{ScriptCall, Store, StoreError, StoreResult};
use crate::clock::now_ms;

static STREAM_OPEN: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/stream_open.lua")));
static STREAM_CLOSE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/stream_close.lua")));

/// What opening a stream found.
#[derive(Debug)]
pub enum StreamOpen {
    /// The user already holds the maximum number of streams.
    Full,
    /// Recorded; the user already had a live stream, so nothing waited.
    Online,
    /// Recorded; the user was offline. What waited for them: the stored
    /// position of their last stream (a resume token), if any, and their
    /// offline queues (events in wire form), which stay in Redis until
    /// [`Store::drained`] says the stream has taken them.
    Offline {
        /// Where their last stream stood.
        position: Option<String>,
        /// Their queued messages then their queued notifications, each
        /// oldest first.
        queued: Vec<String>,
        /// How many of each were taken, to drain them once sent.
        taken: Taken,
    },
}

/// How much of a user's two offline queues a stream took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taken {
    /// From the message queue.
    pub messages: usize,
    /// From the notification queue.
    pub notifications: usize,
}

impl Store {
    /// Records an open stream (refused past `cap`) and marks the user
    /// online; an offline user's backlog comes back with it.
    pub async fn open_stream(
        &self,
        user_id: &str,
        stream_id: &str,
        expiry_ms: u64,
        cap: u32,
    ) -> StoreResult<StreamOpen> {
        let k = &self.keys;
        let mut conn = self.conn().await?;
        let reply: Vec<String> = self
            .call(
                ScriptCall::new(&STREAM_OPEN)
                    .key(k.user_streams(user_id))
                    .key(k.offline(user_id))
                    .key(k.position(user_id))
                    .key(k.offline_notifications(user_id))
                    .arg(stream_id)
                    .arg(now_ms())
                    .arg(expiry_ms)
                    .arg(cap)
                    .arg(self.limits.offline_queue_max_len)
                    .arg(self.limits.offline_notifications_max_len),
            )
            .await?;
        let mut reply = reply.into_iter();
        let opened = match reply.next().as_deref() {
            Some("full") => return Ok(StreamOpen::Full),
            Some("online") => StreamOpen::Online,
            Some("offline") => {
                let position = reply.next().filter(|p| !p.is_empty());
                let messages = reply.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let queued: Vec<String> = reply.collect();
                let taken = Taken {
                    messages,
                    notifications: queued.len().saturating_sub(messages),
                };
                StreamOpen::Offline {
                    position,
                    queued,
                    taken,
                }
            }
            other => return Err(StoreError::Corrupt(format!("stream_open said {other:?}"))),
        };
        self.run(conn.zadd::<_, _, _, ()>(k.presence(), user_id, expiry_ms))
            .await?;
        Ok(opened)
    }

    /// The stream that opened for an offline user has taken what `taken`
    /// says from the front of their queues: it leaves them. (Nothing was
    /// queued meanwhile, since the user has been online since.)
    pub async fn drained(&self, user_id: &str, taken: Taken) -> StoreResult<()> {
        if taken == Taken::default() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let start = |n: usize| isize::try_from(n).unwrap_or(isize::MAX);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .ltrim(self.keys.offline(user_id), start(taken.messages), -1)
            .ignore()
            .ltrim(
                self.keys.offline_notifications(user_id),
                start(taken.notifications),
                -1,
            )
            .ignore();
        self.run(pipe.query_async::<()>(&mut conn)).await
    }

    /// Forgets a closed stream (`None`: only expired ones) and, when it was
    /// the user's last, marks them offline, storing `position` (the stream's
    /// resume token) as where their offline backlog starts. Returns whether
    /// they went offline.
    pub async fn close_stream(
        &self,
        user_id: &str,
        stream_id: Option<&str>,
        position: Option<&str>,
    ) -> StoreResult<bool> {
        let k = &self.keys;
        let mut conn = self.conn().await?;
        let offline: i64 = self
            .call(
                ScriptCall::new(&STREAM_CLOSE)
                    .key(k.user_streams(user_id))
                    .key(k.user(user_id))
                    .key(k.position(user_id))
                    .arg(stream_id.unwrap_or(""))
                    .arg(now_ms())
                    .arg(position.unwrap_or("")),
            )
            .await?;
        if offline == 1 {
            self.run(conn.zrem::<_, _, ()>(k.presence(), user_id))
                .await?;
        }
        Ok(offline == 1)
    }
}
