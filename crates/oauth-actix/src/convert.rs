//! Conversions between actix-web and oauth-core's neutral request and response.

use actix_web::http::StatusCode;
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

/// Converts a neutral response into an actix response.
pub fn respond(response: OAuthResponse) -> HttpResponse {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &response.headers {
        builder.append_header((*name, value.as_str()));
    }
    match response.body {
        Body::Empty => builder.finish(),
        Body::Json(json) => builder.body(json),
        Body::Html(html) => builder.body(html),
        _ => builder.finish(),
    }
}
