//! confab-bench: a load generator that drives a running confab over HTTP
//! and SSE exactly as clients do (it registers its own users, creates its
//! own rooms, logs in and opens streams), records latencies in HDR
//! histograms, prints a table and can write JSON.
//!
//! Scenarios: `send`, `members`, `fanout`, `floor`, `typing`, `my-rooms`, `webhooks`, `history`,
//! `idle`, `idle-max`, `offline`, `offline-rooms`, `quiet-rooms`, `resume`, and `ceiling` (the
//! send script run directly against Redis: what Redis alone allows). `all` runs every one
//! with the goals' parameters. `scripts/bench.sh` starts Redis and a release
//! confab and runs `all`.
//!
//! # Layout
//! - this file: the command line and which scenario runs;
//! - [`bench`]: the context a scenario runs in and the rows it records;
//! - [`client`]: confab's API as a client uses it; [`events`]: reading
//!   event streams;
//! - [`scenarios`]: one module per scenario;
//! - [`stats`]: histograms and percentiles; [`redis_cpu`]: Redis's CPU
//!   time over a scenario; [`procfs`]: confab's memory, CPU time and
//!   open-file limit from `/proc`;
//! - [`output`]: the printed table, the JSON file and the Markdown report.

mod bench;
mod client;
mod events;
mod output;
mod procfs;
mod redis_cpu;
mod scenarios;
mod stats;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::bench::Bench;

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
    /// confab's process id, to read its memory (`idle`, `idle-max`,
    /// `resume`), CPU time (`fanout`, `webhooks`) and open-file limit
    /// (`idle-max`).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Append results to this JSON file (an array of rows).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Appended to every scenario name in the results (`send [cluster]`).
    #[arg(long)]
    label: Option<String>,
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
    /// `send`'s load into rooms that also have M members without streams,
    /// one run per M: Redis CPU and memory per message for each M.
    Members {
        /// The numbers of extra members, one run each.
        #[arg(long, value_delimiter = ',', default_values_t = [8, 64, 1000])]
        members: Vec<usize>,
        #[arg(long, default_value_t = 64)]
        senders: usize,
        #[arg(long, default_value_t = 8)]
        rooms: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// S open streams in one room while messages are sent at a fixed rate;
    /// with `--server-pid`, confab's CPU time per delivery.
    Fanout {
        #[arg(long, default_value_t = 2000)]
        streams: usize,
        #[arg(long, default_value_t = 50)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// One thread writes an event-sized buffer to S loopback connections R
    /// times a second: its CPU per write, the floor of a delivery.
    Floor {
        #[arg(long, default_value_t = 2000)]
        streams: usize,
        #[arg(long, default_value_t = 20)]
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
    /// Up to N idle streams from several loopback source addresses, as
    /// many as both processes' open-file limits allow: the server's
    /// resident memory per stream at that scale.
    IdleMax {
        /// The streams to open (fewer if the open-file limits allow fewer).
        #[arg(long, default_value_t = 100_000)]
        streams: usize,
        /// Source addresses 127.0.0.2 onwards, streams spread over them in
        /// turn (each has ~28,000 ephemeral ports).
        #[arg(long, default_value_t = 8)]
        sources: usize,
    },
    /// A user with N queued messages connects: time to `ready` and to the
    /// last backlog event.
    Offline {
        #[arg(long, default_value_t = 1000)]
        messages: usize,
    },
    /// A user in R rooms missed N messages in each since their last stream
    /// closed, then connects: time to `ready` and to the last backlog event.
    OfflineRooms {
        #[arg(long, default_value_t = 50)]
        rooms: usize,
        #[arg(long, default_value_t = 20)]
        per_room: usize,
    },
    /// A user in R rooms without activity since their last stream connects
    /// K times: time to `ready`.
    QuietRooms {
        #[arg(long, default_value_t = 1000)]
        rooms: usize,
        #[arg(long, default_value_t = 20)]
        connects: usize,
    },
    /// S streams resume at once from a token R rooms x N messages back:
    /// peak memory growth of confab and Redis, and other requests meanwhile.
    Resume {
        #[arg(long, default_value_t = 20)]
        rooms: usize,
        #[arg(long, default_value_t = 1000)]
        per_room: usize,
        #[arg(long, default_value_t = 10)]
        streams: usize,
    },
    /// A user in R busy rooms (N messages each, sends going on) lists them
    /// with unread counts K times.
    MyRooms {
        #[arg(long, default_value_t = 100)]
        rooms: usize,
        #[arg(long, default_value_t = 150)]
        per_room: usize,
        #[arg(long, default_value_t = 300)]
        lists: usize,
    },
    /// S streams in one room while T typists take turns typing for T
    /// seconds.
    Typing {
        #[arg(long, default_value_t = 2000)]
        streams: usize,
        #[arg(long, default_value_t = 20)]
        typists: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// W webhooks on W busy rooms delivering to a local receiver: lag at a
    /// fixed rate, then deliveries/s and CPU per delivery draining a backlog.
    Webhooks {
        #[arg(long, default_value_t = 10)]
        webhooks: usize,
        #[arg(long, default_value_t = 200)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 500)]
        backlog: usize,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Scenario::Report { file } = &cli.scenario {
        return output::report(file);
    }
    let mut bench = Bench::new(&cli.url, &cli.redis, &cli.prefix, cli.server_pid)?;
    bench.label = cli.label.clone();
    output::print_header();
    match cli.scenario.clone() {
        Scenario::Send {
            senders,
            rooms,
            seconds,
        } => bench.send(senders, rooms, seconds).await?,
        Scenario::Members {
            members,
            senders,
            rooms,
            seconds,
        } => bench.members(&members, senders, rooms, seconds).await?,
        Scenario::Fanout {
            streams,
            rate,
            seconds,
        } => bench.fanout(streams, rate, seconds).await?,
        Scenario::Floor {
            streams,
            rate,
            seconds,
        } => bench.floor(streams, rate, seconds).await?,
        Scenario::History { messages } => bench.history(messages).await?,
        Scenario::Idle { streams } => bench.idle(streams).await?,
        Scenario::IdleMax { streams, sources } => bench.idle_max(streams, sources).await?,
        Scenario::Offline { messages } => bench.offline(messages).await?,
        Scenario::OfflineRooms { rooms, per_room } => bench.offline_rooms(rooms, per_room).await?,
        Scenario::QuietRooms { rooms, connects } => bench.quiet_rooms(rooms, connects).await?,
        Scenario::Resume {
            rooms,
            per_room,
            streams,
        } => bench.resume(rooms, per_room, streams).await?,
        Scenario::MyRooms {
            rooms,
            per_room,
            lists,
        } => bench.my_rooms(rooms, per_room, lists).await?,
        Scenario::Typing {
            streams,
            typists,
            seconds,
        } => bench.typing(streams, typists, seconds).await?,
        Scenario::Webhooks {
            webhooks,
            rate,
            seconds,
            backlog,
        } => bench.webhooks(webhooks, rate, seconds, backlog).await?,
        Scenario::Ceiling {
            concurrency,
            seconds,
        } => bench.ceiling(concurrency, seconds).await?,
        Scenario::All => {
            bench.ceiling(64, 10).await?;
            bench.send(64, 8, 10).await?;
            bench.members(&[8, 64, 1000], 64, 8, 10).await?;
            bench.fanout(2000, 20, 10).await?;
            bench.fanout(2000, 50, 10).await?;
            bench.floor(2000, 20, 10).await?;
            bench.typing(2000, 20, 10).await?;
            bench.my_rooms(100, 150, 300).await?;
            bench.webhooks(10, 200, 10, 500).await?;
            // `send` again, the webhooks still there (on other rooms).
            let (label, run) = (bench.label.take(), bench.run.clone());
            bench.label = Some(match &label {
                Some(l) => format!("{l}, 10 webhooks on other rooms"),
                None => "10 webhooks on other rooms".to_owned(),
            });
            // New users and rooms for the second run.
            bench.run = format!("{run}w");
            bench.send(64, 8, 10).await?;
            (bench.label, bench.run) = (label, run);
            bench.history(1_000_000).await?;
            bench.offline(1000).await?;
            bench.offline_rooms(50, 20).await?;
            bench.quiet_rooms(1000, 20).await?;
            bench.resume(20, 1000, 10).await?;
            bench.idle(10_000).await?;
        }
        Scenario::Report { .. } => {}
    }
    if let Some(path) = cli.json {
        output::append_json(&path, &bench.rows)?;
    }
    Ok(())
}
