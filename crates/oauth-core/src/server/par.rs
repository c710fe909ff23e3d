//! Pushed authorization requests ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)):
//! the PAR endpoint, and the authorization endpoint's use of a `request_uri`.
//!
//! The client pushes its authorization request in the back channel, where it
//! authenticates as at the token endpoint; the request is validated there by
//! the authorization endpoint's own validation, and the validated
//! [`PendingAuthorization`] is kept in the [`OnceStore`](crate::storage::OnceStore)
//! under a random `request_uri` for [`par_lifetime`](crate::ServerPolicy::par_lifetime)
//! seconds. The authorization endpoint takes it once (`take_once`: of
//! concurrent uses, on any instance, exactly one gets it) and returns it as
//! its pending authorization, which the application keeps for the login and
//! consent pages like any other.

use std::sync::Arc;

use super::{AuthorizationServer, AuthorizeError, PendingAuthorization, storage_error};
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::request::{OAuthRequest, Params};
use crate::response::OAuthResponse;
use crate::types::{ClientId, TokenHash};

/// The prefix of every `request_uri` this server issues (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Largest stored pushed request, in bytes of its JSON: the request limits
/// keep a validated request far below it.
pub const MAX_PUSHED_REQUEST_LEN: usize = 32 * 1024;

/// The stored form of a pushed request.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pushed {
    pending: PendingAuthorization,
}

/// The single-use key of a pushed request: its `request_uri` and its client,
/// so that another client's `client_id` finds nothing (and consumes nothing).
fn key(client: &ClientId, request_uri: &str) -> TokenHash {
    TokenHash::of(&format!("par\0{}\0{request_uri}", client.as_str()))
}

fn invalid_request_uri(description: &'static str) -> AuthorizeError {
    AuthorizeError::Invalid(OAuthError::new(ErrorCode::Extension("invalid_request_uri".into()), description))
}

impl AuthorizationServer {
    /// The PAR endpoint (RFC 9126 §2): authenticates the client as the token
    /// endpoint does, validates the request as the authorization endpoint
    /// does, refuses a `request_uri` inside it, and answers `201` with a
    /// fresh `request_uri` and `expires_in`.
    pub async fn par(&self, req: &OAuthRequest) -> OAuthResponse {
        if let Err(response) = self.check_back_channel("par", req) {
            return response;
        }
        match self.par_inner(req).await {
            Ok(response) => response,
            Err(error) => self.error_response("par", error),
        }
    }

    async fn par_inner(&self, req: &OAuthRequest) -> Result<OAuthResponse, OAuthError> {
        let client = self.authenticate_client(req, &self.policy.paths().par).await?;
        if req.form.get("request_uri")?.is_some() {
            return Err(OAuthError::invalid_request("request_uri must not be pushed (RFC 9126 §2.1)"));
        }
        // A DPoP proof at the PAR endpoint binds the code to its key, as
        // `dpop_jkt` does; with both, they must agree (RFC 9449 §10.1).
        let par_url = self.policy.endpoint_url(&self.policy.paths().par);
        let proof = self.verify_dpop_proof(req, &par_url, None).await?;
        let mut pending = match self.validate_request(&req.form, Some(client.clone())).await {
            Ok(pending) => pending,
            Err(AuthorizeError::Invalid(error)) => return Err(error),
            // Pushed requests are validated with direct errors, and the
            // method was checked: neither of these happens.
            Err(AuthorizeError::Redirect(_) | AuthorizeError::MethodNotAllowed) => {
                return Err(OAuthError::invalid_request("The pushed request is invalid"));
            }
        };
        if let Some(proof) = proof {
            match &pending.dpop_jkt {
                Some(jkt) if *jkt != proof.jkt => {
                    return Err(super::invalid_dpop_proof("The DPoP proof's key is not the request's dpop_jkt"));
                }
                _ => pending.dpop_jkt = Some(proof.jkt),
            }
        }
        let stored = serde_json::to_vec(&Pushed { pending })
            .map_err(|_| OAuthError::invalid_request("The pushed request cannot be stored"))?;
        if stored.len() > MAX_PUSHED_REQUEST_LEN {
            return Err(OAuthError::invalid_request("The pushed request is too large"));
        }
        let request_uri = format!("{REQUEST_URI_PREFIX}{}", self.generator.token());
        let lifetime = self.policy.par_lifetime();
        let expires_at = self.clock.now().saturating_add(lifetime);
        if !self
            .stores
            .once
            .put_once(&key(&client.id, &request_uri), &stored, expires_at)
            .await
            .map_err(storage_error)?
        {
            // A fresh random value was taken: only a broken generator does that.
            return Err(OAuthError::unavailable());
        }
        Ok(OAuthResponse::json(201, &serde_json::json!({ "request_uri": request_uri, "expires_in": lifetime })))
    }

    /// The authorization endpoint with `request_uri` (RFC 9126 §4): the
    /// pushed request of `client_id`, taken once. Other parameters are
    /// ignored: only the pushed ones count. Every failure is an error page
    /// (the redirect URI is in the pushed request, so nothing is verified).
    pub(super) async fn pushed_request(&self, params: &Params) -> Result<PendingAuthorization, AuthorizeError> {
        let invalid = AuthorizeError::Invalid;
        let client_id = params
            .get("client_id")
            .map_err(invalid)?
            .ok_or_else(|| invalid(OAuthError::invalid_request("The client_id parameter is missing")))?;
        let request_uri = params.get("request_uri").map_err(invalid)?.unwrap_or_default();
        if !request_uri.starts_with(REQUEST_URI_PREFIX) || request_uri.len() > REQUEST_URI_PREFIX.len() + 128 {
            return Err(invalid_request_uri("The request_uri was not issued by this server"));
        }
        let client_id = ClientId::new(client_id);
        let client: Arc<Client> = self
            .stores
            .clients
            .get_client(&client_id)
            .await
            .map_err(|e| invalid(storage_error(e)))?
            .ok_or_else(|| invalid(OAuthError::invalid_client("Unknown client")))?;
        let stored = self
            .stores
            .once
            .take_once(&key(&client.id, request_uri))
            .await
            .map_err(|e| invalid(storage_error(e)))?
            .ok_or_else(|| invalid_request_uri("The request_uri is unknown, expired, used, or another client's"))?;
        let Pushed { mut pending } =
            serde_json::from_slice(&stored).map_err(|_| invalid_request_uri("The pushed request cannot be read"))?;
        pending.created_at = self.clock.now();
        pending.client_name.clone_from(&client.name);
        Ok(pending)
    }
}
