//! The configuration file's schema: sections, fields and their defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oauth_core::ServerPolicy;
use oauth_core::policy::{AccessTokenFormat, EndpointPaths, RequestLimits};
use oauth_core::types::Issuer;
use serde::Deserialize;

use crate::registration::ClientRegistration;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`
    #[serde(default)]
    pub server: ServerSection,
    /// `[endpoints]`
    #[serde(default)]
    pub endpoints: EndpointsSection,
    /// `[tokens]`
    #[serde(default)]
    pub tokens: TokensSection,
    /// `[security]`
    #[serde(default)]
    pub security: SecuritySection,
    /// `[storage]`
    #[serde(default)]
    pub storage: StorageSection,
    /// `[session]`
    #[serde(default)]
    pub session: SessionSection,
    /// `[oidc]`
    #[serde(default)]
    pub oidc: OidcSection,
    /// `[throttle]`
    #[serde(default)]
    pub throttle: ThrottleSection,
    /// `[limits]`
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[dpop]`
    #[serde(default)]
    pub dpop: DpopSection,
    /// `[private_key_jwt]`
    #[serde(default)]
    pub private_key_jwt: PrivateKeyJwtSection,
    /// `[token_exchange]`: which clients may exchange tokens (RFC 8693).
    #[serde(default)]
    pub token_exchange: TokenExchangeSection,
    /// `[device]`
    #[serde(default)]
    pub device: DeviceSection,
    /// `[scopes]`: descriptions shown on the consent page, by scope name.
    #[serde(default)]
    pub scopes: BTreeMap<String, String>,
    /// `[[clients]]`
    #[serde(default)]
    pub clients: Vec<ClientRegistration>,
    /// `[[users]]`
    #[serde(default)]
    pub users: Vec<UserConfig>,
}

/// `[server]`: listening address, issuer, transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address to listen on.
    pub bind: String,
    /// Issuer identifier: the public base URL of this server.
    pub issuer: String,
    /// Accept plain-HTTP requests (development only).
    pub allow_insecure_transport: bool,
    /// Trust `Forwarded` / `X-Forwarded-Proto` from a TLS-terminating proxy.
    pub trust_forwarded_proto: bool,
    /// Proxies (IP addresses or CIDR ranges) whose `Forwarded` /
    /// `X-Forwarded-For` name the client's address; empty (the default):
    /// the connection's peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Directory whose `login.html`, `consent.html` or `error.html` replace the embedded templates.
    pub templates_dir: Option<PathBuf>,
    /// A line shown on the login page (the demo shows its credentials).
    pub login_hint: Option<String>,
    /// Worker threads (0: one per core).
    pub workers: usize,
    /// Serve Prometheus metrics at `/metrics` (restrict it at your proxy, or
    /// move it to `admin_bind`).
    pub metrics: bool,
    /// Log one line per request (method, path, status, latency) at `info`.
    /// Off by default: `/metrics` counts every request, a reverse proxy
    /// usually logs them too, and the line costs about 2 µs of CPU per
    /// request. Responses with a 5xx status are logged at `warn` either way.
    pub access_log: bool,
    /// Threads for Argon2 checks (client secrets, passwords), for the whole
    /// process (0: one per core).
    pub hash_threads: usize,
    /// Argon2 checks that may wait for a thread (0: 64 per thread); beyond
    /// that, requests needing one get `503` with `Retry-After`.
    pub hash_queue: usize,
    /// `Strict-Transport-Security` max-age in seconds, sent on every answer
    /// when the issuer is https (0: not sent).
    pub hsts_max_age: u64,
    /// A second address for `/metrics`, `/healthz` and `/readyz`; when set,
    /// the public listener no longer serves them.
    pub admin_bind: Option<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            issuer: "http://localhost:8000".into(),
            allow_insecure_transport: false,
            trust_forwarded_proto: false,
            trusted_proxies: Vec::new(),
            templates_dir: None,
            login_hint: None,
            workers: 0,
            metrics: true,
            access_log: false,
            hash_threads: 0,
            hash_queue: 0,
            hsts_max_age: 31_536_000,
            admin_bind: None,
        }
    }
}

