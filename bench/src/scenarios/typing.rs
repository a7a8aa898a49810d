//! `typing`: S streams in one room while T other members take turns typing
//! (one `POST /rooms/{id}/typing` every `interval`, each typist every
//! T x interval, slower than the 2-second throttle and the 30-a-minute
//! limit, so every notice is forwarded): delivery latency from the POST to
//! each stream, and whether every stream got every notice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};

use crate::bench::Bench;
use crate::stats::{hist, now_ns};

impl Bench {
    pub async fn typing(
        &mut self,
        streams: usize,
        typists: usize,
        seconds: u64,
    ) -> anyhow::Result<()> {
        let params = format!("{streams} streams, {typists} typists, {seconds} s");
        let (owner, _) = self.user("typingowner").await?;
        let room = self.room(&owner, "typing").await?;
        let (reader, _) = self.user("typingreader").await?;
        self.join(&reader, &room).await?;
        let typists = self.users("typist", typists, 4).await?;
        let tokens: Vec<&str> = typists.iter().map(|(t, _)| t.as_str()).collect();
        self.join_many(&tokens, std::slice::from_ref(&room), 8)
            .await?;
        let opened = self.streams(&reader, streams, 100).await?;
        // Interval between notices: each typist comes round every 2.2 s.
        let interval = Duration::from_millis(2200 / typists.len().max(1) as u64);
        let total = (seconds * 1000 / interval.as_millis().max(1) as u64) as usize;
        // When each typist last posted (ns), by user id.
        let sent_at: Arc<Mutex<HashMap<String, u128>>> = Arc::default();
        let mut readers = Vec::new();
        for mut events in opened {
            let sent_at = sent_at.clone();
            readers.push(tokio::spawn(async move {
                let mut h = hist();
                let mut got = 0usize;
                while got < total {
                    let next = tokio::time::timeout(Duration::from_secs(10), events.next()).await;
                    let Ok(Some((name, data))) = next else { break };
                    if name != "typing" {
                        continue;
                    }
                    let arrived = now_ns();
                    let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    let user = v["user"]["id"].as_str().unwrap_or_default();
                    let sent = sent_at.lock().ok().and_then(|m| m.get(user).copied());
                    let _ =
                        h.record((arrived.saturating_sub(sent.unwrap_or(arrived)) / 1000) as u64);
                    got += 1;
                }
                (h, got)
            }));
        }
        let started = Instant::now();
        let mut tick = tokio::time::interval(interval);
        for n in 0..total {
            tick.tick().await;
            let (token, id) = &typists[n % typists.len()];
            if let Ok(mut m) = sent_at.lock() {
                m.insert(id.clone(), now_ns());
            }
            let (status, body) = self
                .post(&format!("/rooms/{room}/typing"), Some(token), json!({}))
                .await?;
            if status != 204 {
                bail!("typing: {status} {body}");
            }
        }
        let mut all = hist();
        let mut complete = 0usize;
        for r in readers {
            let (h, got) = r.await?;
            all.add(h)?;
            if got == total {
                complete += 1;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        self.row(
            "typing",
            &params,
            "deliveries/s",
            all.len() as f64 / elapsed,
            "events/s",
        );
        self.latency_rows(
            "typing",
            &params,
            "post-to-receive",
            &all,
            &[("p50", 0.5), ("p99", 0.99)],
        );
        self.row(
            "typing",
            &params,
            "streams with every notice",
            complete as f64,
            "streams",
        );
        Ok(())
    }
}
