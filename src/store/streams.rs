//! Stream bookkeeping: which streams a user holds open (on every instance),
//! and the moment a stream opens (taking the offline queue) or closes
//! (maybe taking the user offline). Both are scripts, atomic with respect
//! to sends, which queue only for users not marked online.

use std::sync::LazyLock;

use redis::Script;

use super::{Store, StoreError, StoreResult};
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
    /// Recorded; these events (wire form) were waiting in the offline
    /// queue, oldest first, which is now empty.
    Opened(Vec<String>),
}

impl Store {
    /// Records an open stream (refused past `cap`), marks the user online
    /// and drains their offline queue, atomically.
    pub async fn open_stream(
        &self,
        user_id: &str,
        stream_id: &str,
        expiry_ms: u64,
        cap: u32,
    ) -> StoreResult<StreamOpen> {
        let k = &self.keys;
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .run(
                STREAM_OPEN
                    .key(k.user_streams(user_id))
                    .key(k.presence())
                    .key(k.offline(user_id))
                    .arg(user_id)
                    .arg(stream_id)
                    .arg(now_ms())
                    .arg(expiry_ms)
                    .arg(cap)
                    .arg(self.limits.offline_queue_max_len)
                    .invoke_async(&mut conn),
            )
            .await?;
        let mut reply = reply.into_iter();
        match reply.next().as_deref() {
            Some("ok") => Ok(StreamOpen::Opened(reply.collect())),
            Some("full") => Ok(StreamOpen::Full),
            other => Err(StoreError::Corrupt(format!("stream_open said {other:?}"))),
        }
    }

    /// Forgets a closed stream (`None`: only expired ones) and marks the user
    /// offline when it was their last. Returns whether they went offline.
    pub async fn close_stream(&self, user_id: &str, stream_id: Option<&str>) -> StoreResult<bool> {
        let k = &self.keys;
        let mut conn = self.conn();
        let offline: i64 = self
            .run(
                STREAM_CLOSE
                    .key(k.user_streams(user_id))
                    .key(k.presence())
                    .key(k.user(user_id))
                    .arg(user_id)
                    .arg(stream_id.unwrap_or(""))
                    .arg(now_ms())
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(offline == 1)
    }
}
