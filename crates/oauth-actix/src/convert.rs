//! Conversions between actix-web and oauth-core's neutral request and response.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use oauth_core::request::Method;
use oauth_core::{Body, OAuthRequest, OAuthResponse, Params};

/// Builds the neutral request from an actix request and its (already read) body.
///
/// `secure` is true when the connection is TLS, or, with
/// `trust_forwarded_proto`, when a proxy says so (`Forwarded` or
/// `X-Forwarded-Proto`). Only set that behind a proxy you control.
///
/// Only the headers the engine reads are copied: `Authorization` and `Content-Type`.
pub fn to_oauth_request(req: &HttpRequest, body: &[u8], trust_forwarded_proto: bool) -> OAuthRequest {
    let secure =
        if trust_forwarded_proto { req.connection_info().scheme() == "https" } else { req.app_config().secure() };
    let mut headers = Vec::with_capacity(2);
    for name in ["authorization", "content-type"] {
        for value in req.headers().get_all(name) {
            // A header that is not visible ASCII is passed as empty, which the engine rejects.
            headers.push((name.to_owned(), value.to_str().unwrap_or_default().to_owned()));
        }
    }
    OAuthRequest {
        method: Method::parse(req.method().as_str()),
        secure,
        headers,
        query: Params::parse(req.query_string()),
        form: if body.is_empty() { Params::default() } else { Params::parse_bytes(body) },
    }
}

/// Reads a request body up to `limit` bytes. A longer body gets
/// `413 Payload Too Large` with an `invalid_request` JSON error.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, HttpResponse> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            error_json(StatusCode::BAD_REQUEST, "invalid_request", "The request body could not be read")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(error_json(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "The request body is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A JSON error body with `Cache-Control: no-store`.
pub(crate) fn error_json(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "error": error, "error_description": description }))
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

/// Converts a neutral response into an actix response.
pub fn respond(response: OAuthResponse) -> HttpResponse {
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
    fn respond_passes_headers_on_and_drops_broken_ones() {
        let mut response = OAuthResponse::json(400, &serde_json::json!({ "error": "invalid_request" }));
        response.headers.push(("WWW-Authenticate", String::from("Basic realm=\"x\"").into()));
        response.headers.push(("X-Broken", String::from("line\nbreak").into()));
        response.headers.push(("Bad Name", "v".into()));
        let http = respond(response);
        assert_eq!(http.status(), StatusCode::BAD_REQUEST);
        let h = http.headers();
        assert_eq!(h.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
        assert_eq!(h.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        assert_eq!(h.get("pragma").and_then(|v| v.to_str().ok()), Some("no-cache"));
        assert_eq!(h.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Basic realm=\"x\""));
        assert!(h.get("x-broken").is_none());
        assert_eq!(h.len(), 4);
    }
}
