//! Token exchange ([RFC 8693](https://www.rfc-editor.org/rfc/rfc8693)): a
//! subject token (and, for delegation, an actor token) in, a narrower access
//! token out, as the client's [`ExchangeRule`] allows.
//!
//! A token exchanged from one of this server's access or refresh tokens joins
//! that token's family ([`TokenStore::add_access_token`], one atomic store
//! call): revoking the family revokes it. One exchanged from an ID token or
//! a trusted issuer's JWT starts a grant of its own, ending no later than
//! that token.
//!
//! [`TokenStore::add_access_token`]: crate::storage::TokenStore::add_access_token

use async_trait::async_trait;

use super::{GrantHandler, GrantRequest, Issued};
use crate::AuthorizationServer;
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::exchange::{
    ACCESS_TOKEN_TYPE, Actor, ExchangeRule, Exchanged, ID_TOKEN_TYPE, JWT_TOKEN_TYPE, MAX_ACT_DEPTH,
    MAX_EXCHANGED_TOKEN_LEN, MAX_NAME_LEN, REFRESH_TOKEN_TYPE,
};
use crate::policy::AccessTokenFormat;
use crate::server::{signing_failed, storage_error};
use crate::storage::{GrantRecord, NewTokens, RefreshLookup, TokenRecord};
use crate::types::{AccessToken, GrantId, GrantType, ScopeSet, Subject, TokenKey};

/// `urn:ietf:params:oauth:grant-type:token-exchange`, for the clients the
/// policy's [`TokenExchangePolicy`](crate::exchange::TokenExchangePolicy) names.
#[derive(Debug)]
pub(crate) struct TokenExchangeGrant;

/// A subject or actor token that passed its checks.
#[derive(Debug)]
struct Presented {
    /// Who it names: the subject, or the client of a token without one.
    sub: Subject,
    /// Its issuer, when not this server.
    iss: Option<String>,
    /// Its own `act`, when it was exchanged before.
    act: Option<Actor>,
    /// Its scope; `None` for tokens without one (ID tokens, JWTs without `scope`).
    scope: Option<ScopeSet>,
    /// When it expires.
    expires_at: u64,
    /// Its family in this server's store, and the family's end.
    family: Option<(GrantId, u64)>,
    /// When its user authenticated, if known.
    auth_time: Option<u64>,
}

/// Which of the two tokens a refusal is about.
#[derive(Clone, Copy)]
enum Role {
    Subject,
    Actor,
}

impl Role {
    fn invalid(self) -> OAuthError {
        match self {
            Role::Subject => OAuthError::invalid_request("The subject_token is invalid, expired or not accepted"),
            Role::Actor => OAuthError::invalid_request("The actor_token is invalid, expired or not accepted"),
        }
    }
}

