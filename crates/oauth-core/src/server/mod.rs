//! [`AuthorizationServer`]: the only entry point adapters call.
//!
//! - [`authorize`](AuthorizationServer::authorize) validates an authorization
//!   request and returns a [`PendingAuthorization`] for the login and consent
//!   steps, then [`approve`](AuthorizationServer::approve) or
//!   [`deny`](AuthorizationServer::deny) produce the redirect to the client.
//! - [`token`](AuthorizationServer::token), [`revoke`](AuthorizationServer::revoke)
//!   and [`introspect`](AuthorizationServer::introspect) answer the back-channel endpoints.
//! - [`metadata`](AuthorizationServer::metadata) is the RFC 8414 document.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::client::{Client, SecretHash};
use crate::clock::{Clock, SystemClock};
use crate::error::OAuthError;
use crate::generate::{RandomGenerator, TokenGenerator};
use crate::jose::KeySet;
use crate::observe::Observer;
use crate::policy::ServerPolicy;
use crate::request::{Method, OAuthRequest, PresentedCredentials, presented_credentials};
use crate::response::OAuthResponse;
use crate::storage::{StorageError, Stores};
use crate::types::{ClientId, TokenEndpointAuthMethod};

mod authorize;
mod introspection;
mod token;
mod userinfo;

pub use authorize::{Approval, AuthorizeError, NextStep, PendingAuthorization};
pub use userinfo::bearer_token;

