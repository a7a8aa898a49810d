//! `fanout`: S streams in one room while one sender posts at a fixed rate
//! for T seconds. Each message body carries its sequence number and the
//! wall-clock time it was sent, so every stream can time its deliveries and
//! check that it got every message once, in order. With `--server-pid`,
//! also confab's CPU time over the run per delivery.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bench::Bench;
use crate::procfs::CpuClock;
use crate::stats::{hist, now_ns};

impl Bench {
    pub async fn fanout(&mut self, streams: usize, rate: u64, seconds: u64) -> anyhow::Result<()> {
        let params = format!("{streams} streams, {rate} msg/s, {seconds} s");
        // Names per rate: `all` runs the scenario at two rates.
        let (sender, _) = self.user(&format!("fansender{rate}-")).await?;
        let (reader, _) = self.user(&format!("fanreader{rate}-")).await?;
        let room = self.room(&sender, &format!("fanout{rate}-")).await?;
        self.join(&reader, &room).await?;
        // One reader user holding every stream (the server is started with
        // a high per-user cap); delivery work per stream is the same.
        let opened = self.streams(&reader, streams, 100).await?;
        let total = (rate * seconds) as usize;
        let mut readers = Vec::new();
        for mut events in opened {
            readers.push(tokio::spawn(async move {
                let mut h = hist();
                let mut seqs = Vec::with_capacity(total);
                while seqs.len() < total {
                    let next = tokio::time::timeout(Duration::from_secs(15), events.next()).await;
                    let Ok(Some((name, data))) = next else { break };
                    if name != "message" {
                        continue;
                    }
                    let arrived = now_ns();
                    let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    let body = v["body"].as_str().unwrap_or("");
                    let (seq, sent) = body.split_once(' ').unwrap_or(("0", "0"));
                    let sent: u128 = sent.parse().unwrap_or(arrived);
                    let _ = h.record((arrived.saturating_sub(sent) / 1000) as u64);
                    seqs.push(seq.parse::<usize>().unwrap_or(usize::MAX));
                }
                (h, seqs)
            }));
        }
        // confab's CPU from just before the first send until every reader
        // is done.
        let cpu = self.server_pid.map(CpuClock::start).transpose()?;
        let started = Instant::now();
        let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
        let mut tick = tokio::time::interval(interval);
        for seq in 0..total {
            tick.tick().await;
            self.send_message("fanout send", &sender, &room, format!("{seq} {}", now_ns()))
                .await?;
        }
        let mut all = hist();
        let mut complete = 0usize;
        let mut deliveries = 0usize;
        for r in readers {
            let (h, seqs) = r.await?;
            all.add(h)?;
            deliveries += seqs.len();
            if seqs.len() == total && seqs.iter().enumerate().all(|(i, s)| *s == i) {
                complete += 1;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu_secs = cpu.map(|c| c.used_secs("fanout")).transpose()?;
        self.row(
            "fanout",
            &params,
            "deliveries/s",
            all.len() as f64 / elapsed,
            "events/s",
        );
        self.latency_rows(
            "fanout",
            &params,
            "send-to-receive",
            &all,
            &[("p50", 0.5), ("p99", 0.99)],
        );
        self.row(
            "fanout",
            &params,
            "send-to-receive max",
            all.max() as f64 / 1000.0,
            "ms",
        );
        self.row(
            "fanout",
            &params,
            "streams with every message once, in order",
            complete as f64,
            "streams",
        );
        // All of confab's CPU time over the run (the sender's requests
        // included, not only the deliveries) divided by the message events
        // all streams received.
        if let Some(cpu_secs) = cpu_secs
            && deliveries > 0
        {
            self.row(
                "fanout",
                &params,
                "confab CPU per delivery",
                cpu_secs * 1e6 / deliveries as f64,
                "us",
            );
        }
        Ok(())
    }
}
