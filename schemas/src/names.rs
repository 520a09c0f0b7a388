//! Host and user name normalization.
//!
//! The same machine appears as `WORKSTATION6`, `workstation6.theshire.local` and
//! `WORKSTATION6.THESHIRE.LOCAL` depending on the sensor, and the same account as
//! `THESHIRE\pgustavo`, `pgustavo@theshire.local` or `pgustavo` with the domain in another
//! field. Correlation joins on these names, so they are stored one way:
//!
//! - hosts: lowercase short name in `host`, the rest of the DNS name in `host_domain`; an
//!   IP address is kept whole as the host name.
//! - users: lowercase account name in `user`, lowercase domain (NetBIOS or DNS, whichever
//!   the source gave) in `user_domain`.
//! - placeholders Windows logs for "none" (`-`, empty) are no name at all.

use std::net::IpAddr;

/// A normalized host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    /// Lowercase short name, or the whole IP address.
    pub host: String,
    /// Lowercase DNS domain, if the logged name had one.
    pub domain: Option<String>,
}

impl HostName {
    /// Normalizes a host name as logged; `None` for placeholders and empty names.
    pub fn parse(logged: &str) -> Option<Self> {
        let name = logged.trim().trim_start_matches('\\').trim_end_matches('.');
        if is_placeholder(name) {
            return None;
        }
        if name.parse::<IpAddr>().is_ok() {
            return Some(HostName {
                host: name.to_ascii_lowercase(),
                domain: None,
            });
        }

        let name = name.to_ascii_lowercase();
        match name.split_once('.') {
            Some((host, domain)) if !host.is_empty() && !domain.is_empty() => Some(HostName {
                host: host.to_owned(),
                domain: Some(domain.to_owned()),
            }),
            _ => Some(HostName {
                host: name,
                domain: None,
            }),
        }
    }
}

/// A normalized account name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    /// Lowercase account name.
    pub user: String,
    /// Lowercase domain, from the name itself or from the separate domain field.
    pub domain: Option<String>,
}

impl UserName {
    /// Normalizes an account name as logged (`DOMAIN\user`, `user@domain` or `user`), with
    /// the domain the record gives in a separate field, if any. A domain written into the
    /// name wins over the separate one.
    pub fn parse(logged: &str, domain: Option<&str>) -> Option<Self> {
        let logged = logged.trim();
        if is_placeholder(logged) {
            return None;
        }

        let (user, inline_domain) = if let Some((domain, user)) = logged.split_once('\\') {
            (user, Some(domain))
        } else if let Some((user, domain)) = logged.split_once('@') {
            (user, Some(domain))
        } else {
            (logged, None)
        };
        if is_placeholder(user) {
            return None;
        }

        let domain = inline_domain
            .or(domain)
            .map(str::trim)
            .filter(|d| !is_placeholder(d))
            .map(str::to_lowercase);
        Some(UserName {
            user: user.to_lowercase(),
            domain,
        })
    }
}

/// Windows writes `-` (and sometimes nothing) where a field has no value.
fn is_placeholder(value: &str) -> bool {
    value.is_empty() || value == "-"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(logged: &str) -> Option<(String, Option<String>)> {
        HostName::parse(logged).map(|h| (h.host, h.domain))
    }

    fn user(logged: &str, domain: Option<&str>) -> Option<(String, Option<String>)> {
        UserName::parse(logged, domain).map(|u| (u.user, u.domain))
    }

    #[test]
    fn hosts_are_short_lowercase_with_domain_apart() {
        let expected = Some(("workstation6".to_owned(), Some("theshire.local".to_owned())));
        assert_eq!(host("WORKSTATION6.theshire.local"), expected);
        assert_eq!(host("workstation6.THESHIRE.LOCAL."), expected);
        assert_eq!(
            host("WORKSTATION6"),
            Some(("workstation6".to_owned(), None))
        );
        assert_eq!(
            host("\\\\WORKSTATION6"),
            Some(("workstation6".to_owned(), None))
        );
    }

    #[test]
    fn ip_addresses_stay_whole() {
        assert_eq!(host("172.18.39.5"), Some(("172.18.39.5".to_owned(), None)));
        assert_eq!(host("FE80::1"), Some(("fe80::1".to_owned(), None)));
    }

    #[test]
    fn placeholders_are_no_name() {
        assert_eq!(host("-"), None);
        assert_eq!(host("  "), None);
        assert_eq!(user("-", Some("THESHIRE")), None);
        assert_eq!(user("THESHIRE\\-", None), None);
    }

    #[test]
    fn users_in_every_spelling_agree() {
        let expected = Some(("pgustavo".to_owned(), Some("theshire".to_owned())));
        assert_eq!(user("THESHIRE\\pgustavo", None), expected);
        assert_eq!(user("pgustavo", Some("THESHIRE")), expected);
        assert_eq!(user("PGustavo@theshire", Some("-")), expected);
        assert_eq!(
            user("pgustavo", Some("-")),
            Some(("pgustavo".to_owned(), None))
        );
    }
}
