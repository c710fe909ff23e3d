//! The token endpoint ([RFC 6749 §3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2)):
//! client authentication, dispatch to the [`GrantHandler`] of the `grant_type`,
//! and what every grant shares (minting, ID tokens, the response body).

use std::sync::Arc;

use super::{AuthorizationServer, storage_error};
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::grant::{GrantHandler, GrantRequest, Issued, NewGrant};
use crate::policy::AccessTokenFormat;
use crate::request::OAuthRequest;
use crate::response::OAuthResponse;
use crate::storage::{GrantRecord, NewTokens, TokenRecord};
use crate::types::{AccessToken, GrantId, GrantType, RefreshToken, ScopeSet, TokenHash};

impl AuthorizationServer {
    /// Handles a token request: client authentication, then the grant named by `grant_type`.
    ///
    /// Every outcome is a complete response: 200 with tokens, 400/401 with an
    /// RFC 6749 §5.2 error, 405 for a wrong method, 503 when storage fails or
    /// the pool for CPU-heavy checks is full.
    pub async fn token(&self, req: &OAuthRequest) -> OAuthResponse {
        if let Err(response) = self.check_back_channel("token", req) {
            return response;
        }
        match self.token_inner(req).await {
            Ok((grant_type, issued)) => {
                if let Some(o) = &self.observer {
                    o.token_issued(&grant_type);
                }
                self.token_response(issued)
            }
            Err(error) => self.error_response("token", error),
        }
    }

