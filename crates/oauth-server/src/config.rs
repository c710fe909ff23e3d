//! Configuration: a TOML file, overridden by `OAUTH__SECTION__KEY` environment variables.
//!
//! Every field and its default is listed in `docs/configuration.md`. Loading
//! fails with a message that names the field at fault.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use oauth_core::client::Client;
use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
use oauth_core::policy::AccessTokenFormat;
use oauth_core::types::{Issuer, ScopeSet, Subject};
use oauth_core::user::{PasswordHash, User, hash_password};
use oauth_core::{ServerPolicy, policy::EndpointPaths};
use serde::Deserialize;

use crate::registration::ClientRegistration;

/// The prefix of environment overrides: `OAUTH__SERVER__BIND=0.0.0.0:8000`.
pub const ENV_PREFIX: &str = "OAUTH__";

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
    /// Directory whose `login.html`, `consent.html` or `error.html` replace the embedded templates.
    pub templates_dir: Option<PathBuf>,
    /// A line shown on the login page (the demo shows its credentials).
    pub login_hint: Option<String>,
    /// Worker threads (0: one per core).
    pub workers: usize,
    /// Serve Prometheus metrics at `/metrics` (restrict it at your proxy).
    pub metrics: bool,
    /// Log one line per request (method, path, status, latency) at `info`.
    /// Off by default: `/metrics` counts every request, a reverse proxy
    /// usually logs them too, and the line costs about 2 µs of CPU per
    /// request. Responses with a 5xx status are logged at `warn` either way.
    pub access_log: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            issuer: "http://localhost:8000".into(),
            allow_insecure_transport: false,
            trust_forwarded_proto: false,
            templates_dir: None,
            login_hint: None,
            workers: 0,
            metrics: true,
            access_log: false,
        }
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
    /// OpenID Connect UserInfo endpoint.
    pub userinfo: String,
    /// JWK Set of the signing keys.
    pub jwks: String,
    /// Login page.
    pub login: String,
    /// Consent page.
    pub consent: String,
}

impl Default for EndpointsSection {
    fn default() -> Self {
        let core = EndpointPaths::default();
        Self {
            token: core.token_paths().map(str::to_owned).collect(),
            authorize: core.authorize,
            revoke: core.revoke,
            introspect: core.introspect,
            userinfo: core.userinfo,
            jwks: core.jwks,
            login: "/login".into(),
            consent: "/approve".into(),
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
    /// `opaque` (default) or `jwt` (RFC 9068) access tokens, for clients that do not choose.
    pub access_token_format: AccessTokenFormat,
    /// `aud` of JWT access tokens (default: the issuer).
    pub access_token_audience: Option<String>,
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
            access_token_format: p.access_token_format(),
            access_token_audience: None,
        }
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
}

impl Default for StorageSection {
    fn default() -> Self {
        Self { url: "memory".into(), key_prefix: "oauth".into(), pool_size: 1, timeout_ms: 2000 }
    }
}

impl StorageSection {
    /// True for the embedded in-memory store.
    pub fn is_memory(&self) -> bool {
        self.url == "memory"
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

/// `[session]`: the login session cookie.
#[derive(Debug, Clone, Deserialize)]
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
}

impl Default for SessionSection {
    fn default() -> Self {
        Self { cookie_name: "oauth_session".into(), lifetime: 1800, cookie_key: None }
    }
}

/// `[[users]]`: a resource owner.
#[derive(Debug, Clone, Deserialize)]
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

impl Config {
    /// Reads a file and applies the environment overrides.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_toml(&text, std::env::vars()).with_context(|| format!("in {}", path.display()))
    }