impl ServerSection {
    /// `hash_threads` and `hash_queue` with their defaults applied.
    pub fn hash_pool_size(&self) -> (usize, usize) {
        let threads = match self.hash_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let queue = match self.hash_queue {
            0 => threads * oauth_actix::QUEUE_PER_THREAD,
            n => n,
        };
        (threads, queue)
    }
}

/// `[endpoints]`: paths.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointsSection {
    /// Authorization endpoint.
    pub authorize: String,
    /// Token endpoint paths; the first is advertised in metadata.
    pub token: Vec<String>,
    /// Revocation endpoint.
    pub revoke: String,
    /// Introspection endpoint.
    pub introspect: String,
    /// Pushed authorization request endpoint (RFC 9126).
    pub par: String,
    /// OpenID Connect UserInfo endpoint.
    pub userinfo: String,
    /// JWK Set of the signing keys.
    pub jwks: String,
    /// Login page.
    pub login: String,
    /// Consent page.
    pub consent: String,
    /// Device authorization endpoint (RFC 8628 §3.1).
    pub device_authorization: String,
    /// The page where users enter a device's user code (`verification_uri`).
    pub device_verification: String,
}

impl Default for EndpointsSection {
    fn default() -> Self {
        let core = EndpointPaths::default();
        Self {
            token: core.token_paths().map(str::to_owned).collect(),
            authorize: core.authorize,
            revoke: core.revoke,
            introspect: core.introspect,
            par: core.par,
            userinfo: core.userinfo,
            jwks: core.jwks,
            login: "/login".into(),
            consent: "/approve".into(),
            device_authorization: core.device_authorization,
            device_verification: core.device_verification,
        }
    }
}

/// `[tokens]`: lifetimes in seconds and rotation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensSection {
    /// Authorization code lifetime.
    pub code_lifetime: u64,
    /// Access token lifetime.
    pub access_token_lifetime: u64,
    /// Refresh token lifetime.
    pub refresh_token_lifetime: u64,
    /// Absolute lifetime of a grant (refresh token family).
    pub grant_lifetime: u64,
    /// Rotate refresh tokens on use.
    pub rotate_refresh_tokens: bool,
    /// Seconds during which a client may retry a refresh whose answer it
    /// lost, once, and get the same tokens; 0 (default) is off, at most 60.
    pub refresh_grace: u64,
    /// `opaque` (default) or `jwt` (RFC 9068) access tokens, for clients that do not choose.
    pub access_token_format: AccessTokenFormat,
    /// `aud` of JWT access tokens (default: the issuer).
    pub access_token_audience: Option<String>,
    /// How long a pushed authorization request's `request_uri` is valid (RFC 9126 `expires_in`).
    pub par_lifetime: u64,
}

impl Default for TokensSection {
    fn default() -> Self {
        let p = engine_defaults();
        Self {
            code_lifetime: p.code_lifetime(),
            access_token_lifetime: p.access_token_lifetime(),
            refresh_token_lifetime: p.refresh_token_lifetime(),
            grant_lifetime: p.grant_lifetime(),
            rotate_refresh_tokens: p.rotate_refresh_tokens(),
            refresh_grace: p.refresh_grace(),
            access_token_format: p.access_token_format(),
            access_token_audience: None,
            par_lifetime: p.par_lifetime(),
        }
    }
}

/// `[device]`: the device authorization grant (RFC 8628).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceSection {
    /// How long a device code and its user code live, in seconds (`expires_in`).
    pub code_lifetime: u64,
    /// The minimum seconds between a device's polls (`interval`); at most `code_lifetime`.
    pub interval: u64,
}

impl Default for DeviceSection {
    fn default() -> Self {
        let p = engine_defaults();
        Self { code_lifetime: p.device_code_lifetime(), interval: p.device_poll_interval() }
    }
}

/// `[limits]`: the longest authorization request parameters, in bytes
/// (see [`oauth_core::policy::RequestLimits`]).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Longest `state`.
    pub state: usize,
    /// Longest `nonce`.
    pub nonce: usize,
    /// Longest `login_hint`.
    pub login_hint: usize,
    /// Longest `scope`.
    pub scope: usize,
    /// Largest authorization request query (or form body): its decoded
    /// names and values together.
    pub query: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        let RequestLimits { state, nonce, login_hint, scope, query } = RequestLimits::default();
        Self { state, nonce, login_hint, scope, query }
    }
}

