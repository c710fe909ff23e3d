//! Protected-resource authentication ([RFC 6750](https://www.rfc-editor.org/rfc/rfc6750)
//! bearer tokens) and the OpenID Connect UserInfo endpoint
//! ([Core §5.3](https://openid.net/specs/openid-connect-core-1_0.html#UserInfo)).
//!
//! [`AuthorizationServer::authenticate_resource`] is the one path for every
//! protected resource: UserInfo and the adapters' extractors call it, so the
//! TLS rule, the `WWW-Authenticate` answers and the `503` are decided once.
//! DPoP (RFC 9449 §7) is the second [`TokenScheme`]: `Authorization: DPoP …`
//! with a proof whose `ath` is the token's hash, checked by
//! [`AuthorizationServer::verify_dpop_proof`]; a DPoP-bound token presented
//! as `Bearer` is refused with the `DPoP` challenge of §7.1.

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

/// Why a DPoP-bound token presented as `Bearer` is refused.
const BOUND_AS_BEARER: &str = "The access token is DPoP-bound: present it with the DPoP scheme and a proof";

fn invalid_token(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, description)
}

/// How a protected-resource request presented its access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenScheme {
    /// `Authorization: Bearer …`, or the `access_token` field of a form POST (RFC 6750).
    Bearer,
    /// `Authorization: DPoP …` with a `DPoP` proof of the key the token is bound to (RFC 9449 §7).
    Dpop,
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
    let mut headers = req.header_values("authorization");
    if let (Some(value), None) = (headers.next(), headers.next()) {
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        if scheme.eq_ignore_ascii_case("dpop") {
            let token = token.trim();
            if token.is_empty() {
                return Err(OAuthError::invalid_request("The DPoP access token is empty"));
            }
            if req.method == Method::Post && req.is_form() && req.form.get("access_token")?.is_some() {
                return Err(OAuthError::invalid_request("The access token was sent in two places"));
            }
            return Ok(Some(Presented { scheme: TokenScheme::Dpop, token }));
        }
    }
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
    ///
    /// A DPoP-bound token must come as `Authorization: DPoP …` with a proof
    /// of its key for this request (`htu`: the issuer's origin followed by
    /// the request's [`path`](OAuthRequest::path)) whose `ath` is the
    /// token's hash, and whose `jti` was not used before; refusals carry the
    /// `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1), and a bound token
    /// presented as `Bearer` is `invalid_token`.
    pub async fn authenticate_resource(&self, req: &OAuthRequest) -> Result<ResourceAccess, OAuthResponse> {
        let htu = self.policy.endpoint_url(if req.path.is_empty() { "/" } else { &req.path });
        self.authenticate("resource", req, &htu).await
    }

    /// [`authenticate_resource`](Self::authenticate_resource), with errors
    /// counted for `endpoint`, and DPoP proofs checked against `htu`.
    async fn authenticate(
        &self,
        endpoint: &'static str,
        req: &OAuthRequest,
        htu: &str,
    ) -> Result<ResourceAccess, OAuthResponse> {
        if !req.secure && !self.policy.allow_insecure_transport() {
            let error = OAuthError::invalid_request("This endpoint requires TLS");
            return Err(self.resource_error(endpoint, TokenScheme::Bearer, error, None));
        }
        let presented = match presented_token(req) {
            Ok(Some(presented)) => presented,
            Ok(None) => return Err(self.bearer_error(None, None)),
            Err(error) => return Err(self.resource_error(endpoint, TokenScheme::Bearer, error, None)),
        };
        let scheme = presented.scheme;
        let checked = match self.validate_access_token(presented.token).await {
            Ok(record) => self.check_binding(req, htu, &presented, record).await,
            Err(error) => Err(error),
        };
        match checked {
            Ok(record) => Ok(ResourceAccess { record, scheme }),
            Err(error) if error.code == ErrorCode::TemporarilyUnavailable => Err(self.error_response(endpoint, error)),
            // A bound token presented as Bearer is answered in the DPoP scheme it needs.
            Err(error)
                if error.code == ErrorCode::InvalidToken
                    && scheme == TokenScheme::Bearer
                    && error.description.as_deref() == Some(BOUND_AS_BEARER) =>
            {
                Err(self.resource_error(endpoint, TokenScheme::Dpop, error, None))
            }
            Err(error) => Err(self.resource_error(endpoint, scheme, error, None)),
        }
    }

    /// The DPoP rules of a valid token (RFC 9449 §7): a bound token only
    /// with the DPoP scheme and a proof of its key; a DPoP-scheme token only
    /// when bound.
    async fn check_binding(
        &self,
        req: &OAuthRequest,
        htu: &str,
        presented: &Presented<'_>,
        record: TokenRecord,
    ) -> Result<TokenRecord, OAuthError> {
        match presented.scheme {
            TokenScheme::Bearer if record.jkt.is_some() => Err(invalid_token(BOUND_AS_BEARER)),
            TokenScheme::Bearer => Ok(record),
            TokenScheme::Dpop => {
                let proof = self
                    .verify_dpop_proof(req, htu, Some(presented.token))
                    .await?
                    .ok_or_else(|| super::dpop::invalid_proof("A DPoP proof is required with the DPoP scheme"))?;
                if record.jkt.as_deref() != Some(proof.jkt.as_str()) {
                    return Err(invalid_token("The access token is not bound to the DPoP proof's key"));
                }
                Ok(record)
            }
        }
    }

    /// An RFC 6750 (or, for `scheme` DPoP, RFC 9449 §7.1) error answer, counted for `endpoint`.
    fn resource_error(
        &self,
        endpoint: &'static str,
        scheme: TokenScheme,
        error: OAuthError,
        required_scope: Option<&str>,
    ) -> OAuthResponse {
        self.observe_error(endpoint, &error.code);
        self.challenge(scheme, Some(&error), required_scope)
    }

    /// The refusal of a protected-resource request in the scheme the token
    /// was presented with: [`bearer_error`](Self::bearer_error), or for
    /// [`TokenScheme::Dpop`] the RFC 9449 §7.1 answer (`401` or `400`, with
    /// `WWW-Authenticate: DPoP error=…, algs=…`, and `DPoP-Nonce` for
    /// `use_dpop_nonce`).
    pub fn challenge(
        &self,
        scheme: TokenScheme,
        error: Option<&OAuthError>,
        required_scope: Option<&str>,
    ) -> OAuthResponse {
        let Some(error) = error.filter(|_| scheme == TokenScheme::Dpop) else {
            return self.bearer_error(error, required_scope);
        };
        let realm = quoted_string_safe(self.policy.issuer().as_str());
        let mut challenge = format!("DPoP realm=\"{realm}\", error=\"{}\"", error.code.as_str());
        if let Some(d) = &error.description {
            challenge.push_str(&format!(", error_description=\"{}\"", quoted_string_safe(d)));
        }
        if let (ErrorCode::InsufficientScope, Some(scope)) = (&error.code, required_scope) {
            challenge.push_str(&format!(", scope=\"{}\"", quoted_string_safe(scope)));
        }
        challenge.push_str(&format!(", algs=\"{}\"", self.policy.dpop().alg_names().join(" ")));
        let status = match error.code {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::InsufficientScope => 403,
            _ => 401,
        };
        let mut response = OAuthResponse::json(status, &error.to_json());
        response.headers.push(("WWW-Authenticate", challenge.into()));
        if let ErrorCode::UseDpopNonce { nonce } = &error.code {
            response.headers.push(("DPoP-Nonce", nonce.clone().into()));
        }
        response
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
                    ("WWW-Authenticate", format!("DPoP algs=\"{}\"", self.policy.dpop().alg_names().join(" ")).into()),
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
        let htu = self.policy.endpoint_url(&self.policy.paths().userinfo);
        let (record, scheme) = match self.authenticate("userinfo", req, &htu).await {
            Ok(access) => (access.record, access.scheme),
            Err(response) => return response,
        };
        if !record.scope.contains("openid") {
            let error = OAuthError::new(ErrorCode::InsufficientScope, "The access token lacks the openid scope");
            return self.resource_error("userinfo", scheme, error, Some("openid"));
        }
        let Some(subject) = record.subject else {
            let error = invalid_token("The access token does not belong to a user");
            return self.resource_error("userinfo", scheme, error, None);
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
