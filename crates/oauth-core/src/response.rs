//! Neutral outputs: status, headers and a body, which an adapter renders.

use std::borrow::Cow;

use crate::error::{Cause, OAuthError};
use crate::types::{RedirectUri, ResponseMode};

/// The body of an [`OAuthResponse`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document (already serialized).
    Json(String),
    /// An HTML page (the `form_post` response mode).
    Html(String),
}

/// What an endpoint answers: an HTTP status, headers and a body.
///
/// Header names are lowercase-insensitive HTTP names; adapters copy them
/// verbatim. Token-bearing responses always carry `Cache-Control: no-store`;
/// public documents carry `Cache-Control: max-age=…`.
///
/// Every answer of every endpoint is one of these, so an adapter never
/// chooses a status, a header or a body: it converts, and logs the
/// [`cause`](Self::cause) when there is one. Equality ignores the cause.
#[derive(Clone, Debug)]
pub struct OAuthResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers. Fixed values are borrowed, so an adapter can pass
    /// them on without copying.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// Response body.
    pub body: Body,
    /// The failure behind this answer (a storage error behind a 503, say),
    /// never sent: the adapter logs it once, with the request's route.
    pub cause: Option<Cause>,
}

impl PartialEq for OAuthResponse {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.headers == other.headers && self.body == other.body
    }
}

impl Eq for OAuthResponse {}

impl OAuthResponse {
    /// A JSON response with `Cache-Control: no-store` and `Pragma: no-cache`
    /// (RFC 6749 §5.1).
    ///
    /// A value that cannot be serialized (a map with non-string keys, say)
    /// gives `500 server_error` rather than a wrong body.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        let (status, body) = match serde_json::to_string(value) {
            Ok(body) => (status, body),
            Err(_) => (500, String::from(r#"{"error":"server_error"}"#)),
        };
        Self {
            status,
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("Cache-Control", "no-store".into()),
                ("Pragma", "no-cache".into()),
            ],
            body: Body::Json(body),
            cause: None,
        }
    }

    /// A public JSON document (metadata, JWK Set, discovery): `200 OK` that
    /// caches may keep for `max_age` seconds (`Cache-Control: max-age=…`).
    pub fn document(value: &impl serde::Serialize, max_age: u32) -> Self {
        let mut response = Self::json(200, value);
        if response.status == 200 {
            response.headers.retain(|(name, _)| *name != "Cache-Control" && *name != "Pragma");
            response.headers.push(("Cache-Control", format!("max-age={max_age}").into()));
        }
        response
    }

    /// `404 Not Found` with an `invalid_request` JSON error: a document of a
    /// feature that is off (OpenID Connect without signing keys).
    pub fn not_found(description: &'static str) -> Self {
        let mut response = Self::from(OAuthError::invalid_request(description));
        response.status = 404;
        response
    }

    /// `413 Payload Too Large` with an `invalid_request` JSON error: the
    /// request body is over the adapter's limit.
    pub fn body_too_large() -> Self {
        let mut response = Self::from(OAuthError::invalid_request("The request body is too large"));
        response.status = 413;
        response
    }

    /// `400 invalid_request`: the request body could not be read (the
    /// connection broke, or the transfer encoding is malformed).
    pub fn body_unreadable() -> Self {
        Self::from(OAuthError::invalid_request("The request body could not be read"))
    }

    /// `400 invalid_request`: the request asks for a protocol upgrade
    /// (`Connection: Upgrade`, a WebSocket handshake say), which no endpoint
    /// of an authorization server speaks. Its body would be the rest of the
    /// connection, so it is answered before anything reads one.
    pub fn upgrade_refused() -> Self {
        Self::from(OAuthError::invalid_request("Protocol upgrades are not supported"))
    }

    /// The same response with the failure behind it, for the adapter's log.
    pub fn with_cause(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self
    }

    /// An empty `200 OK` with `Cache-Control: no-store`.
    pub fn empty_ok() -> Self {
        Self {
            status: 200,
            headers: vec![("Cache-Control", "no-store".into()), ("Pragma", "no-cache".into())],
            body: Body::Empty,
            cause: None,
        }
    }

    /// `405 Method Not Allowed` with the `Allow` header.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut response = Self::json(
            405,
            &serde_json::json!({
                "error": "invalid_request",
                "error_description": "HTTP method not allowed on this endpoint",
            }),
        );
        response.headers.push(("Allow", allow.into()));
        response
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }

    /// The `Location` of a redirect.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The JSON body parsed, when there is one.
    pub fn json_body(&self) -> Option<serde_json::Value> {
        match &self.body {
            Body::Json(s) => serde_json::from_str(s).ok(),
            _ => None,
        }
    }

    /// Delivers authorization response parameters to the client's redirect URI
    /// in the given response mode.
    ///
    /// Query: appended to the registered URI's own query (kept as is).
    /// Fragment: in the fragment. Form post: an HTML page whose form POSTs the
    /// parameters to the redirect URI; it submits itself on load, and has a
    /// button for user agents without script.
    pub fn authorization_redirect(redirect_uri: &RedirectUri, mode: &ResponseMode, params: &[(&str, &str)]) -> Self {
        let encoded = || {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                ser.append_pair(k, v);
            }
            ser.finish()
        };
        let base = redirect_uri.as_str();
        let location = match mode {
            ResponseMode::FormPost => return Self::form_post(base, params),
            ResponseMode::Fragment => format!("{base}#{}", encoded()),
            _ => {
                let sep = if base.contains('?') {
                    if base.ends_with('?') || base.ends_with('&') { "" } else { "&" }
                } else {
                    "?"
                };
                format!("{base}{sep}{}", encoded())
            }
        };
        Self {
            status: 302,
            headers: vec![("Location", location.into()), ("Cache-Control", "no-store".into())],
            body: Body::Empty,
            cause: None,
        }
    }

    fn form_post(action: &str, params: &[(&str, &str)]) -> Self {
        let mut inputs = String::new();
        for (k, v) in params {
            inputs.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            ));
        }
        let page = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Submit this form</title></head>\
             <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}\
             <noscript><p>JavaScript is off. Press the button to continue.</p></noscript>\
             <button type=\"submit\">Continue</button></form></body></html>",
            html_escape(action)
        );
        Self {
            status: 200,
            headers: vec![
                ("Content-Type", "text/html; charset=utf-8".into()),
                ("Cache-Control", "no-store".into()),
                ("Pragma", "no-cache".into()),
                ("X-Frame-Options", "DENY".into()),
                (
                    "Content-Security-Policy",
                    "default-src 'none'; script-src-attr 'unsafe-inline'; form-action *; frame-ancestors 'none'".into(),
                ),
            ],
            body: Body::Html(page),
            cause: None,
        }
    }
}

