//! `idle`: N streams held open and silent; confab's resident memory
//! before and after gives its cost per idle stream.

use std::time::{Duration, Instant};

use crate::bench::Bench;
use crate::procfs;

impl Bench {
    pub async fn idle(&mut self, streams: usize) -> anyhow::Result<()> {
        let params = format!("{streams} streams");
        let (token, _) = self.user("idler").await?;
        let before = self.rss_kib();
        let started = Instant::now();
        let held = self.streams(&token, streams, 200).await?;
        let open_secs = started.elapsed().as_secs_f64();
        // Let buffers and tasks of the last batch settle before measuring.
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
        self.memory_rows("idle", &params, before, after, held.len());
        drop(held);
        Ok(())
    }

    /// confab's resident memory before and with `held` streams, and their
    /// cost each (with any streams held), when both readings were taken.
    pub(super) fn memory_rows(
        &mut self,
        scenario: &str,
        params: &str,
        before: Option<u64>,
        after: Option<u64>,
        held: usize,
    ) {
        let (Some(b), Some(a)) = (before, after) else {
            return;
        };
        self.row(
            scenario,
            params,
            "server RSS before",
            b as f64 / 1024.0,
            "MiB",
        );
        self.row(
            scenario,
            params,
            "server RSS with streams",
            a as f64 / 1024.0,
            "MiB",
        );
        if held > 0 {
            self.row(
                scenario,
                params,
                "server memory per idle stream",
                a.saturating_sub(b) as f64 / held as f64,
                "KiB",
            );
        }
    }

    /// confab's resident memory in KiB (`VmRSS` of `/proc/PID/status`);
    /// `None` without `--server-pid` or on a system without `/proc`.
    pub(super) fn rss_kib(&self) -> Option<u64> {
        procfs::rss_kib(self.server_pid?)
    }
}