    /// Parses TOML text and applies `OAUTH__…` overrides from `env`.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let mut table: toml::Table = text.parse().context("the configuration is not valid TOML")?;
        for (key, value) in env {
            if let Some(path) = key.strip_prefix(ENV_PREFIX) {
                apply_override(&mut table, path, &value).with_context(|| format!("environment variable {key}"))?;
            }
        }
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| anyhow!("{}: {}", e.path(), e.inner()))?;
        Ok(config)
    }

    /// The engine policy.
    pub fn policy(&self) -> anyhow::Result<ServerPolicy> {
        let issuer = Issuer::new(&self.server.issuer, self.server.allow_insecure_transport)
            .map_err(|e| anyhow!("server.issuer: {e}"))?;
        let e = &self.endpoints;
        for (field, path) in [("endpoints.login", &e.login), ("endpoints.consent", &e.consent)] {
            oauth_core::policy::check_path(field, path)?;
        }
        oauth_core::policy::check_lifetime("session.lifetime", self.session.lifetime)?;
        let Some((token, token_aliases)) = e.token.split_first() else {
            bail!("endpoints.token: at least one path is required")
        };
        let paths = EndpointPaths {
            authorize: e.authorize.clone(),
            token: token.clone(),
            token_aliases: token_aliases.to_vec(),
            revoke: e.revoke.clone(),
            introspect: e.introspect.clone(),
            userinfo: e.userinfo.clone(),
            jwks: e.jwks.clone(),
            ..EndpointPaths::default()
        };
        let t = &self.tokens;
        let scopes_supported = self
            .clients
            .iter()
            .filter_map(|c| ScopeSet::parse(&c.scopes).ok())
            .flat_map(|s| s.iter().cloned().collect::<Vec<_>>())
            .collect();
        ServerPolicy::builder(issuer)
            .paths(paths)
            .code_lifetime(t.code_lifetime)
            .access_token_lifetime(t.access_token_lifetime)
            .refresh_token_lifetime(t.refresh_token_lifetime)
            .grant_lifetime(t.grant_lifetime)
            .rotate_refresh_tokens(t.rotate_refresh_tokens)
            .require_pkce(self.security.require_pkce)
            .allow_plain_pkce(self.security.allow_plain_pkce)
            .allow_implicit(self.security.allow_implicit)
            .allow_password_grant(self.security.allow_password_grant)
            .allow_insecure_transport(self.server.allow_insecure_transport)
            .access_token_format(t.access_token_format)
            .access_token_audience(t.access_token_audience.clone())
            .id_token_lifetime(self.oidc.id_token_lifetime)
            .consent_lifetime(self.oidc.consent_lifetime)
            .scopes_supported(scopes_supported)
            .build()
            .map_err(|e| anyhow!("{}: {}", config_field(&e.field), e.problem))
    }

    /// The client registrations, secrets hashed.
    pub fn clients(&self) -> anyhow::Result<Vec<Client>> {
        let mut seen = std::collections::BTreeSet::new();
        self.clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let client =
                    c.to_client(self.server.allow_insecure_transport).map_err(|e| anyhow!("clients[{i}].{e}"))?;
                if !seen.insert(client.id.clone()) {
                    bail!("clients[{i}].id: duplicate client id {:?}", client.id.as_str());
                }
                Ok(client)
            })
            .collect()
    }

    /// The users, passwords hashed.
    pub fn users(&self) -> anyhow::Result<Vec<User>> {
        self.users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let password_hash = match (&u.password, &u.password_hash) {
                    (Some(p), None) => hash_password(p),
                    (None, Some(h)) => PasswordHash::from_phc(h.clone())
                        .ok_or_else(|| anyhow!("users[{i}].password_hash: not an Argon2id PHC string"))?,
                    _ => bail!("users[{i}]: set exactly one of password and password_hash"),
                };
                if u.username.is_empty() {
                    bail!("users[{i}].username: must not be empty");
                }
                Ok(User {
                    subject: Subject::new(u.subject.clone().unwrap_or_else(|| u.username.clone())),
                    username: u.username.clone(),
                    password_hash,
                    claims: u.claims.clone(),
                })
            })
            .collect()
    }

    /// The cookie signing key, decoded.
    pub fn cookie_key(&self) -> anyhow::Result<Option<Vec<u8>>> {
        use base64::Engine as _;
        let Some(key) = &self.session.cookie_key else { return Ok(None) };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|e| anyhow!("session.cookie_key: not base64: {e}"))?;
        if bytes.len() < 64 {
            bail!("session.cookie_key: must decode to at least 64 bytes (got {})", bytes.len());
        }
        Ok(Some(bytes))
    }

    /// The signing keys: PEM files, a JWKS file, and an ephemeral key (which
    /// is made on each call). `None` when none is configured.
    pub fn key_set(&self) -> anyhow::Result<Option<KeySet>> {
        let o = &self.oidc;
        let mut keys = Vec::new();
        for (i, k) in o.keys.iter().enumerate() {
            let alg = SigningAlg::parse(&k.alg)
                .ok_or_else(|| anyhow!("oidc.keys[{i}].alg: {:?} is not RS256, ES256 or EdDSA", k.alg))?;
            let pem = std::fs::read_to_string(&k.pem_file)
                .map_err(|e| anyhow!("oidc.keys[{i}].pem_file: {}: {e}", k.pem_file.display()))?;
            keys.push(
                SigningKey::from_pem(k.kid.clone(), alg, &pem).map_err(|e| anyhow!("oidc.keys[{i}].pem_file: {e}"))?,
            );
        }
        if let Some(path) = &o.jwks_file {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow!("oidc.jwks_file: {}: {e}", path.display()))?;
            let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| anyhow!("oidc.jwks_file: {e}"))?;
            let Some(list) = doc.get("keys").and_then(|k| k.as_array()) else {
                bail!("oidc.jwks_file: no \"keys\" array")
            };
            for (i, jwk) in list.iter().enumerate() {
                keys.push(SigningKey::from_jwk(jwk).map_err(|e| anyhow!("oidc.jwks_file: keys[{i}]: {e}"))?);
            }
        }
        if let Some(alg) = &o.ephemeral_key {
            let alg = SigningAlg::parse(alg)
                .ok_or_else(|| anyhow!("oidc.ephemeral_key: {alg:?} is not RS256, ES256 or EdDSA"))?;
            let kid = format!(
                "ephemeral-{}",
                &oauth_core::generate::TokenGenerator::token(&oauth_core::generate::RandomGenerator)[..8]
            );
            keys.push(SigningKey::generate(kid, alg).map_err(|e| anyhow!("oidc.ephemeral_key: {e}"))?);
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let active = match &o.active_kid {
            Some(kid) => kid.clone(),
            None if keys.len() == 1 => keys[0].kid().to_owned(),
            None => bail!("oidc.active_kid: required when there are several keys"),
        };
        KeySet::new(keys, &active).map(Some).map_err(|e| anyhow!("oidc.active_kid: {e}"))
    }

    /// Checks everything that can be checked without starting: policy, clients, users, key.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.policy()?;
        let clients = self.clients()?;
        self.cookie_key()?;
        let jwt_wanted = self.tokens.access_token_format == AccessTokenFormat::Jwt
            || clients.iter().any(|c| c.access_token_format == Some(AccessTokenFormat::Jwt));
        let has_keys = !self.oidc.keys.is_empty() || self.oidc.jwks_file.is_some() || self.oidc.ephemeral_key.is_some();
        if jwt_wanted && !has_keys {
            bail!("tokens.access_token_format: JWT access tokens need a signing key in [oidc]");
        }
        let url = &self.storage.url;
        let redis = ["redis://", "rediss://", "redis-cluster://", "unix://"].iter().any(|s| url.starts_with(s));
        if !self.storage.is_memory() && !redis {
            bail!("storage.url: unsupported store {url:?} (expected \"memory\" or a redis:// URL)");
        }
        if redis && !cfg!(feature = "redis") {
            bail!("storage.url: this build has no Redis support (feature `redis`)");
        }
        if self.storage.pool_size == 0 || self.storage.timeout_ms == 0 {
            bail!("storage.pool_size and storage.timeout_ms: must be greater than 0");
        }
        Ok(())
    }
}

