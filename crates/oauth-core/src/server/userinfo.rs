//! Protected-resource authentication ([RFC 6750](https://www.rfc-editor.org/rfc/rfc6750)
//! bearer tokens) and the OpenID Connect UserInfo endpoint
//! ([Core §5.3](https://openid.net/specs/openid-connect-core-1_0.html#UserInfo)).
//!
//! [`AuthorizationServer::authenticate_resource`] is the one path for every
//! protected resource: UserInfo and the adapters' extractors call it, so the
//! TLS rule, the `WWW-Authenticate` answers and the `503` are decided once.
//! Another scheme (DPoP, RFC 9449) is one more [`TokenScheme`] here.

use super::{AuthorizationServer, storage_error};
use crate::error::{ErrorCode, OAuthError, quoted_string_safe};
use crate::jose::looks_like_jwt;
use crate::oidc::{AccessTokenClaims, claims_for_scope};
use crate::request::{Method, OAuthRequest};
use crate::response::{Body, OAuthResponse};
use crate::storage::TokenRecord;
use crate::types::TokenKey;

/// The bearer token of a request: `Authorization: Bearer …`, or the
/// `access_token` form field of a form POST (RFC 6750 §2.1, §2.2). Both at
/// once, or a malformed header, is `invalid_request`.
pub fn bearer_token(req: &OAuthRequest) -> Result<Option<&str>, OAuthError> {
    let mut headers = req.header_values("authorization");
    let header = headers.next();
    if headers.next().is_some() {
        return Err(OAuthError::invalid_request("The Authorization header is repeated"));
    }
    let from_header = match header {
        Some(value) => {
            let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Ok(None);
            }
            let token = token.trim();
            if token.is_empty() {
                return Err(OAuthError::invalid_request("The bearer token is empty"));
            }
            Some(token)
        }
        None => None,
    };
    let from_form = if req.method == Method::Post && req.is_form() { req.form.get("access_token")? } else { None };
    match (from_header, from_form) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("The access token was sent in two places")),
        (token, None) | (None, token) => Ok(token),
    }
}

fn invalid_token(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, description)
}

/// How a protected-resource request presented its access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenScheme {
    /// `Authorization: Bearer …`, or the `access_token` field of a form POST (RFC 6750).
    Bearer,
}

/// An authenticated protected-resource request
/// ([`AuthorizationServer::authenticate_resource`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResourceAccess {
    /// What the store knows of the access token: client, subject, scope, expiry.
    pub record: TokenRecord,
    /// How the token was presented.
    pub scheme: TokenScheme,
}

/// An access token as presented, not yet validated.
struct Presented<'a> {
    scheme: TokenScheme,
    token: &'a str,
}

/// The access token of a request and its scheme; `None` when the request
/// carries none. A new scheme is parsed here.
fn presented_token(req: &OAuthRequest) -> Result<Option<Presented<'_>>, OAuthError> {
    Ok(bearer_token(req)?.map(|token| Presented { scheme: TokenScheme::Bearer, token }))
}

impl AuthorizationServer {
    /// Where a presented access or refresh token is stored: the key of the
    /// token itself, or, for a JWT access token signed by one of our keys,
    /// [`TokenKey::of_jti`] of its `jti` (never the key of the jti as a token).
    pub(crate) fn reference_key(&self, token: &str) -> Option<TokenKey> {
        if !looks_like_jwt(token) {
            return TokenKey::of(token);
        }
        let keys = self.keys()?;
        // Expiry is judged on the stored record; the signature proves the jti is ours.
        let claims: AccessTokenClaims = keys.verify(token, "at+jwt", self.policy.issuer().as_str(), None).ok()?;
        TokenKey::of_jti(&claims.jti)
    }

    /// Authenticates a protected-resource request: the one path for UserInfo
    /// and for resource servers (`oauth_actix::BearerToken`).
    ///
    /// The request must come over TLS (unless the policy allows insecure
    /// transport) and present a valid access token: opaque or a JWT signed by
    /// one of the server's keys (never a JWT's `jti`), known to the store (so
    /// revoked tokens are refused) and unexpired. Every refusal
    /// is a complete answer: `401` with `WWW-Authenticate: Bearer` (RFC 6750
    /// §3; no error code when no token was presented), `400
    /// invalid_request` with the challenge, or `503` with its cause when the
    /// store fails. The request's method is not checked: resources choose theirs.
    pub async fn authenticate_resource(&self, req: &OAuthRequest) -> Result<ResourceAccess, OAuthResponse> {
        self.authenticate("resource", req).await
    }

