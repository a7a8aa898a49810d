//! `resume`: a member of R busy rooms keeps the resume token (SSE `id:`) of
//! the one message its stream received and goes away; R x N messages are
//! sent; then S streams open at once with `Last-Event-ID: <token>`. More
//! than `sse.resume_max` messages were missed, so they answer
//! `resumed: false`, as they should: what matters is that the work is
//! bounded. Measured while they open: the peak growth of confab's resident
//! memory (sampled from `/proc/PID/status` every 2 ms, with `--server-pid`)
//! and of Redis's `used_memory` (sampled every 5 ms), and how another user's
//! requests (`GET /users/me` in a loop) fared: their latency, and whether
//! any got anything but 2xx.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::future::{join_all, try_join_all};
use serde_json::Value;

use crate::bench::Bench;
use crate::events::Events;
use crate::procfs::rss_kib;
use crate::redis_cpu::used_memory;
use crate::stats::hist;

/// A backlog event later than this after the previous one ends a resumed
/// stream's backlog (no other messages are being sent).
const QUIET: Duration = Duration::from_millis(500);

/// What one resuming stream saw.
struct Opened {
    /// The stream, held open until the measurement ends.
    _events: Events,
    /// From the request to `ready`.
    to_ready: Duration,
    /// `ready.resumed`.
    resumed: bool,
    /// Events after `ready`.
    received: u64,
}

impl Bench {
    pub async fn resume(
        &mut self,
        rooms: usize,
        per_room: usize,
        streams: usize,
    ) -> anyhow::Result<()> {
        let params = format!("{rooms} rooms x {per_room} missed, {streams} streams resume at once");
        let (sender, _) = self.user("resender").await?;
        let (reader, reader_id) = self.user("rereader").await?;
        let (other, _) = self.user("reother").await?;
        let mut room_ids = Vec::new();
        for r in 0..rooms {
            room_ids.push(self.room(&sender, &format!("resume{r}-")).await?);
        }
        self.join_many(&[reader.as_str()], &room_ids, 16).await?;
        // A stream that receives one message and keeps its resume token.
        let mut events = self.stream(&reader).await?;
        self.send_message("resume send", &sender, &room_ids[0], "first".into())
            .await?;
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), events.next()).await;
            let (name, _) = next?.context("stream ended before the first message")?;
            if name == "message" {
                break;
            }
        }
        let token = events.last_id.clone().context("a message without an id")?;
        drop(events);
        self.wait_offline(&reader_id).await?;
        let this = &*self;
        try_join_all(room_ids.iter().enumerate().map(|(r, room)| {
            let sender = &sender;
            async move {
                for i in 0..per_room {
                    this.send_message("resume send", sender, room, format!("r{r} m{i}"))
                        .await?;
                }
                anyhow::Ok(())
            }
        }))
        .await?;

        let rss_before = self.server_pid.and_then(rss_kib);
        let redis_before = self.redis_used_memory().await?;
        let stop = Arc::new(AtomicBool::new(false));
        let rss_peak = tokio::spawn({
            let (stop, pid) = (stop.clone(), self.server_pid);
            async move {
                let mut peak = 0;
                while !stop.load(Ordering::Relaxed) {
                    peak = peak.max(pid.and_then(rss_kib).unwrap_or(0));
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                peak
            }
        });
        let redis_peak = tokio::spawn({
            let (stop, mut conn) = (stop.clone(), self.redis().await?);
            async move {
                let mut peak = 0;
                while !stop.load(Ordering::Relaxed) {
                    peak = peak.max(used_memory(&mut conn).await?);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                anyhow::Ok(peak)
            }
        });
        // (requests, not 2xx, 503, latencies) of another user meanwhile.
        let others = tokio::spawn({
            let (stop, http, url) = (stop.clone(), self.http.clone(), self.api("/users/me"));
            async move {
                let (mut total, mut failed, mut unavailable) = (0u64, 0u64, 0u64);
                let mut latency = hist();
                while !stop.load(Ordering::Relaxed) {
                    total += 1;
                    let t = Instant::now();
                    match http.get(&url).bearer_auth(&other).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            let _ = latency.record(t.elapsed().as_micros() as u64);
                        }
                        Ok(r) => {
                            failed += 1;
                            unavailable += u64::from(r.status() == 503);
                        }
                        Err(_) => failed += 1,
                    }
                }
                (total, failed, unavailable, latency)
            }
        });
        let started = Instant::now();
        let opened = join_all((0..streams).map(|_| self.resume_one(&reader, &token))).await;
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let rss_peak = rss_peak.await?;
        let redis_peak = redis_peak.await??;
        let (total, failed, unavailable, latency) = others.await?;
        let mut ok = Vec::new();
        for o in opened {
            match o {
                Ok(o) => ok.push(o),
                Err(e) => eprintln!("resume: a stream failed to open: {e:#}"),
            }
        }
        let to_ready = ok.iter().map(|o| o.to_ready).max().unwrap_or_default();
        let resumed = ok.iter().filter(|o| o.resumed).count();
        let received: u64 = ok.iter().map(|o| o.received).sum();
        let opened = ok.len();
        drop(ok);
        let r = "resume";
        self.row(r, &params, "streams opened", opened as f64, "streams");
        self.row(r, &params, "streams resumed", resumed as f64, "streams");
        self.row(
            r,
            &params,
            "backlog events (all streams)",
            received as f64,
            "events",
        );
        self.row(
            r,
            &params,
            "time to ready (slowest)",
            to_ready.as_secs_f64() * 1000.0,
            "ms",
        );
        self.row(
            r,
            &params,
            "time to all backlogs read",
            elapsed.as_secs_f64() * 1000.0,
            "ms",
        );
        if let Some(before) = rss_before {
            self.row(
                r,
                &params,
                "server RSS growth (peak)",
                rss_peak.saturating_sub(before) as f64 / 1024.0,
                "MiB",
            );
        }
        self.row(
            r,
            &params,
            "Redis used_memory growth (peak)",
            redis_peak.saturating_sub(redis_before) as f64 / 1048576.0,
            "MiB",
        );
        self.row(
            r,
            &params,
            "other user's requests meanwhile",
            total as f64,
            "requests",
        );
        self.latency_rows(
            r,
            &params,
            "other user's latency",
            &latency,
            &[("p50", 0.5), ("max", 1.0)],
        );
        self.row(
            r,
            &params,
            "other user's requests not 2xx",
            failed as f64,
            "requests",
        );
        self.row(
            r,
            &params,
            "other user's requests 503",
            unavailable as f64,
            "requests",
        );
        Ok(())
    }

    /// Opens one stream after `token` and reads its backlog: all of it when
    /// `ready` announces a count, else until it goes quiet.
    async fn resume_one(&self, reader: &str, token: &str) -> anyhow::Result<Opened> {
        let started = Instant::now();
        let mut events = self.open_stream_after(reader, Some(token)).await?;
        let (name, data) = events.next().await.context("no ready")?;
        let to_ready = started.elapsed();
        if name != "ready" {
            bail!("first event was {name}");
        }
        let ready: Value = serde_json::from_str(&data)?;
        let resumed = ready["resumed"].as_bool().unwrap_or(false);
        let announced = ready["offline_count"].as_u64().unwrap_or(0);
        let mut received = 0;
        while resumed || received < announced {
            match tokio::time::timeout(QUIET, events.next()).await {
                Ok(Some(_)) => received += 1,
                _ => break,
            }
        }
        Ok(Opened {
            _events: events,
            to_ready,
            resumed,
            received,
        })
    }
}