impl LimitsSection {
    /// The engine's limits.
    pub fn request_limits(&self) -> RequestLimits {
        let Self { state, nonce, login_hint, scope, query } = *self;
        RequestLimits { state, nonce, login_hint, scope, query }
    }
}

/// `[security]`: protocol switches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySection {
    /// Require PKCE for all clients.
    pub require_pkce: bool,
    /// Accept `code_challenge_method=plain`.
    pub allow_plain_pkce: bool,
    /// Allow the implicit grant for clients registered for it.
    pub allow_implicit: bool,
    /// Allow the password grant for clients registered for it.
    pub allow_password_grant: bool,
    /// Every client must push its authorization requests (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Hold every client to the FAPI 2.0 Security Profile.
    pub fapi2: bool,
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// `memory` (the embedded store), or `redis://…`, `rediss://…`,
    /// `redis-cluster://host:port` (several instances sharing one store).
    pub url: String,
    /// Prefix of every Redis key.
    pub key_prefix: String,
    /// Multiplexed Redis connections per instance (default 1; each worker thread sticks to one).
    pub pool_size: usize,
    /// Longest time one storage call may take, in milliseconds.
    pub timeout_ms: u64,
    /// With `url = "memory"`: most live records (codes, grants, access and
    /// refresh tokens; remembered consents counted apart) the store keeps;
    /// beyond, writes answer 503 until records expire.
    pub memory_max_records: usize,
    /// PEM file of the CA certificates that `rediss://` trusts instead of
    /// the webpki roots (a Redis with a certificate from a private CA).
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            url: "memory".into(),
            key_prefix: "oauth".into(),
            pool_size: 1,
            timeout_ms: 2000,
            memory_max_records: oauth_core::MemoryStore::DEFAULT_MAX_RECORDS,
            tls_ca_file: None,
        }
    }
}

impl StorageSection {
    /// True for the embedded in-memory store.
    pub fn is_memory(&self) -> bool {
        self.url == "memory"
    }
}

/// `[throttle]`: limits on failed logins and client authentications
/// (failures per window of seconds, from the window's first failure).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSection {
    /// Failed logins per username.
    pub username_failures: u32,
    /// Window of the username counter, in seconds.
    pub username_window: u64,
    /// Failed logins and client authentications per source address (IPv6: per /64).
    pub address_failures: u32,
    /// Window of the address counter, in seconds.
    pub address_window: u64,
    /// Failed client authentications per client id.
    pub client_failures: u32,
    /// Window of the client counter, in seconds.
    pub client_window: u64,
}

impl Default for ThrottleSection {
    fn default() -> Self {
        let p = *engine_defaults().throttle();
        Self {
            username_failures: p.username.max_failures,
            username_window: p.username.window,
            address_failures: p.address.max_failures,
            address_window: p.address.window,
            client_failures: p.client.max_failures,
            client_window: p.client.window,
        }
    }
}

impl ThrottleSection {
    /// The engine's limits.
    pub fn policy(&self) -> oauth_core::throttle::ThrottlePolicy {
        use oauth_core::throttle::Limit;
        oauth_core::throttle::ThrottlePolicy {
            username: Limit::new(self.username_failures, self.username_window),
            address: Limit::new(self.address_failures, self.address_window),
            client: Limit::new(self.client_failures, self.client_window),
        }
    }
}

/// `[dpop]`: which DPoP proofs (RFC 9449) are accepted. `Debug` leaves the
/// nonce key out.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpopSection {
    /// Accepted proof signing algorithms (JOSE names, asymmetric only).
    pub algs: Vec<String>,
    /// Oldest accepted proof: its `iat` at most this many seconds ago.
    pub max_age: u64,
    /// Clock leeway: a proof's `iat` at most this many seconds ahead.
    pub leeway: u64,
    /// Require server-provided nonces in proofs (`use_dpop_nonce`).
    pub nonce: bool,
    /// Base64 key (32 bytes) of the nonces, shared by every instance. When
    /// absent, a random key is made at start (one instance only).
    pub nonce_key: Option<String>,
    /// A nonce changes every this many seconds, and is accepted for two periods.
    pub nonce_period: u64,
}

