//! Redis: everything confab stores, behind typed methods. The store knows
//! nothing about HTTP; handlers never build keys.
//!
//! # Connections
//! Ordinary commands go through one connection (`connection.rs`): on a
//! single Redis a multiplexed `ConnectionManager` that pipelines concurrent
//! requests and reconnects by itself after Redis restarts; on a Redis
//! Cluster the cluster connection, which sends each command to its slot's
//! node. Commands of different slots never share a pipeline. Every call is
//! bounded by the configured timeout, so an outage answers
//! [`StoreError::Unavailable`] quickly instead of hanging a request.
//!
//! # Atomicity
//! Writes that must not half-happen run as one Lua script on one hash slot
//! (see `scripts/`). Writes that span slots (a user's index and a room's
//! members, say) are ordered so that a crash between them leaves only an
//! unreachable leftover or an index entry that readers filter out, never a
//! half-stored message.

mod connection;
pub mod direct;
pub mod keys;
pub mod messages;
pub mod notifications;
pub mod pagination;
pub mod presence;
pub mod rate_limit;
pub mod read_state;
pub mod resume;
pub mod rooms;
pub mod sessions;
pub mod streams;
pub mod tickets;
pub mod typing;
pub mod users;
pub mod webhooks;

use std::future::Future;
use std::time::Duration;

use connection::{Conn, Redis};

use crate::config::{Acknowledge, LimitSettings, RedisSettings};
pub use keys::Keys;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis is unreachable, restarting, or slower than the timeout.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// Redis answered something confab did not write (a bug or tampering).
    #[error("unexpected data in redis: {0}")]
    Corrupt(String),
}

impl From<redis::RedisError> for StoreError {
    fn from(err: redis::RedisError) -> Self {
        use redis::ErrorKind;
        // Everything that a Redis restart, overload or network fault causes is
        // "unavailable"; anything else means confab sent or parsed nonsense.
        let transient = err.is_io_error()
            || err.is_timeout()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_unrecoverable_error()
            // A cluster redirect the client could not follow in time, a
            // failover or resharding under way.
            || err.is_cluster_error()
            || matches!(
                err.kind(),
                ErrorKind::Server(_) if err.code().is_some_and(|c| {
                    matches!(c, "LOADING" | "BUSY" | "MASTERDOWN" | "READONLY" | "TRYAGAIN" | "CLUSTERDOWN")
                })
            );
        if transient {
            StoreError::Unavailable(err.to_string())
        } else {
            StoreError::Corrupt(err.to_string())
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The handle every part of confab uses to reach Redis. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Where commands go: a single Redis or a cluster.
    redis: Redis,
    /// Key names under the configured prefix.
    keys: Keys,
    /// Upper bound on one call.
    timeout: Duration,
    /// Caps on stored history.
    limits: LimitSettings,
    /// With `Some(timeout)`, sends wait until a replica has them
    /// (`redis.acknowledge = "replicated"`).
    replication: Option<Duration>,
}

impl Store {
    /// Prepares a store. Does not wait for Redis: confab starts (and answers
    /// 503) while Redis is down, and connects as soon as it is up.
    pub fn new(redis: &RedisSettings, limits: &LimitSettings) -> anyhow::Result<Self> {
        Ok(Self {
            redis: Redis::new(redis)?,
            keys: Keys::new(&redis.key_prefix),
            timeout: redis.timeout(),
            limits: limits.clone(),
            replication: (redis.acknowledge == Acknowledge::Replicated)
                .then(|| Duration::from_millis(redis.replication_timeout_ms)),
        })
    }

    /// Names every key under this store's prefix.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A connection handle for one call (clones share the sockets); on a
    /// cluster, connects first if it has not yet.
    async fn conn(&self) -> StoreResult<Conn> {
        match tokio::time::timeout(self.timeout, self.redis.conn()).await {
            Ok(conn) => conn.map_err(StoreError::from),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no connection within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// Whether Redis is a cluster (commands of different slots cannot share
    /// a pipeline there).
    pub fn is_cluster(&self) -> bool {
        self.redis.is_cluster()
    }

    /// The command events are published with: sharded Pub/Sub on a cluster
    /// (the message goes to its channel's node only), plain on one Redis.
    fn publish_command(&self) -> &'static str {
        if self.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        }
    }

    /// Runs commands of any slots together and returns their answers in
    /// order: on a single Redis they go out at once on the multiplexed
    /// connection, as a pipeline would; on a cluster each goes to its key's
    /// node, concurrently.
    async fn each(&self, cmds: Vec<redis::Cmd>) -> StoreResult<Vec<redis::Value>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn().await?;
        let calls = cmds.iter().map(|cmd| {
            let mut conn = conn.clone();
            async move { cmd.query_async::<redis::Value>(&mut conn).await }
        });
        self.run(futures_util::future::try_join_all(calls)).await
    }

    /// Runs pipelines, each within one hash slot, concurrently; the answers
    /// of each, in order.
    async fn pipelines(&self, pipes: Vec<redis::Pipeline>) -> StoreResult<Vec<Vec<redis::Value>>> {
        if pipes.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn().await?;
        let calls = pipes.iter().map(|pipe| {
            let mut conn = conn.clone();
            async move { pipe.query_async::<Vec<redis::Value>>(&mut conn).await }
        });
        self.run(futures_util::future::try_join_all(calls)).await
    }

    /// Runs one Redis call, bounded by the configured timeout.
    async fn run<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> StoreResult<T> {
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        };
        crate::metrics::observe_redis(started.elapsed().as_secs_f64());
        if result.is_err() {
            crate::metrics::inc(&crate::metrics::REDIS_ERRORS);
        }
        result
    }

