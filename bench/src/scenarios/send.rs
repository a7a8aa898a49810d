//! `send`: C senders, each its own user and a member of every room, post to
//! R rooms round-robin as fast as confab answers, for T seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use super::TYPICAL_BODY;
use crate::bench::Bench;
use crate::stats::hist;

/// What [`Bench::send_load`] measured.
pub(super) struct SendLoad {
    /// Latencies of the accepted sends (microseconds).
    pub accepted: Histogram<u64>,
    /// Sends that failed or were not answered 201.
    pub errors: u64,
    /// Seconds from the first send to the last answer.
    pub elapsed: f64,
}

impl Bench {
    pub async fn send(&mut self, senders: usize, rooms: usize, seconds: u64) -> anyhow::Result<()> {
        let params = format!("{senders} senders, {rooms} rooms, {seconds} s");
        let (owner, _) = self.user("sendowner").await?;
        let mut room_ids = Vec::new();
        for r in 0..rooms {
            room_ids.push(self.room(&owner, &format!("send{r}-")).await?);
        }
        let mut tokens = Vec::new();
        for s in 0..senders {
            let (token, _) = self.user(&format!("sender{s}-")).await?;
            for room in &room_ids {
                self.join(&token, room).await?;
            }
            tokens.push(token);
        }
        let cpu_before = self.redis_cpu_secs().await?;
        let load = self.send_load(tokens, &room_ids, seconds).await?;
        let cpu = self.redis_cpu_secs().await? - cpu_before;
        let (total, elapsed) = (&load.accepted, load.elapsed);
        self.row(
            "send",
            &params,
            "accepted messages/s",
            total.len() as f64 / elapsed,
            "msg/s",
        );
        self.latency_rows(
            "send",
            &params,
            "latency",
            total,
            &[("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)],
        );
        self.row(
            "send",
            &params,
            "failed requests",
            load.errors as f64,
            "requests",
        );
        self.redis_rows("send", &params, cpu, elapsed, total.len());
        Ok(())
    }

    /// Each of `tokens` posts to `rooms` round-robin, one request at a time,
    /// as fast as confab answers, for `seconds` (`send` and `members`).
    pub(super) async fn send_load(
        &self,
        tokens: Vec<String>,
        rooms: &[String],
        seconds: u64,
    ) -> anyhow::Result<SendLoad> {
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (i, token) in tokens.into_iter().enumerate() {
            let http = self.http.clone();
            let url = self.api("");
            let rooms = rooms.to_vec();
            let stop = stop.clone();
            let errors = errors.clone();
            tasks.push(tokio::spawn(async move {
                let mut h = hist();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    // Each sender starts at a different room so that the
                    // rooms are loaded evenly from the first request.
                    let room = &rooms[(i + n) % rooms.len()];
                    let t = Instant::now();
                    let res = http
                        .post(format!("{url}/rooms/{room}/messages"))
                        .bearer_auth(&token)
                        .json(&json!({ "body": TYPICAL_BODY }))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status() == 201 => {
                            let _ = r.bytes().await;
                            let _ = h.record(t.elapsed().as_micros() as u64);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n += 1;
                }
                h
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut accepted = hist();
        for t in tasks {
            accepted.add(t.await?)?;
        }
        Ok(SendLoad {
            accepted,
            errors: errors.load(Ordering::Relaxed),
            elapsed: started.elapsed().as_secs_f64(),
        })
    }
}
