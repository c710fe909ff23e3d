//! The refresh token grant ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6))
//! with rotation and reuse detection ([RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)).

use async_trait::async_trait;

use super::{GrantHandler, GrantRequest, Issued};
use crate::AuthorizationServer;
use crate::client::Client;
use crate::error::OAuthError;
use crate::grace;
use crate::observe::AuditEvent;
use crate::policy::AccessTokenFormat;
use crate::server::{signing_failed, storage_error};
use crate::storage::{RefreshLookup, RefreshOutcome, RefreshRefusal, RefreshRequest, RetryAnswer};
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
        let now = server.clock.now();
        // The refresh grace: the answer is sealed under the presented token,
        // so that only its holder can read it back on a retry.
        let grace = match &rotated {
            Some(next) if policy.refresh_grace() > 0 => {
                grace::seal(presented.secret(), &client.id, reference.secret(), next.secret())
                    .map(|sealed| RetryAnswer { until: now.saturating_add(policy.refresh_grace()), sealed })
            }
            _ => None,
        };
        let request = RefreshRequest {
            client_id: client.id.clone(),
            scope,
            now,
            access: (server.access_token_hash(client, &reference), policy.access_token_lifetime()),
            refresh: rotated.as_ref().map(|t| (t.hash(), policy.refresh_token_lifetime())),
            grace,
            jkt: req.dpop_jkt(),
        };
        let old = match server.stores.tokens.refresh(&old_key, &request).await.map_err(storage_error)? {
            RefreshOutcome::Refreshed(old) => old,
            RefreshOutcome::Refused(RefreshRefusal::OtherClient) => {
                return Err(OAuthError::invalid_grant("The refresh token was issued to another client"));
            }
            RefreshOutcome::Refused(RefreshRefusal::OtherKey) if request.jkt.is_none() => {
                return Err(crate::server::invalid_dpop_proof(
                    "The refresh token is bound to a DPoP key: send a proof",
                ));
            }
            RefreshOutcome::Refused(RefreshRefusal::OtherKey) => {
                return Err(OAuthError::invalid_grant("The refresh token is bound to another DPoP key"));
            }
            RefreshOutcome::Refused(RefreshRefusal::WiderScope) => {
                return Err(OAuthError::invalid_scope("A refresh cannot widen the scope of the grant"));
            }
            RefreshOutcome::Refused(RefreshRefusal::Expired) | RefreshOutcome::Unknown => {
                return Err(OAuthError::invalid_grant("The refresh token is invalid or expired"));
            }
            RefreshOutcome::Retried(sealed) => {
                return retry(server, client, &presented, &old_key, &sealed, now, request.jkt.as_deref()).await;
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
            dpop_bound: access_record.jkt.is_some(),
            scope: access_record.scope,
            id_token: None,
            issued_token_type: None,
        };
        // OpenID Connect Core §12.2: a refreshed ID token keeps auth_time and has no nonce.
        if let Some(subject) = &old.subject {
            issued.id_token = server.id_token(client, subject, &issued, old.auth_time, None).await?;
        }
        Ok(issued)
    }
}

/// A retry within the refresh grace: the tokens of the first answer, read
/// from the sealed answer with the presented token and found live in the
/// store. The access token is the same reference (for JWT clients, a JWT
/// signed again around the same `jti`). A bound family's answer is only
/// given to a proof of its key (`jkt`, the request's).
async fn retry(
    server: &AuthorizationServer,
    client: &Client,
    presented: &RefreshToken,
    old_key: &TokenKey,
    sealed: &[u8],
    now: u64,
    jkt: Option<&str>,
) -> Result<Issued, OAuthError> {
    let invalid = || OAuthError::invalid_grant("The refresh token is invalid or expired");
    let (access, refresh) = grace::open(presented.secret(), &client.id, sealed).ok_or_else(invalid)?;
    let reference = AccessToken::new(access);
    let access_key = TokenKey { grant: old_key.grant.clone(), hash: server.access_token_hash(client, &reference) };
    let access_record = server
        .stores
        .tokens
        .get_access_token(&access_key)
        .await
        .map_err(storage_error)?
        .filter(|r| r.expires_at > now)
        .ok_or_else(invalid)?;
    let refresh = RefreshToken::new(refresh);
    let refresh_key = TokenKey::of(refresh.secret()).ok_or_else(invalid)?;
    let RefreshLookup::Active(refresh_record) =
        server.stores.tokens.get_refresh_token(&refresh_key).await.map_err(storage_error)?
    else {
        return Err(invalid());
    };
    if refresh_record.jkt.is_some() && refresh_record.jkt.as_deref() != jkt {
        return Err(match jkt {
            None => crate::server::invalid_dpop_proof("The refresh token is bound to a DPoP key: send a proof"),
            Some(_) => OAuthError::invalid_grant("The refresh token is bound to another DPoP key"),
        });
    }
    let mut issued = Issued {
        access_token: server.access_token(client, reference, &access_record)?,
        access_expires_at: access_record.expires_at,
        refresh: Some((refresh, refresh_record.expires_at)),
        dpop_bound: access_record.jkt.is_some(),
        scope: access_record.scope,
        id_token: None,
        issued_token_type: None,
    };
    if let Some(subject) = &access_record.subject {
        issued.id_token = server.id_token(client, subject, &issued, access_record.auth_time, None).await?;
    }
    Ok(issued)
}
