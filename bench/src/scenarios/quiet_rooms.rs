//! `quiet-rooms`: a user in R rooms, none active since their last stream
//! closed, connects K times (each stream closed, and confab seeing it
//! closed, before the next): time to `ready`. A returning user's backlog
//! reads only rooms active since their stored position (one `ZMSCORE` on the
//! directory says which), so R quiet rooms should cost little.

use std::time::Instant;

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;

use crate::bench::Bench;

impl Bench {
    pub async fn quiet_rooms(&mut self, rooms: usize, connects: usize) -> anyhow::Result<()> {
        let params = format!("{rooms} quiet rooms, {connects} connects");
        let (reader, reader_id) = self.user("quietreader").await?;
        // The user's rooms, each with one (old) message, theirs.
        let (this, reader_ref) = (&*self, reader.as_str());
        let _: Vec<()> = futures_util::stream::iter(0..rooms)
            .map(|r| async move {
                let room = this.room(reader_ref, &format!("quiet{r}-")).await?;
                this.send_message("quiet-rooms send", reader_ref, &room, format!("old {r}"))
                    .await
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
        // A first stream, so that a position is stored after those messages.
        drop(self.stream(&reader).await?);
        self.wait_offline(&reader_id).await?;
        let mut times = Vec::with_capacity(connects);
        for _ in 0..connects {
            let started = Instant::now();
            let mut events = self.open_stream(&reader).await?;
            let (name, data) = events.next().await.context("no ready")?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            let ready: Value = serde_json::from_str(&data)?;
            if name != "ready" || ready["rooms"].as_array().map(Vec::len) != Some(rooms) {
                bail!("quiet-rooms: unexpected first event {name} with {data:.200}");
            }
            drop(events);
            self.wait_offline(&reader_id).await?;
        }
        times.sort_by(f64::total_cmp);
        let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
        let max = times.last().copied().unwrap_or(0.0);
        self.row("quiet-rooms", &params, "time to ready median", median, "ms");
        self.row("quiet-rooms", &params, "time to ready max", max, "ms");
        Ok(())
    }
}
