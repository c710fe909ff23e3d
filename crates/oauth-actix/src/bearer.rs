//! A Bearer-token extractor for resource servers (RFC 6750), for opaque and
//! JWT access tokens alike.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use oauth_core::storage::TokenRecord;
use oauth_core::{AuthorizationServer, ErrorCode, OAuthError, OAuthResponse, TokenScheme};

use crate::convert::{convert, log_cause, to_oauth_request};

/// An authenticated protected-resource request: a valid access token from
/// `Authorization: Bearer …`, or a DPoP-bound one from `Authorization: DPoP …`
/// with a `DPoP` proof for this request (RFC 9449 §7; `htu` is the issuer's
/// origin followed by the request's path).
///
/// Authentication is core's [`AuthorizationServer::authenticate_resource`],
/// the same path as UserInfo: the request must come over TLS (unless the
/// policy allows insecure transport), a JWT must carry a valid signature of
/// one of the server's keys, and any token must be known to the store, so
/// revoked tokens are refused. Refusals are core's answers (`401` with
/// `WWW-Authenticate`, `400`, or `503`, whose cause is logged with the route).
///
/// The server must be in the app data as `web::Data<AuthorizationServer>`.
/// Whether the request came over TLS is judged like the endpoints do: where
/// [`OAuthEndpoints::configure`](crate::OAuthEndpoints::configure) mounted the
/// endpoints (same app or scope), `Forwarded` / `X-Forwarded-Proto` count
/// when [`AdapterOptions::trust_forwarded_proto`](crate::AdapterOptions::trust_forwarded_proto)
/// is set; elsewhere only the connection counts.
///
/// ```no_run
/// use actix_web::{get, HttpResponse};
/// use oauth_actix::BearerToken;
///
/// #[get("/api/me")]
/// async fn me(token: BearerToken) -> Result<HttpResponse, oauth_actix::BearerError> {
///     token.require_scope("profile")?;
///     Ok(HttpResponse::Ok().body(format!("hello {:?}", token.record().subject)))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct BearerToken {
    record: TokenRecord,
    scheme: TokenScheme,
    server: Arc<AuthorizationServer>,
}

/// Whether `Forwarded` / `X-Forwarded-Proto` say if the client used TLS, for
/// [`BearerToken`]; set by `OAuthEndpoints::configure`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrustForwardedProto(pub(crate) bool);

impl BearerToken {
    /// What the store knows of the token: client, subject, scope, expiry.
    pub fn record(&self) -> &TokenRecord {
        &self.record
    }

    /// How the token was presented.
    pub fn scheme(&self) -> TokenScheme {
        self.scheme
    }

    /// Fails with `403 insufficient_scope` unless the token has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), BearerError> {
        if self.record.scope.contains(scope) {
            return Ok(());
        }
        let error = OAuthError::new(ErrorCode::InsufficientScope, "The access token lacks a required scope");
        Err(BearerError(self.server.challenge(self.scheme, Some(&error), Some(scope))))
    }
}

/// A refused protected-resource request: core's answer (RFC 6750, with
/// `WWW-Authenticate`, or `503`).
#[derive(Debug)]
pub struct BearerError(OAuthResponse);

impl BearerError {
    /// Core's answer.
    pub fn response(&self) -> &OAuthResponse {
        &self.0
    }
}

impl std::fmt::Display for BearerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bearer token rejected ({})", self.0.status)
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        // The cause, if any, was logged when the request was refused.
        convert(self.0.clone())
    }
}

impl FromRequest for BearerToken {
    type Error = BearerError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, BearerError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let server = req.app_data::<web::Data<AuthorizationServer>>().map(|d| d.clone().into_inner());
        let trust_forwarded_proto = req.app_data::<web::Data<TrustForwardedProto>>().is_some_and(|t| t.0);
        // Only the headers are read: the body belongs to the handler.
        let oauth_req = to_oauth_request(req, &[], trust_forwarded_proto);
        let req = req.clone();
        Box::pin(async move {
            let Some(server) = server else {
                let error = OAuthError::new(ErrorCode::ServerError, "The authorization server is not configured");
                tracing::error!(
                    route = req.match_pattern().as_deref(),
                    "BearerToken: no web::Data<AuthorizationServer>"
                );
                return Err(BearerError(error.into()));
            };
            match server.authenticate_resource(&oauth_req).await {
                Ok(access) => Ok(Self { record: access.record, scheme: access.scheme, server }),
                Err(response) => {
                    log_cause(&req, response.status, response.cause.as_ref());
                    Err(BearerError(response))
                }
            }
        })
    }
}
