//! How hard Redis worked during a scenario: its CPU time from `INFO cpu`
//! before and after, reported as how busy it was and what one message cost.
//! Redis runs commands on one thread, so "% of a core" near 100 means Redis
//! is the bottleneck, whatever confab does. Also its memory (`INFO memory`),
//! for what a message costs to keep (`members`) and the peak while streams
//! resume (`resume`).

use crate::bench::Bench;

impl Bench {
    /// Opens a connection to confab's Redis.
    pub async fn redis(&self) -> anyhow::Result<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.redis_url.as_str())?;
        Ok(client.get_multiplexed_async_connection().await?)
    }

    /// Seconds of CPU Redis has used (user + system), from `INFO cpu`.
    pub async fn redis_cpu_secs(&self) -> anyhow::Result<f64> {
        let mut conn = self.redis().await?;
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

    /// Bytes Redis has allocated (`used_memory` of `INFO memory`).
    pub async fn redis_used_memory(&self) -> anyhow::Result<u64> {
        used_memory(&mut self.redis().await?).await
    }

    /// Reports how busy Redis was over a run and its CPU time per message.
    pub fn redis_rows(
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
}

/// `used_memory` of `INFO memory` over an open connection (a sampler keeps
/// one open rather than connecting each time).
pub async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<u64> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:")?.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("INFO memory without used_memory"))
}