impl Default for DpopSection {
    fn default() -> Self {
        let rules = oauth_core::dpop::DpopRules::default();
        Self {
            algs: rules.alg_names().into_iter().map(str::to_owned).collect(),
            max_age: 60,
            leeway: 5,
            nonce: false,
            nonce_key: None,
            nonce_period: 60,
        }
    }
}

/// `[private_key_jwt]`: which client assertions are accepted (RFC 7523
/// §2.2), and how clients' `jwks_uri`s are fetched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivateKeyJwtSection {
    /// Accepted signing algorithms (asymmetric only).
    pub algs: Vec<String>,
    /// Longest accepted assertion lifetime: `exp` at most this many seconds ahead.
    pub max_lifetime: u64,
    /// Seconds a client's clock may run ahead (`iat`, `nbf`).
    pub max_skew: u64,
    /// Time limit of one `jwks_uri` fetch, in milliseconds.
    pub jwks_fetch_timeout_ms: u64,
    /// Largest accepted `jwks_uri` document, in bytes.
    pub jwks_max_bytes: usize,
    /// How long a fetched JWK Set is used, in seconds.
    pub jwks_cache_ttl: u64,
    /// Least time between two fetches of one `jwks_uri` caused by an unknown `kid`, in seconds.
    pub jwks_refetch_interval: u64,
}

impl Default for PrivateKeyJwtSection {
    fn default() -> Self {
        let rules = engine_defaults().assertion_rules().clone();
        let limits = crate::client_keys::FetchLimits::default();
        Self {
            algs: rules.alg_names().into_iter().map(str::to_owned).collect(),
            max_lifetime: rules.max_lifetime(),
            max_skew: rules.max_skew(),
            jwks_fetch_timeout_ms: limits.timeout.as_millis() as u64,
            jwks_max_bytes: limits.max_bytes,
            jwks_cache_ttl: limits.cache_ttl.as_secs(),
            jwks_refetch_interval: limits.refetch_interval.as_secs(),
        }
    }
}

impl DpopSection {
    /// The engine's proof rules.
    pub fn rules(&self) -> anyhow::Result<oauth_core::dpop::DpopRules> {
        let algs: Vec<&str> = self.algs.iter().map(String::as_str).collect();
        if self.max_age == 0 || self.max_age > 3600 || self.leeway > 300 {
            anyhow::bail!("dpop: max_age must be 1..=3600 and leeway at most 300 seconds");
        }
        oauth_core::dpop::DpopRules::new(&algs, self.max_age, self.leeway)
            .map_err(|e| anyhow::anyhow!("dpop.algs: {e}"))
    }

    /// The nonce source when nonces are on: the configured key, or a random one.
    pub fn nonces(&self) -> anyhow::Result<Option<oauth_core::dpop::NonceSource>> {
        use base64::Engine as _;
        if !self.nonce {
            return Ok(None);
        }
        if self.nonce_period == 0 || self.nonce_period > 3600 {
            anyhow::bail!("dpop.nonce_period: must be 1..=3600 seconds");
        }
        let Some(key) = &self.nonce_key else {
            return Ok(Some(oauth_core::dpop::NonceSource::random(self.nonce_period)));
        };
        let key: [u8; 32] = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("dpop.nonce_key: must be base64 of 32 bytes"))?;
        Ok(Some(oauth_core::dpop::NonceSource::new(key, self.nonce_period)))
    }
}

impl std::fmt::Debug for DpopSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopSection")
            .field("algs", &self.algs)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("nonce", &self.nonce)
            .field("nonce_key", &self.nonce_key.as_ref().map(|_| "[redacted]"))
            .field("nonce_period", &self.nonce_period)
            .finish()
    }
}

impl PrivateKeyJwtSection {
    /// The engine's assertion rules.
    pub fn rules(&self) -> anyhow::Result<oauth_core::assertion::AssertionRules> {
        let algs: Vec<&str> = self.algs.iter().map(String::as_str).collect();
        if algs.is_empty() {
            anyhow::bail!("private_key_jwt.algs: at least one algorithm is required");
        }
        if !(1..=3600).contains(&self.max_lifetime) {
            anyhow::bail!("private_key_jwt.max_lifetime: must be between 1 and 3600 seconds");
        }
        if self.max_skew > 300 {
            anyhow::bail!("private_key_jwt.max_skew: must be at most 300 seconds");
        }
        oauth_core::assertion::AssertionRules::new(&algs, self.max_lifetime, self.max_skew)
            .map_err(|e| anyhow::anyhow!("private_key_jwt.algs: {e}"))
    }

