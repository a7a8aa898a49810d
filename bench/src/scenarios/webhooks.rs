//! `webhooks`: W webhooks, one on each of W busy rooms, delivering to a
//! receiver in this process (a minimal HTTP/1.1 server on loopback that
//! answers 204, or 503 while told to fail). Two phases:
//! - lag: senders post to the rooms at a fixed rate for T seconds; each
//!   body carries its send time, so the receiver measures send-to-delivery
//!   time, and checks every message arrived once per webhook, in order;
//! - drain: with the receiver failing, N messages per room pile up
//!   undelivered; then it answers again, and the time to deliver them all
//!   and confab's CPU over that time give deliveries/s and CPU per delivery.
//!
//! Then `send` runs again while the webhooks exist (on other rooms): a
//! room without webhooks must send as fast as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::bench::Bench;
use crate::procfs;
use crate::stats::{hist, now_ns};

/// What the receiver has seen.
#[derive(Default)]
struct Seen {
    /// Send-to-delivery latencies (us) of the lag phase.
    lag: Option<Histogram<u64>>,
    /// Sequence numbers delivered, per webhook, in arrival order.
    by_webhook: HashMap<String, Vec<u64>>,
    /// Deliveries acknowledged.
    acknowledged: u64,
}

/// The receiver: answers 204 (or 503 while `failing`), records what came.
struct Receiver {
    port: u16,
    failing: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let failing = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen {
            lag: Some(hist()),
            ..Seen::default()
        }));
        let (f, s) = (failing.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, f.clone(), s.clone()));
            }
        });
        Ok(Self {
            port,
            failing,
            seen,
        })
    }

    fn acknowledged(&self) -> u64 {
        self.seen.lock().map(|s| s.acknowledged).unwrap_or(0)
    }
}

