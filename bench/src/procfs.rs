//! What Linux's `/proc` tells about a process (confab's, given with
//! `--server-pid`, or the load generator's own): its resident memory, the
//! CPU time it has used, and how many files it may open and has open. Every
//! reader fails or returns `None` where `/proc` is missing or unreadable,
//! and the scenario then leaves the figure out.

use std::collections::HashMap;

use anyhow::Context;

/// The clock ticks per second of `utime` and `stime` in `/proc/PID/stat`
/// (Linux's `USER_HZ`). This crate does not link libc to ask
/// `sysconf(_SC_CLK_TCK)`, so the value is assumed: it is 100 on every
/// architecture confab runs on (x86-64, arm64).
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// The resident memory of process `pid` in KiB (`VmRSS` of
/// `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU seconds (user + system) process `pid` has used, threads that have
/// exited included: fields 14 and 15 of `/proc/PID/stat`, in clock ticks
/// (10 ms each, see [`CLOCK_TICKS_PER_SEC`]).
pub fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').context("odd /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).context("utime")?.parse::<f64>()?
        + fields.get(12).context("stime")?.parse::<f64>()?;
    Ok(ticks / CLOCK_TICKS_PER_SEC)
}

/// Nanoseconds on a CPU of each live thread of `pid`, by thread id: the
/// first field of `/proc/PID/task/TID/schedstat`. `None` if the task list
/// or no thread's `schedstat` can be read (a kernel without schedstats); a
/// thread that exits while the list is read is left out.
fn thread_cpu_ns(pid: u32) -> Option<HashMap<u32, u64>> {
    let mut threads = HashMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Some(tid) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse().ok())
        else {
            continue;
        };
        let Ok(schedstat) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"))
        else {
            continue;
        };
        if let Some(ns) = schedstat
            .split_whitespace()
            .next()
            .and_then(|f| f.parse().ok())
        {
            threads.insert(tid, ns);
        }
    }
    (!threads.is_empty()).then_some(threads)
}

/// A process's CPU time at a moment, to measure what it uses from then on
/// ([`CpuClock::used_secs`]).
pub struct CpuClock {
    pid: u32,
    /// [`cpu_secs`] at the start.
    secs: f64,
    /// [`thread_cpu_ns`] at the start, if readable.
    threads: Option<HashMap<u32, u64>>,
}

impl CpuClock {
    /// Reads process `pid`'s CPU time now.
    pub fn start(pid: u32) -> anyhow::Result<Self> {
        Ok(Self {
            pid,
            threads: thread_cpu_ns(pid),
            secs: cpu_secs(pid)?,
        })
    }

    /// CPU seconds the process has used since [`CpuClock::start`]. From
    /// the threads' `schedstat` (nanoseconds) when every thread there at
    /// the start is still there; otherwise (a thread exited, taking its
    /// time with it, or no `schedstat`) from `/proc/PID/stat`'s clock ticks,
    /// and `what` (the scenario) says so on stderr.
    pub fn used_secs(&self, what: &str) -> anyhow::Result<f64> {
        let (before, after) = (self.threads.as_ref(), thread_cpu_ns(self.pid));
        if let (Some(before), Some(after)) = (before, &after) {
            let kept = before
                .iter()
                .all(|(tid, ns)| after.get(tid).is_some_and(|now| now >= ns));
            if kept {
                let ns: u64 = after
                    .iter()
                    .map(|(tid, now)| now - before.get(tid).copied().unwrap_or(0))
                    .sum();
                return Ok(ns as f64 / 1e9);
            }
        }
        eprintln!(
            "{what}: confab CPU time from /proc/{}/stat (10 ms ticks): {}",
            self.pid,
            if after.is_none() || before.is_none() {
                "no readable /proc/PID/task/*/schedstat"
            } else {
                "a thread exited during the run"
            }
        );
        Ok(cpu_secs(self.pid)? - self.secs)
    }
}

/// The soft limit on open files of process `pid` (`Max open files` of
/// `/proc/PID/limits`); `u64::MAX` when unlimited.
pub fn open_files_limit(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// How many files process `pid` has open (entries of `/proc/PID/fd`).
pub fn open_files(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}
