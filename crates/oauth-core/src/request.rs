//! Neutral inputs: what an HTTP adapter hands to the server.
//!
//! Parameters are kept as ordered multi-pairs so that repeated parameters,
//! which RFC 6749 §3.1 forbids, can be detected.

use std::borrow::Cow;

use base64::Engine as _;

use crate::error::OAuthError;
use crate::types::{ClientId, ClientSecret};

/// The HTTP method of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `POST`
    Post,
    /// Any other method.
    Other(String),
}

impl Method {
    /// Maps a method name (case-sensitive, as HTTP defines it).
    pub fn parse(name: &str) -> Self {
        match name {
            "GET" => Self::Get,
            "POST" => Self::Post,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Query or form parameters, in the order they arrived, duplicates kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses an `application/x-www-form-urlencoded` string (a query string or a form body).
    pub fn parse(encoded: &str) -> Self {
        Self(url::form_urlencoded::parse(encoded.as_bytes()).into_owned().collect())
    }

    /// Parses raw `application/x-www-form-urlencoded` bytes (invalid UTF-8 is replaced).
    pub fn parse_bytes(encoded: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(encoded).into_owned().collect())
    }

    /// Builds from already decoded pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The single value of `name`.
    ///
    /// An empty value counts as absent (RFC 6749 §3.1); a parameter given
    /// more than once, even with empty values, is `invalid_request`.
    pub fn get(&self, name: &'static str) -> Result<Option<&str>, OAuthError> {
        let mut found: Option<&str> = None;
        let mut seen = false;
        for (key, value) in &self.0 {
            if key == name {
                if seen {
                    return Err(OAuthError::invalid_request(Cow::Owned(format!("The {name} parameter is repeated"))));
                }
                seen = true;
                if !value.is_empty() {
                    found = Some(value);
                }
            }
        }
        Ok(found)
    }

    /// The first repeated parameter name, if any.
    pub fn first_duplicate(&self) -> Option<&str> {
        self.0
            .iter()
            .enumerate()
            .find(|(i, (key, _))| self.0[..*i].iter().any(|(k, _)| k == key))
            .map(|(_, (key, _))| key.as_str())
    }

    /// True when no parameter was sent.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All pairs.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// A request as the server sees it: method, transport security, headers, query and form.
#[derive(Clone, Debug, Default)]
pub struct OAuthRequest {
    /// The HTTP method.
    pub method: Method,
    /// True when the request arrived over TLS (or through a trusted TLS-terminating proxy).
    pub secure: bool,
    /// Headers as (name, value) pairs; names are compared case-insensitively.
    pub headers: Vec<(String, String)>,
    /// Query string parameters.
    pub query: Params,
    /// Form body parameters (`application/x-www-form-urlencoded`).
    pub form: Params,
}

impl OAuthRequest {
    /// A `GET` request with the given query string.
    pub fn get(query: &str) -> Self {
        Self { method: Method::Get, query: Params::parse(query), ..Self::default() }
    }

    /// A `POST` request with a form body (and the matching content type).
    pub fn post_form(body: &str) -> Self {
        Self {
            method: Method::Post,
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            form: Params::parse(body),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Marks the request as received over TLS.
    pub fn secure(mut self) -> Self {
        self.secure = true;
        self
    }

    /// All values of a header, case-insensitive on the name.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn method_is(&self, method: &Method) -> bool {
        self.method == *method
    }

    /// True when the body is declared as `application/x-www-form-urlencoded`.
    pub(crate) fn is_form(&self) -> bool {
        let mut values = self.header_values("content-type");
        match (values.next(), values.next()) {
            (Some(value), None) => value
                .split(';')
                .next()
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")),
            _ => false,
        }
    }
}

/// How a client presented its credentials at the token, revocation or introspection endpoint.
#[derive(Debug)]
pub(crate) enum PresentedCredentials {
    /// `Authorization: Basic` (RFC 6749 §2.3.1).
    Basic { id: ClientId, secret: ClientSecret },
    /// `client_id` and `client_secret` in the body.
    Post { id: ClientId, secret: ClientSecret },
    /// `client_id` only: a public client.
    IdOnly { id: ClientId },
}

impl PresentedCredentials {
    pub(crate) fn client_id(&self) -> &ClientId {
        match self {
            Self::Basic { id, .. } | Self::Post { id, .. } | Self::IdOnly { id } => id,
        }
    }

    pub(crate) fn used_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }
}

/// Failure to extract credentials: either a malformed request or a failed authentication.
pub(crate) fn presented_credentials(req: &OAuthRequest) -> Result<PresentedCredentials, OAuthError> {
    let form_id = req.form.get("client_id")?;
    let form_secret = req.form.get("client_secret")?;
    let mut auth = req.header_values("authorization");
    let header = auth.next();
    if auth.next().is_some() {
        return Err(OAuthError::invalid_request("The Authorization header is repeated"));
    }
    match header {
        Some(value) => {
            let (id, secret) =
                parse_basic(value).ok_or_else(|| OAuthError::invalid_client("Malformed HTTP Basic credentials"))?;
            if form_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "Client credentials were sent both in the Authorization header and in the body",
                ));
            }
            if form_id.is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request(
                    "The client_id in the body does not match the Authorization header",
                ));
            }
            Ok(PresentedCredentials::Basic { id: ClientId::new(id), secret: ClientSecret::new(secret) })
        }
        None => match (form_id, form_secret) {
            (Some(id), Some(secret)) => {
                Ok(PresentedCredentials::Post { id: ClientId::new(id), secret: ClientSecret::new(secret) })
            }
            (Some(id), None) => Ok(PresentedCredentials::IdOnly { id: ClientId::new(id) }),
            (None, _) => Err(OAuthError::invalid_client("Client authentication is required")),
        },
    }
}

/// Parses `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form_url_decode(id)?;
    if id.is_empty() {
        return None;
    }
    Some((id, form_url_decode(secret)?))
}

/// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte); rejects bad escapes.
pub(crate) fn form_url_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_parsing_table() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let rows: Vec<(String, Option<(&str, &str)>)> = vec![
            (format!("Basic {}", b64("test_client:password")), Some(("test_client", "password"))),
            (format!("basic {}", b64("a%3Ab:p%2Bq+r")), Some(("a:b", "p+q r"))),
            (format!("Basic {}", b64("id:")), Some(("id", ""))),
            (format!("Basic {}", b64("id:se:cret")), Some(("id", "se:cret"))),
            (format!("Basic {}", b64("nocolon")), None),
            (format!("Basic {}", b64(":secret")), None),
            (format!("Basic {}", b64("id:%zz")), None),
            ("Basic !!!".to_string(), None),
            (format!("Bearer {}", b64("a:b")), None),
            ("Basic".to_string(), None),
        ];
        for (header, expected) in rows {
            let got = parse_basic(&header);
            assert_eq!(got.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), expected, "{header}");
        }
    }

    #[test]
    fn params_duplicates_and_empty() {
        let p = Params::parse("a=1&b=&c=3&a=2");
        assert!(p.get("a").is_err());
        assert_eq!(p.get("b").ok(), Some(None));
        assert_eq!(p.get("c").ok(), Some(Some("3")));
        assert_eq!(p.first_duplicate(), Some("a"));
    }
}
