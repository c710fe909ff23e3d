//! The issuer identifier: validated once, with its origin kept for endpoint URLs.

use std::fmt;
use std::sync::Arc;

/// The authorization server's issuer identifier
/// ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2),
/// [RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)).
///
/// An absolute `https` URL (plain `http` only when the caller allows it, for
/// development and loopback demos) without query or fragment. A trailing
/// slash is trimmed, so `https://as.example/` and `https://as.example` are the
/// same issuer. The origin (scheme, host, port) is kept: endpoint URLs are
/// the origin followed by the endpoint's path, since an issuer may carry a
/// path of its own (RFC 8414 §3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Issuer {
    url: Arc<str>,
    origin: Arc<str>,
}

/// Why a string is not a valid issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerError {
    /// Not an absolute `http(s)` URL with a host.
    #[error("must be an absolute https URL")]
    NotAbsolute,
    /// Has a query or a fragment, which RFC 8414 §2 forbids.
    #[error("must not have a query or fragment")]
    QueryOrFragment,
    /// Plain `http` where it is not allowed.
    #[error("must be https (plain http only for development, when explicitly allowed)")]
    InsecureScheme,
}

impl Issuer {
    /// Validates an issuer. `allow_http` accepts a plain `http` URL (development,
    /// loopback demos); production issuers are `https`.
    pub fn new(value: &str, allow_http: bool) -> Result<Self, IssuerError> {
        let url = url::Url::parse(value).map_err(|_| IssuerError::NotAbsolute)?;
        if url.host().is_none() || !matches!(url.scheme(), "https" | "http") {
            return Err(IssuerError::NotAbsolute);
        }
        if url.query().is_some() || url.fragment().is_some() || value.contains(['?', '#']) {
            return Err(IssuerError::QueryOrFragment);
        }
        if url.scheme() == "http" && !allow_http {
            return Err(IssuerError::InsecureScheme);
        }
        Ok(Self { url: value.trim_end_matches('/').into(), origin: url.origin().ascii_serialization().into() })
    }

    /// The issuer as given, without a trailing slash: the `iss` value.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Scheme, host and port, for example `https://as.example:8443`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// True for an `https` issuer.
    pub fn is_https(&self) -> bool {
        self.origin.starts_with("https://")
    }

    /// The absolute URL of an endpoint path (`/oauth/token`): the origin
    /// followed by the path.
    pub fn endpoint_url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl serde::Serialize for Issuer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_table() {
        // (input, allow_http, expected issuer and origin, or the error)
        let rows: &[(&str, bool, Result<(&str, &str), IssuerError>)] = &[
            ("https://as.example", false, Ok(("https://as.example", "https://as.example"))),
            ("https://as.example/", false, Ok(("https://as.example", "https://as.example"))),
            (
                "https://as.example:8443/tenant/",
                false,
                Ok(("https://as.example:8443/tenant", "https://as.example:8443")),
            ),
            ("http://127.0.0.1:8080/auth", true, Ok(("http://127.0.0.1:8080/auth", "http://127.0.0.1:8080"))),
            ("http://localhost:8000", false, Err(IssuerError::InsecureScheme)),
            ("http://as.example", false, Err(IssuerError::InsecureScheme)),
            ("https://as.example?tenant=a", false, Err(IssuerError::QueryOrFragment)),
            ("https://as.example#x", false, Err(IssuerError::QueryOrFragment)),
            ("https://as.example/?", false, Err(IssuerError::QueryOrFragment)),
            ("auth", true, Err(IssuerError::NotAbsolute)),
            ("/oauth", true, Err(IssuerError::NotAbsolute)),
            ("mailto:a@as.example", true, Err(IssuerError::NotAbsolute)),
            ("ftp://as.example", true, Err(IssuerError::NotAbsolute)),
        ];
        for (input, allow_http, expected) in rows {
            let got = Issuer::new(input, *allow_http);
            match (got, expected) {
                (Ok(issuer), Ok((url, origin))) => {
                    assert_eq!((issuer.as_str(), issuer.origin()), (*url, *origin), "{input}");
                    assert_eq!(issuer.endpoint_url("/oauth/token"), format!("{origin}/oauth/token"), "{input}");
                }
                (got, expected) => assert_eq!(got.map(|_| ()), expected.clone().map(|_| ()), "{input}"),
            }
        }
    }
}
