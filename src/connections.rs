//! Counting client connections, per instance and per client address, so
//! that no client (nor a crowd of slow ones) can take every file descriptor
//! the process has.
//!
//! `HttpServer::on_connect` calls [`Connections::open`] for every accepted
//! connection and keeps the returned [`ConnectionSlot`] in the connection's
//! extensions; actix drops it with the connection, which counts it out. A
//! connection over a cap is still accepted (refusing at accept would leave
//! it in the kernel's backlog, where health checks queue behind it), but
//! [`crate::middleware::connection_cap`] answers its requests 503 and closes
//! it, except health checks.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use crate::metrics;

/// The client connections of one instance.
pub struct Connections {
    /// Connections served at once, all addresses together.
    max: usize,
    /// Connections served at once per [`AddressKey`]; 0 for no cap.
    max_per_address: usize,
    /// The counts. A std Mutex, not a tokio one: it is held for a counter
    /// update only, never across an await, by whichever worker thread
    /// accepts or drops a connection.
    counts: Mutex<Counts>,
}

/// What [`Connections`] counts.
#[derive(Default)]
struct Counts {
    /// Connections served (under both caps).
    served: usize,
    /// Connections over a cap, open until their first answer closes them
    /// (or the header deadline does). They do not count against the caps:
    /// a crowd of refused connections from one address must not make the
    /// instance refuse everyone else.
    refused: usize,
    /// Served connections per address; an address leaves the map with its
    /// last connection.
    by_address: HashMap<AddressKey, usize>,
}

/// Which cap a refused connection was over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverCap {
    /// `server.max_connections`.
    Instance,
    /// `server.max_connections_per_address`.
    Address,
}

/// The part of a peer address the per-address cap counts: an IPv4 address
/// (IPv4-mapped IPv6 included), or the /64 network of an IPv6 address, the
/// smallest block one customer is given, so a client cannot take a fresh
/// address for each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    /// The key `ip` is counted under.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Self(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

/// One open client connection, counted until it is dropped.
pub struct ConnectionSlot {
    /// Where it is counted.
    connections: Arc<Connections>,
    /// Its address's key (`None` when the peer address was unknown).
    key: Option<AddressKey>,
    /// The cap it was over when accepted; `None` when it is served.
    over_cap: Option<OverCap>,
}

impl ConnectionSlot {
    /// The cap this connection was over when accepted, if any: its requests
    /// are refused (health checks aside).
    pub fn over_cap(&self) -> Option<OverCap> {
        self.over_cap
    }
}

impl Connections {
    /// Counts for an instance serving at most `max` connections, and at most
    /// `max_per_address` per address (0: no per-address cap).
    pub fn new(max: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            max_per_address,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Counts a connection just accepted from `peer`, deciding whether it is
    /// served or over a cap.
    pub fn open(self: &Arc<Self>, peer: Option<IpAddr>) -> ConnectionSlot {
        let key = peer.map(AddressKey::of);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let at_address = key.map_or(0, |k| counts.by_address.get(&k).copied().unwrap_or(0));
        let over_cap = if counts.served >= self.max {
            Some(OverCap::Instance)
        } else if self.max_per_address > 0 && at_address >= self.max_per_address {
            Some(OverCap::Address)
        } else {
            None
        };
        match over_cap {
            None => {
                counts.served += 1;
                if let Some(key) = key {
                    *counts.by_address.entry(key).or_default() += 1;
                }
            }
            Some(cap) => {
                counts.refused += 1;
                drop(counts);
                metrics::connection_refused(cap == OverCap::Instance);
            }
        }
        ConnectionSlot {
            connections: Arc::clone(self),
            key,
            over_cap,
        }
    }

    /// Client connections open now, served and refused together (each holds
    /// a file descriptor).
    pub fn open_count(&self) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.served + counts.refused
    }

    /// Connections served now.
    pub fn served_count(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).served
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self
            .connections
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if self.over_cap.is_some() {
            counts.refused = counts.refused.saturating_sub(1);
            return;
        }
        counts.served = counts.served.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(n) = counts.by_address.get_mut(&key)
        {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&key);
            }
        }
    }
}

/// The soft limit on open files (`RLIMIT_NOFILE`) of this process, from
/// `/proc/self/limits`; `None` where that cannot be read (not Linux) or
/// says `unlimited`.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&limits)
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text.
fn parse_open_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The instance cap confab applies: `configured`, but at most 3/4 of the
/// open-file limit, so the descriptors left over serve refused connections
/// (long enough to answer 503), health checks, Redis and the process's own
/// files.
pub fn effective_cap(configured: usize, open_file_limit: Option<u64>) -> usize {
    match open_file_limit {
        Some(limit) => {
            let usable = usize::try_from(limit / 4 * 3).unwrap_or(usize::MAX);
            configured.min(usable).max(1)
        }
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_connection_over_the_per_address_cap_is_refused_until_one_closes() {
        let connections = Connections::new(100, 2);
        let a1 = connections.open(ip("10.0.0.1"));
        let a2 = connections.open(ip("10.0.0.1"));
        let a3 = connections.open(ip("10.0.0.1"));
        let b1 = connections.open(ip("10.0.0.2"));

        assert_eq!(a1.over_cap(), None);
        assert_eq!(a2.over_cap(), None);
        assert_eq!(a3.over_cap(), Some(OverCap::Address));
        assert_eq!(b1.over_cap(), None);
        assert_eq!(
            (connections.served_count(), connections.open_count()),
            (3, 4)
        );

        drop(a1);
        drop(a3);
        assert_eq!(connections.open(ip("10.0.0.1")).over_cap(), None);
        assert_eq!(
            (connections.served_count(), connections.open_count()),
            (2, 2)
        );
    }

    #[test]
    fn the_instance_cap_counts_every_address_but_not_refused_connections() {
        let connections = Connections::new(2, 0);
        let _a = connections.open(ip("10.0.0.1"));
        let _b = connections.open(ip("10.0.0.1"));
        let refused: Vec<_> = (0..5).map(|_| connections.open(ip("10.0.0.2"))).collect();
        assert!(
            refused
                .iter()
                .all(|c| c.over_cap() == Some(OverCap::Instance))
        );
        assert_eq!(connections.served_count(), 2);
        drop(_a);
        assert_eq!(connections.open(None).over_cap(), None);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            AddressKey::of("2001:db8:1:2:aaaa::1".parse().unwrap()),
            AddressKey::of("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_ne!(
            AddressKey::of("2001:db8:1:2::1".parse().unwrap()),
            AddressKey::of("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            AddressKey::of("::ffff:192.0.2.7".parse().unwrap()),
            AddressKey::of("192.0.2.7".parse().unwrap())
        );
    }

    #[test]
    fn the_cap_stays_below_the_open_file_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63704                63704                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_file_limit(limits), Some(1024));
        assert_eq!(effective_cap(50_000, Some(1024)), 768);
        assert_eq!(effective_cap(500, Some(1024)), 500);
        assert_eq!(effective_cap(500, None), 500);
        let unlimited =
            "Max open files            unlimited            unlimited            files     \n";
        assert_eq!(parse_open_file_limit(unlimited), None);
    }
}
