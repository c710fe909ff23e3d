//! Conversions between actix-web and oauth-core's neutral request and response.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use oauth_core::request::Method;
use oauth_core::throttle::IpRange;
use oauth_core::{Body, Cause, OAuthRequest, OAuthResponse, Params};
use std::net::IpAddr;

/// Builds the neutral request from an actix request and its (already read) body.
///
/// `secure` is true when the connection is TLS, or, with
/// `trust_forwarded_proto`, when a proxy says so (`Forwarded` or
/// `X-Forwarded-Proto`). Only set that behind a proxy you control.
///
/// Only the headers the engine reads are copied: `Authorization`,
/// `Content-Type` and `DPoP`. The [`source`](OAuthRequest::source) is the connection's
/// peer; the endpoints replace it with [`source_address`] under their
/// [`AdapterOptions::trusted_proxies`](crate::AdapterOptions::trusted_proxies).
pub fn to_oauth_request(req: &HttpRequest, body: &[u8], trust_forwarded_proto: bool) -> OAuthRequest {
    let secure =
        if trust_forwarded_proto { req.connection_info().scheme() == "https" } else { req.app_config().secure() };
    let mut headers = Vec::with_capacity(2);
    // Parsed names: a `&str` name would be parsed again on every lookup.
    const READ: [(HeaderName, &str); 3] =
        [(header::AUTHORIZATION, "authorization"), (header::CONTENT_TYPE, "content-type"), (DPOP, "dpop")];
    for (name, lower) in &READ {
        for value in req.headers().get_all(name) {
            // A header that is not visible ASCII is passed as empty, which the engine rejects.
            headers.push(((*lower).to_owned(), value.to_str().unwrap_or_default().to_owned()));
        }
    }
    OAuthRequest {
        method: Method::parse(req.method().as_str()),
        secure,
        headers,
        query: Params::parse(req.query_string()),
        form: if body.is_empty() { Params::default() } else { Params::parse_bytes(body) },
        source: req.peer_addr().map(|peer| peer.ip()),
        path: req.path().to_owned(),
    }
}

/// The `DPoP` header (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");

/// Most forwarded hops looked at; a longer chain is cut to its last ones.
const MAX_HOPS: usize = 32;

/// The client's address, the one rule for the OAuth endpoints and the
/// application's own pages (its login page): the connection's peer, unless
/// the peer is one of the `trusted` proxies; then the rightmost address of
/// `Forwarded` (RFC 7239 `for=`), or of `X-Forwarded-For` when there is no
/// `Forwarded`, that is not a trusted proxy itself. A hop that is not an IP
/// address (`unknown`, an obfuscated name) ends the walk at the trusted hop
/// that reported it. With no trusted proxies, headers are never read.
pub fn source_address(req: &HttpRequest, trusted: &[IpRange]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut address = peer;
    for hop in forwarded_hops(req).into_iter().rev() {
        match hop {
            Some(ip) => {
                address = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    Some(address)
}

/// The `for=` hops of `Forwarded`, or else of `X-Forwarded-For`, left to
/// right, at most the last [`MAX_HOPS`]; `None` for a hop that is not an address.
fn forwarded_hops(req: &HttpRequest) -> Vec<Option<IpAddr>> {
    let values = |name| req.headers().get_all(name).map(|v| v.to_str().unwrap_or_default()).collect::<Vec<_>>();
    let forwarded = values(header::FORWARDED);
    let mut hops: Vec<Option<IpAddr>> = if forwarded.is_empty() {
        values(HeaderName::from_static("x-forwarded-for"))
            .iter()
            .flat_map(|v| v.split(','))
            .map(|hop| parse_node(hop.trim()))
            .collect()
    } else {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, value)| parse_node(value.trim().trim_matches('"')))
            })
            .collect()
    };
    let excess = hops.len().saturating_sub(MAX_HOPS);
    hops.drain(..excess);
    hops
}

