//! A Bearer-token extractor for resource servers (RFC 6750), for opaque and
//! JWT access tokens alike.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use oauth_core::storage::TokenRecord;
use oauth_core::{AuthorizationServer, ErrorCode, OAuthError, OAuthRequest, OAuthResponse};

use crate::convert::{respond, to_oauth_request};

/// A validated access token from `Authorization: Bearer …`.
///
/// Validation goes through [`AuthorizationServer::validate_access_token`]:
/// a JWT must carry a valid signature of one of the server's keys, and any
/// token must be known to the store, so revoked tokens are refused. The
/// server must be in the app data as `web::Data<AuthorizationServer>`.
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
    server: Arc<AuthorizationServer>,
}

impl BearerToken {
    /// What the store knows of the token: client, subject, scope, expiry.
    pub fn record(&self) -> &TokenRecord {
        &self.record
    }

    /// Fails with `403 insufficient_scope` unless the token has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), BearerError> {
        if self.record.scope.contains(scope) {
            return Ok(());
        }
        let error = OAuthError::new(ErrorCode::InsufficientScope, "The access token lacks a required scope");
        Err(BearerError(self.server.bearer_error(Some(&error), Some(scope))))
    }
}

/// A rejected bearer token: an RFC 6750 response with `WWW-Authenticate`.
#[derive(Debug)]
pub struct BearerError(OAuthResponse);

impl std::fmt::Display for BearerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bearer token rejected ({})", self.0.status)
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.0.status).unwrap_or(actix_web::http::StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        respond(self.0.clone())
    }
}

impl FromRequest for BearerToken {
    type Error = BearerError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, BearerError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let server = req.app_data::<web::Data<AuthorizationServer>>().map(|d| d.clone().into_inner());
        // Only the header is read: form bodies belong to the handler.
        let mut oauth_req: OAuthRequest = to_oauth_request(req, &[], false);
        oauth_req.method = oauth_core::request::Method::Get;
        Box::pin(async move {
            let Some(server) = server else {
                let error = OAuthError::new(ErrorCode::ServerError, "The authorization server is not configured");
                return Err(BearerError(OAuthResponse::json(500, &error.to_json())));
            };
            let token = match oauth_core::bearer_token(&oauth_req) {
                Ok(Some(token)) => token.to_owned(),
                Ok(None) => return Err(BearerError(server.bearer_error(None, None))),
                Err(error) => return Err(BearerError(server.bearer_error(Some(&error), None))),
            };
            match server.validate_access_token(&token).await {
                Ok(record) => Ok(Self { record, server }),
                Err(error) if error.code == ErrorCode::TemporarilyUnavailable => {
                    Err(BearerError(OAuthResponse::json(503, &error.to_json())))
                }
                Err(error) => Err(BearerError(server.bearer_error(Some(&error), None))),
            }
        })
    }
}
