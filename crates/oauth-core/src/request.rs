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

    /// The method's name, as a DPoP proof's `htm` carries it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Other(name) => name,
        }
    }
}

/// Query or form parameters, in the order they arrived, duplicates kept.
///
/// Every decoded name and value lives in one string, with the pairs as
/// ranges into it: two allocations per request instead of two per parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    text: String,
    pairs: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl Params {
    /// Parses an `application/x-www-form-urlencoded` string (a query string or a form body).
    pub fn parse(encoded: &str) -> Self {
        Self::parse_bytes(encoded.as_bytes())
    }

    /// Parses raw `application/x-www-form-urlencoded` bytes as the WHATWG URL
    /// standard does: `&`-separated, `+` is a space, a bad `%` escape stays
    /// as it is, invalid UTF-8 is replaced.
    pub fn parse_bytes(encoded: &[u8]) -> Self {
        let mut params = Self {
            text: String::with_capacity(encoded.len()),
            pairs: Vec::with_capacity(encoded.iter().filter(|&&b| b == b'&').count() + 1),
        };
        for segment in encoded.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
            let (key, value) = match segment.iter().position(|&b| b == b'=') {
                Some(i) => (&segment[..i], &segment[i + 1..]),
                None => (segment, &[][..]),
            };
            let key = params.push_decoded(key);
            let value = params.push_decoded(value);
            params.pairs.push((key, value));
        }
        params
    }

    /// Appends the decoded form of one name or value.
    fn push_decoded(&mut self, encoded: &[u8]) -> std::ops::Range<usize> {
        let start = self.text.len();
        match std::str::from_utf8(encoded) {
            // The common case: nothing to decode.
            Ok(plain) if !encoded.iter().any(|&b| b == b'+' || b == b'%') => self.text.push_str(plain),
            _ => {
                let bytes = form_decode(encoded, BadEscape::Keep).unwrap_or_default();
                self.text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        start..self.text.len()
    }

    /// Builds from already decoded pairs.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut params = Self::default();
        for (key, value) in pairs {
            let key = params.push(key.as_ref());
            let value = params.push(value.as_ref());
            params.pairs.push((key, value));
        }
        params
    }

    fn push(&mut self, s: &str) -> std::ops::Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    /// All pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        // The ranges were made by `push` on this very string: they are in bounds and on char boundaries.
        self.pairs
            .iter()
            .map(|(k, v)| (self.text.get(k.clone()).unwrap_or_default(), self.text.get(v.clone()).unwrap_or_default()))
    }

    /// The single value of `name`.
    ///
    /// An empty value counts as absent (RFC 6749 §3.1); a parameter given
    /// more than once, even with empty values, is `invalid_request`.
    pub fn get(&self, name: &'static str) -> Result<Option<&str>, OAuthError> {
        let mut found: Option<&str> = None;
        let mut seen = false;
        for (key, value) in self.pairs() {
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
    ///
    /// Pairwise for the few parameters of a real request; through a set for
    /// more, so a body stuffed with thousands of names costs linear time.
    pub fn first_duplicate(&self) -> Option<&str> {
        if self.pairs.len() <= 16 {
            return self
                .pairs()
                .enumerate()
                .find(|(i, (key, _))| self.pairs().take(*i).any(|(k, _)| k == *key))
                .map(|(_, (k, _))| k);
        }
        let mut seen = std::collections::HashSet::with_capacity(self.pairs.len());
        self.pairs().map(|(k, _)| k).find(|k| !seen.insert(*k))
    }

    /// True when no parameter was sent.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The total length of the decoded names and values, in bytes: never
    /// more than the encoded text they came from.
    pub fn decoded_len(&self) -> usize {
        self.text.len()
    }
}

/// Parameter names of the protocols this server speaks: the only names an
/// error description may repeat back.
const KNOWN_PARAMETERS: &[&str] = &[
    "access_token",
    "acr_values",
    "actor_token",
    "actor_token_type",
    "assertion",
    "audience",
    "claims",
    "client_assertion",
    "client_assertion_type",
    "client_id",
    "client_secret",
    "code",
    "code_challenge",
    "code_challenge_method",
    "code_verifier",
    "device_code",
    "display",
    "dpop_jkt",
    "grant_type",
    "id_token_hint",
    "login_hint",
    "max_age",
    "nonce",
    "password",
    "prompt",
    "redirect_uri",
    "refresh_token",
    "request",
    "request_uri",
    "requested_token_type",
    "resource",
    "response_mode",
    "response_type",
    "scope",
    "state",
    "subject_token",
    "subject_token_type",
    "token",
    "token_type_hint",
    "ui_locales",
    "username",
];

/// `invalid_request` for a repeated parameter (RFC 6749 §3.1). It names the
/// parameter when it is one of ours and says only "a parameter" otherwise:
/// a name a client made up is never echoed.
pub(crate) fn repeated_parameter(name: &str) -> OAuthError {
    match KNOWN_PARAMETERS.iter().find(|known| **known == name) {
        Some(known) => OAuthError::invalid_request(format!("The {known} parameter is repeated")),
        None => OAuthError::invalid_request("A parameter is repeated"),
    }
}

/// What [`form_decode`] does with a `%` that is not followed by two hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BadEscape {
    /// Keep it as it is (the WHATWG rule for form bodies and query strings).
    Keep,
    /// Refuse the whole value (credentials in an `Authorization` header).
    Reject,
}

