//! Redirect URIs: parsed on registration, compared as exact strings (but for
//! the port of a loopback IP literal, RFC 8252 §7.3).

use std::fmt;

/// A registered redirection endpoint ([RFC 6749 §3.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2)).
///
/// It must be an absolute URI without a fragment. Matching against a request
/// is an exact string comparison (RFC 9700 §4.1.3): no normalisation, no
/// prefix or pattern matching. The one exception is RFC 8252 §7.3: an `http`
/// URI on a loopback IP literal (`127.0.0.1`, `[::1]`) matches on any port,
/// because a native app picks a free port at run time ([`RedirectUri::matching`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

/// Why a string is not a valid redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// Not an absolute URI.
    #[error("redirect URI is not an absolute URI")]
    NotAbsolute,
    /// Contains a fragment, which RFC 6749 §3.1.2 forbids.
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    /// Plain `http` for a host other than a loopback address or `localhost`.
    #[error("redirect URI must use https (http is only allowed for loopback hosts)")]
    InsecureScheme,
}

impl RedirectUri {
    /// Validates a redirect URI for registration.
    ///
    /// `http` is accepted only for loopback hosts (RFC 8252 §7.3) unless
    /// `allow_http` is set; custom schemes (native apps) are accepted.
    pub fn new(value: impl Into<String>, allow_http: bool) -> Result<Self, RedirectUriError> {
        let value = value.into();
        let url = url::Url::parse(&value).map_err(|_| RedirectUriError::NotAbsolute)?;
        if url.fragment().is_some() || value.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        if url.scheme() == "http" && !allow_http {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(RedirectUriError::InsecureScheme);
            }
        }
        Ok(Self(value))
    }

    /// The registered string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URI to redirect to when a request presents `presented` for this
    /// registered URI, or `None` when it does not match.
    ///
    /// The same string matches. For a registered `http` URI on a loopback IP
    /// literal, the presented URI also matches on any port (or none) when it
    /// is otherwise identical and already in normal form (RFC 8252 §7.3);
    /// the presented URI, with its port, is then the one to redirect to.
    /// `localhost` is not a loopback IP literal (RFC 8252 §8.3) and matches
    /// exactly only.
    pub fn matching(&self, presented: &str) -> Option<RedirectUri> {
        if self.0 == presented {
            return Some(self.clone());
        }
        let portless = |uri: &str| {
            let mut url = url::Url::parse(uri).ok()?;
            let loopback_literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
                Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
                _ => false,
            };
            // Only URIs already in normal form, so that what matched is what is redirected to.
            if url.scheme() != "http" || !loopback_literal || url.as_str() != uri || url.fragment().is_some() {
                return None;
            }
            url.set_port(None).ok()?;
            Some(url)
        };
        let registered = portless(&self.0)?;
        (portless(presented)? == registered).then(|| Self(presented.to_owned()))
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RedirectUri {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Stored records were validated on registration; only re-check the shape.
        RedirectUri::new(String::deserialize(deserializer)?, true).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_table() {
        let rows: &[(&str, Result<(), RedirectUriError>)] = &[
            ("https://www.example.com/redirect", Ok(())),
            ("https://www.example.com/cb?x=1", Ok(())),
            ("http://127.0.0.1:8080/cb", Ok(())),
            ("http://[::1]/cb", Ok(())),
            ("http://localhost/cb", Ok(())),
            ("com.example.app:/oauth", Ok(())),
            ("http://evil.example/cb", Err(RedirectUriError::InsecureScheme)),
            ("https://a.example/cb#frag", Err(RedirectUriError::Fragment)),
            ("/relative", Err(RedirectUriError::NotAbsolute)),
        ];
        for (input, expected) in rows {
            assert_eq!(RedirectUri::new(*input, false).map(|_| ()), *expected, "{input}");
        }
    }

    #[test]
    fn loopback_ip_literals_match_on_any_port_and_nothing_else_loosens() {
        let rows: &[(&str, &str, bool)] = &[
            ("https://app.example/cb", "https://app.example/cb", true),
            ("https://app.example/cb", "https://app.example:443/cb", false),
            ("https://app.example/cb", "https://app.example/cb/", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb", true),
            ("http://127.0.0.1:8080/cb", "http://127.0.0.1:51004/cb", true),
            ("http://127.0.0.1:8080/cb", "http://127.0.0.1/cb", true),
            ("http://[::1]/cb", "http://[::1]:51004/cb", true),
            ("http://127.0.0.1/cb?x=1", "http://127.0.0.1:9/cb?x=1", true),
            ("http://127.0.0.1/cb", "http://127.0.0.1:9/cb2", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:9/cb?x=1", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:9/x/../cb", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:9/cb#f", false),
            ("http://127.0.0.1/cb", "http://127.0.0.2:9/cb", false),
            ("http://127.0.0.1/cb", "http://[::1]:9/cb", false),
            ("http://127.0.0.1/cb", "https://127.0.0.1:9/cb", false),
            ("http://127.0.0.1/cb", "http://localhost:9/cb", false),
            ("http://localhost/cb", "http://localhost:9/cb", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:99999/cb", false),
            ("http://127.0.0.1/cb", "http://user@127.0.0.1:9/cb", false),
        ];
        for (registered, presented, ok) in rows {
            let registered = RedirectUri::new(*registered, false).unwrap_or_else(|e| panic!("{registered}: {e}"));
            let matched = registered.matching(presented);
            assert_eq!(matched.is_some(), *ok, "{registered} vs {presented}");
            if let Some(uri) = matched {
                assert_eq!(uri.as_str(), *presented, "redirect to what was presented");
            }
        }
    }
}