#[async_trait]
impl GrantHandler for TokenExchangeGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::TokenExchange
    }

    async fn handle(&self, server: &AuthorizationServer, req: GrantRequest<'_>) -> Result<Issued, OAuthError> {
        let client = req.client;
        let rule = server
            .policy
            .token_exchange()
            .rule(&client.id)
            .ok_or_else(|| OAuthError::new(ErrorCode::UnauthorizedClient, "This client may not exchange tokens"))?;
        let required =
            |name: &'static str, what: &'static str| req.param(name)?.ok_or_else(|| OAuthError::invalid_request(what));
        let subject_token = required("subject_token", "The subject_token parameter is missing")?;
        let subject_type = required("subject_token_type", "The subject_token_type parameter is missing")?;
        let actor = match (req.param("actor_token")?, req.param("actor_token_type")?) {
            (Some(token), Some(kind)) => Some((token, kind)),
            (None, None) => None,
            _ => {
                return Err(OAuthError::invalid_request("actor_token and actor_token_type go together"));
            }
        };
        // An access token in the client's format, or an RFC 9068 JWT access token.
        let (format, issued_token_type) = match req.param("requested_token_type")? {
            None | Some(ACCESS_TOKEN_TYPE) => (server.access_token_format(client), ACCESS_TOKEN_TYPE),
            Some(JWT_TOKEN_TYPE) => (AccessTokenFormat::Jwt, JWT_TOKEN_TYPE),
            Some(_) => return Err(OAuthError::invalid_request("The requested_token_type is not supported")),
        };
        let audience = target(&req, rule)?;
        let requested_scope = req
            .param("scope")?
            .map(|raw| ScopeSet::parse(raw).map_err(|_| OAuthError::invalid_scope("The scope is malformed")))
            .transpose()?;
        if format != AccessTokenFormat::Opaque && server.keys().is_none() {
            return Err(signing_failed());
        }
        let jkt = req.dpop_jkt();
        let subject = present(server, client, subject_token, subject_type, jkt.as_deref(), Role::Subject).await?;
        let actor = match actor {
            Some((token, kind)) => Some(present(server, client, token, kind, jkt.as_deref(), Role::Actor).await?),
            None if rule.impersonation => None,
            None => {
                return Err(OAuthError::new(
                    ErrorCode::UnauthorizedClient,
                    "This client may not impersonate: send an actor_token",
                ));
            }
        };
        let scope = granted_scope(rule, subject.scope.as_ref(), requested_scope)?;
        // RFC 8693 §4.1: the current actor, with the actors before it nested.
        let act = match &actor {
            Some(actor) => Some(Actor {
                sub: actor.sub.as_str().to_owned(),
                iss: actor.iss.clone(),
                act: subject.act.clone().map(Box::new),
            }),
            None => subject.act.clone(),
        };
        if act.as_ref().is_some_and(|a| a.depth() > MAX_ACT_DEPTH) {
            return Err(OAuthError::invalid_request("The delegation chain is too long"));
        }
        let now = server.clock.now();
        let lifetime = rule.lifetime.unwrap_or(server.policy.access_token_lifetime());
        let expires_at =
            [Some(now.saturating_add(lifetime)), Some(subject.expires_at), actor.as_ref().map(|a| a.expires_at)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now);
        let (grant_id, grant_expires_at, new_grant) = match &subject.family {
            Some((id, ends)) => (id.clone(), *ends, false),
            None => (server.new_grant_id(), expires_at, true),
        };
        let record = TokenRecord {
            grant_id: grant_id.clone(),
            client_id: client.id.clone(),
            subject: Some(subject.sub.clone()),
            scope,
            issued_at: now,
            expires_at: expires_at.min(grant_expires_at),
            grant_expires_at,
            auth_time: subject.auth_time,
            jkt,
            exchange: (act.is_some() || audience.is_some()).then(|| Box::new(Exchanged { act, aud: audience })),
        };
        let reference = AccessToken::new(server.new_token(&grant_id));
        let key = TokenKey { grant: grant_id.clone(), hash: server.access_token_hash_in(format, &reference) };
        let access_token = server.access_token_in(format, reference, &record)?;
        let stored = if new_grant {
            let grant = GrantRecord {
                id: grant_id,
                client_id: client.id.clone(),
                subject: record.subject.clone(),
                scope: record.scope.clone(),
                issued_at: now,
                expires_at: record.expires_at,
                auth_time: record.auth_time,
            };
            let tokens = NewTokens { access: (key.hash, record.clone()), refresh: None };
            server.stores.tokens.create_grant(&grant, &tokens).await.map_err(storage_error)?
        } else {
            server.stores.tokens.add_access_token(&key, &record).await.map_err(storage_error)?
        };
        if !stored {
            return Err(Role::Subject.invalid());
        }
        Ok(Issued {
            access_token,
            access_expires_at: record.expires_at,
            refresh: None,
            dpop_bound: record.jkt.is_some(),
            scope: record.scope,
            id_token: None,
            issued_token_type: Some(issued_token_type),
        })
    }
}

/// The `audience` or `resource` (RFC 8693 §2.1) the client asks for: one
/// of them at most, and one its rule lists (`invalid_target` otherwise).
fn target(req: &GrantRequest<'_>, rule: &ExchangeRule) -> Result<Option<String>, OAuthError> {
    let target = match (req.param("audience")?, req.param("resource")?) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::new(ErrorCode::InvalidTarget, "Send either audience or resource, not both"));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Ok(None),
    };
    if target.len() > MAX_NAME_LEN || !rule.audiences.iter().any(|a| a == target) {
        return Err(OAuthError::new(ErrorCode::InvalidTarget, "The client may not obtain tokens for this target"));
    }
    Ok(Some(target.to_owned()))
}

/// The scope of the issued token: what the client asked for (all it may
/// have without `scope`), within the subject token's scope (or, for tokens
/// without one, within the rule's) and within the rule's.
fn granted_scope(
    rule: &ExchangeRule,
    subject: Option<&ScopeSet>,
    requested: Option<ScopeSet>,
) -> Result<ScopeSet, OAuthError> {
    let ceiling: ScopeSet = match (subject, &rule.scopes) {
        (Some(had), Some(allowed)) => had.iter().filter(|s| allowed.contains(s.as_str())).cloned().collect(),
        (Some(had), None) => had.clone(),
        (None, Some(allowed)) => allowed.clone(),
        (None, None) => ScopeSet::empty(),
    };
    match requested {
        Some(requested) if !requested.is_subset(&ceiling) => {
            Err(OAuthError::invalid_scope("The scope exceeds what the subject token and the policy allow"))
        }
        Some(requested) => Ok(requested),
        None => Ok(ceiling),
    }
}

