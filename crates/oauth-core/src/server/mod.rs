//! [`AuthorizationServer`]: the only entry point adapters call.
//!
//! - [`authorize`](AuthorizationServer::authorize) validates an authorization
//!   request and returns a [`PendingAuthorization`] for the login and consent
//!   steps, then [`approve`](AuthorizationServer::approve) or
//!   [`deny`](AuthorizationServer::deny) produce the redirect to the client.
//! - [`token`](AuthorizationServer::token), [`revoke`](AuthorizationServer::revoke),
//!   [`introspect`](AuthorizationServer::introspect) and [`par`](AuthorizationServer::par)
//!   answer the back-channel endpoints.
//! - [`metadata_response`](AuthorizationServer::metadata_response),
//!   [`jwks_response`](AuthorizationServer::jwks_response) and
//!   [`openid_configuration_response`](AuthorizationServer::openid_configuration_response)
//!   answer the public documents; [`metadata`](AuthorizationServer::metadata)
//!   is the RFC 8414 document as data.
//! - [`authenticate_resource`](AuthorizationServer::authenticate_resource)
//!   authenticates a protected-resource request (UserInfo, resource servers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::assertion::{ClientKeys, InlineKeys};
use crate::client::{Client, SecretHash};
use crate::clock::{Clock, SystemClock};
use crate::error::OAuthError;
use crate::generate::{RandomGenerator, TokenGenerator};
use crate::grant::GrantHandler;
use crate::jose::KeySet;
use crate::observe::Observer;
use crate::offload::{Inline, Job, Offload, Saturated};
use crate::policy::ServerPolicy;
use crate::request::{Method, OAuthRequest, PresentedCredentials, presented_credentials};
use crate::response::OAuthResponse;
use crate::storage::{StorageError, Stores};
use crate::types::{ClientId, TokenEndpointAuthMethod};

mod authorize;
mod device;
mod dpop;
mod introspection;
mod par;
mod throttle;
mod token;
mod userinfo;

pub use authorize::{Approval, AuthorizeError, NextStep, PendingAuthorization};
pub use device::PendingDevice;
pub(crate) use dpop::invalid_proof as invalid_dpop_proof;
pub use par::{MAX_PUSHED_REQUEST_LEN, REQUEST_URI_PREFIX};
pub(crate) use token::signing_failed;
pub use userinfo::{ResourceAccess, TokenScheme, bearer_token};

/// How long caches may keep the RFC 8414 metadata document, in seconds.
pub const METADATA_MAX_AGE: u32 = 300;

/// How long caches may keep the JWK Set and the Discovery document, in seconds.
pub const KEYS_MAX_AGE: u32 = 60;

/// The client authentication methods of the token and revocation endpoints;
/// introspection takes the first three (public clients cannot introspect).
/// `client_secret_jwt` is missing on purpose: secrets are stored hashed.
const AUTH_METHODS: [&str; 4] = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];

const OIDC_OFF: &str = "OpenID Connect is not enabled";

