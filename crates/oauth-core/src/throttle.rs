//! Throttling of failed authentication: the policy (limits and windows), the
//! counters' keys, and the decision, all pure; the counts live in a
//! [`ThrottleStore`](crate::storage::ThrottleStore), so that several server
//! instances on one store share them.
//!
//! Failures are counted per username and per source address (the login
//! page), and per client and per source address (client authentication at
//! the token, introspection and revocation endpoints). Each counter is a
//! fixed window that starts at its first failure: after `max_failures`
//! failures within `window` seconds, further attempts are refused until the
//! window ends, without verifying anything ([`Verdict::Throttled`], answered
//! with `429` and `Retry-After`).

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::types::ClientId;

/// One limit: at most `max_failures` failures per `window` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limit {
    /// Failures allowed in a window; the next attempt is refused.
    pub max_failures: u32,
    /// Length of the window in seconds, from its first failure.
    pub window: u64,
}

impl Limit {
    /// A limit of `max_failures` per `window` seconds.
    pub const fn new(max_failures: u32, window: u64) -> Self {
        Self { max_failures, window }
    }

    /// Whether `count` failures reach this limit (further attempts are refused).
    pub fn reached(&self, count: u32) -> bool {
        count >= self.max_failures
    }
}

/// The limits of every counter. Defaults: 5 failures per username per 15
/// minutes (online password guessing), 50 per source address per 15 minutes
/// (password spraying over many usernames; room for a few users behind one
/// NAT), 20 per client per minute (client secrets are generated with high
/// entropy, so the threat is the CPU of Argon2, not guessing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ThrottlePolicy {
    /// Failed logins per username.
    pub username: Limit,
    /// Failed logins and failed client authentications per source address
    /// (IPv4 address, or IPv6 /64).
    pub address: Limit,
    /// Failed client authentications per `client_id`.
    pub client: Limit,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { username: Limit::new(5, 900), address: Limit::new(50, 900), client: Limit::new(20, 60) }
    }
}

/// The longest window a limit may have: one day.
pub const MAX_WINDOW: u64 = 86_400;

impl ThrottlePolicy {
    /// Each limit with its setting's name (`throttle.username`).
    pub fn limits(&self) -> [(&'static str, Limit); 3] {
        [("throttle.username", self.username), ("throttle.address", self.address), ("throttle.client", self.client)]
    }

    /// The first limit with zero failures or a window outside 1 s ..= [`MAX_WINDOW`].
    pub fn check(&self) -> Result<(), (&'static str, Limit)> {
        for (name, limit) in self.limits() {
            if limit.max_failures == 0 || !(1..=MAX_WINDOW).contains(&limit.window) {
                return Err((name, limit));
            }
        }
        Ok(())
    }
}

/// A counter's failures and how long its window still runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    /// Failures counted in the current window (0 when there is none).
    pub count: u32,
    /// Seconds until the window ends (0 when there is none).
    pub resets_in: u64,
}

/// What the throttle says about an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (verify the credentials).
    Allow,
    /// Refuse without verifying; try again after this many seconds (at least 1).
    Throttled {
        /// Seconds until every exceeded window has ended.
        retry_after: u64,
    },
}

/// The decision over every counter of an attempt: throttled when any
/// counter reached its limit, for as long as the longest of those windows
/// still runs.
pub fn verdict(counters: &[(Limit, Failures)]) -> Verdict {
    let retry_after = counters.iter().filter(|(limit, f)| limit.reached(f.count)).map(|(_, f)| f.resets_in).max();
    match retry_after {
        Some(seconds) => Verdict::Throttled { retry_after: seconds.max(1) },
        None => Verdict::Allow,
    }
}

