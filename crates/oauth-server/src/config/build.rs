//! Building the engine's values from the configuration: the policy, the
//! clients and users (secrets and passwords hashed here, once), the cookie key.

use anyhow::{anyhow, bail};
use oauth_core::ServerPolicy;
use oauth_core::client::Client;
use oauth_core::policy::{AccessTokenFormat, EndpointPaths};
use oauth_core::types::{Issuer, ScopeSet, Subject};
use oauth_core::user::{PasswordHash, User, hash_password};

use super::Config;

/// What a configuration builds for the engine, made once at start-up by
/// [`Config::assemble`]: plain client secrets and user passwords are hashed
/// (Argon2id) there and nowhere else.
pub struct Assembly {
    /// The engine policy.
    pub policy: ServerPolicy,
    /// The file's clients, validated, secrets hashed.
    pub clients: Vec<Client>,
    /// The file's users, passwords hashed.
    pub users: Vec<User>,
    /// The session cookie key, when configured.
    pub cookie_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly")
            .field("policy", &self.policy)
            .field("clients", &self.clients.iter().map(|c| c.id.as_str()).collect::<Vec<_>>())
            .field("users", &self.users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>())
            .field("cookie_key", &self.cookie_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Config {
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
            par: e.par.clone(),
            userinfo: e.userinfo.clone(),
            jwks: e.jwks.clone(),
            device_authorization: e.device_authorization.clone(),
            device_verification: e.device_verification.clone(),
            ..EndpointPaths::default()
        };
        self.private_key_jwt.fetch_limits()?;
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
            .refresh_grace(t.refresh_grace)
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
            .throttle(self.throttle.policy())
            .request_limits(self.limits.request_limits())
            .dpop(self.dpop.rules()?)
            .par_lifetime(t.par_lifetime)
            .device_code_lifetime(self.device.code_lifetime)
            .device_poll_interval(self.device.interval)
            .require_pushed_authorization_requests(self.security.require_pushed_authorization_requests)
            .fapi2(self.security.fapi2)
            .assertion_rules(self.private_key_jwt.rules()?)
            .token_exchange(self.token_exchange.policy()?)
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

    /// `server.trusted_proxies`, parsed.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<oauth_core::throttle::IpRange>> {
        self.server
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, p)| p.trim().parse().map_err(|e| anyhow!("server.trusted_proxies[{i}]: {e}")))
            .collect()
    }

    /// Checks everything that can be checked without starting, and builds the
    /// engine's values: policy, clients, users, cookie key. Call it once:
    /// it hashes every plain secret and password.
    pub fn assemble(&self) -> anyhow::Result<Assembly> {
        let policy = self.policy()?;
        self.trusted_proxies()?;
        let clients = self.clients()?;
        let cookie_key = self.cookie_key()?;
        self.dpop.nonces()?;
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
        if self.storage.memory_max_records == 0 || self.session.memory_max_sessions == 0 {
            bail!("storage.memory_max_records and session.memory_max_sessions: must be greater than 0");
        }
        let users = self.users()?;
        Ok(Assembly { policy, clients, users, cookie_key })
    }

    /// Checks the whole configuration ([`Config::assemble`], result dropped).
    pub fn validate(&self) -> anyhow::Result<()> {
        self.assemble().map(drop)
    }
}

/// The configuration field of a policy setting, named as the builder names it.
fn config_field(setting: &str) -> String {
    match setting {
        "code_lifetime"
        | "access_token_lifetime"
        | "refresh_token_lifetime"
        | "grant_lifetime"
        | "refresh_grace"
        | "par_lifetime" => {
            format!("tokens.{setting}")
        }
        "id_token_lifetime" | "consent_lifetime" => format!("oidc.{setting}"),
        "device_code_lifetime" => "device.code_lifetime".to_owned(),
        "device_poll_interval" => "device.interval".to_owned(),
        "allow_implicit" | "allow_password_grant" | "allow_plain_pkce" => format!("security.{setting}"),
        _ if setting.starts_with("request_limits.") => setting.replacen("request_limits.", "limits.", 1),
        "throttle.username" | "throttle.address" | "throttle.client" => {
            format!("{setting}_failures and {setting}_window")
        }
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