    /// The limits of `jwks_uri` fetching.
    pub fn fetch_limits(&self) -> anyhow::Result<crate::client_keys::FetchLimits> {
        use std::time::Duration;
        if !(1..=30_000).contains(&self.jwks_fetch_timeout_ms) {
            anyhow::bail!("private_key_jwt.jwks_fetch_timeout_ms: must be between 1 and 30000");
        }
        if !(1024..=1024 * 1024).contains(&self.jwks_max_bytes) {
            anyhow::bail!("private_key_jwt.jwks_max_bytes: must be between 1024 and 1048576");
        }
        if !(1..=86_400).contains(&self.jwks_cache_ttl) || !(1..=86_400).contains(&self.jwks_refetch_interval) {
            anyhow::bail!(
                "private_key_jwt.jwks_cache_ttl and jwks_refetch_interval: must be between 1 and 86400 seconds"
            );
        }
        Ok(crate::client_keys::FetchLimits {
            timeout: Duration::from_millis(self.jwks_fetch_timeout_ms),
            max_bytes: self.jwks_max_bytes,
            cache_ttl: Duration::from_secs(self.jwks_cache_ttl),
            refetch_interval: Duration::from_secs(self.jwks_refetch_interval),
        })
    }
}

/// `[token_exchange]`: token exchange (RFC 8693). The grant is on when at
/// least one client is listed (and registered for its grant type).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenExchangeSection {
    /// `[[token_exchange.clients]]`: one rule per client allowed to exchange.
    pub clients: Vec<ExchangeClientConfig>,
    /// `[[token_exchange.issuers]]`: issuers whose JWTs are accepted as
    /// `urn:ietf:params:oauth:token-type:jwt` subject and actor tokens.
    pub issuers: Vec<TrustedIssuerConfig>,
}

/// `[[token_exchange.clients]]`: what one client may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeClientConfig {
    /// The client.
    pub client_id: String,
    /// The `audience`/`resource` values it may ask for (none: only requests without one).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Space-separated scopes it may keep of the subject token's (unset: all of them);
    /// for subject tokens without a scope, the scopes it gets.
    #[serde(default)]
    pub scopes: Option<String>,
    /// Whether it may exchange without an actor token (impersonation).
    #[serde(default)]
    pub impersonation: bool,
    /// Lifetime of the tokens it gets, in seconds (unset: `tokens.access_token_lifetime`);
    /// never beyond the subject or actor token's expiry.
    #[serde(default)]
    pub lifetime: Option<u64>,
}

/// `[[token_exchange.issuers]]`: one trusted issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerConfig {
    /// Its `iss`, compared exactly.
    pub issuer: String,
    /// Where its JWK Set is fetched (with the limits of `[private_key_jwt]`).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Its JWK Set inline, as a TOML table with a `keys` array.
    #[serde(default)]
    pub jwks: Option<toml::Value>,
    /// The `aud` its JWTs must carry (unset: `server.issuer`).
    #[serde(default)]
    pub audience: Option<String>,
}

impl TokenExchangeSection {
    /// The engine's token exchange policy.
    pub fn policy(&self) -> anyhow::Result<oauth_core::exchange::TokenExchangePolicy> {
        use oauth_core::exchange::{ExchangeRule, TokenExchangePolicy, TrustedIssuer};
        let mut policy = TokenExchangePolicy::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            if c.client_id.is_empty() || !seen.insert(c.client_id.as_str()) {
                anyhow::bail!("token_exchange.clients[{i}].client_id: empty or listed twice");
            }
            let scopes = c
                .scopes
                .as_deref()
                .map(oauth_core::types::ScopeSet::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("token_exchange.clients[{i}].scopes: {e}"))?;
            let rule = ExchangeRule::new()
                .audiences(c.audiences.clone())
                .scopes(scopes)
                .impersonation(c.impersonation)
                .lifetime(c.lifetime);
            policy = policy.allow(oauth_core::types::ClientId::new(c.client_id.as_str()), rule);
        }
        for (i, t) in self.issuers.iter().enumerate() {
            let issuer = match (&t.jwks, &t.jwks_uri) {
                (Some(jwks), None) => {
                    let jwks = serde_json::to_value(jwks)
                        .map_err(|e| anyhow::anyhow!("token_exchange.issuers[{i}].jwks: {e}"))?;
                    TrustedIssuer::with_jwks(t.issuer.as_str(), jwks)
                }
                (None, Some(uri)) => TrustedIssuer::with_jwks_uri(t.issuer.as_str(), uri.as_str()),
                _ => anyhow::bail!("token_exchange.issuers[{i}]: set exactly one of jwks and jwks_uri"),
            };
            policy = policy.trust(issuer.audience(t.audience.clone()));
        }
        Ok(policy)
    }
}