/// Escapes text for an HTML attribute or element body.
pub fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> RedirectUri {
        RedirectUri::new(s, false).unwrap()
    }

    #[test]
    fn redirect_modes() {
        let params = [("state", "a b"), ("code", "c/d")];
        let q = OAuthResponse::authorization_redirect(&uri("https://x.example/cb"), &ResponseMode::Query, &params);
        assert_eq!(q.location(), Some("https://x.example/cb?state=a+b&code=c%2Fd"));
        let q = OAuthResponse::authorization_redirect(&uri("https://x.example/cb?k=v"), &ResponseMode::Query, &params);
        assert_eq!(q.location(), Some("https://x.example/cb?k=v&state=a+b&code=c%2Fd"));
        let f = OAuthResponse::authorization_redirect(&uri("https://x.example/cb"), &ResponseMode::Fragment, &params);
        assert_eq!(f.location(), Some("https://x.example/cb#state=a+b&code=c%2Fd"));
        let p = OAuthResponse::authorization_redirect(
            &uri("https://x.example/cb"),
            &ResponseMode::FormPost,
            &[("state", "\"><script>")],
        );
        assert_eq!(p.status, 200);
        let Body::Html(html) = &p.body else { panic!("expected html") };
        assert!(html.contains("action=\"https://x.example/cb\""));
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;\""));
    }

    #[test]
    fn fixed_answers_table() {
        use crate::error::ErrorCode;
        let unavailable = OAuthError::unavailable().with_cause(std::io::Error::other("down"));
        // (name, response, status, Cache-Control, Pragma, body)
        let rows: Vec<(&str, OAuthResponse, u16, &str, Option<&str>, serde_json::Value)> = vec![
            (
                "document",
                OAuthResponse::document(&serde_json::json!({ "issuer": "i" }), 300),
                200,
                "max-age=300",
                None,
                serde_json::json!({ "issuer": "i" }),
            ),
            (
                "not found",
                OAuthResponse::not_found("OpenID Connect is not enabled"),
                404,
                "no-store",
                Some("no-cache"),
                serde_json::json!({ "error": "invalid_request", "error_description": "OpenID Connect is not enabled" }),
            ),
            (
                "too large",
                OAuthResponse::body_too_large(),
                413,
                "no-store",
                Some("no-cache"),
                serde_json::json!({ "error": "invalid_request", "error_description": "The request body is too large" }),
            ),
            (
                "unreadable",
                OAuthResponse::body_unreadable(),
                400,
                "no-store",
                Some("no-cache"),
                serde_json::json!({ "error": "invalid_request", "error_description": "The request body could not be read" }),
            ),
            (
                "from error",
                OAuthResponse::from(OAuthError::new(ErrorCode::ServerError, "x")),
                500,
                "no-store",
                Some("no-cache"),
                serde_json::json!({ "error": "server_error", "error_description": "x" }),
            ),
            (
                "unavailable",
                OAuthResponse::from(unavailable.clone()),
                503,
                "no-store",
                Some("no-cache"),
                unavailable.to_json(),
            ),
        ];
        for (name, response, status, cache, pragma, body) in rows {
            assert_eq!(response.status, status, "{name}");
            assert_eq!(response.header("Content-Type"), Some("application/json"), "{name}");
            assert_eq!(response.header("Cache-Control"), Some(cache), "{name}");
            assert_eq!(response.header("Pragma"), pragma, "{name}");
            assert_eq!(response.json_body(), Some(body), "{name}");
            assert_eq!(response.cause.is_some(), name == "unavailable", "{name}: only failures carry a cause");
        }
    }

    #[test]
    fn equality_ignores_the_cause() {
        let plain = OAuthError::unavailable();
        let caused = OAuthError::unavailable().with_cause(std::io::Error::other("down"));
        assert_eq!(plain, caused);
        assert_eq!(OAuthResponse::from(plain), OAuthResponse::from(caused.clone()));
        assert_eq!(std::error::Error::source(&caused).map(ToString::to_string).as_deref(), Some("down"));
        assert!(!format!("{:?}", OAuthResponse::from(caused)).is_empty());
    }

    #[test]
    fn json_that_cannot_be_serialized_is_a_server_error() {
        let ok = OAuthResponse::json(200, &serde_json::json!({ "active": false }));
        assert_eq!((ok.status, ok.json_body()), (200, Some(serde_json::json!({ "active": false }))));
        let keys_not_strings: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let failed = OAuthResponse::json(200, &keys_not_strings);
        assert_eq!(failed.status, 500);
        assert_eq!(failed.json_body(), Some(serde_json::json!({ "error": "server_error" })));
        assert_eq!(failed.header("Cache-Control"), Some("no-store"));
    }
}
