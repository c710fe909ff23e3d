//! The device authorization grant's token request
//! ([RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4),
//! answers of [§3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)).

use async_trait::async_trait;

use super::{GrantHandler, GrantRequest, Issued, NewGrant};
use crate::AuthorizationServer;
use crate::device::DeviceCode;
use crate::error::{ErrorCode, OAuthError};
use crate::server::storage_error;
use crate::storage::{DevicePoll, PollOutcome};
use crate::types::GrantType;

/// `urn:ietf:params:oauth:grant-type:device_code`: one store call checks the
/// client, the expiry and the polling rate, and takes an approval once; the
/// poll that takes it gets the tokens.
#[derive(Debug)]
pub(crate) struct DeviceCodeGrant;

#[async_trait]
impl GrantHandler for DeviceCodeGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::DeviceCode
    }

    async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError> {
        let client = req.client;
        let code = req
            .param("device_code")?
            .ok_or_else(|| OAuthError::invalid_request("The device_code parameter is missing"))?;
        let Some(key) = DeviceCode::presented(code).key() else {
            return Err(OAuthError::invalid_grant("The device_code is invalid"));
        };
        let poll = DevicePoll { client_id: client.id.clone(), now: server.clock.now() };
        let approval = match server.stores.devices.poll_device(&key, &poll).await.map_err(storage_error)? {
            PollOutcome::Approved(_, approval) => approval,
            PollOutcome::Unknown => return Err(OAuthError::invalid_grant("The device_code is invalid")),
            PollOutcome::OtherClient => {
                return Err(OAuthError::invalid_grant("The device_code was issued to another client"));
            }
            PollOutcome::Expired => {
                return Err(OAuthError::new(ErrorCode::ExpiredToken, "The device_code has expired"));
            }
            PollOutcome::SlowDown(_) => {
                return Err(OAuthError::new(ErrorCode::SlowDown, "Polling too fast; the interval grew by 5 seconds"));
            }
            PollOutcome::Pending => {
                return Err(OAuthError::new(ErrorCode::AuthorizationPending, "The user has not answered yet"));
            }
            PollOutcome::Denied => return Err(OAuthError::new(ErrorCode::AccessDenied, "The user denied the request")),
            PollOutcome::Issued => {
                return Err(OAuthError::invalid_grant("Tokens were already issued for this device_code"));
            }
        };
        let grant = NewGrant {
            subject: Some(approval.subject.clone()),
            scope: approval.scope,
            auth_time: Some(approval.auth_time),
            refresh: client.grant_types.contains(&GrantType::RefreshToken),
            jkt: req.dpop_jkt(),
        };
        let mut issued = server.issue(client, grant).await?;
        issued.id_token = server.id_token(client, &approval.subject, &issued, Some(approval.auth_time), None).await?;
        Ok(issued)
    }
}
