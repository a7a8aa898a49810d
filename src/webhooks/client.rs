//! Posting deliveries: one HTTP client per instance (connections are kept
//! and reused per receiver), a connect timeout and a 10-second total
//! deadline, no redirects followed, at most a kilobyte of any answer read,
//! and only public addresses reached unless the server allows private ones
//! (see [`super::address`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;

use super::address::is_public;
use crate::config::WebhookSettings;

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else, said for `last_error`: a status, a timeout, a refused
    /// or unreachable address.
    Failed(String),
}

/// The most of an answer read (to say what went wrong); the rest is not.
const MAX_ANSWER_BYTES: usize = 1024;

/// Posts deliveries.
#[derive(Clone)]
pub struct Poster {
    /// Pooled connections, shared by every webhook of the instance.
    http: reqwest::Client,
    /// Whether private and loopback addresses may be reached.
    allow_private: bool,
}

impl Poster {
    /// The instance's poster, with the configured timeouts.
    pub fn new(settings: &WebhookSettings) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.timeout_ms))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("confab-webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private_addresses {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            http: builder.build()?,
            allow_private: settings.allow_private_addresses,
        })
    }

    /// Posts `body` (JSON) to `url` with `headers`, once.
    pub async fn post(&self, url: &Url, body: Vec<u8>, headers: &[(&str, String)]) -> Attempt {
        if !self.allow_private
            && let Some(ip) = literal_ip(url)
            && !is_public(ip)
        {
            return Attempt::Failed("refused: the URL names a private address".into());
        }
        let mut request = self
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Failed(describe(&e)),
        };
        let status = response.status();
        // Read a little of the answer (for the error) and drop the rest.
        let mut answer = Vec::new();
        while answer.len() < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                _ => break,
            }
        }
        if status.is_success() {
            return Attempt::Delivered;
        }
        answer.truncate(200);
        let text = String::from_utf8_lossy(&answer);
        let text: String = text.chars().filter(|c| !c.is_control()).collect();
        Attempt::Failed(format!("HTTP {}: {}", status.as_u16(), text.trim()))
    }
}

/// A short cause for `last_error`.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_connect() {
        return "could not connect".into();
    }
    if e.is_redirect() {
        return "redirects are not followed".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// The address a URL names directly, if its host is one.
fn literal_ip(url: &Url) -> Option<IpAddr> {
    // The URL parser has already normalised IPv4 forms (`2130706433`,
    // `0x7f.1`) to dotted quads; IPv6 hosts come in brackets.
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Resolves names to their public addresses only, so a name that resolves
/// (or is made to resolve) to an internal address is never connected to.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Why a URL cannot be a webhook's.
pub async fn check_url(text: &str, allow_private: bool) -> Result<Url, String> {
    if text.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let url = Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    let Some(host) = url.host_str() else {
        return Err("must name a host".into());
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if allow_private {
        return Ok(url);
    }
    if let Some(ip) = literal_ip(&url) {
        return if is_public(ip) {
            Ok(url)
        } else {
            Err("names a private, loopback or link-local address, which this server does not deliver to".into())
        };
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.to_owned();
    let unresolved = || format!("names a host that cannot be resolved ({host})");
    let lookup = tokio::net::lookup_host((host.as_str(), port));
    let found: Vec<SocketAddr> = tokio::time::timeout(Duration::from_secs(3), lookup)
        .await
        .map_err(|_| unresolved())?
        .map_err(|_| unresolved())?
        .collect();
    if found.is_empty() || found.iter().any(|a| !is_public(a.ip())) {
        return Err(format!(
            "names a host ({host}) that resolves to a private, loopback or link-local address, which this server does not deliver to"
        ));
    }
    Ok(url)
}

/// `Confab-Signature` for a delivery: `t=<unix seconds>,v1=<hex of
/// HMAC-SHA256("<t>.<body>") keyed by the secret>`.
pub fn signature(secret: &str, unix_secs: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(unix_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_secs},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_time_and_body() {
        // Computed independently: printf '1700000000.{"a":1}' |
        //   openssl dgst -sha256 -hmac whsec_test
        let sig = signature("whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert!(sig.starts_with("t=1700000000,v1="), "{sig}");
        assert_eq!(sig.len(), "t=1700000000,v1=".len() + 64);
    }

    #[tokio::test]
    async fn only_http_urls_to_public_hosts_pass() {
        for bad in [
            "ftp://example.com/x",
            "not a url",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/x",
            "http://10.0.0.7/x",
            "https://user:pw@93.184.216.34/x",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad, false).await.is_err(), "{bad} passed");
        }
        assert!(check_url("https://93.184.216.34/hook", false).await.is_ok());
        assert!(check_url("http://127.0.0.1:9/hook", true).await.is_ok());
        assert!(check_url("gopher://127.0.0.1/", true).await.is_err());
    }
}