/// One keep-alive connection: requests in, 204/503 out.
async fn serve(
    mut socket: tokio::net::TcpStream,
    failing: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Some(end) = find(&buffer, b"\r\n\r\n") else {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < end + 4 + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buffer[end + 4..end + 4 + length].to_vec();
        buffer.drain(..end + 4 + length);
        let fail = failing.load(Ordering::Relaxed);
        if !fail {
            let arrived = now_ns();
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let text = v["message"]["body"].as_str().unwrap_or("");
            let hook = v["webhook_id"].as_str().unwrap_or("").to_owned();
            let mut parts = text.split(' ');
            let (phase, seq, sent) = (parts.next(), parts.next(), parts.next());
            if let Ok(mut s) = seen.lock() {
                s.acknowledged += 1;
                if phase == Some("lag") {
                    let seq = seq.and_then(|x| x.parse().ok()).unwrap_or(u64::MAX);
                    s.by_webhook.entry(hook).or_default().push(seq);
                    let sent: u128 = sent.and_then(|x| x.parse().ok()).unwrap_or(arrived);
                    if let Some(h) = s.lag.as_mut() {
                        let _ = h.record((arrived.saturating_sub(sent) / 1000) as u64);
                    }
                }
            }
        }
        let answer: &[u8] = if fail {
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
        } else {
            b"HTTP/1.1 204 No Content\r\n\r\n"
        };
        if socket.write_all(answer).await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Bench {
    pub async fn webhooks(
        &mut self,
        webhooks: usize,
        rate: u64,
        seconds: u64,
        backlog: usize,
    ) -> anyhow::Result<()> {
        let params = format!("{webhooks} webhooks on {webhooks} rooms");
        let receiver = Receiver::start().await?;
        let url = format!("http://127.0.0.1:{}/hook", receiver.port);
        let (owner, _) = self.user("hookowner").await?;
        let mut rooms = Vec::new();
        for r in 0..webhooks {
            let room = self.room(&owner, &format!("hooked{r}-")).await?;
            let (status, body) = self
                .post(
                    &format!("/rooms/{room}/webhooks"),
                    Some(&owner),
                    json!({"url": url}),
                )
                .await?;
            if status != 201 {
                bail!(
                    "webhooks: adding one answered {status} {body} (is CONFAB_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES=true?)"
                );
            }
            rooms.push(room);
        }
        // Every deliverer running (instances look for new webhooks once a
        // second): one message per room, delivered.
        for room in &rooms {
            self.send_message("webhooks warm-up", &owner, room, "warm 0 0".into())
                .await?;
        }
        self.wait_acknowledged(&receiver, rooms.len() as u64, Duration::from_secs(30))
            .await?;
        // Lag: a fixed rate over the rooms.
        let total = (rate * seconds) as usize;
        let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
        let mut tick = tokio::time::interval(interval);
        for seq in 0..total {
            tick.tick().await;
            let room = &rooms[seq % rooms.len()];
            let body = format!("lag {} {}", seq / rooms.len(), now_ns());
            self.send_message("webhooks send", &owner, room, body)
                .await?;
        }
        self.wait_acknowledged(
            &receiver,
            (total + rooms.len()) as u64,
            Duration::from_secs(60),
        )
        .await?;
        let (lag, in_order) = {
            let s = receiver
                .seen
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?;
            let per_room = total / rooms.len();
            let in_order = s
                .by_webhook
                .values()
                .filter(|seqs| seqs.iter().copied().eq(0..per_room as u64))
                .count();
            (s.lag.clone().unwrap_or_else(hist), in_order)
        };
        let lag_params = format!("{params}, {rate} msg/s for {seconds} s");
        self.latency_rows(
            "webhooks",
            &lag_params,
            "send-to-delivery",
            &lag,
            &[("p50", 0.5), ("p99", 0.99)],
        );
        self.row(
            "webhooks",
            &lag_params,
            "webhooks with every message once, in order",
            in_order as f64,
            "webhooks",
        );
        // Drain: a backlog piles up while the receiver fails, then goes.
        receiver.failing.store(true, Ordering::Relaxed);
        let (this, owner_ref) = (&*self, owner.as_str());
        let sends = rooms.iter().flat_map(|room| {
            (0..backlog).map(move |i| {
                this.send_message("webhooks backlog", owner_ref, room, format!("drain {i} 0"))
            })
        });
        use futures_util::{StreamExt, TryStreamExt};
        futures_util::stream::iter(sends)
            .buffer_unordered(32)
            .try_collect::<()>()
            .await?;
        let before = receiver.acknowledged();
        receiver.failing.store(false, Ordering::Relaxed);
        // The clock starts at the first delivery: until then the deliverers
        // sit out the backoff the failing receiver earned them.
        self.wait_acknowledged(&receiver, before + 1, Duration::from_secs(120))
            .await?;
        let cpu_before = self.server_pid.map(procfs::cpu_secs).transpose()?;
        let started = Instant::now();
        let want = before + (backlog * rooms.len()) as u64;
        self.wait_acknowledged(&receiver, want, Duration::from_secs(300))
            .await?;
        let elapsed = started.elapsed().as_secs_f64();
        let drained = (backlog * rooms.len()) as f64 - 1.0;
        let drain_params = format!("{params}, {backlog} waiting per room");
        self.row(
            "webhooks",
            &drain_params,
            "deliveries/s",
            drained / elapsed,
            "deliveries/s",
        );
        if let (Some(pid), Some(before)) = (self.server_pid, cpu_before) {
            let cpu = procfs::cpu_secs(pid)? - before;
            self.row(
                "webhooks",
                &drain_params,
                "confab CPU per delivery",
                cpu / drained * 1e6,
                "us",
            );
        }
        Ok(())
    }

    async fn wait_acknowledged(
        &self,
        receiver: &Receiver,
        want: u64,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        while receiver.acknowledged() < want {
            if started.elapsed() > timeout {
                bail!(
                    "webhooks: {} of {want} deliveries after {timeout:?}",
                    receiver.acknowledged()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}
