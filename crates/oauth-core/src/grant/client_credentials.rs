//! The client credentials grant ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)).

use async_trait::async_trait;

use super::{GrantHandler, GrantRequest, Issued, NewGrant};
use crate::AuthorizationServer;
use crate::error::{ErrorCode, OAuthError};
use crate::types::GrantType;

/// `client_credentials`: confidential clients only, no refresh token (§4.4.3).
#[derive(Debug)]
pub(crate) struct ClientCredentialsGrant;

#[async_trait]
impl GrantHandler for ClientCredentialsGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::ClientCredentials
    }

    async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError> {
        if req.client.is_public() {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "Public clients cannot use client_credentials"));
        }
        let scope = server.requested_scope(&req.request.form, req.client)?;
        server
            .issue(req.client, NewGrant { subject: None, scope, auth_time: None, refresh: false, jkt: req.dpop_jkt() })
            .await
    }
}
