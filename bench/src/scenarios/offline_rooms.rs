//! `offline-rooms`: a user in R rooms who has been away while another user
//! sent N messages to each, then connects. Their backlog is read from the
//! rooms' Streams after the position their last stream stored (the user
//! opened and closed one before the messages were sent), so this measures
//! the read side of "written once, fanned out on read": time to `ready` and
//! to the last backlog event, and that every message arrives once.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context, bail};
use futures_util::future::try_join_all;
use serde_json::Value;

use crate::bench::Bench;

impl Bench {
    pub async fn offline_rooms(&mut self, rooms: usize, per_room: usize) -> anyhow::Result<()> {
        let messages = rooms * per_room;
        let params = format!("{rooms} rooms x {per_room} missed messages");
        let (sender, _) = self.user("orsender").await?;
        let (reader, reader_id) = self.user("orreader").await?;
        let mut room_ids = Vec::new();
        for r in 0..rooms {
            room_ids.push(self.room(&sender, &format!("offrooms{r}-")).await?);
        }
        self.join_many(&[reader.as_str()], &room_ids, 16).await?;
        // A stream opened and closed: confab stores where it stood, and the
        // backlog starts there.
        drop(self.stream(&reader).await?);
        self.wait_offline(&reader_id).await?;
        // Every room's messages in order, the rooms at once.
        let this = &*self;
        try_join_all(room_ids.iter().enumerate().map(|(r, room)| {
            let sender = &sender;
            async move {
                for i in 0..per_room {
                    this.send_message("offline-rooms send", sender, room, format!("r{r} m{i}"))
                        .await?;
                }
                anyhow::Ok(())
            }
        }))
        .await?;
        let started = Instant::now();
        let mut events = self.open_stream(&reader).await?;
        let (name, data) = events.next().await.context("no ready")?;
        let to_ready = started.elapsed();
        let ready: Value = serde_json::from_str(&data)?;
        if name != "ready" {
            bail!("first event was {name}");
        }
        let offline_count = ready["offline_count"].as_u64().unwrap_or(0);
        let mut bodies = HashSet::new();
        let mut got = 0u64;
        while got < offline_count {
            let (name, data) = events.next().await.context("stream ended in the backlog")?;
            got += 1;
            if name == "message" {
                let v: Value = serde_json::from_str(&data)?;
                bodies.insert(v["body"].as_str().unwrap_or_default().to_owned());
            }
        }
        let to_last = started.elapsed();
        drop(events);
        self.row(
            "offline-rooms",
            &params,
            "time to ready",
            to_ready.as_secs_f64() * 1000.0,
            "ms",
        );
        self.row(
            "offline-rooms",
            &params,
            "time to last backlog event",
            to_last.as_secs_f64() * 1000.0,
            "ms",
        );
        self.row(
            "offline-rooms",
            &params,
            "ready offline_count",
            offline_count as f64,
            "events",
        );
        self.row(
            "offline-rooms",
            &params,
            "distinct missed messages received",
            bodies.len() as f64,
            "messages",
        );
        // The rows above show a shortfall; the rest of `all` still runs.
        if offline_count != messages as u64 || bodies.len() != messages {
            eprintln!(
                "offline-rooms: CHECK FAILED: {messages} missed, offline_count {offline_count}, {} distinct received",
                bodies.len()
            );
        }
        Ok(())
    }
}