/// The decision after a failure was recorded (`counters` hold the counts
/// with it): throttled when a counter went past its limit, that is when the
/// attempt itself should not have been made. For paths that record without
/// checking first (a SHA-256 client secret, verified for free).
pub fn verdict_after_failure(counters: &[(Limit, Failures)]) -> Verdict {
    let retry_after = counters.iter().filter(|(limit, f)| f.count > limit.max_failures).map(|(_, f)| f.resets_in).max();
    match retry_after {
        Some(seconds) => Verdict::Throttled { retry_after: seconds.max(1) },
        None => Verdict::Allow,
    }
}

/// What a counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Username,
    Address,
    Client,
    UserCodeSession,
}

impl Kind {
    fn tag(self) -> &'static [u8] {
        match self {
            Self::Username => b"username",
            Self::Address => b"address",
            Self::Client => b"client",
            Self::UserCodeSession => b"user_code_session",
        }
    }
}

const DOMAIN: &[u8] = b"oauth-throttle\0";

/// The key of one counter: a domain-separated SHA-256 of what it counts, so
/// stores never see raw usernames and keys have a fixed length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThrottleKey([u8; 32]);

impl std::fmt::Debug for ThrottleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ThrottleKey({})", &self.to_hex()[..12])
    }
}

impl ThrottleKey {
    fn new(kind: Kind, value: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        hasher.update(kind.tag());
        hasher.update(b"\0");
        hasher.update(value);
        Self(hasher.finalize().into())
    }

    /// The counter of a login name.
    pub fn username(username: &str) -> Self {
        Self::new(Kind::Username, username.as_bytes())
    }

    /// The counter of a `client_id` (known or not).
    pub fn client(client: &ClientId) -> Self {
        Self::new(Kind::Client, client.as_str().as_bytes())
    }

    /// The counter of wrong device user codes (RFC 8628 §5.1) entered in a
    /// session: `session` is any stable identifier of it (hashed here).
    pub fn user_code_session(session: &str) -> Self {
        Self::new(Kind::UserCodeSession, session.as_bytes())
    }

