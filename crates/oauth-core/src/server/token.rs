//! The token endpoint ([RFC 6749 §3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2), §4–6).

use super::{AuthorizationServer, storage_error};
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::pkce;
use crate::policy::AccessTokenFormat;
use crate::request::OAuthRequest;
use crate::response::OAuthResponse;
use crate::storage::{CodeTake, GrantRecord, NewTokens, RefreshOutcome, RefreshRefusal, RefreshRequest, TokenRecord};
use crate::types::{AccessToken, AuthorizationCode, GrantId, GrantType, RefreshToken, ScopeSet, TokenKey};

/// A successful token response before serialization.
struct Issued {
    access: AccessToken,
    access_expires_at: u64,
    refresh: Option<(RefreshToken, u64)>,
    scope: ScopeSet,
    id_token: Option<String>,
}

impl AuthorizationServer {
    /// Handles a token request: client authentication, then the grant named by `grant_type`.
    ///
    /// Every outcome is a complete response: 200 with tokens, 400/401 with an
    /// RFC 6749 §5.2 error, 405 for a wrong method, 503 when storage fails.
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
        let client = self.authenticate_client(req).await?;
        let grant_type = req
            .form
            .get("grant_type")?
            .ok_or_else(|| OAuthError::invalid_request("The grant_type parameter is missing"))?;
        let grant_type = GrantType::parse(grant_type);
        let supported = match grant_type {
            GrantType::AuthorizationCode | GrantType::RefreshToken | GrantType::ClientCredentials => true,
            GrantType::Password => self.policy.allow_password_grant(),
            _ => false,
        };
        if !supported {
            return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "The grant_type is not supported"));
        }
        if !client.grant_types.contains(&grant_type) {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "The client may not use this grant_type"));
        }
        let issued = match grant_type {
            GrantType::AuthorizationCode => self.exchange_code(req, &client).await,
            GrantType::RefreshToken => self.refresh(req, &client).await,
            GrantType::ClientCredentials => self.client_credentials(req, &client).await,
            _ => self.password(req, &client).await,
        }?;
        Ok((grant_type, issued))
    }

    /// RFC 6749 §4.1.3 with RFC 7636 §4.6. The code is consumed before any
    /// other check, so a failed attempt burns it; a replay revokes the grant.
    async fn exchange_code(&self, req: &OAuthRequest, client: &Client) -> Result<Issued, OAuthError> {
        let code = req.form.get("code")?.ok_or_else(|| OAuthError::invalid_request("The code parameter is missing"))?;
        let redirect_uri = req.form.get("redirect_uri")?;
        let verifier = req.form.get("code_verifier")?;
        let code = AuthorizationCode::new(code);
        let record = match self.stores.codes.take_code(&code.hash()).await.map_err(|e| storage_error(&e))? {
            CodeTake::Taken(record) => record,
            CodeTake::Replayed { grant_id } => {
                self.stores.tokens.revoke_grant(&grant_id).await.map_err(|e| storage_error(&e))?;
                return Err(OAuthError::invalid_grant(
                    "The authorization code was already used; tokens issued from it are revoked",
                ));
            }
            CodeTake::Unknown => return Err(OAuthError::invalid_grant("The authorization code is invalid or expired")),
        };
        let now = self.clock.now();
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
        let grant = GrantRecord {
            id: record.grant_id,
            client_id: client.id.clone(),
            subject: Some(record.subject.clone()),
            scope: record.scope.clone(),
            issued_at: now,
            expires_at: now.saturating_add(self.policy.grant_lifetime()),
            auth_time: Some(record.auth_time),
        };
        let subject = record.subject;
        let mut issued = self.issue_for_new_grant(client, grant, true).await?;
        issued.id_token = self
            .id_token(client, &subject, &issued, Some(record.auth_time), record.nonce.as_ref().map(|n| n.as_str()))
            .await?;
        Ok(issued)
    }

    /// RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2). The
    /// lookup, the checks and the rotation are one store call
    /// ([`TokenStore::refresh`](crate::storage::TokenStore::refresh)).
    async fn refresh(&self, req: &OAuthRequest, client: &Client) -> Result<Issued, OAuthError> {
        let presented = req
            .form
            .get("refresh_token")?
            .ok_or_else(|| OAuthError::invalid_request("The refresh_token parameter is missing"))?;
        let scope = req
            .form
            .get("scope")?
            .map(|raw| ScopeSet::parse(raw).map_err(|_| OAuthError::invalid_scope("The scope is malformed")))
            .transpose()?;
        let presented = RefreshToken::new(presented);
        let Some(old_key) = TokenKey::of(presented.secret()) else {
            return Err(OAuthError::invalid_grant("The refresh token is invalid or expired"));
        };
        if self.access_token_format(client) != AccessTokenFormat::Opaque && self.keys().is_none() {
            // Fail before the rotation, not after it.
            return Err(signing_failed());
        }
        let reference = AccessToken::new(self.new_token(&old_key.grant));
        let rotated = self.policy.rotate_refresh_tokens().then(|| RefreshToken::new(self.new_token(&old_key.grant)));
        let request = RefreshRequest {
            client_id: client.id.clone(),
            scope,
            now: self.clock.now(),
            access: (reference.hash(), self.policy.access_token_lifetime()),
            refresh: rotated.as_ref().map(|t| (t.hash(), self.policy.refresh_token_lifetime())),
        };
        let old = match self.stores.tokens.refresh(&old_key, &request).await.map_err(|e| storage_error(&e))? {
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
            RefreshOutcome::Reused => return Err(reused()),
        };
        let new = request.tokens(&old);
        let (access_record, refresh_record) = (new.access.1, new.refresh.map(|(_, r)| r));
        let refresh = match (rotated, refresh_record) {
            (Some(token), Some(record)) => (token, record.expires_at),
            _ => (presented, old.expires_at),
        };
        let mut issued = Issued {
            access: self.access_token(client, reference, &access_record)?,
            access_expires_at: access_record.expires_at,
            refresh: Some(refresh),
            scope: access_record.scope,
            id_token: None,
        };
        // OpenID Connect Core §12.2: a refreshed ID token keeps auth_time and has no nonce.
        if let Some(subject) = &old.subject {
            issued.id_token = self.id_token(client, subject, &issued, old.auth_time, None).await?;
        }
        Ok(issued)
    }

    /// RFC 6749 §4.4: confidential clients only, no refresh token (§4.4.3).
    async fn client_credentials(&self, req: &OAuthRequest, client: &Client) -> Result<Issued, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "Public clients cannot use client_credentials"));
        }
        let scope = self.requested_scope(&req.form, client)?;
        let now = self.clock.now();
        let grant = GrantRecord {
            id: self.new_grant_id(),
            client_id: client.id.clone(),
            subject: None,
            scope,
            issued_at: now,
            expires_at: now.saturating_add(self.policy.access_token_lifetime()),
            auth_time: None,
        };
        self.issue_for_new_grant(client, grant, false).await
    }

    /// RFC 6749 §4.3, only for clients registered for it and when the server allows it.
    async fn password(&self, req: &OAuthRequest, client: &Client) -> Result<Issued, OAuthError> {
        let username = req.form.get("username")?;
        let password = req.form.get("password")?;
        let (Some(username), Some(password)) = (username, password) else {
            return Err(OAuthError::invalid_request("The username and password parameters are required"));
        };
        let scope = self.requested_scope(&req.form, client)?;
        let user = self.stores.users.find_user(username).await.map_err(|e| storage_error(&e))?;
        let subject = match user {
            Some(user) if user.verify_password(password) => user.subject,
            Some(_) => return Err(OAuthError::invalid_grant("Invalid resource owner credentials")),
            None => {
                crate::user::verify_dummy(password);
                return Err(OAuthError::invalid_grant("Invalid resource owner credentials"));
            }
        };
        let now = self.clock.now();
        let grant = GrantRecord {
            id: self.new_grant_id(),
            client_id: client.id.clone(),
            subject: Some(subject),
            scope,
            issued_at: now,
            expires_at: now.saturating_add(self.policy.grant_lifetime()),
            auth_time: Some(now),
        };
        self.issue_for_new_grant(client, grant, true).await
    }

    async fn issue_for_new_grant(
        &self,
        client: &Client,
        grant: GrantRecord,
        may_refresh: bool,
    ) -> Result<Issued, OAuthError> {
        let with_refresh = may_refresh && client.grant_types.contains(&GrantType::RefreshToken);
        let (access, refresh, tokens) =
            self.mint(client, &grant, &grant.scope, with_refresh.then_some(&grant.scope))?;
        self.stores.tokens.create_grant(&grant, &tokens).await.map_err(|e| storage_error(&e))?;
        let refresh = refresh.zip(tokens.refresh.as_ref().map(|(_, r)| r.expires_at));
        Ok(Issued {
            access,
            access_expires_at: tokens.access.1.expires_at,
            refresh,
            scope: grant.scope,
            id_token: None,
        })
    }

    /// An ID token when the scope has `openid` and signing keys are installed
    /// (OpenID Connect Core §3.1.3.3): iss, sub, aud, exp, iat, auth_time,
    /// nonce, at_hash, and the profile claims the scopes release.
    async fn id_token(
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
        let user = self.stores.users.get_user(subject).await.map_err(|e| storage_error(&e))?;
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
            at_hash: Some(signer.alg().half_hash(issued.access.secret())),
            claims,
        };
        signer.sign("JWT", &payload).map(Some).map_err(|_| signing_failed())
    }

    /// Generates an access token (and a refresh token with `refresh_scope`)
    /// for a grant, with lifetimes capped by the grant's absolute expiry.
    pub(crate) fn mint(
        &self,
        client: &Client,
        grant: &GrantRecord,
        scope: &ScopeSet,
        refresh_scope: Option<&ScopeSet>,
    ) -> Result<(AccessToken, Option<RefreshToken>, NewTokens), OAuthError> {
        let now = self.clock.now();
        let record = |scope: &ScopeSet, lifetime: u64| TokenRecord {
            grant_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            subject: grant.subject.clone(),
            scope: scope.clone(),
            issued_at: now,
            expires_at: now.saturating_add(lifetime).min(grant.expires_at),
            grant_expires_at: grant.expires_at,
            auth_time: grant.auth_time,
        };
        let reference = AccessToken::new(self.new_token(&grant.id));
        let access_record = record(scope, self.policy.access_token_lifetime());
        let refresh = refresh_scope
            .map(|s| (RefreshToken::new(self.new_token(&grant.id)), record(s, self.policy.refresh_token_lifetime())));
        let tokens = NewTokens {
            access: (reference.hash(), access_record),
            refresh: refresh.as_ref().map(|(t, r)| (t.hash(), r.clone())),
        };
        let access = self.access_token(client, reference, &tokens.access.1)?;
        Ok((access, refresh.map(|(t, _)| t), tokens))
    }

    /// A new token of the grant: `<grant id>.<secret>` (see `TokenKey`).
    fn new_token(&self, grant: &GrantId) -> String {
        format!("{grant}.{}", self.generator.token())
    }

    fn access_token_format(&self, client: &Client) -> AccessTokenFormat {
        client.access_token_format.unwrap_or(self.policy.access_token_format())
    }

    /// The access token handed out for `reference`, the token the store
    /// keeps: the reference itself, or for JWT clients a signed RFC 9068 token
    /// whose `jti` is the reference.
    fn access_token(
        &self,
        client: &Client,
        reference: AccessToken,
        record: &TokenRecord,
    ) -> Result<AccessToken, OAuthError> {
        if self.access_token_format(client) == AccessTokenFormat::Opaque {
            return Ok(reference);
        }
        let keys = self.keys().ok_or_else(signing_failed)?;
        let claims = crate::oidc::AccessTokenClaims {
            iss: self.policy.issuer().to_string(),
            exp: record.expires_at,
            aud: self.policy.access_token_audience().to_owned(),
            sub: record.subject.as_ref().map_or_else(|| record.client_id.as_str(), |s| s.as_str()).to_owned(),
            client_id: record.client_id.as_str().to_owned(),
            iat: record.issued_at,
            jti: reference.secret().to_owned(),
            scope: record.scope.to_string(),
            auth_time: record.auth_time,
        };
        Ok(AccessToken::new(keys.active().sign("at+jwt", &claims).map_err(|_| signing_failed())?))
    }

    fn token_response(&self, issued: Issued) -> OAuthResponse {
        let now = self.clock.now();
        let body = TokenBody {
            access_token: issued.access.secret(),
            token_type: "Bearer",
            expires_in: issued.access_expires_at.saturating_sub(now),
            refresh_token: issued.refresh.as_ref().map(|(token, _)| token.secret()),
            refresh_token_expires_in: issued.refresh.as_ref().map(|(_, expires_at)| expires_at.saturating_sub(now)),
            scope: (!issued.scope.is_empty()).then_some(&issued.scope),
            id_token: issued.id_token.as_deref(),
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
}

fn signing_failed() -> OAuthError {
    OAuthError::new(ErrorCode::ServerError, "The server could not sign the token")
}

fn reused() -> OAuthError {
    OAuthError::invalid_grant("The refresh token was already used; the grant is revoked")
}
