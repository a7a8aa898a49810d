//! The instance's Pub/Sub on a Redis Cluster: sharded Pub/Sub, where each
//! channel lives on the node that owns its slot (a room's channel with the
//! room's keys, a user's with the user's), so a message travels to that
//! node only, not to every node as plain `PUBLISH` would.
//!
//! One RESP3 cluster connection carries every `SSUBSCRIBE` (one per
//! channel: a command's channels must share a slot) and pushes the messages
//! to the hub. redis-rs does not resubscribe sharded channels after a
//! failover or a slot move, and a subscription can be silently lost then;
//! so when the connection reports a disconnection, every local stream is
//! closed (clients resume from history, as after a Redis restart) and the
//! next subscription is made on a fresh connection, which learns the new
//! topology. (An unrequested `SUNSUBSCRIBE` after a slot move is not yet
//! told from a requested one; slots move only when an operator reshards.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{ProtocolVersion, PushInfo};
use tokio::sync::mpsc;

use super::hub::{Hub, SubCmd};
use super::listener::{ChannelRefs, handle_push};
use crate::config::RedisSettings;

/// Starts the listener's tasks on the current runtime.
pub fn spawn(
    redis: &RedisSettings,
    hub: Arc<Hub>,
    cmds: mpsc::UnboundedReceiver<SubCmd>,
) -> anyhow::Result<()> {
    let (push_tx, push_rx) = mpsc::unbounded_channel::<PushInfo>();
    let nodes: Vec<String> = redis
        .cluster_nodes
        .iter()
        .map(|node| format!("redis://{node}"))
        .collect();
    let client = ClusterClientBuilder::new(nodes)
        .use_protocol(ProtocolVersion::RESP3)
        .push_sender(push_tx)
        .connection_timeout(redis.timeout())
        .response_timeout(redis.timeout())
        .retries(2)
        .build()
        .map_err(|e| anyhow::anyhow!("Failed to set up the Pub/Sub cluster client: {e}"))?;
    // Bumped at each disconnection: the connection in use is then dropped
    // and the next subscription makes a fresh one.
    let generation = Arc::new(AtomicU64::new(0));
    actix_web::rt::spawn(apply_subscriptions(
        client,
        cmds,
        generation.clone(),
        redis.timeout(),
    ));
    actix_web::rt::spawn(dispatch(push_rx, hub, generation));
    Ok(())
}

/// Applies subscription changes one at a time, in order, so an unsubscribe
/// can never overtake a later subscribe to the same channel. Channels are
/// reference-counted: unsubscribed when the last local stream lets go.
async fn apply_subscriptions(
    client: ClusterClient,
    mut cmds: mpsc::UnboundedReceiver<SubCmd>,
    generation: Arc<AtomicU64>,
    timeout: Duration,
) {
    let mut refs = ChannelRefs::default();
    let mut conn: Option<(u64, ClusterConnection)> = None;
    while let Some(cmd) = cmds.recv().await {
        let current = generation.load(Ordering::Acquire);
        if conn.as_ref().is_some_and(|(made, _)| *made != current) {
            conn = None;
        }
        match cmd {
            SubCmd::Subscribe { channels, done } => {
                refs.hold(&channels);
                if conn.is_none() {
                    conn = match tokio::time::timeout(timeout, client.get_async_connection()).await
                    {
                        Ok(Ok(made)) => Some((current, made)),
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "no Pub/Sub connection to the cluster");
                            None
                        }
                        Err(_) => None,
                    };
                }
                let result = match &conn {
                    None => Err("no Pub/Sub connection to the cluster".to_owned()),
                    Some((_, conn)) => subscribe_each(conn, channels, timeout).await,
                };
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "subscribe failed");
                }
                if let Some(done) = done {
                    let _ = done.send(result);
                }
            }
            SubCmd::Unsubscribe { channels } => {
                let unused = refs.release(channels);
                if let Some((_, conn)) = &conn {
                    // Failing to unsubscribe only costs unused traffic.
                    let calls = unused.iter().map(|channel| {
                        let mut conn = conn.clone();
                        async move { conn.sunsubscribe(channel).await }
                    });
                    let _ =
                        tokio::time::timeout(timeout, futures_util::future::join_all(calls)).await;
                }
            }
        }
    }
}

/// `SSUBSCRIBE`s each channel (on its node), concurrently.
async fn subscribe_each(
    conn: &ClusterConnection,
    mut channels: Vec<String>,
    timeout: Duration,
) -> Result<(), String> {
    channels.sort();
    channels.dedup();
    let calls = channels.iter().map(|channel| {
        let mut conn = conn.clone();
        async move { conn.ssubscribe(channel).await }
    });
    match tokio::time::timeout(timeout, futures_util::future::try_join_all(calls)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("SSUBSCRIBE timed out".to_owned()),
    }
}

/// Hands published messages to the hub; on a lost connection, closes every
/// stream so clients resume from history, and has the next subscription
/// made on a fresh connection.
async fn dispatch(
    mut pushes: mpsc::UnboundedReceiver<PushInfo>,
    hub: Arc<Hub>,
    generation: Arc<AtomicU64>,
) {
    while let Some(push) = pushes.recv().await {
        if handle_push(&hub, push) {
            generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}
