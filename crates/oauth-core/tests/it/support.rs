//! Helpers: build requests, run them, and compare with expectations.

use std::collections::BTreeMap;

use base64::Engine as _;
use oauth_core::pkce::s256_challenge;
use oauth_core::testing::{T0, TestServer};
use oauth_core::types::Subject;
use oauth_core::{Approval, AuthorizeError, OAuthRequest, OAuthResponse, PendingAuthorization};

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge() -> String {
    s256_challenge(VERIFIER)
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

/// `Authorization` header for the demo client.
pub fn demo_auth() -> String {
    basic("test_client", "password")
}

/// The demo authorize query, with extra parameters appended.
pub fn demo_query(extra: &str) -> String {
    let base = "client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=somestate&scope=email";
    if extra.is_empty() { base.to_owned() } else { format!("{base}&{extra}") }
}

/// Query parameters of a Location (or fragment parameters for fragment mode).
pub fn location_params(location: &str) -> BTreeMap<String, String> {
    let (_, params) = location.split_once(['?', '#']).unwrap_or((location, ""));
    url::form_urlencoded::parse(params.as_bytes()).into_owned().collect()
}

/// What an authorize call should produce.
#[derive(Debug)]
pub enum Expect {
    /// A pending authorization.
    Pending,
    /// An error page (no redirect) with this status and error code.
    Page(u16, &'static str),
    /// A redirect to the registered URI carrying this error and `state` (when sent).
    Redirect(&'static str),
}

/// Runs `authorize` and compares with `expect`; returns the pending authorization when there is one.
pub async fn check_authorize(
    t: &TestServer,
    req: OAuthRequest,
    expect: &Expect,
    label: &str,
) -> Option<PendingAuthorization> {
    let result = t.server.authorize(&req).await;
    match (expect, result) {
        (Expect::Pending, Ok(pending)) => Some(pending),
        (Expect::Page(status, code), Err(error)) if !matches!(error, AuthorizeError::Redirect(_)) => {
            let got = error.status();
            let response = error.into_response();
            assert_eq!(response.status, got, "{label}: the page and the default response agree");
            let code_got = response.json_body().and_then(|b| b["error"].as_str().map(str::to_owned));
            assert_eq!((got, code_got.as_deref()), (*status, Some(*code)), "{label}");
            None
        }
        (Expect::Redirect(code), Err(AuthorizeError::Redirect(response))) => {
            let location = response.location().unwrap_or_else(|| panic!("{label}: no Location"));
            assert!(location.starts_with("https://www.example.com/redirect"), "{label}: redirected to {location}");
            let params = location_params(location);
            assert_eq!(params.get("error").map(String::as_str), Some(*code), "{label}: {location}");
            assert!(params.contains_key("error_description"), "{label}: error_description");
            assert_eq!(params.get("iss").map(String::as_str), Some(oauth_core::testing::ISSUER), "{label}: iss");
            let sent_state = req.query.get("state").ok().flatten().or(req.form.get("state").ok().flatten());
            assert_eq!(params.get("state").map(String::as_str), sent_state, "{label}: state echoed");
            None
        }
        (expect, got) => panic!("{label}: expected {expect:?}, got {got:?}"),
    }
}

/// Authorize and approve as the demo user; returns the code from the redirect.
pub async fn code_for(t: &TestServer, query: &str) -> String {
    let pending = t.server.authorize(&OAuthRequest::get(query).secure()).await.unwrap();
    let approval = Approval { subject: Subject::new("user-admin"), scope: None, auth_time: T0 };
    let response = t.server.approve(&pending, approval).await.unwrap();
    let params = location_params(response.location().unwrap());
    params.get("code").cloned().unwrap()
}

/// POSTs a form to the token endpoint over TLS, with an optional Authorization header.
pub async fn token(t: &TestServer, body: &str, auth: Option<&str>) -> OAuthResponse {
    t.server.token(&post(body, auth)).await
}

pub fn post(body: &str, auth: Option<&str>) -> OAuthRequest {
    let mut req = OAuthRequest::post_form(body).secure();
    if let Some(auth) = auth {
        req = req.with_header("Authorization", auth);
    }
    req
}

/// Asserts an error response's status and `error`, and the RFC 6749 §5.2 shape.
#[track_caller]
pub fn assert_error(response: &OAuthResponse, status: u16, code: &str, label: &str) {
    let body = response.json_body().unwrap_or_else(|| panic!("{label}: not JSON: {response:?}"));
    assert_eq!((response.status, body["error"].as_str()), (status, Some(code)), "{label}: {body}");
    assert!(body.get("description").is_none(), "{label}: aioauth's `description` field must not appear");
    assert!(body["error_description"].is_string(), "{label}: error_description");
    assert_eq!(response.header("cache-control"), Some("no-store"), "{label}: Cache-Control");
    if status == 401 {
        let www = response.header("www-authenticate").unwrap_or_else(|| panic!("{label}: WWW-Authenticate"));
        assert!(www.starts_with("Basic realm=\""), "{label}: {www}");
    }
}

/// Asserts a successful token response and returns its body.
#[track_caller]
pub fn assert_tokens(response: &OAuthResponse, label: &str) -> serde_json::Value {
    let body = response.json_body().unwrap_or_else(|| panic!("{label}: not JSON"));
    assert_eq!(response.status, 200, "{label}: {body}");
    assert_eq!(body["token_type"], "Bearer", "{label}");
    assert!(body["access_token"].is_string(), "{label}");
    assert_eq!(response.header("cache-control"), Some("no-store"), "{label}");
    assert_eq!(response.header("pragma"), Some("no-cache"), "{label}");
    body
}

/// Introspects a token as the given client; returns the body.
pub async fn introspect(t: &TestServer, token: &str, auth: &str) -> serde_json::Value {
    let response = t.server.introspect(&post(&format!("token={token}"), Some(auth))).await;
    assert_eq!(response.status, 200, "introspection: {response:?}");
    response.json_body().unwrap()
}

/// Authenticates a resource request carrying `token` as a bearer token over
/// TLS, the one path resource servers take; returns the token's record.
pub async fn resource(t: &TestServer, token: &str) -> Result<oauth_core::storage::TokenRecord, OAuthResponse> {
    let req = OAuthRequest::get("").secure().with_header("Authorization", &format!("Bearer {token}"));
    t.server.authenticate_resource(&req).await.map(|access| access.record)
}

/// `value` (a JSON object) with `key` set to `v`, or removed when `v` is null:
/// one defect per row of the JOSE tables.
pub fn with(mut value: serde_json::Value, key: &str, v: serde_json::Value) -> serde_json::Value {
    if v.is_null() {
        value.as_object_mut().unwrap().remove(key);
    } else {
        value[key] = v;
    }
    value
}
