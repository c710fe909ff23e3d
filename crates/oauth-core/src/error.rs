//! OAuth error codes and the error value every endpoint returns.
//!
//! An [`OAuthError`] knows its HTTP status; whether it is delivered as a
//! redirect (authorization endpoint, after the redirect URI is verified) or as
//! JSON (everything else) is decided by the endpoint that produced it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::response::OAuthResponse;

/// `error` values from RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1 and RFC 6750 §3.1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Malformed request: missing, repeated or invalid parameter.
    InvalidRequest,
    /// Client authentication failed (401).
    InvalidClient,
    /// Code, refresh token or resource owner credentials are invalid, expired, revoked or mismatched.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The response type is not supported (or not registered for this client).
    UnsupportedResponseType,
    /// The requested scope is invalid, unknown, or exceeds what is allowed.
    InvalidScope,
    /// The resource owner or server denied the request.
    AccessDenied,
    /// RFC 8693 §2.2.2 (and RFC 8707 §2): the server will not issue a token
    /// for the requested `audience` or `resource`.
    InvalidTarget,
    /// The token type cannot be revoked (RFC 7009).
    UnsupportedTokenType,
    /// Unexpected condition (500).
    ServerError,
    /// The server cannot handle the request now, for example its store is down (503).
    TemporarilyUnavailable,
    /// RFC 6750: the access token is expired, revoked or malformed.
    InvalidToken,
    /// RFC 6750: the token lacks the scope the resource needs.
    InsufficientScope,
    /// OpenID Connect: `prompt=none` but the user is not logged in.
    LoginRequired,
    /// OpenID Connect: `prompt=none` but consent is needed.
    ConsentRequired,
    /// `invalid_dpop_proof` (RFC 9449 §5, §7.1): the DPoP proof is missing
    /// where one is required, malformed, replayed, or made for another key.
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8, §9): the proof must carry the nonce the
    /// answer hands out in its `DPoP-Nonce` header.
    UseDpopNonce {
        /// The nonce to use.
        nonce: String,
    },
    /// Too many failed authentication attempts ([`crate::throttle`]): `429`
    /// with `Retry-After`, sent as `temporarily_unavailable` (no RFC code
    /// says "throttled"; this one tells the client to try again later).
    TooManyAttempts {
        /// Seconds until the throttle's window ends.
        retry_after: u64,
    },
    /// `authorization_pending` (RFC 8628 §3.5): the user has not decided yet.
    AuthorizationPending,
    /// `slow_down` (RFC 8628 §3.5): polling too fast; the interval grew.
    SlowDown,
    /// `expired_token` (RFC 8628 §3.5): the device code expired.
    ExpiredToken,
    /// Another code.
    Extension(String),
}

impl ErrorCode {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce { .. } => "use_dpop_nonce",
            Self::TooManyAttempts { .. } => "temporarily_unavailable",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::Extension(other) => other,
        }
    }

    /// The HTTP status for a direct (non-redirect) error response.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            Self::TooManyAttempts { .. } => 429,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The failure behind an answer (a storage error, say): never sent to the
/// client, kept so that the adapter can log it once, at the edge.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error as sent to the client: `error`, `error_description`, `error_uri`.
///
/// Descriptions are fixed strings written by us; request values are never
/// echoed into them, so they always satisfy the RFC 6749 character set.
///
/// Equality compares what the client sees and ignores the [`cause`](Self::cause).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{code}: {}", description.as_deref().unwrap_or(""))]
pub struct OAuthError {
    /// The `error` code.
    pub code: ErrorCode,
    /// Human-readable `error_description`.
    pub description: Option<Cow<'static, str>>,
    /// `error_uri`, when configured.
    pub uri: Option<String>,
    /// Why the server could not answer (for `temporarily_unavailable`, the
    /// storage failure); for logs only, never sent.
    #[source]
    pub cause: Option<Cause>,
}

impl PartialEq for OAuthError {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.description == other.description && self.uri == other.uri
    }
}

impl Eq for OAuthError {}

impl OAuthError {
    /// An error with a description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { code, description: Some(description.into()), uri: None, cause: None }
    }

    /// The same error with the failure behind it, for the adapter's log.
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// The HTTP status of this error as a direct (non-redirect) response.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant` with a description.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_client` with a description.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `invalid_scope` with a description.
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    /// `temporarily_unavailable`, the answer to any storage failure (see
    /// [`with_cause`](Self::with_cause) to keep the failure for the log).
    pub fn unavailable() -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "The authorization server storage is unavailable")
    }

    /// `429`: too many failed attempts, try again in `retry_after` seconds.
    pub fn too_many_attempts(retry_after: u64) -> Self {
        Self::new(
            ErrorCode::TooManyAttempts { retry_after },
            "Too many failed authentication attempts; try again later",
        )
    }

    /// The JSON body `{"error", "error_description", "error_uri"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.code.as_str().into());
        if let Some(description) = &self.description {
            body.insert("error_description".into(), description.as_ref().into());
        }
        if let Some(uri) = &self.uri {
            body.insert("error_uri".into(), uri.as_str().into());
        }
        serde_json::Value::Object(body)
    }

    /// The direct JSON response for this error (RFC 6749 §5.2).
    ///
    /// `401 invalid_client` carries `WWW-Authenticate: Basic realm=…` so that
    /// clients using HTTP Basic learn the scheme (RFC 6749 §5.2, RFC 7235 §3.1);
    /// `503 temporarily_unavailable` carries `Retry-After: 1` (RFC 9110 §10.2.3),
    /// `use_dpop_nonce` the nonce in `DPoP-Nonce` (RFC 9449 §8),
    /// `429` ([`ErrorCode::TooManyAttempts`]) the seconds left of its window.
    ///
    /// The response keeps the error's [`cause`](Self::cause).
    pub fn into_response(self, realm: &str) -> OAuthResponse {
        let code = self.code.clone();
        let mut response = OAuthResponse::from(self);
        if code == ErrorCode::TemporarilyUnavailable {
            response.headers.push(("Retry-After", "1".into()));
        }
        if let ErrorCode::UseDpopNonce { nonce } = &code {
            response.headers.push(("DPoP-Nonce", nonce.clone().into()));
        }
        if let ErrorCode::TooManyAttempts { retry_after } = code {
            response.headers.push(("Retry-After", retry_after.max(1).to_string().into()));
        }
        if code == ErrorCode::InvalidClient {
            response.headers.push((
                "WWW-Authenticate",
                format!("Basic realm=\"{}\", charset=\"UTF-8\"", quoted_string_safe(realm)).into(),
            ));
        }
        response
    }
}

impl From<OAuthError> for OAuthResponse {
    /// The direct JSON response for the error: its status, its JSON body,
    /// `Cache-Control: no-store`, and its cause. No `WWW-Authenticate`
    /// challenge: see [`OAuthError::into_response`] for the token endpoints.
    fn from(error: OAuthError) -> Self {
        let mut response = OAuthResponse::json(error.status(), &error.to_json());
        response.cause = error.cause;
        response
    }
}

/// Removes the characters that would break an RFC 7230 quoted-string.
pub(crate) fn quoted_string_safe(value: &str) -> String {
    value.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}