    /// [`authenticate_resource`](Self::authenticate_resource), with errors counted for `endpoint`.
    async fn authenticate(&self, endpoint: &'static str, req: &OAuthRequest) -> Result<ResourceAccess, OAuthResponse> {
        if !req.secure && !self.policy.allow_insecure_transport() {
            return Err(self.resource_error(endpoint, OAuthError::invalid_request("This endpoint requires TLS"), None));
        }
        let presented = match presented_token(req) {
            Ok(Some(presented)) => presented,
            Ok(None) => return Err(self.bearer_error(None, None)),
            Err(error) => return Err(self.resource_error(endpoint, error, None)),
        };
        let validated = match presented.scheme {
            TokenScheme::Bearer => self.validate_access_token(presented.token).await,
        };
        match validated {
            Ok(record) => Ok(ResourceAccess { record, scheme: presented.scheme }),
            Err(error) if error.code == ErrorCode::TemporarilyUnavailable => Err(self.error_response(endpoint, error)),
            Err(error) => Err(self.resource_error(endpoint, error, None)),
        }
    }

    /// An RFC 6750 error answer, counted for `endpoint`.
    fn resource_error(&self, endpoint: &'static str, error: OAuthError, required_scope: Option<&str>) -> OAuthResponse {
        self.observe_error(endpoint, &error.code);
        self.bearer_error(Some(&error), required_scope)
    }

    /// Validates an access token for a resource (RFC 6750): opaque or JWT, it
    /// must be known to the store (so revocation works for both), unexpired.
    /// Errors are `invalid_token`, or `temporarily_unavailable` when the store fails.
    pub(crate) async fn validate_access_token(&self, token: &str) -> Result<TokenRecord, OAuthError> {
        if looks_like_jwt(token) {
            let keys = self.keys().ok_or_else(|| invalid_token("The access token is invalid"))?;
            keys.verify::<AccessTokenClaims>(token, "at+jwt", self.policy.issuer().as_str(), Some(self.clock.now()))
                .map_err(|_| invalid_token("The access token is invalid or expired"))?;
        }
        let key = self.reference_key(token).ok_or_else(|| invalid_token("The access token is invalid"))?;
        let record = self
            .stores
            .tokens
            .get_access_token(&key)
            .await
            .map_err(storage_error)?
            .ok_or_else(|| invalid_token("The access token is invalid, expired or revoked"))?;
        if record.expires_at <= self.clock.now() {
            return Err(invalid_token("The access token is expired"));
        }
        Ok(record)
    }

    /// An RFC 6750 §3 error response with its `WWW-Authenticate: Bearer` header.
    /// `None` is the answer to a request without any token: 401 with no error code.
    pub fn bearer_error(&self, error: Option<&OAuthError>, required_scope: Option<&str>) -> OAuthResponse {
        let realm = quoted_string_safe(self.policy.issuer().as_str());
        let Some(error) = error else {
            return OAuthResponse {
                status: 401,
                headers: vec![
                    ("WWW-Authenticate", format!("Bearer realm=\"{realm}\"").into()),
                    ("Cache-Control", "no-store".into()),
                ],
                body: Body::Empty,
                cause: None,
            };
        };
        let mut challenge = format!("Bearer realm=\"{realm}\", error=\"{}\"", error.code.as_str());
        if let Some(d) = &error.description {
            challenge.push_str(&format!(", error_description=\"{}\"", quoted_string_safe(d)));
        }
        if let (ErrorCode::InsufficientScope, Some(scope)) = (&error.code, required_scope) {
            challenge.push_str(&format!(", scope=\"{}\"", quoted_string_safe(scope)));
        }
        let mut response = OAuthResponse::json(error.code.status(), &error.to_json());
        if matches!(error.code, ErrorCode::InvalidToken | ErrorCode::InsufficientScope | ErrorCode::InvalidRequest) {
            response.headers.push(("WWW-Authenticate", challenge.into()));
        }
        response
    }

    /// The UserInfo endpoint (GET or POST): the user's claims released by the
    /// token's scopes, for a token with the `openid` scope.
    pub async fn userinfo(&self, req: &OAuthRequest) -> OAuthResponse {
        if !matches!(req.method, Method::Get | Method::Post) {
            return OAuthResponse::method_not_allowed("GET, POST");
        }
        let record = match self.authenticate("userinfo", req).await {
            Ok(access) => access.record,
            Err(response) => return response,
        };
        if !record.scope.contains("openid") {
            let error = OAuthError::new(ErrorCode::InsufficientScope, "The access token lacks the openid scope");
            return self.resource_error("userinfo", error, Some("openid"));
        }
        let Some(subject) = record.subject else {
            return self.resource_error("userinfo", invalid_token("The access token does not belong to a user"), None);
        };
        let user = match self.stores.users.get_user(&subject).await {
            Ok(user) => user,
            Err(e) => return self.error_response("userinfo", storage_error(e)),
        };
        let mut body = serde_json::Map::new();
        body.insert("sub".into(), subject.as_str().into());
        if let Some(user) = user {
            body.extend(claims_for_scope(&record.scope, &user.claims));
        }
        OAuthResponse::json(200, &serde_json::Value::Object(body))
    }
}