/// The OAuth 2.1 authorization server engine.
///
/// It holds the policy, the stores, a clock and a token generator. It does
/// no IO of its own besides calling the stores, and knows no web framework.
pub struct AuthorizationServer {
    pub(crate) policy: ServerPolicy,
    pub(crate) stores: Stores,
    pub(crate) clock: Arc<dyn Clock>,
    generator: Arc<dyn TokenGenerator>,
    secrets: SecretCache,
    keys: RwLock<Option<Arc<KeySet>>>,
    observer: Option<Arc<dyn Observer>>,
    grants: Vec<Arc<dyn GrantHandler>>,
    offload: OnceLock<Arc<dyn Offload>>,
    dpop_nonces: Option<crate::dpop::NonceSource>,
    client_keys: Arc<dyn ClientKeys>,
    pub(crate) issuer_keys: Arc<dyn crate::exchange::IssuerKeys>,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl AuthorizationServer {
    /// A server with the system clock, the CSPRNG token generator, the
    /// built-in grants (`password` only when the policy allows it), and
    /// CPU-heavy checks run inline until an [`Offload`] is set.
    pub fn new(policy: ServerPolicy, stores: Stores) -> Self {
        let mut grants: Vec<Arc<dyn GrantHandler>> = vec![
            Arc::new(crate::grant::AuthorizationCodeGrant),
            Arc::new(crate::grant::RefreshTokenGrant),
            Arc::new(crate::grant::ClientCredentialsGrant),
            Arc::new(crate::grant::DeviceCodeGrant),
        ];
        if policy.allow_password_grant() {
            grants.push(Arc::new(crate::grant::PasswordGrant));
        }
        if policy.token_exchange().enabled() {
            grants.push(Arc::new(crate::grant::TokenExchangeGrant));
        }
        Self {
            policy,
            stores,
            clock: Arc::new(SystemClock),
            generator: Arc::new(RandomGenerator),
            secrets: SecretCache::new(),
            keys: RwLock::new(None),
            observer: None,
            grants,
            offload: OnceLock::new(),
            dpop_nonces: None,
            client_keys: Arc::new(InlineKeys),
            issuer_keys: Arc::new(crate::exchange::InlineIssuerKeys),
        }
    }

    /// Registers a grant at the token endpoint (see [`crate::grant`]); it
    /// replaces a handler already registered for the same grant type.
    pub fn with_grant(mut self, handler: Arc<dyn GrantHandler>) -> Self {
        let grant_type = handler.grant_type();
        match self.grants.iter_mut().find(|h| h.grant_type() == grant_type) {
            Some(slot) => *slot = handler,
            None => self.grants.push(handler),
        }
        self
    }

    /// Runs CPU-heavy checks (Argon2) on `offload` (see [`crate::offload`]).
    pub fn with_offload(self, offload: Arc<dyn Offload>) -> Self {
        // A fresh server has none yet, so this always takes.
        let _ = self.offload.set(offload);
        self
    }

    /// Sets the [`Offload`] to `make()` unless one is set already: how an
    /// adapter supplies its pool without overriding the application's choice.
    pub fn init_offload(&self, make: impl FnOnce() -> Arc<dyn Offload>) {
        self.offload.get_or_init(make);
    }

    /// Runs a CPU-heavy check on the server's [`Offload`] ([`Inline`] when
    /// none is set). [`Saturated`] means the pool is full: answer 503.
    pub async fn run_offloaded(&self, job: Job) -> Result<bool, Saturated> {
        match self.offload.get() {
            Some(offload) => offload.run(job).await,
            None => Inline.run(job).await,
        }
    }

    /// Requires server-provided nonces in DPoP proofs (RFC 9449 §8, §9):
    /// a proof without a current nonce of `nonces` is answered
    /// `use_dpop_nonce` with one in `DPoP-Nonce`. Every instance must share
    /// the source's key.
    pub fn with_dpop_nonces(mut self, nonces: crate::dpop::NonceSource) -> Self {
        self.dpop_nonces = Some(nonces);
        self
    }

    /// Gets the JWK Sets of `private_key_jwt` clients from `keys` (the
    /// default, [`InlineKeys`], knows only inline `jwks`; an application that
    /// registers `jwks_uri` clients supplies one that fetches).
    pub fn with_client_keys(mut self, keys: Arc<dyn ClientKeys>) -> Self {
        self.client_keys = keys;
        self
    }

    /// Gets the JWK Sets of token exchange's trusted issuers from `keys`
    /// (the default, [`InlineIssuerKeys`](crate::exchange::InlineIssuerKeys),
    /// knows only inline `jwks`; an application that trusts issuers by
    /// `jwks_uri` supplies one that fetches).
    pub fn with_issuer_keys(mut self, keys: Arc<dyn crate::exchange::IssuerKeys>) -> Self {
        self.issuer_keys = keys;
        self
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

    /// Reports a security-relevant event to the observer.
    pub(crate) fn audit(&self, event: crate::observe::AuditEvent<'_>) {
        if let Some(o) = &self.observer {
            o.audit(&event);
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
        let mut grant_types: Vec<String> = self.grant_types().map(|g| g.as_str().to_owned()).collect();
        if p.allow_implicit() {
            response_types.push("token");
            grant_types.push("implicit".into());
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
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": p.assertion_rules().alg_names(),
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_signing_alg_values_supported": p.assertion_rules().alg_names(),
            "introspection_endpoint_auth_methods_supported": &AUTH_METHODS[..3],
            "introspection_endpoint_auth_signing_alg_values_supported": p.assertion_rules().alg_names(),
            "code_challenge_methods_supported": pkce,
            "pushed_authorization_request_endpoint": p.endpoint_url(&p.paths().par),
            "require_pushed_authorization_requests": p.require_pushed_authorization_requests() || p.fapi2(),
            "authorization_response_iss_parameter_supported": true,
            "dpop_signing_alg_values_supported": p.dpop().alg_names(),
            "device_authorization_endpoint": p.endpoint_url(&p.paths().device_authorization),
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

    /// The answer of the RFC 8414 metadata endpoint: the [`metadata`](Self::metadata)
    /// document, cacheable for [`METADATA_MAX_AGE`] seconds.
    pub fn metadata_response(&self) -> OAuthResponse {
        OAuthResponse::document(&self.metadata(), METADATA_MAX_AGE)
    }

    /// The answer of the JWK Set endpoint: the public keys, cacheable for
    /// [`KEYS_MAX_AGE`] seconds (short, so rotations reach clients soon), or
    /// `404` when OpenID Connect is off (no signing keys).
    pub fn jwks_response(&self) -> OAuthResponse {
        match self.jwks() {
            Some(jwks) => OAuthResponse::document(&jwks, KEYS_MAX_AGE),
            None => OAuthResponse::not_found(OIDC_OFF),
        }
    }

    /// The answer of the OpenID Connect Discovery endpoint, cacheable for
    /// [`KEYS_MAX_AGE`] seconds (it names the signing algorithms), or `404`
    /// when OpenID Connect is off.
    pub fn openid_configuration_response(&self) -> OAuthResponse {
        match self.openid_configuration() {
            Some(doc) => OAuthResponse::document(&doc, KEYS_MAX_AGE),
            None => OAuthResponse::not_found(OIDC_OFF),
        }
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
            crate::request::repeated_parameter(name)
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

    /// Authenticates the client of a back-channel request (RFC 6749 §2.3,
    /// RFC 7523 §2.2): the one client-authentication path of every endpoint
    /// (token, introspection, revocation, PAR). `endpoint` is the path of the
    /// endpoint, an accepted assertion audience besides the issuer and the
    /// token endpoint (any of its paths).
    ///
    /// The presented method must be the registered one; public clients send
    /// `client_id` only.
    async fn authenticate_client(&self, req: &OAuthRequest, endpoint: &str) -> Result<Arc<Client>, OAuthError> {
        let presented = presented_credentials(req)?;
        let client = self.stores.clients.get_client(presented.client_id()).await.map_err(storage_error)?;
        let Some(client) = client else { return Err(self.unknown_client(req, &presented).await) };
        if self.fapi2(&client) && !client.is_public() && client.auth_method != TokenEndpointAuthMethod::PrivateKeyJwt {
            // A registration the profile does not allow: refused before any
            // secret is checked.
            return Err(OAuthError::invalid_client(
                "Under the FAPI 2.0 profile a confidential client authenticates with private_key_jwt",
            ));
        }
        let authenticated = match (&presented, &client.auth_method, &client.secret) {
            (PresentedCredentials::Basic { secret, .. }, TokenEndpointAuthMethod::ClientSecretBasic, Some(hash))
            | (PresentedCredentials::Post { secret, .. }, TokenEndpointAuthMethod::ClientSecretPost, Some(hash)) => {
                self.verify_secret(req, &client.id, hash, secret.secret()).await?
                    || self.verify_previous_secret(req, &client, secret.secret()).await?
            }
            (PresentedCredentials::IdOnly { .. }, TokenEndpointAuthMethod::None, None) => true,
            (PresentedCredentials::Assertion { assertion, .. }, TokenEndpointAuthMethod::PrivateKeyJwt, None) => {
                match self.verify_assertion(&client, assertion, endpoint).await? {
                    Ok(()) => true,
                    Err(error) => return Err(self.client_failed(req, &client.id, error).await),
                }
            }
            _ => false,
        };
        let error = if authenticated {
            return Ok(client);
        } else if presented.used_basic() || !client.is_public() {
            OAuthError::invalid_client("Client authentication failed")
        } else {
            OAuthError::invalid_client("Public clients send client_id only")
        };
        // Every failure is counted (see `throttle`).
        Err(self.client_failed(req, &client.id, error).await)
    }

    /// Verifies a `private_key_jwt` assertion (RFC 7523 §3): the stateless
    /// checks of [`crate::assertion::verify`] against the client's key set
    /// (fetched again, once, when no key matched), then its `jti` recorded in
    /// the [`OnceStore`](crate::storage::OnceStore) until `exp`, shared by
    /// every instance: a replay is refused. The inner error is the refusal
    /// (`invalid_client`, with the reason as its cause); the outer one a
    /// storage failure.
    async fn verify_assertion(
        &self,
        client: &Client,
        assertion: &str,
        endpoint: &str,
    ) -> Result<Result<(), OAuthError>, OAuthError> {
        use crate::assertion::{AssertionError, KeySetError};
        let refused = |cause: AssertionError| {
            Ok(Err(OAuthError::invalid_client("Client authentication failed").with_cause(cause)))
        };
        let p = &self.policy;
        // The issuer, the token endpoint (at any of its paths) and this endpoint.
        let urls: Vec<String> =
            p.paths().token_paths().chain(std::iter::once(endpoint)).map(|path| p.endpoint_url(path)).collect();
        let audiences: Vec<&str> =
            std::iter::once(p.issuer().as_str()).chain(urls.iter().map(String::as_str)).collect();
        let now = self.clock.now();
        let mut verified = Err(AssertionError::NoKey);
        for refresh in [false, true] {
            let keys = match self.client_keys.key_set(client, refresh).await {
                Ok(keys) => keys,
                Err(KeySetError::Missing) => return refused(AssertionError::NoKey),
                Err(error) => {
                    return Ok(Err(
                        OAuthError::invalid_client("The client's keys could not be fetched").with_cause(error)
                    ));
                }
            };
            verified =
                crate::assertion::verify(assertion, client.id.as_str(), &keys, &audiences, p.assertion_rules(), now);
            if verified != Err(AssertionError::NoKey) {
                break;
            }
        }
        let verified = match verified {
            Ok(verified) => verified,
            Err(cause) => return refused(cause),
        };
        let key = crate::types::TokenHash::of(&format!("private_key_jwt\0{}\0{}", client.id.as_str(), verified.jti));
        if self.stores.once.put_once(&key, b"", verified.exp).await.map_err(storage_error)? {
            Ok(Ok(()))
        } else {
            Ok(Err(OAuthError::invalid_client("The client assertion was used before")))
        }
    }

    /// Verifies a client secret: SHA-256 hashes at once, Argon2id hashes from
    /// the cache of verified secrets or, when the throttle allows, on the
    /// [`Offload`].
    async fn verify_secret(
        &self,
        req: &OAuthRequest,
        client: &ClientId,
        hash: &SecretHash,
        presented: &str,
    ) -> Result<bool, OAuthError> {
        match self.secrets.check(client, hash, presented) {
            SecretCheck::Known(verdict) => Ok(verdict),
            SecretCheck::Argon2 { phc, digest } => {
                self.check_client_throttle(req, client).await?;
                let presented = presented.to_owned();
                let verified = self.run_offloaded(Box::new(move || crate::user::verify_phc(&phc, &presented))).await?;
                if verified {
                    self.secrets.remember(client, digest);
                }
                Ok(verified)
            }
        }
    }

    /// During a secret rotation's overlap, the previous secret is accepted
    /// too (checked only when the current one did not match).
    async fn verify_previous_secret(
        &self,
        req: &OAuthRequest,
        client: &Client,
        presented: &str,
    ) -> Result<bool, OAuthError> {
        match &client.previous_secret {
            Some(previous) if previous.expires_at > self.clock.now() => {
                self.verify_secret(req, &client.id, &previous.hash, presented).await
            }
            _ => Ok(false),
        }
    }

    /// Whether `client` is held to the FAPI 2.0 Security Profile: the
    /// server-wide [`fapi2`](crate::ServerPolicy::fapi2) setting or the
    /// client's own. Then its authorization requests must be pushed (PAR)
    /// with PKCE S256, it gets no implicit or password grant, its codes live
    /// at most [`FAPI2_MAX_CODE_LIFETIME`](crate::policy::FAPI2_MAX_CODE_LIFETIME)
    /// seconds, every token request needs a DPoP proof (so every token is
    /// sender-constrained), and, when confidential, it must authenticate
    /// with `private_key_jwt`. `iss` is in every authorization response
    /// anyway (RFC 9207).
    pub fn fapi2(&self, client: &Client) -> bool {
        self.policy.fapi2() || client.fapi2
    }

    /// How long `client`'s authorization codes live.
    fn code_lifetime(&self, client: &Client) -> u64 {
        let lifetime = self.policy.code_lifetime();
        if self.fapi2(client) { lifetime.min(crate::policy::FAPI2_MAX_CODE_LIFETIME) } else { lifetime }
    }

    /// A fresh grant id: 22 characters (132 bits) of the generator's output.
    pub(crate) fn new_grant_id(&self) -> crate::types::GrantId {
        let mut id = self.generator.token();
        id.truncate(22);
        crate::types::GrantId::new(id)
    }
}

/// Maps a storage failure to `temporarily_unavailable`.
///
/// The failure itself is not described to the client: it travels as the
/// error's cause, and the adapter logs it.
pub(crate) fn storage_error(error: StorageError) -> OAuthError {
    OAuthError::unavailable().with_cause(error)
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

    /// What can be decided without Argon2: a SHA-256 hash, or an Argon2id
    /// hash whose secret was verified before.
    fn check(&self, client: &ClientId, hash: &SecretHash, presented: &str) -> SecretCheck {
        let SecretHash::Argon2id(phc) = hash else { return SecretCheck::Known(hash.verify(presented)) };
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update((phc.len() as u64).to_be_bytes());
        hasher.update(phc.as_bytes());
        hasher.update(presented.as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let cached = self.verified.lock().unwrap_or_else(PoisonError::into_inner).get(client).copied();
        if cached.is_some_and(|cached| bool::from(cached.ct_eq(&digest))) {
            return SecretCheck::Known(true);
        }
        SecretCheck::Argon2 { phc: phc.clone(), digest }
    }

    /// Caches a verified secret's digest.
    fn remember(&self, client: &ClientId, digest: [u8; 32]) {
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= SECRET_CACHE_MAX {
            verified.clear();
        }
        verified.insert(client.clone(), digest);
    }
}

/// The outcome of [`SecretCache::check`].
enum SecretCheck {
    /// Decided without Argon2.
    Known(bool),
    /// Needs an Argon2 verification of the PHC string; on success, cache `digest`.
    Argon2 { phc: String, digest: [u8; 32] },
}
