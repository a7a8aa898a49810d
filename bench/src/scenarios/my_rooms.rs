//! `my-rooms`: a user in R busy rooms lists them with their unread counts
//! (`GET /users/me/rooms?limit=100`) K times, one after another, while
//! another user keeps posting to those rooms. Each room holds more than 100
//! unread messages for half of them (the user marked the other half read
//! part-way), so every count is worked out, not skipped. Unread counts come
//! from counters (one script per room, all sent together), so the time should
//! not grow with the backlog.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use crate::bench::Bench;
use crate::stats::hist;

impl Bench {
    pub async fn my_rooms(
        &mut self,
        rooms: usize,
        per_room: usize,
        lists: usize,
    ) -> anyhow::Result<()> {
        let params = format!("{rooms} rooms x {per_room} messages, {lists} lists, sends going on");
        let (writer, _) = self.user("busywriter").await?;
        let (reader, _) = self.user("busyreader").await?;
        let (this, writer_ref) = (&*self, writer.as_str());
        let ids: Vec<String> = futures_util::stream::iter(0..rooms)
            .map(|r| async move { this.room(writer_ref, &format!("busy{r}-")).await })
            .buffered(16)
            .try_collect()
            .await?;
        self.join_many(&[reader.as_str()], &ids, 16).await?;
        // Seed every room; remember a message half-way through each.
        let sends = ids.iter().enumerate().flat_map(|(r, room)| {
            (0..per_room).map(move |i| async move {
                let (status, body) = this
                    .post(
                        &format!("/rooms/{room}/messages"),
                        Some(writer_ref),
                        json!({"body": format!("seed {r} {i}")}),
                    )
                    .await?;
                if status != 201 {
                    bail!("my-rooms seed: {status} {body}");
                }
                Ok((r, i, body["id"].as_str().unwrap_or_default().to_owned()))
            })
        });
        let seeded: Vec<(usize, usize, String)> = futures_util::stream::iter(sends)
            .buffer_unordered(32)
            .try_collect()
            .await?;
        // The reader marks the first half of the rooms read up to the middle.
        let marks = seeded
            .iter()
            .filter(|(r, i, _)| *r < rooms / 2 && *i == per_room / 2)
            .map(|(r, _, id)| {
                let put = self
                    .http
                    .put(self.api(&format!("/rooms/{}/read", ids[*r])))
                    .bearer_auth(&reader)
                    .json(&json!({"message_id": id}))
                    .send();
                async move {
                    let status = put.await?.status();
                    if status != 204 {
                        bail!("my-rooms mark read: {status}");
                    }
                    Ok(())
                }
            });
        futures_util::stream::iter(marks)
            .buffer_unordered(16)
            .try_collect::<()>()
            .await?;
        // The rooms stay busy while the user lists them.
        let busy = Arc::new(AtomicBool::new(true));
        let background = {
            let (busy, http, writer) = (busy.clone(), self.http.clone(), writer.clone());
            let urls: Vec<String> = ids
                .iter()
                .map(|room| self.api(&format!("/rooms/{room}/messages")))
                .collect();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(5));
                let mut sent = 0usize;
                while busy.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let _ = http
                        .post(&urls[sent % urls.len()])
                        .bearer_auth(&writer)
                        .json(&json!({"body": format!("busy {sent}")}))
                        .send()
                        .await;
                    sent += 1;
                }
                sent
            })
        };
        let mut h = hist();
        let started = Instant::now();
        for n in 0..lists {
            let t = Instant::now();
            let res = self
                .http
                .get(self.api("/users/me/rooms?limit=100"))
                .bearer_auth(&reader)
                .send()
                .await?;
            let status = res.status();
            let page: Value = res.json().await.context("my rooms")?;
            let _ = h.record(t.elapsed().as_micros() as u64);
            let items = page["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            if status != 200 || items.len() != rooms.min(100) {
                bail!("my-rooms: {status}, {} rooms", items.len());
            }
            if n == 0
                && items
                    .iter()
                    .any(|room| room["unread_count"].as_u64().is_none())
            {
                bail!("my-rooms: a room without unread_count");
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        busy.store(false, Ordering::Relaxed);
        let sent = background.await?;
        self.latency_rows(
            "my-rooms",
            &params,
            "GET /users/me/rooms",
            &h,
            &[("p50", 0.5), ("p99", 0.99)],
        );
        self.row(
            "my-rooms",
            &params,
            "sends meanwhile",
            sent as f64 / elapsed,
            "msg/s",
        );
        Ok(())
    }
}
