//! `history`: a room seeded with N messages, read back page by page from
//! the newest with `before`, 50 a page, to the first message.

use std::time::Instant;

use serde_json::Value;

use crate::bench::Bench;
use crate::stats::hist;

impl Bench {
    pub async fn history(&mut self, messages: usize) -> anyhow::Result<()> {
        let params = format!("{messages} messages, 50 a page");
        let (token, id) = self.user("historian").await?;
        let room = self.room(&token, "history").await?;
        self.seed_history(&room, &id, messages).await?;
        let mut h = hist();
        let mut seen = 0usize;
        let mut before: Option<String> = None;
        let started = Instant::now();
        loop {
            let path = match &before {
                None => format!("/rooms/{room}/messages?limit=50"),
                Some(id) => format!("/rooms/{room}/messages?limit=50&before={id}"),
            };
            let t = Instant::now();
            let res = self
                .http
                .get(self.api(&path))
                .bearer_auth(&token)
                .send()
                .await?;
            let page: Value = res.json().await?;
            let _ = h.record(t.elapsed().as_micros() as u64);
            let msgs = page["messages"].as_array().cloned().unwrap_or_default();
            seen += msgs.len();
            before = msgs
                .first()
                .and_then(|m| m["id"].as_str())
                .map(String::from);
            if !page["has_more"].as_bool().unwrap_or(false) || before.is_none() {
                break;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        self.row(
            "history",
            &params,
            "messages walked",
            seen as f64,
            "messages",
        );
        self.row(
            "history",
            &params,
            "pages/s",
            h.len() as f64 / elapsed,
            "pages/s",
        );
        self.latency_rows(
            "history",
            &params,
            "page latency",
            &h,
            &[("p50", 0.5), ("p99", 0.99)],
        );
        Ok(())
    }

    /// Writes `messages` messages from user `user_id` straight into the
    /// room's stream, 5,000 a pipeline: a million sends over HTTP would take
    /// minutes and measure `send`, not history. Same fields as confab writes.
    async fn seed_history(&self, room: &str, user_id: &str, messages: usize) -> anyhow::Result<()> {
        let mut conn = self.redis().await?;
        let key = self.keys.room_messages(room);
        let body = "a message in a long history, about as long as a chat line";
        let mut written = 0;
        while written < messages {
            let n = (messages - written).min(5000);
            let mut pipe = redis::pipe();
            for _ in 0..n {
                pipe.cmd("XADD")
                    .arg(&key)
                    .arg("*")
                    .arg(&["u", user_id, "n", "historian", "d", "Historian", "b", body])
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
            written += n;
        }
        Ok(())
    }
}
