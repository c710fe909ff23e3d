//! The resource owner password credentials grant ([RFC 6749 §4.3](https://www.rfc-editor.org/rfc/rfc6749#section-4.3)),
//! registered only when the policy allows it (OAuth 2.1 drops it).

use async_trait::async_trait;

use super::{GrantHandler, GrantRequest, Issued, NewGrant};
use crate::AuthorizationServer;
use crate::error::OAuthError;
use crate::server::storage_error;
use crate::throttle::Verdict;
use crate::types::GrantType;

/// `password`, for clients registered for it. The Argon2 verification runs
/// on the server's [`Offload`](crate::offload::Offload).
#[derive(Debug)]
pub(crate) struct PasswordGrant;

#[async_trait]
impl GrantHandler for PasswordGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::Password
    }

    async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError> {
        let (Some(username), Some(password)) = (req.param("username")?, req.param("password")?) else {
            return Err(OAuthError::invalid_request("The username and password parameters are required"));
        };
        let scope = server.requested_scope(&req.request.form, req.client)?;
        // The login page's throttle: per username and per source address.
        let source = req.request.source;
        if let Verdict::Throttled { retry_after } =
            server.login_throttle(username, source).await.map_err(storage_error)?
        {
            return Err(OAuthError::too_many_attempts(retry_after));
        }
        let user = server.stores.users.find_user(username).await.map_err(storage_error)?;
        let check = crate::user::password_check(user.as_ref(), password);
        let subject = match (server.run_offloaded(check).await?, user) {
            (true, Some(user)) => user.subject,
            _ => {
                server.login_failed(username, source).await.map_err(storage_error)?;
                return Err(OAuthError::invalid_grant("Invalid resource owner credentials"));
            }
        };
        server.login_succeeded(username).await.map_err(storage_error)?;
        let grant = NewGrant {
            subject: Some(subject),
            scope,
            auth_time: Some(server.now()),
            refresh: true,
            jkt: req.dpop_jkt(),
        };
        server.issue(req.client, grant).await
    }
}
