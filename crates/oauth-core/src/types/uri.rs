//! Redirect URIs: parsed on registration, compared as exact strings.

use std::fmt;

/// A registered redirection endpoint ([RFC 6749 §3.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2)).
///
/// It must be an absolute URI without a fragment. Matching against a request
/// is an exact string comparison (RFC 9700 §4.1.3): no normalisation, no
/// prefix or pattern matching.
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
}
