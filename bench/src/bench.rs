//! The context every scenario runs in: where confab and its Redis are, the
//! key names confab uses there, a tag that keeps this run's users and rooms
//! apart from earlier runs', and the rows measured so far.

use confab::store::Keys;
use hdrhistogram::Histogram;

use crate::output::Row;
use crate::stats::{ms, now_ns};

pub struct Bench {
    /// One pooled client for every request of the run.
    pub http: reqwest::Client,
    /// confab's base URL, without a trailing `/`.
    pub url: String,
    /// The Redis confab uses (`--redis`).
    pub redis_url: String,
    /// confab's keys under its `--prefix` (for seeding history).
    pub keys: Keys,
    /// confab's process id, to read its memory (`idle`, `idle-max`,
    /// `resume`), CPU time (`fanout`, `webhooks`) and open-file limit
    /// (`idle-max`).
    pub server_pid: Option<u32>,
    /// Appended to every username and room name, so that a second run
    /// against the same server does not collide with the first.
    pub run: String,
    /// Every figure measured so far, in order.
    pub rows: Vec<Row>,
    /// Appended to every scenario name (`send [cluster]`), to tell runs
    /// against different deployments apart in one results file.
    pub label: Option<String>,
}

impl Bench {
    pub fn new(
        url: &str,
        redis_url: &str,
        prefix: &str,
        server_pid: Option<u32>,
    ) -> anyhow::Result<Self> {
        // Scenarios hold hundreds of connections at once; keep them pooled.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self {
            http,
            url: url.trim_end_matches('/').to_owned(),
            redis_url: redis_url.to_owned(),
            keys: Keys::new(prefix),
            server_pid,
            run: format!("{}", now_ns() % 1_000_000_000),
            rows: Vec::new(),
            label: None,
        })
    }

    /// Records a figure and prints it at once, so a long run shows progress.
    pub fn row(&mut self, scenario: &str, params: &str, metric: &str, value: f64, unit: &str) {
        let row = Row {
            scenario: match &self.label {
                Some(label) => format!("{scenario} [{label}]"),
                None => scenario.into(),
            },
            metric: metric.into(),
            value,
            unit: unit.into(),
            params: params.into(),
        };
        row.print();
        self.rows.push(row);
    }

    /// Records quantiles of a latency histogram (microseconds) in
    /// milliseconds, one row each, named `<metric> <quantile name>`.
    pub fn latency_rows(
        &mut self,
        scenario: &str,
        params: &str,
        metric: &str,
        h: &Histogram<u64>,
        quantiles: &[(&str, f64)],
    ) {
        for (name, q) in quantiles {
            self.row(
                scenario,
                params,
                &format!("{metric} {name}"),
                ms(h, *q),
                "ms",
            );
        }
    }
}