/// Decodes `application/x-www-form-urlencoded` bytes: `+` is a space, `%XX`
/// a byte. `None` only for a bad escape under [`BadEscape::Reject`].
fn form_decode(encoded: &[u8], bad: BadEscape) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while let Some(&b) = encoded.get(i) {
        let escaped = (b == b'%')
            .then(|| Some((hex_digit(*encoded.get(i + 1)?)? << 4) | hex_digit(*encoded.get(i + 2)?)?))
            .flatten();
        match (b, escaped) {
            (_, Some(byte)) => {
                bytes.push(byte);
                i += 3;
                continue;
            }
            (b'%', None) if bad == BadEscape::Reject => return None,
            (b'+', None) => bytes.push(b' '),
            (b, None) => bytes.push(b),
        }
        i += 1;
    }
    Some(bytes)
}

/// The value of one hexadecimal digit.
fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
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
    /// The client's address: the connection's peer, or what a trusted proxy
    /// reported (the adapter decides, see `oauth_actix::source_address`).
    /// Failed client authentication is counted per address
    /// ([`crate::throttle`]); `None` counts per client only.
    pub source: Option<std::net::IpAddr>,
    /// The request's path as the application saw it (no query), for the
    /// `htu` of DPoP proofs at resources: core compares `htu` with the
    /// issuer's origin followed by this path. Empty when unknown.
    pub path: String,
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

    /// Sets the client's address.
    pub fn from_source(mut self, source: std::net::IpAddr) -> Self {
        self.source = Some(source);
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

/// How a client presented its credentials at the token, revocation,
/// introspection or PAR endpoint. Its `Debug` output shows no secret and no
/// assertion.
pub(crate) enum PresentedCredentials {
    /// `Authorization: Basic` (RFC 6749 §2.3.1).
    Basic { id: ClientId, secret: ClientSecret },
    /// `client_id` and `client_secret` in the body.
    Post { id: ClientId, secret: ClientSecret },
    /// `client_id` only: a public client.
    IdOnly { id: ClientId },
    /// `client_assertion` of type [`ASSERTION_TYPE`](crate::assertion::ASSERTION_TYPE)
    /// (RFC 7523 §2.2); `id` is the body's `client_id`, or else the
    /// assertion's unverified `sub`.
    Assertion { id: ClientId, assertion: String },
}

impl std::fmt::Debug for PresentedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (method, id) = match self {
            Self::Basic { id, .. } => ("Basic", id),
            Self::Post { id, .. } => ("Post", id),
            Self::IdOnly { id } => ("IdOnly", id),
            Self::Assertion { id, .. } => ("Assertion", id),
        };
        f.debug_struct(method).field("id", id).finish_non_exhaustive()
    }
}

