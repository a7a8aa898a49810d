//! The instance's one Pub/Sub connection: applies subscription changes in
//! order, and hands every published message to the hub.
//!
//! It is a RESP3 `ConnectionManager` with automatic resubscription: when
//! Redis restarts it reconnects and resubscribes by itself. Messages
//! published while it was disconnected are lost to Pub/Sub, so on a
//! disconnection every local stream is closed; clients reconnect with
//! `Last-Event-ID` and get what they missed from history.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::mpsc;

use super::hub::{Hub, SubCmd};
use crate::config::RedisSettings;

/// Starts the listener's tasks on the current runtime.
pub fn spawn(
    redis: &RedisSettings,
    hub: Arc<Hub>,
    cmds: mpsc::UnboundedReceiver<SubCmd>,
) -> anyhow::Result<()> {
    let info = redis
        .url
        .as_str()
        .into_connection_info()
        .map_err(|e| anyhow::anyhow!("Invalid Redis URL {:?}: {e}", redis.url))?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(settings))
        .map_err(|e| anyhow::anyhow!("Failed to set up the Pub/Sub client: {e}"))?;
    let (push_tx, push_rx) = mpsc::unbounded_channel::<PushInfo>();
    let config = ConnectionManagerConfig::new()
        .set_push_sender(push_tx)
        .set_automatic_resubscription()
        .set_connection_timeout(Some(redis.timeout()))
        .set_response_timeout(Some(redis.timeout()))
        // Keep trying for as long as Redis is away, at most a second apart.
        .set_number_of_retries(usize::MAX)
        .set_max_delay(Duration::from_secs(1));
    let conn = ConnectionManager::new_lazy_with_config(client, config)
        .map_err(|e| anyhow::anyhow!("Failed to set up the Pub/Sub connection: {e}"))?;
    let timeout = redis.timeout();
    actix_web::rt::spawn(apply_subscriptions(conn.clone(), cmds, timeout));
    actix_web::rt::spawn(dispatch(push_rx, hub));
    actix_web::rt::spawn(keep_alive(conn, timeout));
    Ok(())
}

/// How many local streams hold each subscribed channel: a channel is
/// unsubscribed when the last one lets go.
#[derive(Default)]
pub(super) struct ChannelRefs(HashMap<String, usize>);

impl ChannelRefs {
    /// One more hold on each of `channels`.
    pub(super) fn hold(&mut self, channels: &[String]) {
        for channel in channels {
            *self.0.entry(channel.clone()).or_default() += 1;
        }
    }

    /// One hold less on each of `channels`; the channels nobody holds any
    /// more (to unsubscribe), sorted, each once.
    pub(super) fn release(&mut self, channels: Vec<String>) -> Vec<String> {
        let mut unused = Vec::new();
        for channel in channels {
            if let Some(n) = self.0.get_mut(&channel) {
                *n -= 1;
                if *n == 0 {
                    self.0.remove(&channel);
                    unused.push(channel);
                }
            }
        }
        unused.sort();
        unused.dedup();
        unused
    }
}

/// Applies subscription changes one at a time, in order, so an unsubscribe
/// can never overtake a later subscribe to the same channel. Channels are
/// reference-counted: unsubscribed when the last local stream lets go.
async fn apply_subscriptions(
    mut conn: ConnectionManager,
    mut cmds: mpsc::UnboundedReceiver<SubCmd>,
    timeout: Duration,
) {
    let mut refs = ChannelRefs::default();
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            SubCmd::Subscribe { mut channels, done } => {
                refs.hold(&channels);
                channels.sort();
                channels.dedup();
                let result = match tokio::time::timeout(timeout, conn.subscribe(&channels)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("SUBSCRIBE timed out".to_owned()),
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
                if !unused.is_empty() {
                    // Failing to unsubscribe only costs unused traffic.
                    let _ = tokio::time::timeout(timeout, conn.unsubscribe(&unused)).await;
                }
            }
        }
    }
}

/// Hands published messages to the hub; on a lost connection, closes every
/// stream so clients resume from history.
async fn dispatch(mut pushes: mpsc::UnboundedReceiver<PushInfo>, hub: Arc<Hub>) {
    while let Some(push) = pushes.recv().await {
        handle_push(&hub, push);
    }
}

/// Hands one push to the hub: a published message (plain or sharded) to
/// the streams that want it; a lost connection closes every stream, since
/// what was published meanwhile is lost to Pub/Sub and clients resume from
/// history. Returns whether the connection was lost.
pub(super) fn handle_push(hub: &Hub, push: PushInfo) -> bool {
    match push.kind {
        PushKind::Message | PushKind::SMessage => {
            if let Some(msg) = redis::Msg::from_push_info(push)
                && let Ok(payload) = std::str::from_utf8(msg.get_payload_bytes())
            {
                hub.dispatch(msg.get_channel_name(), payload);
            }
            false
        }
        PushKind::Disconnection => {
            crate::metrics::inc(&crate::metrics::PUBSUB_DISCONNECTS);
            tracing::warn!(
                streams = hub.len(),
                "Pub/Sub connection lost; closing streams so clients resume"
            );
            hub.close_all();
            true
        }
        _ => false,
    }
}

/// PINGs the Pub/Sub connection every few seconds: notices a dead
/// connection promptly and restarts reconnection if it ever gave up.
async fn keep_alive(mut conn: ConnectionManager, timeout: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let ping = redis::cmd("PING");
        let _ = tokio::time::timeout(timeout, ping.query_async::<redis::Value>(&mut conn)).await;
    }
}
