//! confab-bench: a load generator that drives a running confab over HTTP
//! and SSE exactly as clients do (it registers its own users, creates its
//! own rooms, logs in and opens streams), records latencies in HDR
//! histograms, prints a table and can write JSON.
//!
//! Scenarios: `send`, `fanout`, `history`, `idle`, `offline`, and `ceiling`
//! (the send script run directly against Redis: what Redis alone allows).
//! `all` runs every one with the goals' parameters. `scripts/bench.sh` starts
//! Redis and a release confab and runs `all`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};

/// Drives a running confab like real clients do.
#[derive(Parser)]
struct Cli {
    /// confab's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The Redis confab uses (for the ceiling and for seeding history).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// confab's key prefix (for seeding history).
    #[arg(long, default_value = "confab:")]
    prefix: String,
    /// confab's process id, to read its memory (`idle`).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Append results to this JSON file (an array of rows).
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Clone)]
enum Scenario {
    /// C concurrent senders post to R rooms for T seconds.
    Send {
        #[arg(long, default_value_t = 64)]
        senders: usize,
        #[arg(long, default_value_t = 8)]
        rooms: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// S open streams in one room while messages are sent at a fixed rate.
    Fanout {
        #[arg(long, default_value_t = 2000)]
        streams: usize,
        #[arg(long, default_value_t = 50)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// A room with N messages paged end to end, 50 a page.
    History {
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
    },
    /// N idle streams: the server's resident memory per stream.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        streams: usize,
    },
    /// A user with N queued messages connects: time to `ready` and to the
    /// last backlog event.
    Offline {
        #[arg(long, default_value_t = 1000)]
        messages: usize,
    },
    /// The send script run directly on Redis by C concurrent clients.
    Ceiling {
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Every scenario with its default parameters.
    All,
    /// Print a Markdown table of a JSON results file.
    Report {
        /// The file written with `--json`.
        file: PathBuf,
    },
}

/// One measured figure.
#[derive(Debug, Serialize, serde::Deserialize, Clone)]
struct Row {
    scenario: String,
    metric: String,
    value: f64,
    unit: String,
    params: String,
}

struct Bench {
    http: reqwest::Client,
    url: String,
    cli_redis: String,
    prefix: String,
    server_pid: Option<u32>,
    run: String,
    rows: Vec<Row>,
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

impl Bench {
    fn row(&mut self, scenario: &str, params: &str, metric: &str, value: f64, unit: &str) {
        println!("{scenario:<8} {metric:<34} {value:>12.2} {unit:<10} {params}");
        self.rows.push(Row {
            scenario: scenario.into(),
            metric: metric.into(),
            value,
            unit: unit.into(),
            params: params.into(),
        });
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.post(self.api(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Registers and logs in a fresh user: (token, id).
    async fn user(&self, name: &str) -> anyhow::Result<(String, String)> {
        let username = format!("{name}{}", self.run);
        let password = "bench-password";
        let (status, body) = self
            .post(
                "/auth/register",
                None,
                json!({"username": username, "password": password}),
            )
            .await?;
        if status != 201 {
            bail!("register {username}: {status} {body}");
        }
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        let (status, body) = self
            .post(
                "/auth/login",
                None,
                json!({"username": username, "password": password}),
            )
            .await?;
        if status != 200 {
            bail!("login {username}: {status} {body}");
        }
        Ok((
            body["access_token"].as_str().unwrap_or_default().to_owned(),
            id,
        ))
    }

    async fn room(&self, token: &str, name: &str) -> anyhow::Result<String> {
        let (status, body) = self
            .post(
                "/rooms",
                Some(token),
                json!({"name": format!("{name}{}", self.run)}),
            )
            .await?;
        if status != 201 {
            bail!("create room: {status} {body}");
        }
        Ok(body["id"].as_str().unwrap_or_default().to_owned())
    }

    async fn join(&self, token: &str, room: &str) -> anyhow::Result<()> {
        let res = self
            .http
            .put(self.api(&format!("/rooms/{room}/members/me")))
            .bearer_auth(token)
            .send()
            .await?;
        if res.status() != 200 {
            bail!("join: {}", res.status());
        }
        Ok(())
    }

    /// Opens a stream; returns it once `ready` has arrived.
    async fn stream(&self, token: &str) -> anyhow::Result<Events> {
        let res = self
            .http
            .get(self.api("/events"))
            .bearer_auth(token)
            .send()
            .await?;
        if res.status() != 200 {
            bail!(
                "stream: {} {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
        }
        let mut events = Events {
            body: Box::pin(res.bytes_stream()),
            buf: Vec::new(),
        };
        let ready = events.next().await.context("stream ended before ready")?;
        if ready.0 != "ready" {
            bail!("first event was {}", ready.0);
        }
        Ok(events)
    }

    async fn send(&mut self, senders: usize, rooms: usize, seconds: u64) -> anyhow::Result<()> {
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
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let cpu_before = self.redis_cpu_secs().await?;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (i, token) in tokens.into_iter().enumerate() {
            let http = self.http.clone();
            let url = self.api("");
            let rooms = room_ids.clone();
            let stop = stop.clone();
            let errors = errors.clone();
            tasks.push(tokio::spawn(async move {
                let mut h = hist();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let room = &rooms[(i + n) % rooms.len()];
                    let t = Instant::now();
                    let res = http
                        .post(format!("{url}/rooms/{room}/messages"))
                        .bearer_auth(&token)
                        .json(&json!({"body": "benchmark message body of a typical length, about sixty chars"}))
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
        let mut total = hist();
        for t in tasks {
            total.add(t.await?)?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = self.redis_cpu_secs().await? - cpu_before;
        self.row(
            "send",
            &params,
            "accepted messages/s",
            total.len() as f64 / elapsed,
            "msg/s",
        );
        self.row("send", &params, "latency p50", ms(&total, 0.5), "ms");
        self.row("send", &params, "latency p99", ms(&total, 0.99), "ms");
        self.row("send", &params, "latency p99.9", ms(&total, 0.999), "ms");
        self.row(
            "send",
            &params,
            "failed requests",
            errors.load(Ordering::Relaxed) as f64,
            "requests",
        );
        self.redis_rows("send", &params, cpu, elapsed, total.len());
        Ok(())
    }

    async fn fanout(&mut self, streams: usize, rate: u64, seconds: u64) -> anyhow::Result<()> {
        let params = format!("{streams} streams, {rate} msg/s, {seconds} s");
        let (sender, _) = self.user("fansender").await?;
        let (reader, _) = self.user("fanreader").await?;
        let room = self.room(&sender, "fanout").await?;
        self.join(&reader, &room).await?;
        // One reader user holding every stream (the server is started with
        // a high per-user cap); delivery work per stream is the same.
        let mut opened = Vec::with_capacity(streams);
        for chunk in (0..streams).collect::<Vec<_>>().chunks(100) {
            let batch =
                futures_util::future::join_all(chunk.iter().map(|_| self.stream(&reader))).await;
            for s in batch {
                opened.push(s?);
            }
        }
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
        let started = Instant::now();
        let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
        let mut tick = tokio::time::interval(interval);
        for seq in 0..total {
            tick.tick().await;
            let (status, body) = self
                .post(
                    &format!("/rooms/{room}/messages"),
                    Some(&sender),
                    json!({"body": format!("{seq} {}", now_ns())}),
                )
                .await?;
            if status != 201 {
                bail!("fanout send: {status} {body}");
            }
        }
        let mut all = hist();
        let mut complete = 0usize;
        for r in readers {
            let (h, seqs) = r.await?;
            all.add(h)?;
            if seqs.len() == total && seqs.iter().enumerate().all(|(i, s)| *s == i) {
                complete += 1;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        self.row(
            "fanout",
            &params,
            "deliveries/s",
            all.len() as f64 / elapsed,
            "events/s",
        );
        self.row(
            "fanout",
            &params,
            "send-to-receive p50",
            ms(&all, 0.5),
            "ms",
        );
        self.row(
            "fanout",
            &params,
            "send-to-receive p99",
            ms(&all, 0.99),
            "ms",
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
        Ok(())
    }

    async fn history(&mut self, messages: usize) -> anyhow::Result<()> {
        let params = format!("{messages} messages, 50 a page");
        let (token, id) = self.user("historian").await?;
        let room = self.room(&token, "history").await?;
        // Seed the stream directly (a million sends over HTTP would take
        // minutes and measure `send`, not history). Same fields as confab.
        let client = redis::Client::open(self.cli_redis.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let key = format!("{}{{r:{room}}}:messages", self.prefix);
        let body = "a message in a long history, about as long as a chat line";
        let mut written = 0;
        while written < messages {
            let n = (messages - written).min(5000);
            let mut pipe = redis::pipe();
            for _ in 0..n {
                pipe.cmd("XADD")
                    .arg(&key)
                    .arg("*")
                    .arg(&["u", &id, "n", "historian", "d", "Historian", "b", body])
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
            written += n;
        }
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
        self.row("history", &params, "page latency p50", ms(&h, 0.5), "ms");
        self.row("history", &params, "page latency p99", ms(&h, 0.99), "ms");
        Ok(())
    }

    /// Seconds of CPU Redis has used (user + system), from `INFO cpu`.
    async fn redis_cpu_secs(&self) -> anyhow::Result<f64> {
        let client = redis::Client::open(self.cli_redis.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await?;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| {
                    l.strip_prefix(name)?
                        .strip_prefix(':')?
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .unwrap_or(0.0)
        };
        Ok(field("used_cpu_user") + field("used_cpu_sys"))
    }

    /// Reports how busy Redis was over a run and its CPU time per message.
    fn redis_rows(
        &mut self,
        scenario: &str,
        params: &str,
        cpu_secs: f64,
        elapsed: f64,
        messages: u64,
    ) {
        self.row(
            scenario,
            params,
            "Redis CPU busy",
            cpu_secs / elapsed * 100.0,
            "% of a core",
        );
        if messages > 0 {
            self.row(
                scenario,
                params,
                "Redis CPU per message",
                cpu_secs * 1e6 / messages as f64,
                "us",
            );
        }
    }

    fn rss_kib(&self) -> Option<u64> {
        let pid = self.server_pid?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    async fn idle(&mut self, streams: usize) -> anyhow::Result<()> {
        let params = format!("{streams} streams");
        let (token, _) = self.user("idler").await?;
        let before = self.rss_kib();
        let started = Instant::now();
        let mut held = Vec::with_capacity(streams);
        for chunk in (0..streams).collect::<Vec<_>>().chunks(200) {
            let batch =
                futures_util::future::join_all(chunk.iter().map(|_| self.stream(&token))).await;
            for s in batch {
                held.push(s?);
            }
        }
        let open_secs = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = self.rss_kib();
        self.row(
            "idle",
            &params,
            "streams held",
            held.len() as f64,
            "streams",
        );
        self.row(
            "idle",
            &params,
            "streams opened/s",
            held.len() as f64 / open_secs,
            "streams/s",
        );
        if let (Some(b), Some(a)) = (before, after) {
            self.row(
                "idle",
                &params,
                "server RSS before",
                b as f64 / 1024.0,
                "MiB",
            );
            self.row(
                "idle",
                &params,
                "server RSS with streams",
                a as f64 / 1024.0,
                "MiB",
            );
            self.row(
                "idle",
                &params,
                "server memory per idle stream",
                (a.saturating_sub(b)) as f64 / held.len() as f64,
                "KiB",
            );
        }
        drop(held);
        Ok(())
    }

    async fn offline(&mut self, messages: usize) -> anyhow::Result<()> {
        let params = format!("{messages} queued messages");
        let (sender, _) = self.user("offsender").await?;
        let (reader, _) = self.user("offreader").await?;
        let room = self.room(&sender, "offline").await?;
        self.join(&reader, &room).await?;
        for i in 0..messages {
            let (status, body) = self
                .post(
                    &format!("/rooms/{room}/messages"),
                    Some(&sender),
                    json!({"body": format!("queued {i}")}),
                )
                .await?;
            if status != 201 {
                bail!("offline send: {status} {body}");
            }
        }
        let started = Instant::now();
        let res = self
            .http
            .get(self.api("/events"))
            .bearer_auth(&reader)
            .send()
            .await?;
        let mut events = Events {
            body: Box::pin(res.bytes_stream()),
            buf: Vec::new(),
        };
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

    async fn ceiling(&mut self, concurrency: usize, seconds: u64) -> anyhow::Result<()> {
        let members = 64;
        let params = format!("{concurrency} concurrent, {seconds} s, {members} offline members");
        let script = redis::Script::new(&format!(
            "{}\n{}",
            include_str!("../../src/store/scripts/lib.lua"),
            include_str!("../../src/store/scripts/send_room_message.lua")
        ));
        let client = redis::Client::open(self.cli_redis.as_str())?;
        let p = format!("ceiling{}:", self.run);
        let room = "00000000-0000-4000-8000-000000000000";
        let keys = |suffix: &str| format!("{p}{{r:{room}}}:{suffix}");
        let mut conn = client.get_multiplexed_async_connection().await?;
        // The same shape as the send scenario: the sender and 64 other
        // members without streams, so every message is also queued 64 times.
        let mut setup = redis::pipe();
        setup.hset(keys("room"), "id", room).ignore();
        for m in 0..=members {
            setup.zadd(keys("members"), format!("u{m}"), m).ignore();
        }
        setup.query_async::<()>(&mut conn).await?;
        let cpu_before = self.redis_cpu_secs().await?;
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let mut conn = conn.clone();
            let script = script.clone();
            let stop = stop.clone();
            let keys = [
                keys("room"),
                keys("members"),
                keys("messages"),
                keys("senders"),
                format!("{p}{{presence}}:online"),
                format!("{p}{{presence}}:last_message_id"),
                format!("{p}{{rooms}}:by_activity"),
            ];
            let channel = keys[0].replace(":room", ":events");
            let (head, tail) = (format!("{p}{{u:"), "}:offline".to_owned());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut inv = script.prepare_invoke();
                    for k in &keys {
                        inv.key(k);
                    }
                    inv.arg("u0")
                        .arg("user")
                        .arg("User")
                        .arg("benchmark message body of a typical length, about sixty chars")
                        .arg("")
                        .arg(100_000)
                        .arg(86400)
                        .arg(room)
                        .arg(&channel)
                        .arg(&head)
                        .arg(&tail)
                        .arg(1000)
                        .arg(0);
                    if inv.invoke_async::<redis::Value>(&mut conn).await.is_ok() {
                        n += 1;
                    }
                }
                n
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut total = 0;
        for t in tasks {
            total += t.await?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = self.redis_cpu_secs().await? - cpu_before;
        self.row(
            "ceiling",
            &params,
            "send script runs/s (Redis alone)",
            total as f64 / elapsed,
            "msg/s",
        );
        self.redis_rows("ceiling", &params, cpu, elapsed, total);
        let mut cleanup = redis::pipe();
        for k in ["room", "members", "messages", "senders"] {
            cleanup.del(keys(k)).ignore();
        }
        for m in 0..=members {
            cleanup.del(format!("{p}{{u:u{m}}}:offline")).ignore();
        }
        cleanup.query_async::<()>(&mut conn).await?;
        Ok(())
    }
}

/// A minimal SSE reader: (event name, data) per event; comments skipped.
struct Events {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: Vec<u8>,
}

impl Events {
    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&block);
                let mut name = String::from("message");
                let mut data = String::new();
                let mut has_data = false;
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        has_data = true;
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if has_data {
                    return Some((name, data));
                }
                continue;
            }
            match self.body.next().await {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                _ => return None,
            }
        }
    }
}

fn report(file: &PathBuf) -> anyhow::Result<()> {
    let rows: Vec<Row> = serde_json::from_str(&std::fs::read_to_string(file)?)?;
    println!("| scenario | parameters | metric | value |");
    println!("|---|---|---|---|");
    for r in rows {
        let value = if r.value.fract() == 0.0 {
            format!("{:.0}", r.value)
        } else {
            format!("{:.2}", r.value)
        };
        println!(
            "| {} | {} | {} | {} {} |",
            r.scenario, r.params, r.metric, value, r.unit
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Scenario::Report { file } = &cli.scenario {
        return report(file);
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let mut bench = Bench {
        http,
        url: cli.url.trim_end_matches('/').to_owned(),
        cli_redis: cli.redis.clone(),
        prefix: cli.prefix.clone(),
        server_pid: cli.server_pid,
        run: format!("{}", now_ns() % 1_000_000_000),
        rows: Vec::new(),
    };
    println!(
        "{:<8} {:<34} {:>12} {:<10} parameters",
        "scenario", "metric", "value", "unit"
    );
    match cli.scenario.clone() {
        Scenario::Send {
            senders,
            rooms,
            seconds,
        } => bench.send(senders, rooms, seconds).await?,
        Scenario::Fanout {
            streams,
            rate,
            seconds,
        } => bench.fanout(streams, rate, seconds).await?,
        Scenario::History { messages } => bench.history(messages).await?,
        Scenario::Idle { streams } => bench.idle(streams).await?,
        Scenario::Offline { messages } => bench.offline(messages).await?,
        Scenario::Ceiling {
            concurrency,
            seconds,
        } => bench.ceiling(concurrency, seconds).await?,
        Scenario::All => {
            bench.ceiling(64, 10).await?;
            bench.send(64, 8, 10).await?;
            bench.fanout(2000, 50, 10).await?;
            bench.history(1_000_000).await?;
            bench.offline(1000).await?;
            bench.idle(10_000).await?;
        }
        Scenario::Report { .. } => {}
    }
    if let Some(path) = cli.json {
        let mut rows: Vec<Row> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        rows.extend(bench.rows.iter().cloned());
        std::fs::write(&path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}