impl PresentedCredentials {
    pub(crate) fn client_id(&self) -> &ClientId {
        match self {
            Self::Basic { id, .. } | Self::Post { id, .. } | Self::IdOnly { id } | Self::Assertion { id, .. } => id,
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
    let assertion_type = req.form.get("client_assertion_type")?;
    let assertion = req.form.get("client_assertion")?;
    if assertion_type.is_some() || assertion.is_some() {
        return presented_assertion(form_id, form_secret.is_some() || header.is_some(), assertion_type, assertion);
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

/// The credentials of a JWT client assertion (RFC 7523 §2.2): exactly one
/// authentication method, the one assertion type, and a client id.
fn presented_assertion(
    form_id: Option<&str>,
    other_method: bool,
    assertion_type: Option<&str>,
    assertion: Option<&str>,
) -> Result<PresentedCredentials, OAuthError> {
    if other_method {
        return Err(OAuthError::invalid_request("The request uses more than one client authentication method"));
    }
    let (Some(assertion_type), Some(assertion)) = (assertion_type, assertion) else {
        return Err(OAuthError::invalid_request("client_assertion and client_assertion_type go together"));
    };
    if assertion_type != crate::assertion::ASSERTION_TYPE {
        return Err(OAuthError::invalid_client("Unsupported client_assertion_type"));
    }
    if assertion.len() > crate::assertion::MAX_ASSERTION_LEN {
        return Err(OAuthError::invalid_client("The client assertion is too long"));
    }
    let id = match form_id {
        Some(id) => id.to_owned(),
        None => crate::jose::unverified_claims(assertion)
            .and_then(|claims| claims.get("sub").and_then(serde_json::Value::as_str).map(str::to_owned))
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| OAuthError::invalid_client("The client assertion names no client"))?,
    };
    Ok(PresentedCredentials::Assertion { id: ClientId::new(id), assertion: assertion.to_owned() })
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
    String::from_utf8(form_decode(value.as_bytes(), BadEscape::Reject)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_credentials_debug_shows_no_secret_or_assertion() {
        let ty: String = url::form_urlencoded::byte_serialize(crate::assertion::ASSERTION_TYPE.as_bytes()).collect();
        for body in [
            format!("client_id=c&client_assertion_type={ty}&client_assertion=aaa.bbb.sig-value"),
            "client_id=c&client_secret=sig-value".to_owned(),
        ] {
            let presented = presented_credentials(&OAuthRequest::post_form(&body)).unwrap();
            let debug = format!("{presented:?}");
            assert!(debug.contains("\"c\"") && !debug.contains("sig-value"), "{debug}");
        }
    }

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
            (format!("Basic {}", b64("id:%4")), None),
            (format!("Basic {}", b64("id:%+5")), None),
            (format!("Basic {}", b64("id:%41%2b+")), Some(("id", "A+ "))),
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
    fn params_decode_as_the_url_standard_does() {
        let rows: &[&[u8]] = &[
            b"a=1&b=2",
            b"a+b=c+d",
            b"%41%42=%4a%4B",
            b"bad=%zz&half=%4&end=%",
            b"&&a=1&&",
            b"noval&=empty&x==y",
            b"utf=%C3%A9t%C3%A9&raw=\xc3\xa9",
            b"lossy=%FF%FE&mixed=a%ZZ%20b+c",
            b"scope=openid%20profile&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1",
            b"",
            b"=",
            b"%",
            b"%%41",
            b"raw=\xff\xfe&k=v",
        ];
        let same_as_url_crate = |row: &[u8]| {
            let ours: Vec<(String, String)> =
                Params::parse_bytes(row).pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            let reference: Vec<(String, String)> = url::form_urlencoded::parse(row).into_owned().collect();
            assert_eq!(ours, reference, "{:?}", row);
        };
        rows.iter().for_each(|row| same_as_url_crate(row));
        // And 20,000 random strings over the bytes that matter.
        let alphabet = b"a=&+%0F9z\xc3\xa9\xff ";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut row = Vec::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for i in 0..(state % 24) {
                row.push(alphabet[usize::try_from((state >> (i % 32 * 2)) % alphabet.len() as u64).unwrap_or(0)]);
            }
            same_as_url_crate(&row);
        }
    }

    #[test]
    fn params_duplicates_and_empty() {
        let p = Params::parse("a=1&b=&c=3&a=2");
        assert!(p.get("a").is_err());
        assert_eq!(p.get("b").ok(), Some(None));
        assert_eq!(p.get("c").ok(), Some(Some("3")));
        assert_eq!(p.first_duplicate(), Some("a"));
        assert_eq!(Params::parse("x=%41&y=b+c&z").pairs().collect::<Vec<_>>(), [("x", "A"), ("y", "b c"), ("z", "")]);
        assert_eq!(Params::parse("q=1&r=2").first_duplicate(), None);
        let many: String = (0..5000).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(Params::parse(&many).first_duplicate(), None);
        assert_eq!(Params::parse(&format!("{many}k4321=again")).first_duplicate(), Some("k4321"));
    }

    #[test]
    fn repeated_names_are_echoed_only_when_they_are_ours() {
        let description = |name: &str| repeated_parameter(name).description.map(|d| d.into_owned());
        assert_eq!(description("scope").as_deref(), Some("The scope parameter is repeated"));
        assert_eq!(description("<script>alert(1)</script>").as_deref(), Some("A parameter is repeated"));
        assert_eq!(description("Scope").as_deref(), Some("A parameter is repeated"));
        assert!(Params::parse("").is_empty());
        let bad_utf8 = Params::parse_bytes(b"k=%FF&k2=v");
        assert_eq!(bad_utf8.get("k").ok(), Some(Some("\u{FFFD}")));
        assert_eq!(bad_utf8.get("k2").ok(), Some(Some("v")));
    }
}