/// An address with an optional port: `192.0.2.1`, `192.0.2.1:8080`,
/// `2001:db8::1`, `[2001:db8::1]:8080`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    node.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

/// A route that answers every request asking for a protocol upgrade
/// (`Connection: Upgrade`) with core's [`OAuthResponse::upgrade_refused`] at
/// once, and matches nothing else. The body of such a request is the rest of
/// the connection, so a handler that reads it would never answer. Every
/// endpoint of [`OAuthEndpoints`](crate::OAuthEndpoints) has it as its first
/// route; give it to your own resources that read a body, first:
/// `web::resource("/login").route(oauth_actix::upgrade_refusal()).route(web::post().to(login))`.
/// (A guard, not a middleware: it costs a header lookup, no allocation.)
pub fn upgrade_refusal() -> actix_web::Route {
    web::route()
        .guard(actix_web::guard::fn_guard(|ctx| ctx.head().upgrade()))
        .to(|req: HttpRequest| async move { respond(&req, OAuthResponse::upgrade_refused()) })
}

/// Reads a request body up to `limit` bytes. A longer body is core's
/// [`OAuthResponse::body_too_large`] (413), an unreadable one (broken
/// connection, malformed chunked encoding) [`OAuthResponse::body_unreadable`] (400).
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, OAuthResponse> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| OAuthResponse::body_unreadable())?;
        if body.len() + chunk.len() > limit {
            return Err(OAuthResponse::body_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The header's name, as a constant for the ones every response carries.
fn header_name(name: &'static str) -> Option<HeaderName> {
    match name {
        "Content-Type" => Some(header::CONTENT_TYPE),
        "Cache-Control" => Some(header::CACHE_CONTROL),
        "Pragma" => Some(header::PRAGMA),
        "Location" => Some(header::LOCATION),
        other => HeaderName::from_bytes(other.as_bytes()).ok(),
    }
}

/// Converts a neutral response into an actix response, and logs its
/// [`cause`](OAuthResponse::cause), when it has one, once: at `error` level
/// with the request's route pattern (never its path or query), method and
/// status, and the cause with its whole `source()` chain.
pub fn respond(req: &HttpRequest, response: OAuthResponse) -> HttpResponse {
    log_cause(req, response.status, response.cause.as_ref());
    convert(response)
}

/// Logs the cause of an answer, if any, as [`respond`] does: for an
/// application that renders an answer itself (an error page for core's
/// `AuthorizeError::Invalid`, say) instead of passing it to [`respond`].
pub fn log_cause(req: &HttpRequest, status: u16, cause: Option<&Cause>) {
    if let Some(cause) = cause {
        let route = req.match_pattern();
        tracing::error!(
            route = route.as_deref().unwrap_or("<unmatched>"),
            method = %req.method(),
            status,
            cause = %Chain(cause.as_ref()),
            "request failed",
        );
    }
}

/// Displays an error and its sources: `a: b: c`.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// Converts without logging: the cause, if any, was logged already.
pub(crate) fn convert(response: OAuthResponse) -> HttpResponse {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers {
        let value = match value {
            // Checked, not copied.
            Cow::Borrowed(fixed) => HeaderValue::from_maybe_shared(web::Bytes::from_static(fixed.as_bytes())),
            Cow::Owned(text) => HeaderValue::try_from(text),
        };
        // The engine's names and values are visible ASCII; anything else is dropped rather than sent broken.
        if let (Some(name), Ok(value)) = (header_name(name), value) {
            builder.append_header((name, value));
        }
    }
    match response.body {
        Body::Empty => builder.finish(),
        Body::Json(json) => builder.body(json),
        Body::Html(html) => builder.body(html),
        _ => builder.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_address_follows_only_trusted_proxies() {
        let proxy: IpRange = "10.0.0.0/8".parse().unwrap();
        let ranges = [proxy, "2001:db8:ffff::/48".parse().unwrap()];
        let peer = |ip: &str| std::net::SocketAddr::new(ip.parse().unwrap(), 4711);
        let cases: &[(&str, &[IpRange], &[(&str, &str)], Option<&str>)] = &[
            ("203.0.113.1", &[], &[("x-forwarded-for", "198.51.100.1")], Some("203.0.113.1")),
            ("10.0.0.1", &[], &[("x-forwarded-for", "198.51.100.1")], Some("10.0.0.1")),
            ("203.0.113.1", &ranges, &[("x-forwarded-for", "198.51.100.1")], Some("203.0.113.1")),
            ("10.0.0.1", &ranges, &[("x-forwarded-for", "198.51.100.1")], Some("198.51.100.1")),
            ("10.0.0.1", &ranges, &[], Some("10.0.0.1")),
            // The rightmost untrusted hop: what the client prepends is ignored.
            ("10.0.0.1", &ranges, &[("x-forwarded-for", "1.1.1.1, 198.51.100.1, 10.2.3.4")], Some("198.51.100.1")),
            (
                "10.0.0.1",
                &ranges,
                &[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "198.51.100.1")],
                Some("198.51.100.1"),
            ),
            ("10.0.0.1", &ranges, &[("x-forwarded-for", "10.9.9.9, 10.2.3.4")], Some("10.9.9.9")),
            ("10.0.0.1", &ranges, &[("x-forwarded-for", "1.1.1.1, garbage")], Some("10.0.0.1")),
            ("10.0.0.1", &ranges, &[("x-forwarded-for", "[2001:db8::5]:80")], Some("2001:db8::5")),
            // Forwarded wins over X-Forwarded-For.
            (
                "10.0.0.1",
                &ranges,
                &[("forwarded", "for=1.1.1.1, for=\"[2001:db8::7]:443\";proto=https"), ("x-forwarded-for", "5.5.5.5")],
                Some("2001:db8::7"),
            ),
            ("10.0.0.1", &ranges, &[("forwarded", "For=198.51.100.2:80;by=10.0.0.1")], Some("198.51.100.2")),
            ("10.0.0.1", &ranges, &[("forwarded", "for=unknown")], Some("10.0.0.1")),
            ("10.0.0.1", &ranges, &[("forwarded", "for=_hidden, for=10.3.3.3")], Some("10.3.3.3")),
        ];
        for (i, (from, trusted, headers, expected)) in cases.iter().enumerate() {
            let mut req = actix_web::test::TestRequest::default().peer_addr(peer(from));
            for (name, value) in *headers {
                req = req.append_header((*name, *value));
            }
            let got = source_address(&req.to_http_request(), trusted);
            assert_eq!(got, expected.map(|s| s.parse().unwrap()), "case {i}: {from} {headers:?}");
        }
        assert_eq!(source_address(&actix_web::test::TestRequest::default().to_http_request(), &ranges), None);
    }

    #[test]
    fn respond_passes_headers_on_and_drops_broken_ones() {
        let mut response = OAuthResponse::json(400, &serde_json::json!({ "error": "invalid_request" }));
        response.headers.push(("WWW-Authenticate", String::from("Basic realm=\"x\"").into()));
        response.headers.push(("X-Broken", String::from("line\nbreak").into()));
        response.headers.push(("Bad Name", "v".into()));
        let http = convert(response);
        assert_eq!(http.status(), StatusCode::BAD_REQUEST);
        let h = http.headers();
        assert_eq!(h.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
        assert_eq!(h.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        assert_eq!(h.get("pragma").and_then(|v| v.to_str().ok()), Some("no-cache"));
        assert_eq!(h.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Basic realm=\"x\""));
        assert!(h.get("x-broken").is_none());
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn a_chain_shows_every_source() {
        let error = oauth_core::OAuthError::unavailable()
            .with_cause(oauth_core::storage::StorageError::Backend("connection refused".into()));
        assert_eq!(
            Chain(&error).to_string(),
            "temporarily_unavailable: The authorization server storage is unavailable: \
             storage backend error: connection refused"
        );
    }
}