    /// The counter of a source address: an IPv4 address (an IPv4-mapped
    /// IPv6 address counts as its IPv4 address), or the /64 of an IPv6
    /// address, since one subscriber usually holds a whole /64.
    pub fn address(ip: IpAddr) -> Self {
        Self::new(Kind::Address, address_bucket(ip).as_bytes())
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex of the digest, for store keys.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The text an address is counted under: `v4:a.b.c.d` or `v6:` and the /64.
pub fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("v4:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("v4:{v4}"),
            None => {
                let s = v6.segments();
                format!("v6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// An address range (`10.0.0.0/8`, `2001:db8::/32`, or one address): a
/// trusted proxy, in the adapter's rule for the source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

/// A string that is neither an IP address nor a CIDR range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address or CIDR range: {0:?}")]
pub struct IpRangeError(pub String);

impl std::str::FromStr for IpRange {
    type Err = IpRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IpRangeError(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().map_err(|_| bad())?;
                let prefix: u8 = prefix.parse().map_err(|_| bad())?;
                (addr, prefix)
            }
            None => {
                let addr: IpAddr = s.parse().map_err(|_| bad())?;
                (addr, if addr.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

impl IpRange {
    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix) == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix) == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(value: u128, bits: u8, prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { value >> (bits - prefix) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limit = Limit::new(3, 60);

    #[test]
    fn verdict_table() {
        let f = |count, resets_in| Failures { count, resets_in };
        let cases: &[(&[(Limit, Failures)], Verdict)] = &[
            (&[], Verdict::Allow),
            (&[(L, f(0, 0))], Verdict::Allow),
            (&[(L, f(2, 30))], Verdict::Allow),
            (&[(L, f(3, 30))], Verdict::Throttled { retry_after: 30 }),
            (&[(L, f(9, 5))], Verdict::Throttled { retry_after: 5 }),
            // A window that ends this second still says at least 1.
            (&[(L, f(3, 0))], Verdict::Throttled { retry_after: 1 }),
            // The longest exceeded window wins; windows under their limit do not count.
            (&[(L, f(3, 10)), (Limit::new(50, 900), f(49, 800))], Verdict::Throttled { retry_after: 10 }),
            (&[(L, f(3, 10)), (Limit::new(5, 900), f(5, 800))], Verdict::Throttled { retry_after: 800 }),
            (&[(L, f(1, 10)), (Limit::new(5, 900), f(5, 800))], Verdict::Throttled { retry_after: 800 }),
        ];
        for (counters, expected) in cases {
            assert_eq!(verdict(counters), *expected, "{counters:?}");
        }
    }

    #[test]
    fn verdict_after_failure_table() {
        let f = |count, resets_in| Failures { count, resets_in };
        let cases: &[(&[(Limit, Failures)], Verdict)] = &[
            (&[(L, f(1, 60))], Verdict::Allow),
            // The failure that reaches the limit is still an ordinary failure.
            (&[(L, f(3, 60))], Verdict::Allow),
            (&[(L, f(4, 20))], Verdict::Throttled { retry_after: 20 }),
            (&[(L, f(2, 20)), (Limit::new(1, 90), f(2, 90))], Verdict::Throttled { retry_after: 90 }),
            (&[(L, f(u32::MAX, 7))], Verdict::Throttled { retry_after: 7 }),
        ];
        for (counters, expected) in cases {
            assert_eq!(verdict_after_failure(counters), *expected, "{counters:?}");
        }
    }

    #[test]
    fn policy_check_names_the_bad_limit() {
        assert_eq!(ThrottlePolicy::default().check(), Ok(()));
        let bad = [Limit::new(0, 60), Limit::new(1, 0), Limit::new(1, MAX_WINDOW + 1)];
        for limit in bad {
            let p = ThrottlePolicy { client: limit, ..ThrottlePolicy::default() };
            assert_eq!(p.check(), Err(("throttle.client", limit)));
            let p = ThrottlePolicy { username: limit, ..ThrottlePolicy::default() };
            assert_eq!(p.check(), Err(("throttle.username", limit)));
        }
        let p = ThrottlePolicy { address: Limit::new(1, MAX_WINDOW), ..ThrottlePolicy::default() };
        assert_eq!(p.check(), Ok(()));
    }

    #[test]
    fn keys_are_separated_by_kind_and_bucket_ipv6_by_64() {
        assert_ne!(ThrottleKey::username("alice"), ThrottleKey::client(&ClientId::new("alice")));
        assert_ne!(ThrottleKey::username("alice"), ThrottleKey::username("alicE"));
        let cases = [
            ("192.0.2.1", "v4:192.0.2.1"),
            ("::ffff:192.0.2.1", "v4:192.0.2.1"),
            ("2001:db8:1:2:3:4:5:6", "v6:2001:db8:1:2::/64"),
            ("2001:db8:1:2::ffff", "v6:2001:db8:1:2::/64"),
            ("2001:db8:1:3::1", "v6:2001:db8:1:3::/64"),
        ];
        for (ip, bucket) in cases {
            assert_eq!(address_bucket(ip.parse().unwrap()), bucket, "{ip}");
        }
        let a = |s: &str| ThrottleKey::address(s.parse().unwrap());
        assert_eq!(a("2001:db8:1:2::1"), a("2001:db8:1:2:ffff::9"));
        assert_ne!(a("2001:db8:1:2::1"), a("2001:db8:1:3::1"));
        assert_eq!(a("192.0.2.1"), a("::ffff:192.0.2.1"));
    }

    #[test]
    fn ip_ranges() {
        let cases = [
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.0.0.0/8", "::ffff:10.1.1.1", true),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::1", "::1", true),
            ("::/0", "2001:db8::1", true),
        ];
        for (range, ip, inside) in cases {
            let range: IpRange = range.parse().unwrap();
            assert_eq!(range.contains(ip.parse().unwrap()), inside, "{range:?} {ip}");
        }
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0/8", "host", "10.0.0.0/", "10.0.0.0/x"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad:?}");
        }
    }
}
