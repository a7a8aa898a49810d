//! Typed settings: a TOML file (`config/default.toml`, or `--config FILE`)
//! overridden by `CONFAB_*` environment variables, which always win.
//!
//! Every field has a default, so a settings file is optional; the one value
//! without a default is the JWT secret, which confab refuses to start without.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The default settings file, relative to the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "config/default.toml";

/// All of confab's settings.
#[derive(Debug, Clone, Deserialize, Default)]
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
}

/// The event stream.
#[derive(Debug, Clone, Deserialize)]
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
}

impl Default for SseSettings {
    fn default() -> Self {
        Self {
            stream_buffer: 1024,
            ping_secs: 15,
            retry_ms: 2000,
            resume_max: 1000,
        }
    }
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
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
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The Redis connection and key namespace.
#[derive(Debug, Clone, Deserialize)]
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
}

/// Passwords, tokens and sessions.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key for access tokens. Required; prefer `CONFAB_JWT_SECRET` to
    /// writing it in a file.
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of an access token and of the session behind it, in seconds.
    pub token_ttl_secs: u64,
    /// Lifetime of an SSE ticket, in seconds.
    pub ticket_ttl_secs: u64,
    /// Key for `POST /api/v1/admin/notifications` (`X-Admin-Key`); without
    /// one the endpoint answers 404. Prefer `CONFAB_ADMIN_KEY`.
    pub admin_key: Option<SecretString>,
}

/// Caps on what clients can store.
#[derive(Debug, Clone, Deserialize)]
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
    /// Login attempts on one username per minute, sustained (slows password
    /// guessing from many addresses).
    pub login_per_username_per_min: u32,
    /// Login attempts on one username in a burst.
    pub login_per_username_burst: u32,
    /// SSE tickets per user per minute, sustained.
    pub tickets_per_min: u32,
    /// SSE tickets per user in a burst.
    pub tickets_burst: u32,
    /// Events kept in a user's offline queue; the oldest are dropped first.
    pub offline_queue_max_len: u64,
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
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            cors_origins: Vec::new(),
            max_body_bytes: 64 * 1024,
            workers: 0,
            log_format: LogFormat::Text,
        }
    }
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "confab:".into(),
            timeout_ms: 2000,
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
            login_per_username_per_min: 60,
            login_per_username_burst: 100,
            tickets_per_min: 120,
            tickets_burst: 60,
            offline_queue_max_len: 1000,
            max_streams_per_user: 10,
            max_rooms_per_user: 1000,
            max_streams_per_instance: 50_000,
            room_history_max_age_secs: 0,
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
            .finish()
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

