//! Typed settings, in three layers, each overriding the one before:
//!
//! 1. the built-in defaults: the `Default` impls below, the one place
//!    defaults are written;
//! 2. a TOML settings file: `config/default.toml` when it exists in the working
//!    directory, or `--config FILE`;
//! 3. the environment: `CONFAB_SECTION__FIELD` for every setting (e.g.
//!    `CONFAB_LIMITS__SEND_BURST=5`), plus the short names in [`ENV_ALIASES`]
//!    (e.g. `CONFAB_BIND`), which always win.
//!
//! Layers are merged with [`figment`]. The one setting confab refuses to start
//! without is the JWT secret; [`Settings::validate`] says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Shortest JWT secret accepted: HS256 wants a key as long as its hash
/// output (RFC 7518 §3.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Shortest admin key accepted.
pub const MIN_ADMIN_KEY_BYTES: usize = 16;

/// The default settings file, relative to the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "config/default.toml";

/// All of confab's settings.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The HTTP server.
    pub server: ServerSettings,
    /// The Redis connection and key namespace.
    pub redis: RedisSettings,
    /// Passwords, tokens and sessions.
    pub auth: AuthSettings,
    /// Caps on what clients can store.
    pub limits: LimitSettings,
    /// The event stream.
    pub sse: SseSettings,
    /// Outgoing webhooks.
    pub webhooks: WebhookSettings,
}

/// Outgoing webhooks: delivery of room messages to HTTP receivers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Deliver to URLs that resolve to loopback, private, link-local or
    /// other internal addresses (refused by default: a webhook must not
    /// reach inside the network confab runs in). For tests, or receivers
    /// inside a trusted network.
    pub allow_private_addresses: bool,
    /// Webhooks one room may have; one more is 429 `too_many_webhooks`.
    pub max_per_room: u32,
    /// Webhooks one user may add per minute (a burst of as many); more get
    /// 429 `rate_limited`.
    pub creates_per_min: u32,
    /// Longest a delivery may take, connecting included (a slower receiver
    /// counts as failed and is retried).
    pub timeout_ms: u64,
    /// Longest connecting to a receiver may take.
    pub connect_timeout_ms: u64,
    /// Longest wait between two attempts of one delivery (the wait starts at
    /// about a second and doubles up to this).
    pub max_backoff_secs: u64,
    /// A message not delivered this long after it was sent is given up
    /// (counted in `failed`).
    pub give_up_after_secs: u64,
    /// An instance holds a webhook's deliveries under a lease of this many
    /// milliseconds, renewed while it works; when an instance stops, another
    /// takes the webhook over once the lease has lapsed, claiming what the
    /// stopped one held (`XAUTOCLAIM`) once it has been idle this long.
    pub takeover_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            max_per_room: 10,
            creates_per_min: 10,
            timeout_ms: 10_000,
            connect_timeout_ms: 5_000,
            max_backoff_secs: 600,
            give_up_after_secs: 86_400,
            takeover_ms: 30_000,
        }
    }
}

/// The event stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SseSettings {
    /// Events a stream may have waiting to be written before its client
    /// counts as too slow and the stream is closed (it then resumes).
    pub stream_buffer: usize,
    /// Seconds between `: ping` comments.
    pub ping_secs: u64,
    /// The `retry:` the stream advises, in milliseconds.
    pub retry_ms: u64,
    /// Most messages a resume (`Last-Event-ID`) replays; beyond that the
    /// stream says `resumed: false` and the client backfills from history.
    pub resume_max: usize,
    /// A connection whose client leaves what was sent unacknowledged (or
    /// its receive window shut) this long is cut by the kernel
    /// (`TCP_USER_TIMEOUT`), and its stream ends with it (the client resumes
    /// with `Last-Event-ID`).
    pub write_timeout_ms: u64,
}

impl Default for SseSettings {
    fn default() -> Self {
        Self {
            stream_buffer: 1024,
            ping_secs: 15,
            retry_ms: 2000,
            resume_max: 1000,
            write_timeout_ms: 10_000,
        }
    }
}