/// The configuration field of a policy setting, named as the builder names it.
fn config_field(setting: &str) -> String {
    match setting {
        "code_lifetime" | "access_token_lifetime" | "refresh_token_lifetime" | "grant_lifetime" => {
            format!("tokens.{setting}")
        }
        "id_token_lifetime" | "consent_lifetime" => format!("oidc.{setting}"),
        _ => {
            if let Some(i) = setting.strip_prefix("paths.token_aliases[").and_then(|s| s.strip_suffix(']')) {
                // `endpoints.token` is the token path followed by its aliases.
                return format!("endpoints.token[{}]", i.parse::<usize>().map_or(0, |i| i + 1));
            }
            match setting.strip_prefix("paths.") {
                Some("token") => "endpoints.token[0]".to_owned(),
                Some(path) => format!("endpoints.{path}"),
                None => setting.to_owned(),
            }
        }
    }
}

/// The engine's defaults, which the configuration's defaults follow.
fn engine_defaults() -> ServerPolicy {
    let issuer = Issuer::new("https://defaults.invalid", false).expect("a valid issuer");
    ServerPolicy::builder(issuer).build().expect("the engine's defaults are valid")
}

/// Sets `a__b__c` (case-insensitive) in the table, typed like the value it replaces.
fn apply_override(table: &mut toml::Table, path: &str, value: &str) -> anyhow::Result<()> {
    let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    let Some((last, parents)) = keys.split_last() else { bail!("empty key") };
    let mut current = table;
    for key in parents {
        let entry = current.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("{key} is not a section"),
        };
    }
    let typed = match current.get(last) {
        Some(toml::Value::Integer(_)) => {
            toml::Value::Integer(value.parse().map_err(|_| anyhow!("expected an integer"))?)
        }
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(value.parse().map_err(|_| anyhow!("expected true or false"))?)
        }
        Some(toml::Value::Array(_)) => {
            toml::Value::Array(value.split(',').map(|s| toml::Value::String(s.trim().to_owned())).collect())
        }
        _ => guess(last, value),
    };
    current.insert(last.clone(), typed);
    Ok(())
}

/// Types a value for a key the file did not set, from the key's known type.
fn guess(key: &str, value: &str) -> toml::Value {
    if key == "token" {
        return toml::Value::Array(value.split(',').map(|s| toml::Value::String(s.trim().to_owned())).collect());
    }
    if let Ok(b) = value.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    match value.parse::<i64>() {
        Ok(i) if key != "bind" && key != "cookie_key" => toml::Value::Integer(i),
        _ => toml::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
mod tests;
