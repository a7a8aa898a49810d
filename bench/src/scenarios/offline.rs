//! `offline`: a user who is a member of a room but has no stream gets N
//! messages queued, then connects: how long until `ready` (which counts the
//! backlog) and until the last queued message has arrived.

use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::bench::Bench;

impl Bench {
    pub async fn offline(&mut self, messages: usize) -> anyhow::Result<()> {
        let params = format!("{messages} queued messages");
        let (sender, _) = self.user("offsender").await?;
        let (reader, _) = self.user("offreader").await?;
        let room = self.room(&sender, "offline").await?;
        self.join(&reader, &room).await?;
        for i in 0..messages {
            self.send_message("offline send", &sender, &room, format!("queued {i}"))
                .await?;
        }
        let started = Instant::now();
        let mut events = self.open_stream(&reader).await?;
        let (name, data) = events.next().await.context("no ready")?;
        let to_ready = started.elapsed();
        let ready: Value = serde_json::from_str(&data)?;
        if name != "ready" || ready["offline_count"].as_u64() != Some(messages as u64) {
            bail!("unexpected first event {name} {data}");
        }
        let mut got = 0;
        while got < messages {
            let (name, _) = events.next().await.context("stream ended in the backlog")?;
            if name == "message" {
                got += 1;
            }
        }
        let to_last = started.elapsed();
        self.row(
            "offline",
            &params,
            "time to ready",
            to_ready.as_secs_f64() * 1000.0,
            "ms",
        );
        self.row(
            "offline",
            &params,
            "time to last backlog event",
            to_last.as_secs_f64() * 1000.0,
            "ms",
        );
        Ok(())
    }
}