/// `[oidc]`: OpenID Connect signing keys and lifetimes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSection {
    /// Signing keys from PEM files; OpenID Connect is on when there is at least one key.
    pub keys: Vec<KeyConfig>,
    /// A JWK Set file with private keys (`d`), instead of or besides `keys`.
    pub jwks_file: Option<PathBuf>,
    /// The kid of the key that signs; the others are published to verify older tokens.
    pub active_kid: Option<String>,
    /// Generate a key of this algorithm at start (`RS256`, `ES256` or `EdDSA`):
    /// for demos, since tokens signed with it do not survive a restart.
    pub ephemeral_key: Option<String>,
    /// ID token lifetime in seconds.
    pub id_token_lifetime: u64,
    /// How long a remembered consent lasts, in seconds.
    pub consent_lifetime: u64,
}

impl Default for OidcSection {
    fn default() -> Self {
        let p = engine_defaults();
        Self {
            keys: Vec::new(),
            jwks_file: None,
            active_kid: None,
            ephemeral_key: None,
            id_token_lifetime: p.id_token_lifetime(),
            consent_lifetime: p.consent_lifetime(),
        }
    }
}

/// `[[oidc.keys]]`: one signing key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Key id, published in the JWKS and in each token's header.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// PEM file with the private key (PKCS#8; PKCS#1 for RSA, SEC1 for P-256).
    pub pem_file: PathBuf,
}

/// `[session]`: the login session cookie. `Debug` leaves the key out.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSection {
    /// Cookie name.
    pub cookie_name: String,
    /// Idle lifetime of a session, in seconds.
    pub lifetime: u64,
    /// Base64 key (at least 64 bytes) that signs session cookies. When absent,
    /// a random key is made at start: sessions then do not survive a restart
    /// and are not shared between instances.
    pub cookie_key: Option<String>,
    /// With `storage.url = "memory"`: most live sessions kept; beyond, a new
    /// session answers 503 until sessions expire.
    pub memory_max_sessions: usize,
}

impl Default for SessionSection {
    fn default() -> Self {
        Self {
            cookie_name: "oauth_session".into(),
            lifetime: 1800,
            cookie_key: None,
            memory_max_sessions: crate::session::MemorySessions::DEFAULT_MAX_SESSIONS,
        }
    }
}

/// `[[users]]`: a resource owner. `Debug` leaves the password out.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub username: String,
    /// Plain password; hashed with Argon2id at load.
    pub password: Option<String>,
    /// Argon2id PHC string, instead of `password`.
    pub password_hash: Option<String>,
    /// Stable subject identifier (default: the username).
    pub subject: Option<String>,
    /// Profile claims (for example `email`, `name`).
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
}

/// The engine's defaults, which the configuration's defaults follow.
fn engine_defaults() -> ServerPolicy {
    let issuer = Issuer::new("https://defaults.invalid", false).expect("a valid issuer");
    ServerPolicy::builder(issuer).build().expect("the engine's defaults are valid")
}

impl std::fmt::Debug for SessionSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSection")
            .field("cookie_name", &self.cookie_name)
            .field("lifetime", &self.lifetime)
            .field("cookie_key", &self.cookie_key.as_ref().map(|_| "[redacted]"))
            .field("memory_max_sessions", &self.memory_max_sessions)
            .finish()
    }
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[redacted]"))
            .field("subject", &self.subject)
            .field("claims", &self.claims)
            .finish()
    }
}
