//! Grants at the token endpoint: one interface for the built-in grants and
//! for grants an embedder adds ([RFC 6749 §4.5](https://www.rfc-editor.org/rfc/rfc6749#section-4.5)
//! extension grants).
//!
//! The token endpoint authenticates the client, reads `grant_type`, finds the
//! registered [`GrantHandler`] for it, checks that the client is registered
//! for that grant type, and hands the request over. The handler returns
//! [`Issued`] tokens or an [`OAuthError`]; the endpoint serializes either.
//!
//! The built-in grants (`authorization_code`, `refresh_token`,
//! `client_credentials`, the device code grant of RFC 8628, `password` when
//! the policy allows it, and token exchange when the policy names a client
//! that may use it) are
//! registered by [`AuthorizationServer::new`]. Register another with
//! [`AuthorizationServer::with_grant`]; a handler for a grant type that is
//! already registered replaces it. A handler issues tokens through
//! [`AuthorizationServer::issue`], which applies the policy's lifetimes and
//! token format and stores the new grant atomically.
//!
//! ```
//! use oauth_core::grant::{GrantHandler, GrantRequest, Issued, NewGrant};
//! use oauth_core::types::{GrantType, Subject};
//! use oauth_core::{AuthorizationServer, OAuthError};
//!
//! /// Exchanges a one-time ticket from a kiosk for tokens of the ticket's user.
//! #[derive(Debug)]
//! struct KioskTicket;
//!
//! #[async_trait::async_trait]
//! impl GrantHandler for KioskTicket {
//!     fn grant_type(&self) -> GrantType {
//!         GrantType::parse("urn:example:params:oauth:grant-type:kiosk-ticket")
//!     }
//!
//!     async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError> {
//!         let ticket = req.param("ticket")?
//!             .ok_or_else(|| OAuthError::invalid_request("The ticket parameter is missing"))?;
//!         // Look the ticket up in your own system here.
//!         let user = if ticket == "t-1" { Subject::new("alice") } else {
//!             return Err(OAuthError::invalid_grant("The ticket is invalid"));
//!         };
//!         let scope = server.requested_scope(&req.request.form, req.client)?;
//!         let grant = NewGrant { subject: Some(user), scope, auth_time: None, refresh: false, jkt: req.dpop_jkt() };
//!         server.issue(req.client, grant).await
//!     }
//! }
//! ```
//!
//! [`AuthorizationServer::new`]: crate::AuthorizationServer::new
//! [`AuthorizationServer::with_grant`]: crate::AuthorizationServer::with_grant
//! [`AuthorizationServer::issue`]: crate::AuthorizationServer::issue

use async_trait::async_trait;

use crate::AuthorizationServer;
use crate::client::Client;
use crate::error::OAuthError;
use crate::request::OAuthRequest;
use crate::types::{AccessToken, GrantType, RefreshToken, ScopeSet, Subject};

mod authorization_code;
mod client_credentials;
mod device_code;
mod password;
mod refresh_token;
mod token_exchange;

pub(crate) use authorization_code::AuthorizationCodeGrant;
pub(crate) use client_credentials::ClientCredentialsGrant;
pub(crate) use device_code::DeviceCodeGrant;
pub(crate) use password::PasswordGrant;
pub(crate) use refresh_token::RefreshTokenGrant;
pub(crate) use token_exchange::TokenExchangeGrant;

/// A grant type served at the token endpoint.
#[async_trait]
pub trait GrantHandler: Send + Sync + std::fmt::Debug {
    /// The `grant_type` value this handler serves. It is advertised in
    /// `grant_types_supported`.
    fn grant_type(&self) -> GrantType;

    /// Handles a token request of this grant type from an authenticated
    /// client that is registered for it.
    async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError>;
}

/// A token request as a grant handler sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct GrantRequest<'a> {
    /// The whole request: the form, and headers such as `DPoP`.
    pub request: &'a OAuthRequest,
    /// The authenticated client, registered for this grant type.
    pub client: &'a Client,
    /// The request's DPoP proof (RFC 9449), verified by the token endpoint
    /// (signature, `htm`/`htu`, `iat`, unused `jti`, nonce) before the
    /// handler runs; `None` without a `DPoP` header.
    pub dpop: Option<&'a crate::dpop::VerifiedProof>,
}

impl<'a> GrantRequest<'a> {
    /// A form parameter; repeated parameters are `invalid_request`, empty ones absent.
    pub fn param(&self, name: &'static str) -> Result<Option<&'a str>, OAuthError> {
        self.request.form.get(name)
    }

    /// The thumbprint of the request's DPoP key: what [`NewGrant::jkt`]
    /// binds the tokens to.
    pub fn dpop_jkt(&self) -> Option<String> {
        self.dpop.map(|proof| proof.jkt.clone())
    }
}

/// Tokens a grant issued, before they are serialized (RFC 6749 §5.1).
#[derive(Debug)]
#[non_exhaustive]
pub struct Issued {
    /// The access token as handed out: opaque, or a signed JWT.
    pub access_token: AccessToken,
    /// When the access token expires (Unix seconds).
    pub access_expires_at: u64,
    /// The refresh token and when it expires, if one is issued.
    pub refresh: Option<(RefreshToken, u64)>,
    /// The scope of the access token.
    pub scope: ScopeSet,
    /// An OpenID Connect ID token, if one is issued.
    pub id_token: Option<String>,
    /// The access token is bound to a DPoP key: its `token_type` is `DPoP`
    /// (RFC 9449 §5).
    pub dpop_bound: bool,
    /// The `issued_token_type` of a token exchange answer (RFC 8693 §2.2.1);
    /// `None` for other grants.
    pub issued_token_type: Option<&'static str>,
}

/// What [`AuthorizationServer::issue`](crate::AuthorizationServer::issue)
/// needs to create a grant and its first tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    /// The resource owner; `None` when the client acts on its own behalf.
    pub subject: Option<Subject>,
    /// The granted scope, already checked against what the client may request.
    pub scope: ScopeSet,
    /// When the resource owner authenticated, if they did.
    pub auth_time: Option<u64>,
    /// Issue a refresh token too (when the client is registered for the
    /// `refresh_token` grant). The grant then lives `grant_lifetime`;
    /// otherwise it ends with its access token.
    pub refresh: bool,
    /// The DPoP key thumbprint to bind the tokens to
    /// ([`GrantRequest::dpop_jkt`]): the access token always, the refresh
    /// token when the client is public (RFC 9449 §5).
    pub jkt: Option<String>,
}
