//! The refresh token grant ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6))
//! with rotation and reuse detection ([RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)).

use async_trait::async_trait;

use super::{GrantHandler, GrantRequest, Issued};
use crate::AuthorizationServer;
use crate::error::OAuthError;
use crate::observe::AuditEvent;
use crate::policy::AccessTokenFormat;
use crate::server::{signing_failed, storage_error};
use crate::storage::{RefreshOutcome, RefreshRefusal, RefreshRequest};
use crate::types::{AccessToken, GrantType, RefreshToken, ScopeSet, TokenKey};

/// `refresh_token`. The lookup, the checks and the rotation are one store
/// call ([`TokenStore::refresh`](crate::storage::TokenStore::refresh)).
#[derive(Debug)]
pub(crate) struct RefreshTokenGrant;

#[async_trait]
impl GrantHandler for RefreshTokenGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::RefreshToken
    }

    async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError> {
        let client = req.client;
        let presented = req
            .param("refresh_token")?
            .ok_or_else(|| OAuthError::invalid_request("The refresh_token parameter is missing"))?;
        let scope = req
            .param("scope")?
            .map(|raw| ScopeSet::parse(raw).map_err(|_| OAuthError::invalid_scope("The scope is malformed")))
            .transpose()?;
        let presented = RefreshToken::new(presented);
        let Some(old_key) = TokenKey::of(presented.secret()) else {
            return Err(OAuthError::invalid_grant("The refresh token is invalid or expired"));
        };
        if server.access_token_format(client) != AccessTokenFormat::Opaque && server.keys().is_none() {
            // Fail before the rotation, not after it.
            return Err(signing_failed());
        }
        let policy = &server.policy;
        let reference = AccessToken::new(server.new_token(&old_key.grant));
        let rotated = policy.rotate_refresh_tokens().then(|| RefreshToken::new(server.new_token(&old_key.grant)));
        let request = RefreshRequest {
            client_id: client.id.clone(),
            scope,
            now: server.clock.now(),
            access: (server.access_token_hash(client, &reference), policy.access_token_lifetime()),
            refresh: rotated.as_ref().map(|t| (t.hash(), policy.refresh_token_lifetime())),
        };
        let old = match server.stores.tokens.refresh(&old_key, &request).await.map_err(storage_error)? {
            RefreshOutcome::Refreshed(old) => old,
            RefreshOutcome::Refused(RefreshRefusal::OtherClient) => {
                return Err(OAuthError::invalid_grant("The refresh token was issued to another client"));
            }
            RefreshOutcome::Refused(RefreshRefusal::WiderScope) => {
                return Err(OAuthError::invalid_scope("A refresh cannot widen the scope of the grant"));
            }
            RefreshOutcome::Refused(RefreshRefusal::Expired) | RefreshOutcome::Unknown => {
                return Err(OAuthError::invalid_grant("The refresh token is invalid or expired"));
            }
            RefreshOutcome::Reused => {
                server.audit(AuditEvent::RefreshReuse { client: &client.id });
                return Err(OAuthError::invalid_grant("The refresh token was already used; the grant is revoked"));
            }
        };
        let new = request.tokens(&old);
        let (access_record, refresh_record) = (new.access.1, new.refresh.map(|(_, r)| r));
        let refresh = match (rotated, refresh_record) {
            (Some(token), Some(record)) => (token, record.expires_at),
            _ => (presented, old.expires_at),
        };
        let mut issued = Issued {
            access_token: server.access_token(client, reference, &access_record)?,
            access_expires_at: access_record.expires_at,
            refresh: Some(refresh),
            scope: access_record.scope,
            id_token: None,
        };
        // OpenID Connect Core §12.2: a refreshed ID token keeps auth_time and has no nonce.
        if let Some(subject) = &old.subject {
            issued.id_token = server.id_token(client, subject, &issued, old.auth_time, None).await?;
        }
        Ok(issued)
    }
}