/// Checks a subject or actor token of the given type: this server's live
/// access and refresh tokens (a refresh token only from the client it was
/// issued to; a DPoP-bound token only with a proof of its key), this
/// server's ID tokens, and JWTs of trusted issuers.
async fn present(
    server: &AuthorizationServer,
    client: &Client,
    token: &str,
    kind: &str,
    jkt: Option<&str>,
    role: Role,
) -> Result<Presented, OAuthError> {
    if token.len() > MAX_EXCHANGED_TOKEN_LEN {
        return Err(role.invalid());
    }
    let now = server.clock.now();
    let from_record = |record: TokenRecord| {
        if record.expires_at <= now || (record.jkt.is_some() && record.jkt.as_deref() != jkt) {
            return Err(role.invalid());
        }
        let act = record.act().cloned();
        Ok(Presented {
            sub: record.subject.unwrap_or_else(|| Subject::new(record.client_id.as_str())),
            iss: None,
            act,
            scope: Some(record.scope),
            expires_at: record.expires_at,
            family: Some((record.grant_id, record.grant_expires_at)),
            auth_time: record.auth_time,
        })
    };
    match kind {
        ACCESS_TOKEN_TYPE => {
            let key = server.reference_key(token).ok_or_else(|| role.invalid())?;
            let record = server.stores.tokens.get_access_token(&key).await.map_err(storage_error)?;
            from_record(record.ok_or_else(|| role.invalid())?)
        }
        REFRESH_TOKEN_TYPE => {
            let key = TokenKey::of(token).ok_or_else(|| role.invalid())?;
            match server.stores.tokens.get_refresh_token(&key).await.map_err(storage_error)? {
                RefreshLookup::Active(record) if record.client_id == client.id => from_record(record),
                _ => Err(role.invalid()),
            }
        }
        ID_TOKEN_TYPE => {
            let keys = server.keys().ok_or_else(|| role.invalid())?;
            let claims: crate::oidc::IdTokenClaims = keys
                .verify(token, "JWT", server.policy.issuer().as_str(), Some(now))
                .map_err(|e| role.invalid().with_cause(e))?;
            if claims.sub.is_empty() || claims.sub.len() > MAX_NAME_LEN {
                return Err(role.invalid());
            }
            Ok(Presented {
                sub: Subject::new(claims.sub),
                iss: None,
                act: None,
                scope: None,
                expires_at: claims.exp,
                family: None,
                auth_time: claims.auth_time,
            })
        }
        JWT_TOKEN_TYPE => trusted_jwt(server, token, role, now).await,
        _ => Err(OAuthError::invalid_request(match role {
            Role::Subject => "The subject_token_type is not supported",
            Role::Actor => "The actor_token_type is not supported",
        })),
    }
}

/// A JWT of a trusted issuer, verified against its keys (fetched again,
/// once, when no key matched).
async fn trusted_jwt(server: &AuthorizationServer, token: &str, role: Role, now: u64) -> Result<Presented, OAuthError> {
    use crate::exchange::IssuedJwtError;
    let claimed = crate::jose::unverified_claims(token).ok_or_else(|| role.invalid())?;
    let iss = claimed.get("iss").and_then(serde_json::Value::as_str).ok_or_else(|| role.invalid())?;
    let issuer = server.policy.token_exchange().issuer(iss).ok_or_else(|| role.invalid())?;
    let mut verified = Err(IssuedJwtError::NoKey);
    for refresh in [false, true] {
        let keys = server.issuer_keys.key_set(issuer, refresh).await.map_err(|e| role.invalid().with_cause(e))?;
        verified = crate::exchange::verify_issued_jwt(
            token,
            &keys,
            issuer,
            server.policy.issuer().as_str(),
            server.policy.assertion_rules(),
            now,
        );
        if verified != Err(IssuedJwtError::NoKey) {
            break;
        }
    }
    let claims = verified.map_err(|e| role.invalid().with_cause(e))?;
    let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
    let act = match claims.get("act") {
        None => None,
        Some(claim) => Some(Actor::from_claim(claim).ok_or_else(|| role.invalid())?),
    };
    let scope = match text("scope") {
        None => None,
        Some(raw) => Some(ScopeSet::parse(raw).map_err(|_| role.invalid())?),
    };
    let expires_at = claims.get("exp").and_then(serde_json::Value::as_f64).map_or(now, |t| t as u64);
    Ok(Presented {
        sub: Subject::new(text("sub").unwrap_or_default()),
        iss: Some(issuer.issuer.clone()),
        act,
        scope,
        expires_at,
        family: None,
        auth_time: claims.get("auth_time").and_then(serde_json::Value::as_u64),
    })
}