impl Settings {
    /// Reads `file` (or [`DEFAULT_CONFIG_FILE`] when it exists), applies the
    /// environment and checks the result.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let path: Option<PathBuf> = match file {
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        let mut settings = match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("Failed to read settings file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("Failed to parse settings file {}", path.display()))?
            }
            None => Settings::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        settings.validate()?;
        Ok(settings)
    }

    /// Overrides settings from `CONFAB_*` variables, read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn num<T: std::str::FromStr>(name: &str, value: String) -> anyhow::Result<T> {
            value
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{name} must be a number, got {value:?}"))
        }
        if let Some(v) = var("CONFAB_BIND") {
            self.server.bind = v;
        }
        if let Some(v) = var("CONFAB_CORS_ORIGINS") {
            self.server.cors_origins = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = var("CONFAB_LOG_FORMAT") {
            self.server.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                _ => bail!("CONFAB_LOG_FORMAT must be `text` or `json`, got {v:?}"),
            };
        }
        if let Some(v) = var("CONFAB_REDIS_URL") {
            self.redis.url = v;
        }
        if let Some(v) = var("CONFAB_KEY_PREFIX") {
            self.redis.key_prefix = v;
        }
        if let Some(v) = var("CONFAB_JWT_SECRET") {
            self.auth.jwt_secret = Some(SecretString::from(v));
        }
        if let Some(v) = var("CONFAB_ADMIN_KEY").filter(|v| !v.is_empty()) {
            self.auth.admin_key = Some(SecretString::from(v));
        }
        if let Some(v) = var("CONFAB_TICKET_TTL_SECS") {
            self.auth.ticket_ttl_secs = num("CONFAB_TICKET_TTL_SECS", v)?;
        }
        if let Some(v) = var("CONFAB_MAX_STREAMS_PER_USER") {
            self.limits.max_streams_per_user = num("CONFAB_MAX_STREAMS_PER_USER", v)?;
        }
        if let Some(v) = var("CONFAB_TOKEN_TTL_SECS") {
            self.auth.token_ttl_secs = num("CONFAB_TOKEN_TTL_SECS", v)?;
        }
        if let Some(v) = var("CONFAB_ROOM_HISTORY_MAX_LEN") {
            self.limits.room_history_max_len = num("CONFAB_ROOM_HISTORY_MAX_LEN", v)?;
        }
        if let Some(v) = var("CONFAB_SEND_RATE_PER_SEC") {
            self.limits.send_rate_per_sec = num("CONFAB_SEND_RATE_PER_SEC", v)?;
        }
        if let Some(v) = var("CONFAB_SEND_BURST") {
            self.limits.send_burst = num("CONFAB_SEND_BURST", v)?;
        }
        if let Some(v) = var("CONFAB_DIRECT_HISTORY_MAX_LEN") {
            self.limits.direct_history_max_len = num("CONFAB_DIRECT_HISTORY_MAX_LEN", v)?;
        }
        Ok(())
    }

    /// Refuses settings confab cannot run with, saying why.
    pub fn validate(&self) -> anyhow::Result<()> {
        match &self.auth.jwt_secret {
            None => bail!(
                "no JWT secret configured: set CONFAB_JWT_SECRET (at least 16 characters) \
                 to the key that signs access tokens"
            ),
            Some(s) if s.expose_secret().len() < 16 => {
                bail!("CONFAB_JWT_SECRET is too short: use at least 16 characters")
            }
            Some(_) => {}
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
            || self.limits.max_streams_per_user == 0
        {
            bail!(
                "sse.stream_buffer, sse.ping_secs and limits.max_streams_per_user must be positive"
            );
        }
        if self.redis.timeout_ms == 0 {
            bail!("redis.timeout_ms must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_file_parses_and_matches_the_defaults() {
        let text = include_str!("../config/default.toml");
        let parsed: Settings = toml::from_str(text).expect("config/default.toml parses");
        let defaults = Settings::default();
        assert_eq!(parsed.server.bind, defaults.server.bind);
        assert_eq!(parsed.redis.url, defaults.redis.url);
        assert_eq!(parsed.redis.key_prefix, defaults.redis.key_prefix);
        assert_eq!(parsed.auth.token_ttl_secs, defaults.auth.token_ttl_secs);
        assert_eq!(
            parsed.limits.room_history_max_len,
            defaults.limits.room_history_max_len
        );
    }

    #[test]
    fn environment_variables_win_over_the_file() {
        let mut s = Settings::default();
        s.apply_env(|name| match name {
            "CONFAB_BIND" => Some("0.0.0.0:9000".into()),
            "CONFAB_KEY_PREFIX" => Some("x:".into()),
            "CONFAB_JWT_SECRET" => Some("0123456789abcdef".into()),
            "CONFAB_CORS_ORIGINS" => Some("https://a.example, https://b.example".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        assert_eq!(s.redis.key_prefix, "x:");
        assert_eq!(s.server.cors_origins.len(), 2);
        s.validate().unwrap();
    }

    #[test]
    fn a_missing_secret_is_refused_with_a_reason() {
        let err = Settings::default().validate().unwrap_err().to_string();
        assert!(err.contains("CONFAB_JWT_SECRET"), "{err}");
    }

    #[test]
    fn a_bad_number_in_the_environment_is_refused() {
        let mut s = Settings::default();
        let err = s
            .apply_env(|n| (n == "CONFAB_TOKEN_TTL_SECS").then(|| "soon".into()))
            .unwrap_err();
        assert!(err.to_string().contains("CONFAB_TOKEN_TTL_SECS"));
    }
}
