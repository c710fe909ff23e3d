//! The authorization code grant ([RFC 6749 §4.1.3](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3))
//! with PKCE ([RFC 7636 §4.6](https://www.rfc-editor.org/rfc/rfc7636#section-4.6)).

use async_trait::async_trait;

use super::{GrantHandler, GrantRequest, Issued};
use crate::AuthorizationServer;
use crate::error::OAuthError;
use crate::observe::AuditEvent;
use crate::pkce;
use crate::server::storage_error;
use crate::storage::{CodeTake, GrantRecord};
use crate::types::{AuthorizationCode, GrantType};

/// `authorization_code`. The code is consumed before any other check, so a
/// failed attempt burns it; a replay revokes the grant it created.
#[derive(Debug)]
pub(crate) struct AuthorizationCodeGrant;

#[async_trait]
impl GrantHandler for AuthorizationCodeGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::AuthorizationCode
    }

    async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError> {
        let client = req.client;
        let code = req.param("code")?.ok_or_else(|| OAuthError::invalid_request("The code parameter is missing"))?;
        let redirect_uri = req.param("redirect_uri")?;
        let verifier = req.param("code_verifier")?;
        let code = AuthorizationCode::new(code);
        let record = match server.stores.codes.take_code(&code.hash()).await.map_err(storage_error)? {
            CodeTake::Taken(record) => record,
            CodeTake::Replayed { grant_id } => {
                server.stores.tokens.revoke_grant(&grant_id).await.map_err(storage_error)?;
                server.audit(AuditEvent::CodeReplay { client: &client.id, grant: &grant_id });
                return Err(OAuthError::invalid_grant(
                    "The authorization code was already used; tokens issued from it are revoked",
                ));
            }
            CodeTake::Unknown => return Err(OAuthError::invalid_grant("The authorization code is invalid or expired")),
        };
        let now = server.clock.now();
        if record.client_id != client.id {
            return Err(OAuthError::invalid_grant("The authorization code was issued to another client"));
        }
        if record.expires_at <= now {
            return Err(OAuthError::invalid_grant("The authorization code is invalid or expired"));
        }
        match redirect_uri {
            Some(uri) if uri == record.redirect_uri.as_str() => {}
            None if !record.redirect_uri_sent => {}
            _ => return Err(OAuthError::invalid_grant("The redirect_uri does not match the authorization request")),
        }
        match (&record.code_challenge, verifier) {
            (Some((challenge, method)), Some(verifier)) => {
                if !pkce::verify(verifier, challenge, method) {
                    return Err(OAuthError::invalid_grant("The code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => return Err(OAuthError::invalid_grant("The code_verifier is missing")),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "A code_verifier was sent but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        // RFC 9449 §10: a code bound by `dpop_jkt` needs a proof of that key.
        let jkt = req.dpop_jkt();
        if let Some(bound) = &record.dpop_jkt {
            match &jkt {
                None => return Err(crate::server::invalid_dpop_proof("The authorization code needs a DPoP proof")),
                Some(jkt) if jkt != bound => {
                    return Err(OAuthError::invalid_grant(
                        "The DPoP proof's key is not the dpop_jkt of the authorization request",
                    ));
                }
                Some(_) => {}
            }
        }
        let grant = GrantRecord {
            id: record.grant_id,
            client_id: client.id.clone(),
            subject: Some(record.subject.clone()),
            scope: record.scope.clone(),
            issued_at: now,
            expires_at: now.saturating_add(server.policy.grant_lifetime()),
            auth_time: Some(record.auth_time),
        };
        let subject = record.subject;
        let mut issued = server.issue_for_grant(client, grant, true, jkt.as_deref()).await?;
        issued.id_token = server
            .id_token(client, &subject, &issued, Some(record.auth_time), record.nonce.as_ref().map(|n| n.as_str()))
            .await?;
        Ok(issued)
    }
}
