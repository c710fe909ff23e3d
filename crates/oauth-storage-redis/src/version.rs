//! The Redis versions the store supports, and the check made on every new
//! connection.
//!
//! The Lua scripts extend a family's expiry with `EXPIREAT … GT`, which Redis
//! 7.0 introduced: on Redis 6 the script fails after its first writes, leaving
//! a half-done rotation behind. So a connection to an older server (on a
//! Cluster, to any older primary) is refused before any command runs on it.

use redis::Value;

/// A Redis server version, as `INFO server` reports it (`redis_version:7.0.15`).
///
/// Ordered by (major, minor, patch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RedisVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch level.
    pub patch: u32,
}

impl RedisVersion {
    /// The oldest Redis the store's scripts run on: 7.0.0 (`EXPIREAT … GT`).
    pub const MINIMUM: Self = Self::new(7, 0, 0);

    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self { major, minor, patch }
    }

    /// Parses `major[.minor[.patch]]`, ignoring a suffix after the last
    /// number's digits (`7.2.0-rc1`). `None` without a leading number.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().splitn(3, '.');
        let number = |part: Option<&str>| -> Option<u32> {
            let part = part?;
            let end = part.find(|c: char| !c.is_ascii_digit()).unwrap_or(part.len());
            part[..end].parse().ok()
        };
        let major = number(parts.next())?;
        let minor = number(parts.next()).unwrap_or(0);
        let patch = number(parts.next()).unwrap_or(0);
        Some(Self::new(major, minor, patch))
    }

    /// The `redis_version` field of an `INFO server` answer.
    pub fn from_info(info: &str) -> Option<Self> {
        info.lines().find_map(|line| line.strip_prefix("redis_version:")).and_then(Self::parse)
    }
}

impl std::fmt::Display for RedisVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Why the store refuses a Redis server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The server is older than the scripts need.
    #[error(
        "Redis {found}{} is not supported: oauth-storage-redis needs Redis {minimum} or later (its scripts use EXPIREAT … GT)",
        node.as_deref().map(|n| format!(" at {n}")).unwrap_or_default()
    )]
    TooOld {
        /// The version the server reported.
        found: RedisVersion,
        /// The node that reported it, on a Cluster.
        node: Option<String>,
        /// The oldest supported version.
        minimum: RedisVersion,
    },
    /// `INFO server` did not carry a readable `redis_version`.
    #[error("cannot read redis_version from INFO server{}", node.as_deref().map(|n| format!(" of {n}")).unwrap_or_default())]
    Unreadable {
        /// The node whose answer was unreadable, on a Cluster.
        node: Option<String>,
    },
}

/// The lowest version in an `INFO server` answer: one text from one server,
/// or a map of node to text from a Cluster. Refuses a version below `minimum`.
pub(crate) fn check_info(answer: &Value, minimum: RedisVersion) -> Result<RedisVersion, VersionError> {
    let mut infos = Vec::new();
    collect_infos(answer, None, &mut infos);
    if infos.is_empty() {
        return Err(VersionError::Unreadable { node: None });
    }
    let mut lowest: Option<RedisVersion> = None;
    for (node, info) in infos {
        let found = RedisVersion::from_info(&info).ok_or_else(|| VersionError::Unreadable { node: node.clone() })?;
        if found < minimum {
            return Err(VersionError::TooOld { found, node, minimum });
        }
        lowest = Some(lowest.map_or(found, |l| l.min(found)));
    }
    lowest.ok_or(VersionError::Unreadable { node: None })
}

/// The `version` field of a `HELLO` answer (alternating names and values in
/// RESP2, a map in RESP3), as an `INFO`-like text for [`check_info`].
pub(crate) fn info_from_hello(hello: &Value) -> Value {
    let text = |v: &Value| match v {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    };
    let pairs: Vec<(&Value, &Value)> = match hello {
        Value::Array(items) => items.chunks(2).filter_map(|p| Some((p.first()?, p.get(1)?))).collect(),
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        _ => Vec::new(),
    };
    let version = pairs.into_iter().find(|(k, _)| text(k).as_deref() == Some("version")).and_then(|(_, v)| text(v));
    Value::BulkString(format!("redis_version:{}", version.unwrap_or_default()).into_bytes())
}