/// The OAuth 2.1 authorization server engine.
///
/// It holds the policy, the stores, a clock and a token generator. It does
/// no IO of its own besides calling the stores, and knows no web framework.
pub struct AuthorizationServer {
    policy: ServerPolicy,
    stores: Stores,
    clock: Arc<dyn Clock>,
    generator: Arc<dyn TokenGenerator>,
    secrets: SecretCache,
    keys: RwLock<Option<Arc<KeySet>>>,
    observer: Option<Arc<dyn Observer>>,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl AuthorizationServer {
    /// A server with the system clock and the CSPRNG token generator.
    pub fn new(policy: ServerPolicy, stores: Stores) -> Self {
        Self {
            policy,
            stores,
            clock: Arc::new(SystemClock),
            generator: Arc::new(RandomGenerator),
            secrets: SecretCache::new(),
            keys: RwLock::new(None),
            observer: None,
        }
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reports tokens issued and errors answered to `observer` (for metrics).
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub(crate) fn observe_error(&self, endpoint: &'static str, code: &crate::error::ErrorCode) {
        if let Some(o) = &self.observer {
            o.oauth_error(endpoint, code);
        }
    }

    /// Replaces the token generator.
    pub fn with_generator(mut self, generator: Arc<dyn TokenGenerator>) -> Self {
        self.generator = generator;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &ServerPolicy {
        &self.policy
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// Installs the signing keys, which turns on OpenID Connect (ID tokens,
    /// UserInfo, discovery) and JWT access tokens. Callable at any time: this
    /// is how keys rotate without a restart. `None` turns them off.
    pub fn set_keys(&self, keys: Option<KeySet>) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys.map(Arc::new);
    }

    /// The current signing keys.
    pub fn keys(&self) -> Option<Arc<KeySet>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The JWK Set document, when keys are installed.
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.keys().map(|k| k.jwks())
    }

    /// The current time according to the server's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Authorization server metadata ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)),
    /// generated from the policy.
    pub fn metadata(&self) -> serde_json::Value {
        let p = &self.policy;
        let mut response_types = vec!["code"];
        let mut grant_types = vec!["authorization_code", "refresh_token", "client_credentials"];
        if p.allow_implicit() {
            response_types.push("token");
            grant_types.push("implicit");
        }
        if p.allow_password_grant() {
            grant_types.push("password");
        }
        let mut pkce = vec!["S256"];
        if p.allow_plain_pkce() {
            pkce.push("plain");
        }
        let mut doc = serde_json::json!({
            "issuer": p.issuer(),
            "authorization_endpoint": p.endpoint_url(&p.paths().authorize),
            "token_endpoint": p.endpoint_url(&p.paths().token),
            "revocation_endpoint": p.endpoint_url(&p.paths().revoke),
            "introspection_endpoint": p.endpoint_url(&p.paths().introspect),
            "response_types_supported": response_types,
            "response_modes_supported": ["query", "fragment", "form_post"],
            "grant_types_supported": grant_types,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": pkce,
            "authorization_response_iss_parameter_supported": true,
        });
        if !p.scopes_supported().is_empty() {
            let scopes: Vec<&str> = p.scopes_supported().iter().map(|s| s.as_str()).collect();
            doc["scopes_supported"] = scopes.into();
        }
        if let Some(keys) = self.keys() {
            doc["jwks_uri"] = p.endpoint_url(&p.paths().jwks).into();
            doc["userinfo_endpoint"] = p.endpoint_url(&p.paths().userinfo).into();
            doc["subject_types_supported"] = serde_json::json!(["public"]);
            doc["id_token_signing_alg_values_supported"] = keys.algs().into();
            doc["userinfo_signing_alg_values_supported"] = serde_json::json!(["none"]);
            doc["claims_supported"] = crate::oidc::claims_supported().into();
            doc["prompt_values_supported"] = serde_json::json!(["none", "login", "consent"]);
            doc["claims_parameter_supported"] = false.into();
            doc["request_parameter_supported"] = false.into();
            doc["request_uri_parameter_supported"] = false.into();
        }
        doc
    }

    /// The OpenID Connect Discovery document: the same metadata, only when
    /// signing keys are installed (OpenID Connect needs them).
    pub fn openid_configuration(&self) -> Option<serde_json::Value> {
        self.keys().is_some().then(|| self.metadata())
    }

    /// Checks what every back-channel endpoint requires: POST, TLS, a form
    /// body, no repeated parameter.
    fn check_back_channel(&self, endpoint: &'static str, req: &OAuthRequest) -> Result<(), OAuthResponse> {
        if !req.method_is(&Method::Post) {
            self.observe_error(endpoint, &crate::error::ErrorCode::InvalidRequest);
            return Err(OAuthResponse::method_not_allowed("POST"));
        }
        let error = if !req.secure && !self.policy.allow_insecure_transport() {
            OAuthError::invalid_request("This endpoint requires TLS")
        } else if !req.is_form() {
            OAuthError::invalid_request("The body must be application/x-www-form-urlencoded")
        } else if let Some(name) = req.form.first_duplicate() {
            OAuthError::invalid_request(format!("The {} parameter is repeated", crate::error::quoted_string_safe(name)))
        } else {
            return Ok(());
        };
        Err(self.error_response(endpoint, error))
    }

    /// A direct JSON error response, counted for `endpoint`.
    fn error_response(&self, endpoint: &'static str, error: OAuthError) -> OAuthResponse {
        self.observe_error(endpoint, &error.code);
        error.into_response(self.policy.issuer().as_str())
    }

    /// Authenticates the client of a back-channel request (RFC 6749 §2.3).
    ///
    /// The presented method must be the registered one; public clients send
    /// `client_id` only.
    async fn authenticate_client(&self, req: &OAuthRequest) -> Result<Arc<Client>, OAuthError> {
        let presented = presented_credentials(req)?;
        let client = self
            .stores
            .clients
            .get_client(presented.client_id())
            .await
            .map_err(|e| storage_error(&e))?
            .ok_or_else(|| OAuthError::invalid_client("Client authentication failed"))?;
        let authenticated = match (&presented, &client.auth_method, &client.secret) {
            (PresentedCredentials::Basic { secret, .. }, TokenEndpointAuthMethod::ClientSecretBasic, Some(hash))
            | (PresentedCredentials::Post { secret, .. }, TokenEndpointAuthMethod::ClientSecretPost, Some(hash)) => {
                self.secrets.verify(&client.id, hash, secret.secret())
            }
            (PresentedCredentials::IdOnly { .. }, TokenEndpointAuthMethod::None, None) => true,
            _ => false,
        };
        if authenticated {
            Ok(client)
        } else if presented.used_basic() || !client.is_public() {
            Err(OAuthError::invalid_client("Client authentication failed"))
        } else {
            Err(OAuthError::invalid_client("Public clients send client_id only"))
        }
    }

    /// A fresh grant id: 22 characters (132 bits) of the generator's output.
    fn new_grant_id(&self) -> crate::types::GrantId {
        let mut id = self.generator.token();
        id.truncate(22);
        crate::types::GrantId::new(id)
    }
}

/// Maps a storage failure to `temporarily_unavailable`.
///
/// The failure itself is not described to the client; adapters log it.
pub(crate) fn storage_error(_error: &StorageError) -> OAuthError {
    OAuthError::unavailable()
}

/// Verified Argon2id client secrets, so that the token endpoint runs Argon2
/// at most once per client and secret, not on every request.
///
/// The cache holds a SHA-256 of a random per-process key, the stored hash and
/// the presented secret; it never leaves memory.
struct SecretCache {
    key: [u8; 32],
    verified: Mutex<HashMap<ClientId, [u8; 32]>>,
}

/// Bound on cached verifications; the cache is cleared when full.
const SECRET_CACHE_MAX: usize = 10_000;

impl SecretCache {
    fn new() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Self { key, verified: Mutex::new(HashMap::new()) }
    }

    fn verify(&self, client: &ClientId, hash: &SecretHash, presented: &str) -> bool {
        let SecretHash::Argon2id(phc) = hash else { return hash.verify(presented) };
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update((phc.len() as u64).to_be_bytes());
        hasher.update(phc.as_bytes());
        hasher.update(presented.as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let cached = self.verified.lock().unwrap_or_else(PoisonError::into_inner).get(client).copied();
        if let Some(cached) = cached {
            if bool::from(cached.ct_eq(&digest)) {
                return true;
            }
        }
        if !hash.verify(presented) {
            return false;
        }
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= SECRET_CACHE_MAX {
            verified.clear();
        }
        verified.insert(client.clone(), digest);
        true
    }
}
