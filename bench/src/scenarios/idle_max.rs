//! `idle-max`: as many idle streams as this machine lets the load generator
//! and confab hold, up to N, opened from several loopback source addresses
//! (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127.0.0.0/8 to the
//! loopback interface) so that the ~28,000 ephemeral ports of one address
//! do not cap the count; confab's resident memory before and after gives
//! its cost per idle stream at that scale.
//!
//! Every stream takes a file descriptor in confab and one in the load
//! generator, so the count is capped by both processes' open-file limits
//! (each one's soft limit less the files it already has open, and confab's
//! connection cap, 3/4 of its limit; less a margin): the cap is reported as
//! a row and its reason on stderr. A stream
//! that still fails to open stops the opening; the streams held so far are
//! measured and the error is printed to stderr.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure};
use confab::config::ServerSettings;
use confab::connections::effective_cap;
use futures_util::future::join_all;

use crate::bench::Bench;
use crate::procfs;

/// Streams opened at once, as in `idle` (all at once would be a connection
/// storm that measures the listen backlog).
const BATCH: usize = 200;
/// File descriptors left free in each process beyond those open before the
/// streams: for Redis connections, log files and requests that come and go.
const FD_MARGIN: u64 = 500;
/// How long one stream may take to answer before the opening stops: a
/// confab out of file descriptors leaves new connections unanswered in its
/// listen backlog rather than refusing them.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

impl Bench {
    pub async fn idle_max(&mut self, streams: usize, sources: usize) -> anyhow::Result<()> {
        ensure!(
            (1..=253).contains(&sources),
            "idle-max: --sources must be 1 to 253 (127.0.0.2 to 127.0.0.254)"
        );
        let params = format!("{streams} streams, {sources} source addresses");
        // One client per source address; streams go to them in turn.
        let clients = (0..sources)
            .map(|i| {
                let address = Ipv4Addr::new(127, 0, 0, 2 + i as u8);
                reqwest::Client::builder()
                    .local_address(IpAddr::V4(address))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (token, _) = self.user("idlemax").await?;
        // Streams a scenario before this one closed (`idle`'s 10,000 in
        // `all`) may still hold descriptors and memory in confab.
        self.wait_server_files_settled().await;
        self.row(
            "idle-max",
            &params,
            "streams requested",
            streams as f64,
            "streams",
        );
        let mut target = streams;
        if let Some((room, why)) = self.open_file_room()
            && room < streams as u64
        {
            target = room as usize;
            eprintln!("idle-max: {target} streams instead of {streams}: {why}");
            self.row(
                "idle-max",
                &params,
                "streams (capped by open-file limit)",
                target as f64,
                "streams",
            );
        }
        let before = self.rss_kib();
        let started = Instant::now();
        let mut held = Vec::with_capacity(target);
        while held.len() < target {
            let first = held.len();
            let n = BATCH.min(target - first);
            let batch = join_all((first..first + n).map(|i| {
                let http = &clients[i % clients.len()];
                tokio::time::timeout(OPEN_TIMEOUT, self.stream_via(http, &token))
            }))
            .await;
            let mut failed = None;
            for opened in batch {
                match opened {
                    Ok(Ok(events)) => held.push(events),
                    Ok(Err(e)) => failed = failed.or(Some(e)),
                    Err(_) => {
                        failed = failed.or(Some(anyhow!("no answer within {OPEN_TIMEOUT:?}")));
                    }
                }
            }
            if let Some(e) = failed {
                eprintln!(
                    "idle-max: stopped opening streams at {} held: {e:#}",
                    held.len()
                );
                break;
            }
        }
        let open_secs = started.elapsed().as_secs_f64();
        // Let buffers and tasks of the last batch settle before measuring.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = self.rss_kib();
        self.row(
            "idle-max",
            &params,
            "streams held",
            held.len() as f64,
            "streams",
        );
        self.memory_rows("idle-max", &params, before, after, held.len());
        self.row(
            "idle-max",
            &params,
            "streams opened/s",
            held.len() as f64 / open_secs,
            "streams/s",
        );
        drop(held);
        Ok(())
    }

    /// How many more streams the open-file limits leave room for, and why:
    /// for the load generator and (with `--server-pid`) confab, the soft
    /// limit less the files open now, and for confab also the connections
    /// it serves at most with that limit ([`effective_cap`]: 3/4 of it,
    /// with the default `server.max_connections` that `scripts/bench.sh`
    /// keeps); the smallest of these less [`FD_MARGIN`]. `None` where the
    /// load generator's own limit cannot be read (no `/proc`).
    fn open_file_room(&self) -> Option<(u64, String)> {
        let mut processes = vec![("the load generator".to_owned(), std::process::id())];
        if let Some(pid) = self.server_pid {
            processes.push((format!("confab (pid {pid})"), pid));
        }
        let mut room = u64::MAX;
        let mut why = Vec::new();
        for (i, (name, pid)) in processes.into_iter().enumerate() {
            let Some(limit) = procfs::open_files_limit(pid) else {
                if i == 0 {
                    return None;
                }
                why.push(format!("{name}'s open-file limit unreadable"));
                continue;
            };
            let open = procfs::open_files(pid).unwrap_or(0);
            room = room.min(limit.saturating_sub(open));
            why.push(format!("{name} may open {limit} files, has {open} open"));
            if i == 1 {
                let configured = ServerSettings::default().max_connections;
                let served = effective_cap(configured, Some(limit)) as u64;
                room = room.min(served);
                why.push(format!(
                    "confab serves at most {served} connections with that limit"
                ));
            }
        }
        why.push(format!("{FD_MARGIN} kept free"));
        Some((room.saturating_sub(FD_MARGIN), why.join("; ")))
    }

    /// Waits (at most 30 s) until confab's count of open files has stopped
    /// falling for a second, so that connections closed just before are
    /// gone; at once without `--server-pid`.
    async fn wait_server_files_settled(&self) {
        let Some(pid) = self.server_pid else { return };
        let started = Instant::now();
        let mut last = procfs::open_files(pid);
        let mut steady_since = Instant::now();
        while started.elapsed() < Duration::from_secs(30)
            && steady_since.elapsed() < Duration::from_secs(1)
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = procfs::open_files(pid);
            if now < last {
                steady_since = Instant::now();
            }
            last = now;
        }
    }
}
