//! Which host an address belonged to at a given time.
//!
//! Addresses move (DHCP, VPN pools), so a binding is kept with the time it was seen and
//! the answer for a time is the latest binding at or before it. The inventory's addresses
//! are fixed and win over anything observed.

use std::collections::HashMap;
use std::net::IpAddr;

use ward_schemas::{Event, Timestamp};

/// Bindings kept per address; older ones are dropped first.
const BINDINGS_PER_IP: usize = 16;

/// Address-to-host bindings seen in events.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    /// Per address, `(time, host)` sorted by time.
    bindings: HashMap<String, Vec<(Timestamp, String)>>,
    /// Most addresses kept.
    max_ips: usize,
    /// Bindings dropped to stay within bounds.
    pub evicted: u64,
}

impl Resolver {
    pub fn new(max_ips: usize) -> Resolver {
        Resolver {
            max_ips,
            ..Resolver::default()
        }
    }

    /// Addresses with at least one binding.
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    /// Learns the bindings an event states: a host name and an address for the same end
    /// of a connection or logon.
    pub fn observe(&mut self, event: &Event) {
        let ends = [
            (&event.src_host, &event.src_ip),
            (&event.dst_host, &event.dst_ip),
        ];
        for (host, ip) in ends {
            if let (Some(host), Some(ip)) = (host, ip)
                && is_routable(ip)
                && host.parse::<IpAddr>().is_err()
            {
                self.bind(ip, host, event.time);
            }
        }
    }

    fn bind(&mut self, ip: &str, host: &str, time: Timestamp) {
        if !self.bindings.contains_key(ip) && self.bindings.len() >= self.max_ips {
            // Forget the address whose latest binding is oldest.
            let stalest = self
                .bindings
                .iter()
                .min_by_key(|(_, seen)| seen.last().map(|b| b.0));
            if let Some(ip) = stalest.map(|(ip, _)| ip.clone()) {
                self.bindings.remove(&ip);
                self.evicted += 1;
            }
        }
        let seen = self.bindings.entry(ip.to_owned()).or_default();
        if seen.iter().any(|(at, name)| *at == time && name == host) {
            return;
        }
        let at = seen.partition_point(|(at, _)| *at <= time);
        seen.insert(at, (time, host.to_owned()));
        if seen.len() > BINDINGS_PER_IP {
            seen.remove(0);
            self.evicted += 1;
        }
    }

    /// The host `ip` belonged to at `time`: the latest binding at or before it, else the
    /// earliest one after it.
    pub fn host_at(&self, ip: &str, time: Timestamp) -> Option<&str> {
        let seen = self.bindings.get(ip)?;
        let at = seen.partition_point(|(at, _)| *at <= time);
        let binding = if at > 0 { &seen[at - 1] } else { seen.first()? };
        Some(&binding.1)
    }
}

/// Whether an address can name another host: not loopback, unspecified or a placeholder.
pub(crate) fn is_routable(ip: &str) -> bool {
    ip.parse::<IpAddr>()
        .is_ok_and(|ip| !ip.is_loopback() && !ip.is_unspecified())
}
