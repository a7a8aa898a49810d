//! Presence upkeep: each instance refreshes the expiry of its own streams
//! (a heartbeat), and sweeps users whose streams all expired, which happens
//! only when the instance holding them died. A user is online while at
//! least one stream is live on any instance; a crashed instance's streams
//! stop counting within [`STREAM_TTL`].

use std::sync::Arc;
use std::time::Duration;

use super::Realtime;
use crate::clock::now_ms;

/// How long a stream counts as live without a heartbeat.
pub const STREAM_TTL: Duration = Duration::from_secs(60);

/// How often an instance refreshes its streams.
const HEARTBEAT: Duration = Duration::from_secs(20);

/// How often an instance looks for users whose streams all expired.
const SWEEP: Duration = Duration::from_secs(5);

/// The expiry to record for a stream refreshed now.
pub fn stream_expiry_ms() -> u64 {
    now_ms() + STREAM_TTL.as_millis() as u64
}

/// Runs the heartbeat and the sweeper until the process ends.
pub async fn run(realtime: Arc<Realtime>) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut sweep = tokio::time::interval(SWEEP);
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                let streams: Vec<(String, String, String)> = realtime
                    .hub
                    .streams()
                    .into_iter()
                    .map(|(user, conn, token)| (user, realtime.stream_id(conn), token))
                    .collect();
                if let Err(e) = realtime.store.refresh_streams(&streams, stream_expiry_ms()).await {
                    tracing::warn!(error = %e, "presence heartbeat failed");
                }
            }
            _ = sweep.tick() => {
                match realtime.store.expired_presence(100).await {
                    Ok(users) => {
                        for user in users {
                            let _ = realtime.store.close_stream(&user, None, None).await;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "presence sweep failed"),
                }
            }
        }
    }
}
