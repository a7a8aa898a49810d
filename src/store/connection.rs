//! The connection ordinary commands go through: one multiplexed,
//! self-reconnecting connection to a single Redis, or, with
//! `redis.cluster_nodes`, a Redis Cluster connection that sends each command
//! to the node owning its key's slot and follows failovers and slot moves.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

use crate::config::RedisSettings;

/// Where confab's commands go.
#[derive(Clone)]
pub(super) enum Redis {
    /// A single Redis (or a primary behind a proxy).
    Single(ConnectionManager),
    /// A Redis Cluster, connected on first use (and again after a failed
    /// first attempt), so confab starts while the cluster is down.
    Cluster(Arc<Cluster>),
}

/// A Redis Cluster and, once made, the connection to it.
pub(super) struct Cluster {
    /// Knows the seed nodes and the timeouts.
    client: ClusterClient,
    /// The connection, once made. Clones share it.
    conn: OnceCell<ClusterConnection>,
}

/// A connection handle for one call; clones share the sockets.
#[derive(Clone)]
pub(super) enum Conn {
    /// To a single Redis.
    Single(ConnectionManager),
    /// To a Redis Cluster.
    Cluster(ClusterConnection),
}

impl Redis {
    /// Prepares the connection the settings name; connects lazily.
    pub(super) fn new(settings: &RedisSettings) -> anyhow::Result<Self> {
        if !settings.cluster_nodes.is_empty() {
            let nodes: Vec<String> = settings
                .cluster_nodes
                .iter()
                .map(|node| format!("redis://{node}"))
                .collect();
            let client = ClusterClientBuilder::new(nodes)
                .connection_timeout(settings.timeout())
                .response_timeout(settings.timeout())
                .retries(2)
                .min_retry_wait(50)
                .max_retry_wait(500)
                .build()
                .map_err(|e| {
                    anyhow::anyhow!(
                        "Invalid Redis cluster nodes {:?}: {e}",
                        settings.cluster_nodes
                    )
                })?;
            return Ok(Redis::Cluster(Arc::new(Cluster {
                client,
                conn: OnceCell::new(),
            })));
        }
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| anyhow::anyhow!("Invalid Redis URL {:?}: {e}", settings.url))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout()))
            .set_response_timeout(Some(settings.timeout()))
            // Few, short retries: requests during an outage fail fast with
            // 503 and the next request starts a fresh attempt.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("Failed to set up the Redis connection: {e}"))?;
        Ok(Redis::Single(conn))
    }

    /// A handle for one call.
    pub(super) async fn conn(&self) -> redis::RedisResult<Conn> {
        match self {
            Redis::Single(conn) => Ok(Conn::Single(conn.clone())),
            Redis::Cluster(cluster) => {
                let conn = cluster
                    .conn
                    .get_or_try_init(|| cluster.client.get_async_connection())
                    .await?;
                Ok(Conn::Cluster(conn.clone()))
            }
        }
    }

    /// Whether this is a cluster.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Redis::Cluster(_))
    }
}

impl Conn {
    /// Runs `cmd` on the primary that owns `key`'s slot: for commands
    /// without a key that are about a key's node (`WAIT` after a write). On
    /// a single Redis it simply runs.
    pub(super) async fn on_node_of(&mut self, key: &str, cmd: Cmd) -> redis::RedisResult<Value> {
        match self {
            Conn::Single(conn) => cmd.query_async(conn).await,
            Conn::Cluster(conn) => {
                let route = Route::new(super::keys::slot(key), SlotAddr::Master);
                conn.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )
                .await
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}