    /// Whether Redis answers a PING (for `/readyz`).
    pub async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        self.run(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .map(|_| ())
    }

    /// With `redis.acknowledge = "replicated"`, waits until a replica of the
    /// node that holds `key` has every write made so far on this connection
    /// (a message just stored included): `WAIT 1`, on that node when Redis
    /// is a cluster. No replica in time is `Unavailable` (503): the message
    /// may still be kept, and the client's retry with its `client_id` finds
    /// it without storing it twice.
    async fn replicated(&self, key: &str) -> StoreResult<()> {
        let Some(timeout) = self.replication else {
            return Ok(());
        };
        let mut conn = self.conn().await?;
        let mut wait = redis::cmd("WAIT");
        wait.arg(1)
            .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        let replicas: u64 = decode(self.run(conn.on_node_of(key, wait)).await?)?;
        if replicas == 0 {
            return Err(StoreError::Unavailable(format!(
                "no replica acknowledged within {} ms",
                timeout.as_millis()
            )));
        }
        Ok(())
    }

    /// Now by the Redis clock (which stamps message ids), in ms.
    pub async fn time_ms(&self) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let (secs, micros): (u64, u64) =
            self.run(redis::cmd("TIME").query_async(&mut conn)).await?;
        Ok(secs * 1000 + micros / 1000)
    }

    /// Publishes events, each on its channel, together.
    pub async fn publish(&self, events: &[(String, &crate::event::Event)]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let publishes = events
            .iter()
            .map(|(channel, event)| {
                let mut cmd = redis::cmd(self.publish_command());
                cmd.arg(channel).arg(event.encode());
                cmd
            })
            .collect();
        self.each(publishes).await.map(|_| ())
    }
}

impl Store {
    /// Publishes an event on a user's channel: their live streams on every
    /// instance get it; nothing is queued for a user without one.
    pub async fn publish_to_user(
        &self,
        user_id: &str,
        event: &crate::event::Event,
    ) -> StoreResult<()> {
        self.publish(&[(self.keys.user_channel(user_id), event)])
            .await
    }
}

/// Decodes one reply value, or reports what was wrong with it.
fn decode<T: redis::FromRedisValue>(value: redis::Value) -> StoreResult<T> {
    redis::from_redis_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A Lua script with the shared helpers (`scripts/lib.lua`) in front.
fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{}\n{body}", include_str!("scripts/lib.lua")))
}

/// One call of a Lua script. Every script must keep to one hash slot (Redis
/// Cluster refuses one that does not): debug builds, and so every test
/// run, check the keys of each call before it is sent.
struct ScriptCall<'a> {
    /// The call.
    invocation: redis::ScriptInvocation<'a>,
    /// Its keys, for the check.
    keys: Vec<String>,
}

impl<'a> ScriptCall<'a> {
    fn new(script: &'a redis::Script) -> Self {
        Self {
            invocation: script.prepare_invoke(),
            keys: Vec::new(),
        }
    }

    fn key(&mut self, key: String) -> &mut Self {
        self.invocation.key(&key);
        self.keys.push(key);
        self
    }

    fn arg<T: redis::ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.invocation.arg(arg);
        self
    }

    /// A Pub/Sub channel the script publishes on, passed as two arguments:
    /// the command to publish with (`publish`: `SPUBLISH` on a cluster, so
    /// the message goes to the channel's node only) and the channel, which
    /// must be in the keys' slot too.
    fn channel(&mut self, publish: &str, channel: String) -> &mut Self {
        self.invocation.arg(publish).arg(&channel);
        self.keys.push(channel);
        self
    }

    /// The invocation, once its keys pass the check.
    fn checked(&self) -> &redis::ScriptInvocation<'a> {
        debug_assert!(
            keys::same_slot(&self.keys),
            "a script's keys and channels span hash slots: {:?}",
            self.keys
        );
        &self.invocation
    }
}

impl Store {
    /// Runs a script call, bounded by the configured timeout.
    async fn call<T: redis::FromRedisValue>(&self, call: &mut ScriptCall<'_>) -> StoreResult<T> {
        let mut conn = self.conn().await?;
        self.run(call.checked().invoke_async(&mut conn)).await
    }
}

/// Reads a required field of a hash, or says which one is missing.
fn field<'a>(
    hash: &'a std::collections::HashMap<String, String>,
    name: &str,
) -> StoreResult<&'a str> {
    hash.get(name)
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("hash field `{name}` missing")))
}

/// Parses a number stored by confab.
fn number(value: &str) -> StoreResult<u64> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("`{value}` is not a number")))
}
