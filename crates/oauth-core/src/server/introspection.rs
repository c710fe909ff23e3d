//! Revocation ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)) and
//! introspection ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662)).

use super::{AuthorizationServer, storage_error};
use crate::client::Client;
use crate::error::OAuthError;
use crate::request::OAuthRequest;
use crate::response::OAuthResponse;
use crate::storage::{RefreshLookup, TokenRecord};
use crate::types::{TokenKey, TokenTypeHint};

/// A token found for a client.
enum Found {
    Access(TokenRecord),
    Refresh(TokenRecord),
}

impl AuthorizationServer {
    /// RFC 7009: revokes an access token, or a refresh token with its whole
    /// grant. Unknown tokens and other clients' tokens get the same `200`, so
    /// the answer reveals nothing.
    pub async fn revoke(&self, req: &OAuthRequest) -> OAuthResponse {
        if let Err(response) = self.check_back_channel("revoke", req) {
            return response;
        }
        let result = async {
            let client = self.authenticate_client(req, &self.policy.paths().revoke).await?;
            let (token, hint) = token_param(req)?;
            let Some(key) = self.reference_key(token) else { return Ok(()) };
            match self.find_token(&key, hint, &client).await? {
                Some(Found::Access(_)) => self.stores.tokens.revoke_access_token(&key).await.map_err(storage_error)?,
                Some(Found::Refresh(record)) => {
                    self.stores.tokens.revoke_grant(&record.grant_id).await.map_err(storage_error)?
                }
                None => {}
            }
            Ok::<_, OAuthError>(())
        }
        .await;
        match result {
            Ok(()) => OAuthResponse::empty_ok(),
            Err(error) => self.error_response("revoke", error),
        }
    }

    /// RFC 7662: describes a token to the confidential client it was issued to.
    /// The token is found whatever the hint says; for anyone else it is inactive.
    pub async fn introspect(&self, req: &OAuthRequest) -> OAuthResponse {
        if let Err(response) = self.check_back_channel("introspect", req) {
            return response;
        }
        let result = async {
            let client = self.authenticate_client(req, &self.policy.paths().introspect).await?;
            if client.is_public() {
                return Err(OAuthError::invalid_client("Public clients cannot use introspection"));
            }
            let (token, hint) = token_param(req)?;
            match self.reference_key(token) {
                Some(key) => self.find_token(&key, hint, &client).await,
                None => Ok(None),
            }
        }
        .await;
        match result {
            Ok(Some(found)) => OAuthResponse::json(200, &self.introspection_body(&found)),
            Ok(None) => OAuthResponse::json(200, &serde_json::json!({ "active": false })),
            Err(error) => self.error_response("introspect", error),
        }
    }

    /// Looks the token up as both kinds, the hinted one first; only live
    /// tokens of `client` are returned.
    async fn find_token(
        &self,
        key: &TokenKey,
        hint: Option<TokenTypeHint>,
        client: &Client,
    ) -> Result<Option<Found>, OAuthError> {
        let now = self.clock.now();
        let refresh_first = hint == Some(TokenTypeHint::RefreshToken);
        for refresh in [refresh_first, !refresh_first] {
            let found = if refresh {
                match self.stores.tokens.get_refresh_token(key).await.map_err(storage_error)? {
                    RefreshLookup::Active(record) => Some(Found::Refresh(record)),
                    _ => None,
                }
            } else {
                self.stores.tokens.get_access_token(key).await.map_err(storage_error)?.map(Found::Access)
            };
            if let Some(found) = found {
                let record = match &found {
                    Found::Access(r) | Found::Refresh(r) => r,
                };
                let live = record.expires_at > now && record.client_id == client.id;
                return Ok(live.then_some(found));
            }
        }
        Ok(None)
    }

    fn introspection_body<'a>(&'a self, found: &'a Found) -> IntrospectionBody<'a> {
        let (record, token_type) = match found {
            Found::Access(r) => (r, Some(if r.jkt.is_some() { "DPoP" } else { "Bearer" })),
            Found::Refresh(r) => (r, None),
        };
        IntrospectionBody {
            active: true,
            scope: &record.scope,
            client_id: record.client_id.as_str(),
            exp: record.expires_at,
            iat: record.issued_at,
            iss: self.policy.issuer().as_str(),
            sub: record.subject.as_ref().map(|s| s.as_str()),
            token_type,
            cnf: record.jkt.as_deref().map(|jkt| Cnf { jkt }),
            aud: record.aud(),
            act: record.act(),
        }
    }
}

/// An active token's introspection response (RFC 7662 §2.2).
#[derive(serde::Serialize)]
struct IntrospectionBody<'a> {
    active: bool,
    scope: &'a crate::types::ScopeSet,
    client_id: &'a str,
    exp: u64,
    iat: u64,
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// The DPoP key of a bound token (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Cnf<'a>>,
    /// The audience a token exchange asked for (RFC 8693 §2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    /// The actor of an exchanged token, prior actors nested (RFC 8693 §4.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'a crate::exchange::Actor>,
}

/// `cnf` of a DPoP-bound token.
#[derive(serde::Serialize)]
struct Cnf<'a> {
    jkt: &'a str,
}

/// The `token` parameter's key (`None` when it cannot be one of our tokens)
/// and the optional hint (unknown hints ignored, RFC 7009 §2.1).
fn token_param(req: &OAuthRequest) -> Result<(&str, Option<TokenTypeHint>), OAuthError> {
    let token = req.form.get("token")?.ok_or_else(|| OAuthError::invalid_request("The token parameter is missing"))?;
    let hint = req.form.get("token_type_hint")?.map(TokenTypeHint::parse);
    Ok((token, hint))
}