/// The HTTP server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free port (tests do this).
    pub bind: String,
    /// Origins allowed to call the API from a browser (CORS). `["*"]` allows
    /// any origin; empty allows none beyond the server's own.
    pub cors_origins: Vec<String>,
    /// Largest accepted request body in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// `text` (human-readable) or `json` log lines.
    pub log_format: LogFormat,
    /// Milliseconds a request body may take to arrive, counted from the end
    /// of its headers. A body still incomplete then is answered 408
    /// `request_timeout` and its connection closed, so a client sending a
    /// byte a second cannot hold a socket for long. (Headers have their own
    /// 5 s deadline.)
    pub body_timeout_ms: u64,
    /// Client connections this instance serves at once, all addresses
    /// together. Requests on connections beyond it get 503 `unavailable`
    /// and the connection is closed, except health checks. Each connection
    /// holds a file descriptor: confab serves at most 3/4 of its open-file
    /// limit, lowering this (and saying so at start-up) when the limit is
    /// lower.
    pub max_connections: usize,
    /// Client connections one address (an IPv4 address, or an IPv6 /64)
    /// may hold at once; 0 for no cap. Behind a reverse proxy every client
    /// has the proxy's address: set 0 there and cap per client at the proxy.
    pub max_connections_per_address: usize,
    /// When set (`host:port`), `/metrics` (with `/healthz` and `/readyz`) is
    /// served on this separate address instead of the main one, where
    /// `/metrics` then answers 404. Empty: `/metrics` is on the main address.
    pub metrics_bind: String,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The Redis connection and key namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`.
    pub url: String,
    /// Prepended to every key, so several deployments (or test runs) can
    /// share one Redis without seeing each other.
    pub key_prefix: String,
    /// Upper bound on one Redis call, connection attempts included. A request
    /// that needs Redis answers 503 after at most this long when Redis is down.
    pub timeout_ms: u64,
    /// Seed nodes (`host:port`) of a Redis Cluster; when set, confab uses the
    /// cluster and `url` is not used.
    pub cluster_nodes: Vec<String>,
    /// When a send is acknowledged (201): once Redis has `written` it, or
    /// once at least one replica has it too (`replicated`: `WAIT 1`), so a
    /// failover to that replica cannot lose it.
    pub acknowledge: Acknowledge,
    /// With `replicated`: how long a send waits for a replica before it
    /// answers 503 (the client retries with its `client_id`). At most
    /// `timeout_ms`.
    pub replication_timeout_ms: u64,
}

impl RedisSettings {
    /// Where confab's Redis is, for logs: the URL without its password, or
    /// the cluster's seed nodes.
    pub fn target(&self) -> String {
        if !self.cluster_nodes.is_empty() {
            return format!("cluster {}", self.cluster_nodes.join(","));
        }
        match self.url.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((credentials, host)) => {
                    let user = credentials.split(':').next().unwrap_or_default();
                    format!("{scheme}://{user}:***@{host}")
                }
                None => self.url.clone(),
            },
            None => self.url.clone(),
        }
    }
}

/// When a send is acknowledged.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Acknowledge {
    /// Once the primary has stored it.
    Written,
    /// Once a replica has it too.
    Replicated,
}

/// Passwords, tokens and sessions.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key for access tokens, at least 32 bytes (the HS256 key size,
    /// RFC 7518 §3.2). Required; prefer `CONFAB_JWT_SECRET` to writing it
    /// in a file.
    #[serde(serialize_with = "redacted")]
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of an access token and of the session behind it, in seconds.
    pub token_ttl_secs: u64,
    /// Lifetime of an SSE ticket, in seconds.
    pub ticket_ttl_secs: u64,
    /// Key for `POST /api/v1/admin/notifications` (`X-Admin-Key`), at least
    /// 16 bytes; without one the endpoint answers 404. Prefer
    /// `CONFAB_ADMIN_KEY`. An empty key counts as none.
    #[serde(serialize_with = "redacted", deserialize_with = "empty_is_none")]
    pub admin_key: Option<SecretString>,
    /// Threads that hash and check passwords (Argon2id, 19 MiB each); 0
    /// means one per core. Hashing never uses more memory or cores than
    /// these threads.
    pub hash_workers: usize,
    /// Password hashes that may wait for a worker in each of the two
    /// queues (existing accounts' logins; registrations and unknown
    /// usernames); more are answered 503 `unavailable` at once. At least 1.
    pub hash_queue: usize,
}

/// Caps on what clients can store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Messages kept per room stream (approximate `MAXLEN ~`); older ones are
    /// trimmed from history.
    pub room_history_max_len: u64,
    /// Messages kept per direct conversation (`LTRIM`).
    pub direct_history_max_len: u64,
    /// How long a `client_id` makes a send idempotent, in seconds.
    pub idempotency_ttl_secs: u64,
    /// Messages (room and direct together) one user may send per second,
    /// sustained; more get 429 `rate_limited`.
    pub send_rate_per_sec: u32,
    /// Messages one user may send in a burst before the rate applies.
    pub send_burst: u32,
    /// Registrations per client address per minute, sustained.
    pub register_per_ip_per_min: u32,
    /// Registrations per client address in a burst.
    pub register_per_ip_burst: u32,
    /// Login attempts per client address per minute, sustained.
    pub login_per_ip_per_min: u32,
    /// Login attempts per client address in a burst.
    pub login_per_ip_burst: u32,
    /// Failed logins on one username from one client address per minute,
    /// sustained; beyond, that address gets 429 on that username (before
    /// its password is checked), other addresses do not.
    pub login_failures_per_address_per_min: u32,
    /// Failed logins on one username from one client address in a burst.
    pub login_failures_per_address_burst: u32,
    /// Failed logins on one username from all addresses together per
    /// minute, sustained; beyond, addresses that have failed on it get 429
    /// on it, while addresses without failures there still get in.
    pub login_failures_per_username_per_min: u32,
    /// Failed logins on one username from all addresses in a burst.
    pub login_failures_per_username_burst: u32,
    /// Wrong admin keys per client address per minute, sustained; beyond,
    /// every admin request from the address gets 429 `rate_limited`, right
    /// key or not.
    pub admin_key_failures_per_min: u32,
    /// Wrong admin keys per client address in a burst.
    pub admin_key_failures_burst: u32,
    /// SSE tickets per user per minute, sustained.
    pub tickets_per_min: u32,
    /// SSE tickets per user in a burst.
    pub tickets_burst: u32,
    /// Events kept in a user's offline queue; the oldest are dropped first.
    pub offline_queue_max_len: u64,
    /// Operator notifications kept for a user without an open stream, apart
    /// from messages (which cannot push them out); the oldest are dropped
    /// first.
    pub offline_notifications_max_len: u64,
    /// Streams one user may hold open at once (all instances together).
    pub max_streams_per_user: u32,
    /// Rooms one user may belong to; joining or creating one more is 429
    /// `too_many_rooms`.
    pub max_rooms_per_user: u32,
    /// Streams one instance holds at most; more get 503 so clients (or the
    /// load balancer) go elsewhere.
    pub max_streams_per_instance: usize,
    /// Room messages older than this many seconds are trimmed from history
    /// (on the next send to the room); 0 keeps them until `room_history_max_len`.
    pub room_history_max_age_secs: u64,
    /// Edits and deletes kept per room and per conversation for streams
    /// that resume or come back (approximate for rooms); a stream further
    /// behind than that does not resume (`resumed: false`) and backfills.
    pub changes_max_len: u64,
    /// How long after sending its sender may edit or delete a message, in
    /// seconds (the API promises 24 hours; shorter only for tests).
    pub edit_window_secs: u64,
    /// Typing notices one user may send per minute (a burst of as many);
    /// beyond, 429 `rate_limited` and nothing is forwarded.
    pub typing_per_min: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            cors_origins: Vec::new(),
            max_body_bytes: 64 * 1024,
            workers: 0,
            log_format: LogFormat::Text,
            body_timeout_ms: 10_000,
            max_connections: 50_000,
            max_connections_per_address: 1024,
            metrics_bind: String::new(),
        }
    }
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "confab:".into(),
            timeout_ms: 2000,
            cluster_nodes: Vec::new(),
            acknowledge: Acknowledge::Written,
            replication_timeout_ms: 1000,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            token_ttl_secs: 24 * 3600,
            ticket_ttl_secs: 60,
            admin_key: None,
            hash_workers: 0,
            hash_queue: 32,
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            room_history_max_len: 100_000,
            direct_history_max_len: 10_000,
            idempotency_ttl_secs: 24 * 3600,
            send_rate_per_sec: 20,
            send_burst: 1000,
            register_per_ip_per_min: 3000,
            register_per_ip_burst: 10_000,
            login_per_ip_per_min: 3000,
            login_per_ip_burst: 10_000,
            login_failures_per_address_per_min: 5,
            login_failures_per_address_burst: 10,
            login_failures_per_username_per_min: 60,
            login_failures_per_username_burst: 100,
            admin_key_failures_per_min: 5,
            admin_key_failures_burst: 10,
            tickets_per_min: 120,
            tickets_burst: 60,
            offline_queue_max_len: 1000,
            offline_notifications_max_len: 100,
            max_streams_per_user: 10,
            max_rooms_per_user: 1000,
            max_streams_per_instance: 50_000,
            room_history_max_age_secs: 0,
            changes_max_len: 10_000,
            edit_window_secs: 86_400,
            typing_per_min: 30,
        }
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("ticket_ttl_secs", &self.ticket_ttl_secs)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "[redacted]"))
            .field("hash_workers", &self.hash_workers)
            .field("hash_queue", &self.hash_queue)
            .finish()
    }
}

impl ServerSettings {
    /// [`ServerSettings::body_timeout_ms`] as a duration.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }
}

impl RedisSettings {
    /// [`RedisSettings::timeout_ms`] as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

impl AuthSettings {
    /// The JWT secret; [`Settings::validate`] has checked it is there.
    pub fn secret_bytes(&self) -> &[u8] {
        self.jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes())
            .unwrap_or_default()
    }
}

/// Short environment variable names, kept because they are documented
/// (`CONFAB_SECTION__FIELD` works for every setting, these included). When
/// both spellings are set, the `CONFAB_SECTION__FIELD` one wins.
pub const ENV_ALIASES: &[(&str, &str)] = &[
    ("CONFAB_BIND", "server.bind"),
    ("CONFAB_CORS_ORIGINS", "server.cors_origins"),
    ("CONFAB_LOG_FORMAT", "server.log_format"),
    ("CONFAB_REDIS_URL", "redis.url"),
    ("CONFAB_REDIS_CLUSTER_NODES", "redis.cluster_nodes"),
    ("CONFAB_KEY_PREFIX", "redis.key_prefix"),
    ("CONFAB_JWT_SECRET", "auth.jwt_secret"),
    ("CONFAB_TOKEN_TTL_SECS", "auth.token_ttl_secs"),
    ("CONFAB_TICKET_TTL_SECS", "auth.ticket_ttl_secs"),
    ("CONFAB_ADMIN_KEY", "auth.admin_key"),
    ("CONFAB_ROOM_HISTORY_MAX_LEN", "limits.room_history_max_len"),
    (
        "CONFAB_DIRECT_HISTORY_MAX_LEN",
        "limits.direct_history_max_len",
    ),
    ("CONFAB_SEND_RATE_PER_SEC", "limits.send_rate_per_sec"),
    ("CONFAB_SEND_BURST", "limits.send_burst"),
    ("CONFAB_MAX_STREAMS_PER_USER", "limits.max_streams_per_user"),
];

/// Every environment variable confab reads starts with this.
const ENV_PREFIX: &str = "CONFAB_";

/// Separates the section from the field in `CONFAB_SECTION__FIELD`.
const ENV_SEPARATOR: &str = "__";

/// The name of the environment layer in figment's metadata.
const ENV_LAYER: &str = "environment";

/// The `CONFAB_SECTION__FIELD` name of a setting (`section.field`).
pub fn env_name(setting: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        setting.replace('.', ENV_SEPARATOR).to_ascii_uppercase()
    )
}

impl Settings {
    /// Reads `file` (or [`DEFAULT_CONFIG_FILE`] when it exists), applies the
    /// environment and checks the result.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let file: Option<PathBuf> = match file {
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        let env = std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        });
        Self::from_sources(file.as_deref(), env)
    }

    /// The defaults, then `file` (when given), then the `CONFAB_*` variables
    /// among `env`, checked with [`Settings::validate`]. [`Settings::load`]
    /// with the environment passed in, for tests.
    pub fn from_sources(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let settings: Settings = figment
            .merge(Environment::new(env))
            .extract()
            .map_err(explain)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses settings confab cannot run with, saying why.
    pub fn validate(&self) -> anyhow::Result<()> {
        match &self.auth.jwt_secret {
            None => bail!(
                "no JWT secret configured: set CONFAB_JWT_SECRET to the key that signs \
                 access tokens, at least {MIN_JWT_SECRET_BYTES} random bytes \
                 (e.g. `openssl rand -base64 48`)"
            ),
            Some(s) if s.expose_secret().len() < MIN_JWT_SECRET_BYTES => bail!(
                "CONFAB_JWT_SECRET is too short: HS256 needs a key of at least \
                 {MIN_JWT_SECRET_BYTES} bytes (RFC 7518 §3.2); generate one with \
                 `openssl rand -base64 48`"
            ),
            Some(_) => {}
        }
        if let Some(key) = &self.auth.admin_key
            && key.expose_secret().len() < MIN_ADMIN_KEY_BYTES
        {
            bail!(
                "CONFAB_ADMIN_KEY is too short: use at least {MIN_ADMIN_KEY_BYTES} bytes \
                 (e.g. `openssl rand -base64 24`), or leave it unset to disable the admin endpoint"
            );
        }
        if self.auth.token_ttl_secs == 0 || self.auth.ticket_ttl_secs == 0 {
            bail!("auth.token_ttl_secs and auth.ticket_ttl_secs must be positive");
        }
        if self.limits.room_history_max_len == 0 || self.limits.direct_history_max_len == 0 {
            bail!("limits.*_history_max_len must be positive");
        }
        if self.limits.send_rate_per_sec == 0 || self.limits.send_burst == 0 {
            bail!("limits.send_rate_per_sec and limits.send_burst must be positive");
        }
        if self.sse.stream_buffer == 0
            || self.sse.ping_secs == 0
            || self.sse.write_timeout_ms == 0
            || self.limits.max_streams_per_user == 0
        {
            bail!(
                "sse.stream_buffer, sse.ping_secs, sse.write_timeout_ms and \
                 limits.max_streams_per_user must be positive"
            );
        }
        if self.webhooks.timeout_ms == 0
            || self.webhooks.connect_timeout_ms == 0
            || self.webhooks.takeover_ms < self.webhooks.timeout_ms
        {
            bail!(
                "webhooks.timeout_ms and webhooks.connect_timeout_ms must be positive, and \
                 webhooks.takeover_ms at least webhooks.timeout_ms (a lease must outlast a delivery)"
            );
        }
        if self.auth.hash_queue == 0 {
            bail!("auth.hash_queue must be positive");
        }
        if self.redis.timeout_ms == 0 {
            bail!("redis.timeout_ms must be positive");
        }
        if self.server.body_timeout_ms == 0 || self.server.max_connections == 0 {
            bail!("server.body_timeout_ms and server.max_connections must be positive");
        }
        if self.redis.replication_timeout_ms == 0
            || self.redis.replication_timeout_ms > self.redis.timeout_ms
        {
            bail!("redis.replication_timeout_ms must be positive and at most redis.timeout_ms");
        }
        Ok(())
    }
}

/// The environment layer: `CONFAB_SECTION__FIELD` and the [`ENV_ALIASES`].
///
/// Each value is read as the type of the setting's default, so a number-like
/// `CONFAB_KEY_PREFIX` stays a string and a list is written comma separated;
/// an empty value for a setting without a default counts as not set. Other
/// `CONFAB_*` names without `__` are not settings and are left alone;
/// `CONFAB_SECTION__FIELD` names that match no setting are refused.
struct Environment {
    /// (setting, variable, value), in the order they apply: aliases first.
    vars: Vec<(String, String, String)>,
    /// Which variable gave each setting its value, for error messages.
    names: Arc<BTreeMap<String, String>>,
}

impl Environment {
    fn new(env: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut aliased = Vec::new();
        let mut long = Vec::new();
        for (name, value) in env {
            if let Some((_, setting)) = ENV_ALIASES.iter().find(|(alias, _)| *alias == name) {
                aliased.push((setting.to_string(), name, value));
            } else if let Some(rest) = name.strip_prefix(ENV_PREFIX)
                && rest.contains(ENV_SEPARATOR)
            {
                let setting = rest.to_ascii_lowercase().replace(ENV_SEPARATOR, ".");
                long.push((setting, name, value));
            }
        }
        // Sorted so that which variable names a setting does not depend on
        // the order the environment lists them in.
        aliased.sort();
        long.sort();
        let vars: Vec<_> = aliased.into_iter().chain(long).collect();
        let names = vars
            .iter()
            .map(|(setting, name, _)| (setting.clone(), name.clone()))
            .collect();
        Self {
            vars,
            names: Arc::new(names),
        }
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        let names = Arc::clone(&self.names);
        Metadata::named(ENV_LAYER).interpolater(move |_: &Profile, keys: &[&str]| {
            let setting = keys.join(".");
            match names.get(&setting) {
                Some(name) => format!("{name} ({setting})"),
                None => setting,
            }
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let defaults = Value::serialize(Settings::default())?;
        let mut dict = Dict::new();
        for (setting, name, raw) in &self.vars {
            let Some(default) = defaults
                .find_ref(setting)
                .filter(|v| !matches!(v, Value::Dict(..)))
            else {
                return Err(format!("{name} is not a setting (there is no `{setting}`)").into());
            };
            let value = match default {
                Value::Empty(..) if raw.is_empty() => continue,
                Value::Array(..) => Value::from(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect::<Vec<_>>(),
                ),
                Value::Num(..) => match Value::from(raw.trim()).to_num_lossy() {
                    Some(n) => Value::Num(Tag::Default, n),
                    None => Value::from(raw.as_str()),
                },
                Value::Bool(..) => match Value::from(raw.trim()).to_bool_lossy() {
                    Some(b) => Value::Bool(Tag::Default, b),
                    None => Value::from(raw.as_str()),
                },
                _ => Value::from(raw.as_str()),
            };
            insert(&mut dict, setting, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Puts `value` at the dotted `path` in `dict`, making sections as needed.
fn insert(dict: &mut Dict, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            dict.insert(path.to_owned(), value);
        }
        Some((section, rest)) => {
            let entry = dict
                .entry(section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// Turns figment's errors into one start-up error naming each bad setting
/// (for the environment, the variable too) and where its value came from.
fn explain(err: figment::Error) -> anyhow::Error {
    let reasons: Vec<String> = err
        .into_iter()
        .map(|e| {
            let env = e.metadata.as_ref().filter(|md| md.name == ENV_LAYER);
            let mut reason = match (env, &e.profile) {
                _ if e.path.is_empty() => String::new(),
                (Some(md), Some(profile)) => format!("{}: ", md.interpolate(profile, &e.path)),
                _ => format!("{}: ", e.path.join(".")),
            };
            reason += e.kind.to_string().trim_end();
            match e.metadata.as_ref().filter(|md| md.name != ENV_LAYER) {
                Some(md) => match &md.source {
                    Some(source) => reason += &format!(" (in {} {source})", md.name),
                    None => reason += &format!(" (in {})", md.name),
                },
                None if env.is_some() => reason += &format!(" (in the {ENV_LAYER})"),
                None => {}
            }
            reason
        })
        .collect();
    anyhow::anyhow!("Failed to load settings: {}", reasons.join("; "))
}

/// Serialises a secret as `"[redacted]"`, never its value.
fn redacted<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_some("[redacted]"),
        None => s.serialize_none(),
    }
}

/// An empty secret counts as none.
fn empty_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let secret = Option::<SecretString>::deserialize(d)?;
    Ok(secret.filter(|s| !s.expose_secret().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: (&str, &str) = ("CONFAB_JWT_SECRET", "0123456789abcdef0123456789abcdef");

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A settings file that is removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(text: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("confab-{}.toml", uuid::Uuid::new_v4().simple()));
            std::fs::write(&path, text).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// `section.field` -> value, for every setting in `value`.
    fn leaves(value: &Value) -> BTreeMap<String, Value> {
        fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
            match value {
                Value::Dict(_, dict) => {
                    for (k, v) in dict {
                        let path = match prefix {
                            "" => k.clone(),
                            _ => format!("{prefix}.{k}"),
                        };
                        walk(&path, v, out);
                    }
                }
                _ => {
                    out.insert(prefix.to_owned(), value.clone());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk("", value, &mut out);
        out
    }

    /// Every setting with its value, as the docs write it.
    fn rendered(settings: &Settings) -> BTreeMap<String, String> {
        let value = Value::serialize(settings).unwrap();
        leaves(&value)
            .into_iter()
            .map(|(k, v)| (k, render(&v)))
            .collect()
    }

    /// A value as the README writes it (without backticks); `none` for no value.
    fn render(value: &Value) -> String {
        match value {
            Value::String(_, s) => s.clone(),
            Value::Bool(_, b) => b.to_string(),
            Value::Num(..) => value
                .to_u128()
                .map(|n| n.to_string())
                .or_else(|| value.to_i128().map(|n| n.to_string()))
                .or_else(|| value.to_f64().map(|n| n.to_string()))
                .unwrap(),
            Value::Empty(..) => "none".into(),
            Value::Array(_, items) => {
                let items: Vec<String> = items.iter().map(|i| format!("{:?}", render(i))).collect();
                format!("[{}]", items.join(", "))
            }
            other => panic!("a setting cannot be {other:?}"),
        }
    }

    #[test]
    fn without_file_or_environment_the_defaults_apply() {
        let s = Settings::from_sources(None, env(&[SECRET])).unwrap();
        let mut expected = rendered(&Settings::default());
        expected.insert("auth.jwt_secret".into(), "[redacted]".into());
        assert_eq!(rendered(&s), expected);
    }

    #[test]
    fn environment_variables_win_over_the_file() {
        let file = TempFile::new(
            "[server]\nbind = \"0.0.0.0:1\"\nworkers = 3\n\
             [redis]\nkey_prefix = \"file:\"\n\
             [limits]\nsend_burst = 7\n",
        );
        let s = Settings::from_sources(
            Some(&file.0),
            env(&[
                SECRET,
                ("CONFAB_BIND", "0.0.0.0:9000"),
                ("CONFAB_LIMITS__SEND_BURST", "5"),
                (
                    "CONFAB_CORS_ORIGINS",
                    "https://a.example, https://b.example",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        assert_eq!(s.server.workers, 3);
        assert_eq!(s.redis.key_prefix, "file:");
        assert_eq!(s.limits.send_burst, 5);
        assert_eq!(
            s.server.cors_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn every_setting_can_be_set_by_its_long_name() {
        let defaults = leaves(&Value::serialize(Settings::default()).unwrap());
        let mut vars = Vec::new();
        let mut expected = BTreeMap::new();
        for (setting, default) in &defaults {
            let (raw, want) = match default {
                Value::Num(..) => ("7".to_string(), "7".to_string()),
                Value::Bool(..) => ("true".to_string(), "true".to_string()),
                Value::Array(..) => ("a, b".into(), r#"["a", "b"]"#.into()),
                Value::Empty(..) => (
                    "secret-secret-secret-secret-secret".into(),
                    "[redacted]".into(),
                ),
                _ if setting == "server.log_format" => ("json".into(), "json".into()),
                _ if setting == "redis.acknowledge" => ("replicated".into(), "replicated".into()),
                _ => (format!("x-{setting}"), format!("x-{setting}")),
            };
            vars.push((env_name(setting), raw));
            expected.insert(setting.clone(), want);
        }
        let s = Settings::from_sources(None, vars).unwrap();
        assert_eq!(rendered(&s), expected);
    }

    #[test]
    fn the_short_names_still_work() {
        let s = Settings::from_sources(
            None,
            env(&[
                ("CONFAB_BIND", "0.0.0.0:9000"),
                ("CONFAB_REDIS_URL", "redis://r:1"),
                ("CONFAB_KEY_PREFIX", "x:"),
                ("CONFAB_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
                ("CONFAB_ADMIN_KEY", "admin-key-for-tests"),
                ("CONFAB_CORS_ORIGINS", "*"),
                ("CONFAB_LOG_FORMAT", "json"),
                ("CONFAB_TICKET_TTL_SECS", "61"),
                ("CONFAB_MAX_STREAMS_PER_USER", "62"),
                ("CONFAB_TOKEN_TTL_SECS", " 63 "),
                ("CONFAB_ROOM_HISTORY_MAX_LEN", "64"),
                ("CONFAB_SEND_RATE_PER_SEC", "65"),
                ("CONFAB_SEND_BURST", "66"),
                ("CONFAB_DIRECT_HISTORY_MAX_LEN", "67"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        assert_eq!(s.redis.url, "redis://r:1");
        assert_eq!(s.redis.key_prefix, "x:");
        assert_eq!(s.auth.secret_bytes(), b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            s.auth.admin_key.as_ref().map(|k| k.expose_secret()),
            Some("admin-key-for-tests")
        );
        assert_eq!(s.server.cors_origins, ["*"]);
        assert_eq!(s.server.log_format, LogFormat::Json);
        assert_eq!(s.auth.ticket_ttl_secs, 61);
        assert_eq!(s.limits.max_streams_per_user, 62);
        assert_eq!(s.auth.token_ttl_secs, 63);
        assert_eq!(s.limits.room_history_max_len, 64);
        assert_eq!(s.limits.send_rate_per_sec, 65);
        assert_eq!(s.limits.send_burst, 66);
        assert_eq!(s.limits.direct_history_max_len, 67);
    }

    #[test]
    fn the_long_name_wins_over_the_short_one() {
        let vars = env(&[
            SECRET,
            ("CONFAB_SERVER__BIND", "0.0.0.0:2"),
            ("CONFAB_BIND", "0.0.0.0:1"),
        ]);
        let s = Settings::from_sources(None, vars).unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:2");
    }

    #[test]
    fn strings_and_lists_are_read_as_such() {
        let s = Settings::from_sources(
            None,
            env(&[
                SECRET,
                ("CONFAB_KEY_PREFIX", "123"),
                ("CONFAB_SERVER__CORS_ORIGINS", ""),
            ]),
        )
        .unwrap();
        assert_eq!(s.redis.key_prefix, "123");
        assert!(s.server.cors_origins.is_empty());
    }

    #[test]
    fn an_empty_admin_key_is_no_key() {
        let file = TempFile::new("[auth]\nadmin_key = \"from-file-from-file\"\n");
        let vars = env(&[SECRET, ("CONFAB_ADMIN_KEY", "")]);
        let s = Settings::from_sources(Some(&file.0), vars.clone()).unwrap();
        assert_eq!(
            s.auth.admin_key.as_ref().map(|k| k.expose_secret()),
            Some("from-file-from-file")
        );
        assert!(
            Settings::from_sources(None, vars)
                .unwrap()
                .auth
                .admin_key
                .is_none()
        );
        let file = TempFile::new("[auth]\nadmin_key = \"\"\n");
        let s = Settings::from_sources(Some(&file.0), env(&[SECRET])).unwrap();
        assert!(s.auth.admin_key.is_none());
    }

    #[test]
    fn the_redis_target_for_logs_hides_the_password() {
        let mut redis = RedisSettings {
            url: "redis://app:s3cret@db.internal:6380/2".into(),
            ..RedisSettings::default()
        };
        assert_eq!(redis.target(), "redis://app:***@db.internal:6380/2");
        redis.url = "redis://127.0.0.1:6379".into();
        assert_eq!(redis.target(), "redis://127.0.0.1:6379");
        redis.cluster_nodes = vec!["a:1".into(), "b:2".into()];
        assert_eq!(redis.target(), "cluster a:1,b:2");
    }

    #[test]
    fn short_secrets_and_admin_keys_are_refused_with_a_reason() {
        let short_secret = env(&[(
            "CONFAB_JWT_SECRET",
            "s".repeat(MIN_JWT_SECRET_BYTES - 1).as_str(),
        )]);
        let err = Settings::from_sources(None, short_secret)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 32 bytes"), "{err}");
        let short_key = env(&[
            SECRET,
            (
                "CONFAB_ADMIN_KEY",
                "k".repeat(MIN_ADMIN_KEY_BYTES - 1).as_str(),
            ),
        ]);
        let err = Settings::from_sources(None, short_key)
            .unwrap_err()
            .to_string();
        assert!(err.contains("CONFAB_ADMIN_KEY"), "{err}");
        let long_enough = env(&[
            (
                "CONFAB_JWT_SECRET",
                "s".repeat(MIN_JWT_SECRET_BYTES).as_str(),
            ),
            ("CONFAB_ADMIN_KEY", "k".repeat(MIN_ADMIN_KEY_BYTES).as_str()),
        ]);
        assert!(Settings::from_sources(None, long_enough).is_ok());
    }

    #[test]
    fn a_missing_secret_is_refused_with_a_reason() {
        let err = Settings::default().validate().unwrap_err().to_string();
        assert!(err.contains("CONFAB_JWT_SECRET"), "{err}");
        let err = Settings::from_sources(None, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CONFAB_JWT_SECRET"), "{err}");
    }

    #[test]
    fn a_bad_number_in_the_environment_is_refused() {
        for name in ["CONFAB_TOKEN_TTL_SECS", "CONFAB_AUTH__TOKEN_TTL_SECS"] {
            let err = Settings::from_sources(None, env(&[SECRET, (name, "soon")]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{err}");
            assert!(err.contains("auth.token_ttl_secs"), "{err}");
        }
        let err = Settings::from_sources(None, env(&[SECRET, ("CONFAB_SSE__PING_SECS", "-1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CONFAB_SSE__PING_SECS"), "{err}");
    }

    #[test]
    fn a_bad_log_format_is_refused() {
        let err = Settings::from_sources(None, env(&[SECRET, ("CONFAB_LOG_FORMAT", "xml")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CONFAB_LOG_FORMAT"), "{err}");
    }

    #[test]
    fn an_unknown_long_name_is_refused_and_other_names_are_ignored() {
        let err = Settings::from_sources(None, env(&[SECRET, ("CONFAB_LIMITS__SEND_BURTS", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CONFAB_LIMITS__SEND_BURTS"), "{err}");
        let vars = env(&[SECRET, ("CONFAB_BIN", "x"), ("OTHER__THING", "y")]);
        Settings::from_sources(None, vars).unwrap();
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let file = TempFile::new("[limits]\nsend_burts = 1\n");
        let err = Settings::from_sources(Some(&file.0), env(&[SECRET]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("send_burts"), "{err}");
        // figment names the file relative to the working directory when it
        // can, so look for its name.
        let name = file.0.file_name().unwrap().to_string_lossy();
        assert!(err.contains(name.as_ref()), "{err}");
    }

    #[test]
    fn a_bad_value_in_the_file_is_refused() {
        let file = TempFile::new("[sse]\nping_secs = \"often\"\n");
        let err = Settings::from_sources(Some(&file.0), env(&[SECRET]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sse.ping_secs"), "{err}");
    }

    #[test]
    fn a_missing_file_is_refused() {
        let path = std::env::temp_dir().join("confab-no-such-file.toml");
        assert!(Settings::from_sources(Some(&path), env(&[SECRET])).is_err());
    }

    #[test]
    fn secrets_are_never_shown() {
        let s = Settings::from_sources(
            None,
            env(&[SECRET, ("CONFAB_ADMIN_KEY", "admin-key-admin-key")]),
        )
        .unwrap();
        let shown = format!(
            "{s:?} {}",
            serde_json::to_string(&Value::serialize(&s).unwrap()).unwrap()
        );
        assert!(!shown.contains(SECRET.1), "{shown}");
        assert!(!shown.contains("admin-key-admin-key"), "{shown}");
    }

    /// `config/default.toml` and the README's table list exactly the settings
    /// the code has, with the code's defaults.
    #[test]
    fn the_default_file_and_the_readme_match_the_defaults() {
        let expected = rendered(&Settings::default());

        // config/default.toml: settings without a default are commented out.
        let text = include_str!("../config/default.toml");
        let parsed: Dict = Toml::from_str(text).expect("config/default.toml parses");
        let mut in_file: BTreeMap<String, String> = leaves(&Value::from(parsed))
            .into_iter()
            .map(|(k, v)| (k, render(&v)))
            .collect();
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
            } else if let Some((key, _)) = line.strip_prefix('#').and_then(|l| l.split_once('=')) {
                let key = key.trim();
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    let previous = in_file.insert(format!("{section}.{key}"), "none".into());
                    assert!(
                        previous.is_none(),
                        "{section}.{key} is set and commented out"
                    );
                }
            }
        }
        assert_eq!(in_file, expected, "config/default.toml");

        // README.md: one table in "## Configuration".
        let readme = include_str!("../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("README.md has a Configuration section");
        let mut in_readme = BTreeMap::new();
        for row in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let setting = cells[1].trim_matches('`').to_owned();
            let names: Vec<&str> = cells[2]
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with(ENV_PREFIX))
                .collect();
            let mut want = vec![env_name(&setting)];
            want.extend(
                ENV_ALIASES
                    .iter()
                    .filter(|(_, s)| *s == setting)
                    .map(|(alias, _)| alias.to_string()),
            );
            assert_eq!(names, want, "README: variables of {setting}");
            let default = cells[3].trim_matches('`').to_owned();
            assert!(
                in_readme.insert(setting.clone(), default).is_none(),
                "README lists {setting} twice"
            );
        }
        assert_eq!(in_readme, expected, "README.md");
    }
}