/// The texts of an `INFO` answer, with the node each came from when known.
fn collect_infos(value: &Value, node: Option<String>, out: &mut Vec<(Option<String>, String)>) {
    match value {
        Value::BulkString(bytes) => out.push((node, String::from_utf8_lossy(bytes).into_owned())),
        Value::SimpleString(text) => out.push((node, text.clone())),
        Value::VerbatimString { text, .. } => out.push((node, text.clone())),
        Value::Map(pairs) => {
            for (key, value) in pairs {
                let name = match key {
                    Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
                    Value::SimpleString(text) => Some(text.clone()),
                    _ => node.clone(),
                };
                collect_infos(value, name, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_infos(item, node.clone(), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_table() {
        let rows: &[(&str, Option<(u32, u32, u32)>)] = &[
            ("7.0.15", Some((7, 0, 15))),
            ("7.0.0", Some((7, 0, 0))),
            ("6.2.14", Some((6, 2, 14))),
            ("7.2", Some((7, 2, 0))),
            ("8", Some((8, 0, 0))),
            ("7.2.0-rc1", Some((7, 2, 0))),
            (" 7.4.1\r", Some((7, 4, 1))),
            ("255.255.255", Some((255, 255, 255))),
            ("", None),
            ("v7.0.0", None),
            ("x.y.z", None),
            ("99999999999.0.0", None),
        ];
        for (text, expected) in rows {
            let got = RedisVersion::parse(text).map(|v| (v.major, v.minor, v.patch));
            assert_eq!(got, *expected, "{text:?}");
        }
    }

    #[test]
    fn comparison_against_the_minimum_table() {
        let rows: &[(&str, bool)] = &[
            ("5.0.14", false),
            ("6.0.20", false),
            ("6.2.14", false),
            ("6.9.242", false), // a 7.0 release candidate numbers itself 6.9.x
            ("7.0.0", true),
            ("7.0.15", true),
            ("7.2.4", true),
            ("8.0.0", true),
            ("10.0.0", true),
        ];
        for (text, supported) in rows {
            let version = RedisVersion::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(version >= RedisVersion::MINIMUM, *supported, "{text}");
        }
    }

    #[test]
    fn info_answers_are_checked() {
        let info =
            |v: &str| format!("# Server\r\nredis_version:{v}\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\n");
        let bulk = |v: &str| Value::BulkString(info(v).into_bytes());

        assert_eq!(check_info(&bulk("7.0.15"), RedisVersion::MINIMUM), Ok(RedisVersion::new(7, 0, 15)));
        let err = check_info(&bulk("6.2.14"), RedisVersion::MINIMUM).unwrap_err();
        assert_eq!(
            err,
            VersionError::TooOld { found: RedisVersion::new(6, 2, 14), node: None, minimum: RedisVersion::MINIMUM }
        );
        let message = err.to_string();
        assert!(message.contains("6.2.14") && message.contains("7.0.0"), "{message}");

        // A Cluster answers one text per primary: the oldest decides, and is named.
        let cluster = Value::Map(vec![
            (Value::BulkString(b"10.0.0.1:6379".to_vec()), bulk("7.2.4")),
            (Value::BulkString(b"10.0.0.2:6379".to_vec()), bulk("6.2.0")),
        ]);
        let err = check_info(&cluster, RedisVersion::MINIMUM).unwrap_err();
        assert!(err.to_string().contains("Redis 6.2.0 at 10.0.0.2:6379"), "{err}");
        let cluster = Value::Map(vec![
            (Value::SimpleString("a:1".into()), bulk("7.2.4")),
            (
                Value::SimpleString("b:1".into()),
                Value::VerbatimString { format: redis::VerbatimFormat::Text, text: info("7.0.1") },
            ),
        ]);
        assert_eq!(check_info(&cluster, RedisVersion::MINIMUM), Ok(RedisVersion::new(7, 0, 1)));

        // HELLO, for users that may not run INFO.
        let field = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let resp2 = Value::Array(vec![
            field("server"),
            field("redis"),
            field("version"),
            field("6.2.6"),
            field("proto"),
            Value::Int(2),
        ]);
        assert!(matches!(
            check_info(&info_from_hello(&resp2), RedisVersion::MINIMUM),
            Err(VersionError::TooOld { found, .. }) if found == RedisVersion::new(6, 2, 6)
        ));
        let resp3 = Value::Map(vec![(field("server"), field("redis")), (field("version"), field("7.2.4"))]);
        assert_eq!(check_info(&info_from_hello(&resp3), RedisVersion::MINIMUM), Ok(RedisVersion::new(7, 2, 4)));
        assert!(check_info(&info_from_hello(&Value::Nil), RedisVersion::MINIMUM).is_err());

        assert_eq!(check_info(&Value::Nil, RedisVersion::MINIMUM), Err(VersionError::Unreadable { node: None }));
        assert_eq!(
            check_info(&Value::BulkString(b"# Server\r\n".to_vec()), RedisVersion::MINIMUM),
            Err(VersionError::Unreadable { node: None })
        );
    }
}