    async fn token_inner(&self, req: &OAuthRequest) -> Result<(GrantType, Issued), OAuthError> {
        let client = self.authenticate_client(req, &self.policy.paths().token).await?;
        let grant_type = req
            .form
            .get("grant_type")?
            .ok_or_else(|| OAuthError::invalid_request("The grant_type parameter is missing"))?;
        let Some(handler) = self.grant_handler(grant_type) else {
            return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "The grant_type is not supported"));
        };
        let grant_type = handler.grant_type();
        if !client.grant_types.contains(&grant_type) || (grant_type == GrantType::Password && self.fapi2(&client)) {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "The client may not use this grant_type"));
        }
        // `htu` is the token path the request came to (the published one, or
        // an alias), below the issuer's origin.
        let paths = self.policy.paths();
        let path = paths.token_paths().find(|p| *p == req.path).unwrap_or(&paths.token);
        let proof = self.verify_dpop_proof(req, &self.policy.endpoint_url(path), None).await?;
        if proof.is_none() && (client.dpop_bound_access_tokens || self.fapi2(&client)) {
            return Err(super::dpop::invalid_proof("This client must send a DPoP proof"));
        }
        let request = GrantRequest { request: req, client: &client, dpop: proof.as_ref() };
        let issued = handler.handle(self, request).await?;
        Ok((grant_type, issued))
    }

    /// The registered handler of a `grant_type` value.
    fn grant_handler(&self, grant_type: &str) -> Option<&Arc<dyn GrantHandler>> {
        self.grants.iter().find(|h| h.grant_type().as_str() == grant_type)
    }

    /// The grant types registered at the token endpoint, in registration order.
    pub fn grant_types(&self) -> impl Iterator<Item = GrantType> + '_ {
        self.grants.iter().map(|h| h.grant_type())
    }

    /// Creates a grant and its first tokens for `client`: an access token (in
    /// the client's format) and, when `grant.refresh` is set and the client is
    /// registered for `refresh_token`, a refresh token. Lifetimes come from the
    /// policy; the grant is stored in one atomic store call. This is how a
    /// [`GrantHandler`] issues tokens. `invalid_grant` when the store refuses
    /// the grant as revoked (its client was deleted meanwhile).
    pub async fn issue(&self, client: &Client, grant: NewGrant) -> Result<Issued, OAuthError> {
        let now = self.clock.now();
        let lifetime = if grant.refresh { self.policy.grant_lifetime() } else { self.policy.access_token_lifetime() };
        let record = GrantRecord {
            id: self.new_grant_id(),
            client_id: client.id.clone(),
            subject: grant.subject,
            scope: grant.scope,
            issued_at: now,
            expires_at: now.saturating_add(lifetime),
            auth_time: grant.auth_time,
        };
        self.issue_for_grant(client, record, grant.refresh, grant.jkt.as_deref()).await
    }

    /// Stores `grant` with its first tokens (a refresh token too when
    /// `may_refresh` and the client is registered for `refresh_token`),
    /// bound to the DPoP key `jkt` as [`NewGrant::jkt`] says.
    pub(crate) async fn issue_for_grant(
        &self,
        client: &Client,
        grant: GrantRecord,
        may_refresh: bool,
        jkt: Option<&str>,
    ) -> Result<Issued, OAuthError> {
        let with_refresh = may_refresh && client.grant_types.contains(&GrantType::RefreshToken);
        let (access, refresh, tokens) =
            self.mint(client, &grant, &grant.scope, with_refresh.then_some(&grant.scope), jkt)?;
        if !self.stores.tokens.create_grant(&grant, &tokens).await.map_err(storage_error)? {
            // Revoked while it was being issued: its code was replayed, or
            // its client deleted, since this request began.
            return Err(OAuthError::invalid_grant("The grant was revoked while it was being issued"));
        }
        let refresh = refresh.zip(tokens.refresh.as_ref().map(|(_, r)| r.expires_at));
        Ok(Issued {
            access_token: access,
            access_expires_at: tokens.access.1.expires_at,
            refresh,
            scope: grant.scope,
            id_token: None,
            dpop_bound: jkt.is_some(),
            issued_token_type: None,
        })
    }

    /// An ID token when the scope has `openid` and signing keys are installed
    /// (OpenID Connect Core §3.1.3.3): iss, sub, aud, exp, iat, auth_time,
    /// nonce, at_hash, and the profile claims the scopes release.
    pub(crate) async fn id_token(
        &self,
        client: &Client,
        subject: &crate::types::Subject,
        issued: &Issued,
        auth_time: Option<u64>,
        nonce: Option<&str>,
    ) -> Result<Option<String>, OAuthError> {
        let Some(keys) = self.keys() else { return Ok(None) };
        if !issued.scope.contains("openid") {
            return Ok(None);
        }
        let user = self.stores.users.get_user(subject).await.map_err(storage_error)?;
        let claims = user.map(|u| crate::oidc::claims_for_scope(&issued.scope, &u.claims)).unwrap_or_default();
        let now = self.clock.now();
        let signer = keys.active();
        let payload = crate::oidc::IdTokenClaims {
            iss: self.policy.issuer().to_string(),
            sub: subject.as_str().to_owned(),
            aud: client.id.as_str().to_owned(),
            exp: now.saturating_add(self.policy.id_token_lifetime()),
            iat: now,
            auth_time,
            nonce: nonce.map(str::to_owned),
            at_hash: Some(signer.alg().half_hash(issued.access_token.secret())),
            claims,
        };
        signer.sign("JWT", &payload).map(Some).map_err(|_| signing_failed())
    }

    /// Generates an access token (and a refresh token with `refresh_scope`)
    /// for a grant, with lifetimes capped by the grant's absolute expiry. With
    /// a DPoP key `jkt`, the access token is bound to it, and the refresh
    /// token too when the client is public (RFC 9449 §5: a confidential
    /// client's refresh token is bound by its authentication).
    pub(crate) fn mint(
        &self,
        client: &Client,
        grant: &GrantRecord,
        scope: &ScopeSet,
        refresh_scope: Option<&ScopeSet>,
        jkt: Option<&str>,
    ) -> Result<(AccessToken, Option<RefreshToken>, NewTokens), OAuthError> {
        let now = self.clock.now();
        let record = |scope: &ScopeSet, lifetime: u64, jkt: Option<&str>| TokenRecord {
            grant_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            subject: grant.subject.clone(),
            scope: scope.clone(),
            issued_at: now,
            expires_at: now.saturating_add(lifetime).min(grant.expires_at),
            grant_expires_at: grant.expires_at,
            auth_time: grant.auth_time,
            jkt: jkt.map(str::to_owned),
            exchange: None,
        };
        let reference = AccessToken::new(self.new_token(&grant.id));
        let access_record = record(scope, self.policy.access_token_lifetime(), jkt);
        let refresh_jkt = jkt.filter(|_| client.is_public());
        let refresh = refresh_scope.map(|s| {
            (RefreshToken::new(self.new_token(&grant.id)), record(s, self.policy.refresh_token_lifetime(), refresh_jkt))
        });
        let tokens = NewTokens {
            access: (self.access_token_hash(client, &reference), access_record),
            refresh: refresh.as_ref().map(|(t, r)| (t.hash(), r.clone())),
        };
        let access = self.access_token(client, reference, &tokens.access.1)?;
        Ok((access, refresh.map(|(t, _)| t), tokens))
    }

    /// A new token of the grant: `<grant id>.<secret>` (see `TokenKey`).
    pub(crate) fn new_token(&self, grant: &GrantId) -> String {
        format!("{grant}.{}", self.generator.token())
    }

    pub(crate) fn access_token_format(&self, client: &Client) -> AccessTokenFormat {
        client.access_token_format.unwrap_or(self.policy.access_token_format())
    }

    /// The key the store keeps the access token `reference` under: its hash,
    /// or for JWT clients [`TokenHash::of_jti`], so that the jti (the
    /// reference, readable in the JWT) is no opaque token.
    pub(crate) fn access_token_hash(&self, client: &Client, reference: &AccessToken) -> TokenHash {
        self.access_token_hash_in(self.access_token_format(client), reference)
    }

    /// [`access_token_hash`](Self::access_token_hash) for a token of `format`.
    pub(crate) fn access_token_hash_in(&self, format: AccessTokenFormat, reference: &AccessToken) -> TokenHash {
        match format {
            AccessTokenFormat::Opaque => reference.hash(),
            _ => TokenHash::of_jti(reference.secret()),
        }
    }

    /// The access token handed out for `reference`, the token the store
    /// keeps: the reference itself, or for JWT clients a signed RFC 9068 token
    /// whose `jti` is the reference.
    pub(crate) fn access_token(
        &self,
        client: &Client,
        reference: AccessToken,
        record: &TokenRecord,
    ) -> Result<AccessToken, OAuthError> {
        self.access_token_in(self.access_token_format(client), reference, record)
    }

    /// [`access_token`](Self::access_token) in `format`. A JWT's `aud` is
    /// the record's (token exchange), else the policy's; `act` is the record's.
    pub(crate) fn access_token_in(
        &self,
        format: AccessTokenFormat,
        reference: AccessToken,
        record: &TokenRecord,
    ) -> Result<AccessToken, OAuthError> {
        if format == AccessTokenFormat::Opaque {
            return Ok(reference);
        }
        let keys = self.keys().ok_or_else(signing_failed)?;
        let claims = crate::oidc::AccessTokenClaims {
            iss: self.policy.issuer().to_string(),
            exp: record.expires_at,
            aud: record.aud().map_or_else(|| self.policy.access_token_audience().to_owned(), str::to_owned),
            sub: record.subject.as_ref().map_or_else(|| record.client_id.as_str(), |s| s.as_str()).to_owned(),
            client_id: record.client_id.as_str().to_owned(),
            iat: record.issued_at,
            jti: reference.secret().to_owned(),
            scope: record.scope.to_string(),
            auth_time: record.auth_time,
            cnf: record.jkt.as_ref().map(|jkt| crate::oidc::Confirmation { jkt: jkt.clone() }),
            act: record.act().cloned(),
        };
        Ok(AccessToken::new(keys.active().sign("at+jwt", &claims).map_err(|_| signing_failed())?))
    }

    fn token_response(&self, issued: Issued) -> OAuthResponse {
        let now = self.clock.now();
        let body = TokenBody {
            access_token: issued.access_token.secret(),
            token_type: if issued.dpop_bound { "DPoP" } else { "Bearer" },
            expires_in: issued.access_expires_at.saturating_sub(now),
            refresh_token: issued.refresh.as_ref().map(|(token, _)| token.secret()),
            refresh_token_expires_in: issued.refresh.as_ref().map(|(_, expires_at)| expires_at.saturating_sub(now)),
            scope: (!issued.scope.is_empty()).then_some(&issued.scope),
            id_token: issued.id_token.as_deref(),
            issued_token_type: issued.issued_token_type,
        };
        OAuthResponse::json(200, &body)
    }
}

/// A successful token response (RFC 6749 §5.1), serialized as is.
#[derive(serde::Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a ScopeSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    /// RFC 8693 §2.2.1, token exchange answers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
}

pub(crate) fn signing_failed() -> OAuthError {
    OAuthError::new(ErrorCode::ServerError, "The server could not sign the token")
}
