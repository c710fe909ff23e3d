//! Server policy: issuer, endpoint URLs, lifetimes and security switches.
//!
//! Plain values; loading them from files is the application's job.

use crate::types::{Issuer, ScopeSet};

/// Where every endpoint is served: the one list the HTTP adapter mounts and
/// the metadata publishes (as the issuer's origin followed by the path).
///
/// These are the public paths, as clients see them. An application that
/// mounts the endpoints inside a scope (say `/auth`) keeps the scope in
/// these paths ([`with_prefix`](Self::with_prefix)); the adapter mounts
/// them relative to the scope.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointPaths {
    /// Authorization endpoint (GET and POST).
    pub authorize: String,
    /// Token endpoint (POST), advertised in metadata.
    pub token: String,
    /// More paths that serve the token endpoint too, not advertised (the
    /// aioauth demo's `/oauth/tokenize`).
    pub token_aliases: Vec<String>,
    /// Revocation endpoint (RFC 7009, POST).
    pub revoke: String,
    /// Introspection endpoint (RFC 7662, POST).
    pub introspect: String,
    /// Pushed authorization request endpoint (RFC 9126, POST).
    pub par: String,
    /// OpenID Connect UserInfo endpoint (GET and POST).
    pub userinfo: String,
    /// JWK Set of the signing keys (GET).
    pub jwks: String,
    /// Authorization server metadata (RFC 8414, GET).
    pub metadata: String,
    /// OpenID Connect Discovery document (GET).
    pub openid_configuration: String,
    /// Device authorization endpoint (RFC 8628 §3.1, POST).
    pub device_authorization: String,
    /// The page where a user enters a device's user code (RFC 8628 §3.2
    /// `verification_uri`): served by the application's pages, not by the
    /// adapter, and published in every device authorization response.
    pub device_verification: String,
}

impl Default for EndpointPaths {
    fn default() -> Self {
        Self {
            authorize: "/oauth/authorize".into(),
            token: "/oauth/token".into(),
            token_aliases: Vec::new(),
            revoke: "/oauth/revoke".into(),
            introspect: "/oauth/introspect".into(),
            par: "/oauth/par".into(),
            userinfo: "/oauth/userinfo".into(),
            jwks: "/oauth/jwks".into(),
            metadata: "/.well-known/oauth-authorization-server".into(),
            openid_configuration: "/.well-known/openid-configuration".into(),
            device_authorization: "/oauth/device_authorization".into(),
            device_verification: "/device".into(),
        }
    }
}

impl EndpointPaths {
    /// The same paths below `prefix` (`/auth`): for an application that
    /// mounts the endpoints in a scope.
    pub fn with_prefix(self, prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches('/');
        let under = |path: String| format!("{prefix}{path}");
        Self {
            authorize: under(self.authorize),
            token: under(self.token),
            token_aliases: self.token_aliases.into_iter().map(under).collect(),
            revoke: under(self.revoke),
            introspect: under(self.introspect),
            par: under(self.par),
            userinfo: under(self.userinfo),
            jwks: under(self.jwks),
            metadata: under(self.metadata),
            openid_configuration: under(self.openid_configuration),
            device_authorization: under(self.device_authorization),
            device_verification: under(self.device_verification),
        }
    }

    /// The token endpoint's paths: [`token`](Self::token), then the aliases.
    pub fn token_paths(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.token.as_str()).chain(self.token_aliases.iter().map(String::as_str))
    }

    /// Every path with the name of its setting (`paths.token_aliases[0]`).
    pub fn all(&self) -> Vec<(String, &str)> {
        let mut all: Vec<(String, &str)> = [
            ("paths.authorize", &self.authorize),
            ("paths.token", &self.token),
            ("paths.revoke", &self.revoke),
            ("paths.introspect", &self.introspect),
            ("paths.par", &self.par),
            ("paths.userinfo", &self.userinfo),
            ("paths.jwks", &self.jwks),
            ("paths.metadata", &self.metadata),
            ("paths.openid_configuration", &self.openid_configuration),
            ("paths.device_authorization", &self.device_authorization),
            ("paths.device_verification", &self.device_verification),
        ]
        .into_iter()
        .map(|(field, path)| (field.to_owned(), path.as_str()))
        .collect();
        for (i, path) in self.token_aliases.iter().enumerate() {
            all.push((format!("paths.token_aliases[{i}]"), path));
        }
        all
    }

    fn check(&self) -> Result<(), PolicyError> {
        self.all().into_iter().try_for_each(|(field, path)| check_path(&field, path))
    }
}

/// The longest lifetime, in seconds, of anything a policy sets: ten years.
/// A grant that must outlive it should be a new grant.
pub const MAX_LIFETIME: u64 = 10 * 365 * 86_400;

/// The longest refresh grace period, in seconds: a retry after a lost
/// answer comes within seconds, and a long grace would let a stolen, already
/// rotated refresh token be used once more without detection.
pub const MAX_REFRESH_GRACE: u64 = 60;

/// The longest `par_lifetime`, in seconds: RFC 9126 §2.2 wants a pushed
/// request to be short-lived (its example is 60 seconds).
pub const MAX_PAR_LIFETIME: u64 = 600;

/// A lifetime of zero or longer than [`MAX_LIFETIME`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: must be between 1 and {MAX_LIFETIME} seconds (ten years), not {value}")]
pub struct LifetimeError {
    /// The setting's name, as the caller gave it.
    pub field: String,
    /// The value refused.
    pub value: u64,
}

/// Checks that a lifetime named `field` is at least one second and at most
/// [`MAX_LIFETIME`].
pub fn check_lifetime(field: &str, value: u64) -> Result<(), LifetimeError> {
    if (1..=MAX_LIFETIME).contains(&value) { Ok(()) } else { Err(LifetimeError { field: field.to_owned(), value }) }
}

/// A setting of a [`ServerPolicy`] that [`ServerPolicyBuilder::build`] refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct PolicyError {
    /// The setting, named as the builder's method (`access_token_lifetime`,
    /// `paths.token`); an application maps it to its own configuration names.
    pub field: String,
    /// What is wrong with it.
    pub problem: PolicyProblem,
}

/// What is wrong with a refused policy setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyProblem {
    /// A lifetime of zero or longer than [`MAX_LIFETIME`].
    #[error("must be between 1 and {MAX_LIFETIME} seconds (ten years), not {0}")]
    Lifetime(u64),
    /// A refresh grace period longer than [`MAX_REFRESH_GRACE`].
    #[error("must be at most {MAX_REFRESH_GRACE} seconds, not {0}")]
    Grace(u64),
    /// An endpoint path that is not absolute, or has a query, a fragment or a space.
    #[error("must be an absolute path without query, fragment or spaces, got {0:?}")]
    Path(String),
    /// A throttle limit of zero failures, or a window outside 1 s to one day.
    #[error("needs at least 1 failure and a window of 1 to 86400 seconds, got {0} failures per {1} s")]
    Throttle(u32, u64),
    /// A setting the FAPI 2.0 profile forbids, with `fapi2` on.
    #[error("must be off (or at most {FAPI2_MAX_CODE_LIFETIME} s for the code lifetime) under the FAPI 2.0 profile")]
    Fapi2,
    /// A request length limit of zero or above [`MAX_REQUEST_LIMIT`].
    #[error("must be between 1 and {MAX_REQUEST_LIMIT} bytes, not {0}")]
    RequestLimit(usize),
    /// A `par_lifetime` of zero or longer than [`MAX_PAR_LIFETIME`].
    #[error("must be between 1 and {MAX_PAR_LIFETIME} seconds, not {0}")]
    ParLifetime(u64),
    /// A token exchange rule or trusted issuer that is not valid (the text says why).
    #[error("{0}")]
    TokenExchange(String),
    /// A device polling interval longer than the device code's lifetime
    /// (the interval, the lifetime).
    #[error("must be at most device_code_lifetime ({1} s), not {0}")]
    DeviceInterval(u64, u64),
}

/// The longest authorization code lifetime of the FAPI 2.0 Security
/// Profile (§5.3.2.1: at most 60 seconds).
pub const FAPI2_MAX_CODE_LIFETIME: u64 = 60;

/// The largest value of any [`RequestLimits`] field (1 MiB): what a
/// stranger's request can make the server keep stays bounded.
pub const MAX_REQUEST_LIMIT: usize = 1 << 20;

/// Everything the protocol engine needs to decide, as plain values.
///
/// Built with [`ServerPolicy::builder`], which checks every setting: a
/// `ServerPolicy` that exists is valid, so [`AuthorizationServer::new`]
/// needs no check of its own.
///
/// [`AuthorizationServer::new`]: crate::AuthorizationServer::new
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerPolicy {
    settings: ServerPolicyBuilder,
}

/// Builds a [`ServerPolicy`]; [`build`](Self::build) checks it. Defaults are
/// safe: code 60 s, access token 1 h, refresh token 1 day, grant 30 days, ID
/// token 1 h, remembered consent 365 days, rotation on, TLS required, `plain`
/// PKCE, implicit and password grants off, opaque access tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct ServerPolicyBuilder {
    issuer: Issuer,
    paths: EndpointPaths,
    code_lifetime: u64,
    access_token_lifetime: u64,
    refresh_token_lifetime: u64,
    grant_lifetime: u64,
    rotate_refresh_tokens: bool,
    refresh_grace: u64,
    require_pkce: bool,
    allow_implicit: bool,
    allow_password_grant: bool,
    allow_plain_pkce: bool,
    allow_insecure_transport: bool,
    scopes_supported: ScopeSet,
    id_token_lifetime: u64,
    access_token_format: AccessTokenFormat,
    access_token_audience: Option<String>,
    consent_lifetime: u64,
    request_limits: RequestLimits,
    throttle: crate::throttle::ThrottlePolicy,
    dpop: crate::dpop::DpopRules,
    assertion_rules: crate::assertion::AssertionRules,
    par_lifetime: u64,
    require_pushed_authorization_requests: bool,
    fapi2: bool,
    token_exchange: crate::exchange::TokenExchangePolicy,
    device_code_lifetime: u64,
    device_poll_interval: u64,
}

/// Length limits of the authorization request's parameters, in bytes of
/// their decoded values: whatever a stranger sends is bounded before anything
/// is kept. A request over a limit is `invalid_request`: on an error page
/// for the whole query (checked before the client is known), redirected to
/// the client for the others (checked once the redirect URI is verified).
///
/// The defaults are generous for real clients: `state` 2048, `nonce` 512,
/// `login_hint` 512, `scope` 2048, the whole query 16 KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// Longest `state`.
    pub state: usize,
    /// Longest `nonce`.
    pub nonce: usize,
    /// Longest `login_hint`.
    pub login_hint: usize,
    /// Longest `scope`.
    pub scope: usize,
    /// Largest query (or form body) of the authorization request: the sum of
    /// its decoded names and values.
    pub query: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self { state: 2048, nonce: 512, login_hint: 512, scope: 2048, query: 16 * 1024 }
    }
}

impl RequestLimits {
    /// The first field (named as in `request_limits.<field>`) that is zero
    /// or above [`MAX_REQUEST_LIMIT`], with its value.
    fn check(&self) -> Result<(), (&'static str, usize)> {
        let fields = [
            ("request_limits.state", self.state),
            ("request_limits.nonce", self.nonce),
            ("request_limits.login_hint", self.login_hint),
            ("request_limits.scope", self.scope),
            ("request_limits.query", self.query),
        ];
        match fields.into_iter().find(|(_, value)| !(1..=MAX_REQUEST_LIMIT).contains(value)) {
            Some(bad) => Err(bad),
            None => Ok(()),
        }
    }
}

/// How access tokens look on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenFormat {
    /// A random reference token, `<grant id>.<secret>`, looked up in the store.
    #[default]
    Opaque,
    /// A signed JWT (RFC 9068, `typ: at+jwt`) whose `jti` is the reference token,
    /// so revocation and introspection keep working.
    Jwt,
}

/// Defines a builder setter and the policy's getter for a `Copy` setting.
macro_rules! settings {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        impl ServerPolicyBuilder {
            $(
                $(#[$doc])*
                pub fn $name(mut self, value: $ty) -> Self {
                    self.$name = value;
                    self
                }
            )*
        }

        impl ServerPolicy {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> $ty {
                    self.settings.$name
                }
            )*
        }
    };
}

settings! {
    /// Authorization code lifetime in seconds.
    code_lifetime: u64;
    /// Access token lifetime in seconds.
    access_token_lifetime: u64;
    /// Refresh token lifetime in seconds (each token).
    refresh_token_lifetime: u64;
    /// Absolute lifetime of a grant (a refresh token family) in seconds.
    grant_lifetime: u64;
    /// Rotate refresh tokens on use (RFC 9700 §4.14.2). On by default.
    rotate_refresh_tokens: bool;
    /// Seconds during which a client may retry a refresh whose answer it
    /// lost, once, getting the same new tokens instead of revoking the family
    /// as reuse; 0 (the default) turns it off. At most [`MAX_REFRESH_GRACE`];
    /// only with rotation.
    refresh_grace: u64;
    /// Require PKCE for every client, not only public ones.
    require_pkce: bool;
    /// Allow the implicit grant (`response_type=token`) for clients registered for it. Off by default.
    allow_implicit: bool;
    /// Allow the resource owner password grant for clients registered for it. Off by default.
    allow_password_grant: bool;
    /// Accept `code_challenge_method=plain`.
    allow_plain_pkce: bool;
    /// Accept requests that did not arrive over TLS (development, loopback demos).
    allow_insecure_transport: bool;
    /// ID token lifetime in seconds.
    id_token_lifetime: u64;
    /// Access token format for clients that do not choose one.
    access_token_format: AccessTokenFormat;
    /// How long a remembered consent lasts, in seconds.
    consent_lifetime: u64;
    /// Length limits of the authorization request's parameters.
    request_limits: RequestLimits;
    /// How long a pushed authorization request's `request_uri` stays valid,
    /// in seconds (RFC 9126 §2.2 `expires_in`); 60 by default, at most
    /// [`MAX_PAR_LIFETIME`].
    par_lifetime: u64;
    /// Every client must push its authorization requests (RFC 9126 §6):
    /// the authorization endpoint refuses requests without `request_uri`.
    require_pushed_authorization_requests: bool;
    /// Enforce the FAPI 2.0 Security Profile for every client (see
    /// [`AuthorizationServer::fapi2`](crate::AuthorizationServer::fapi2)):
    /// the builder then refuses implicit, password and plain PKCE, and a
    /// code lifetime over [`FAPI2_MAX_CODE_LIFETIME`].
    fapi2: bool;
    /// How long a device code and its user code live, in seconds (RFC 8628
    /// §3.2 `expires_in`); 600 by default.
    device_code_lifetime: u64;
    /// The minimum seconds between a device's polls (RFC 8628 §3.2
    /// `interval`); 5 by default, at most the device code's lifetime.
    device_poll_interval: u64;
}

impl ServerPolicyBuilder {
    /// Endpoint paths below the issuer's origin.
    pub fn paths(mut self, paths: EndpointPaths) -> Self {
        self.paths = paths;
        self
    }

    /// Scopes advertised in metadata (`scopes_supported`); empty means not advertised.
    pub fn scopes_supported(mut self, scopes: ScopeSet) -> Self {
        self.scopes_supported = scopes;
        self
    }

    /// The `aud` of JWT access tokens (RFC 9068 §3); the issuer when unset.
    pub fn access_token_audience(mut self, audience: Option<String>) -> Self {
        self.access_token_audience = audience;
        self
    }

    /// Limits on failed authentication attempts ([`crate::throttle`]).
    pub fn throttle(mut self, throttle: crate::throttle::ThrottlePolicy) -> Self {
        self.throttle = throttle;
        self
    }

    /// Which DPoP proofs are accepted (RFC 9449): algorithms and the `iat`
    /// window; also how long a proof's `jti` is remembered.
    pub fn dpop(mut self, rules: crate::dpop::DpopRules) -> Self {
        self.dpop = rules;
        self
    }

    /// Which `private_key_jwt` client assertions are accepted (algorithms,
    /// lifetime, clock skew).
    pub fn assertion_rules(mut self, rules: crate::assertion::AssertionRules) -> Self {
        self.assertion_rules = rules;
        self
    }

    /// Which clients may exchange tokens (RFC 8693), and the issuers whose
    /// JWTs they may present; empty (the default) turns the grant off.
    pub fn token_exchange(mut self, policy: crate::exchange::TokenExchangePolicy) -> Self {
        self.token_exchange = policy;
        self
    }

    /// Checks every setting and returns the policy, or the first setting at
    /// fault: each lifetime with [`check_lifetime`] (the engine adds
    /// lifetimes to the current time, and stores keep times as seconds up to
    /// 2106, so an unchecked lifetime could issue tokens that never expire or
    /// are already expired), and each endpoint path.
    pub fn build(self) -> Result<ServerPolicy, PolicyError> {
        for (field, value) in [
            ("code_lifetime", self.code_lifetime),
            ("access_token_lifetime", self.access_token_lifetime),
            ("refresh_token_lifetime", self.refresh_token_lifetime),
            ("grant_lifetime", self.grant_lifetime),
            ("id_token_lifetime", self.id_token_lifetime),
            ("consent_lifetime", self.consent_lifetime),
            ("device_code_lifetime", self.device_code_lifetime),
            ("device_poll_interval", self.device_poll_interval),
        ] {
            if check_lifetime(field, value).is_err() {
                return Err(PolicyError { field: field.to_owned(), problem: PolicyProblem::Lifetime(value) });
            }
        }
        if self.par_lifetime == 0 || self.par_lifetime > MAX_PAR_LIFETIME {
            return Err(PolicyError {
                field: "par_lifetime".to_owned(),
                problem: PolicyProblem::ParLifetime(self.par_lifetime),
            });
        }
        if self.device_poll_interval > self.device_code_lifetime {
            return Err(PolicyError {
                field: "device_poll_interval".to_owned(),
                problem: PolicyProblem::DeviceInterval(self.device_poll_interval, self.device_code_lifetime),
            });
        }
        if self.refresh_grace > MAX_REFRESH_GRACE {
            return Err(PolicyError {
                field: "refresh_grace".to_owned(),
                problem: PolicyProblem::Grace(self.refresh_grace),
            });
        }
        self.paths.check()?;
        if self.fapi2 {
            let forbidden = [
                ("code_lifetime", self.code_lifetime > FAPI2_MAX_CODE_LIFETIME),
                ("allow_implicit", self.allow_implicit),
                ("allow_password_grant", self.allow_password_grant),
                ("allow_plain_pkce", self.allow_plain_pkce),
            ];
            if let Some((field, _)) = forbidden.into_iter().find(|(_, bad)| *bad) {
                return Err(PolicyError { field: field.to_owned(), problem: PolicyProblem::Fapi2 });
            }
        }
        if let Err((field, value)) = self.request_limits.check() {
            return Err(PolicyError { field: field.to_owned(), problem: PolicyProblem::RequestLimit(value) });
        }
        if let Err((field, limit)) = self.throttle.check() {
            return Err(PolicyError {
                field: field.to_owned(),
                problem: PolicyProblem::Throttle(limit.max_failures, limit.window),
            });
        }
        if let Err((field, problem)) = self.token_exchange.check() {
            return Err(PolicyError { field, problem: PolicyProblem::TokenExchange(problem) });
        }
        Ok(ServerPolicy { settings: self })
    }
}

impl ServerPolicy {
    /// A builder with safe defaults for `issuer`.
    pub fn builder(issuer: Issuer) -> ServerPolicyBuilder {
        ServerPolicyBuilder {
            issuer,
            paths: EndpointPaths::default(),
            code_lifetime: 60,
            access_token_lifetime: 3600,
            refresh_token_lifetime: 86_400,
            grant_lifetime: 30 * 86_400,
            rotate_refresh_tokens: true,
            refresh_grace: 0,
            require_pkce: false,
            allow_implicit: false,
            allow_password_grant: false,
            allow_plain_pkce: false,
            allow_insecure_transport: false,
            scopes_supported: ScopeSet::empty(),
            id_token_lifetime: 3600,
            access_token_format: AccessTokenFormat::Opaque,
            access_token_audience: None,
            consent_lifetime: 365 * 86_400,
            request_limits: RequestLimits::default(),
            throttle: crate::throttle::ThrottlePolicy::default(),
            dpop: crate::dpop::DpopRules::default(),
            assertion_rules: crate::assertion::AssertionRules::default(),
            par_lifetime: 60,
            require_pushed_authorization_requests: false,
            fapi2: false,
            token_exchange: crate::exchange::TokenExchangePolicy::default(),
            device_code_lifetime: 600,
            device_poll_interval: 5,
        }
    }

    /// A builder holding this policy's settings, to derive another policy.
    pub fn to_builder(&self) -> ServerPolicyBuilder {
        self.settings.clone()
    }

    /// Which `private_key_jwt` client assertions are accepted.
    pub fn assertion_rules(&self) -> &crate::assertion::AssertionRules {
        &self.settings.assertion_rules
    }

    /// The token exchange policy (RFC 8693).
    pub fn token_exchange(&self) -> &crate::exchange::TokenExchangePolicy {
        &self.settings.token_exchange
    }

    /// The issuer identifier (RFC 8414 §2, RFC 9207).
    pub fn issuer(&self) -> &Issuer {
        &self.settings.issuer
    }

    /// Endpoint paths below the issuer's origin.
    pub fn paths(&self) -> &EndpointPaths {
        &self.settings.paths
    }

    /// Scopes advertised in metadata (`scopes_supported`); empty means not advertised.
    pub fn scopes_supported(&self) -> &ScopeSet {
        &self.settings.scopes_supported
    }

    /// Limits on failed authentication attempts ([`crate::throttle`]).
    pub fn throttle(&self) -> &crate::throttle::ThrottlePolicy {
        &self.settings.throttle
    }

    /// The `aud` of JWT access tokens (RFC 9068 §3): the configured audience, or the issuer.
    pub fn access_token_audience(&self) -> &str {
        self.settings.access_token_audience.as_deref().unwrap_or(self.settings.issuer.as_str())
    }

    /// Which DPoP proofs are accepted (RFC 9449).
    pub fn dpop(&self) -> &crate::dpop::DpopRules {
        &self.settings.dpop
    }

    /// The absolute URL of an endpoint path: the issuer's origin followed by the path.
    pub fn endpoint_url(&self, path: &str) -> String {
        self.settings.issuer.endpoint_url(path)
    }
}

/// Checks that an endpoint path named `field` is absolute, without query,
/// fragment or space: the rule for every path a policy holds, for an
/// application's own pages too.
pub fn check_path(field: &str, path: &str) -> Result<(), PolicyError> {
    if path.starts_with('/') && !path.contains(['?', '#', ' ']) {
        Ok(())
    } else {
        Err(PolicyError { field: field.to_owned(), problem: PolicyProblem::Path(path.to_owned()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_bounded() {
        let cases: &[(u64, bool)] =
            &[(0, false), (1, true), (3600, true), (MAX_LIFETIME, true), (MAX_LIFETIME + 1, false), (u64::MAX, false)];
        for &(value, ok) in cases {
            let result = check_lifetime("tokens.x", value);
            assert_eq!(result.is_ok(), ok, "{value}");
            if let Err(e) = result {
                assert_eq!(e, LifetimeError { field: "tokens.x".into(), value });
                assert!(e.to_string().starts_with("tokens.x: must be between 1 and "), "{e}");
            }
        }
    }

    fn builder() -> ServerPolicyBuilder {
        ServerPolicy::builder(Issuer::new("https://as.example", false).unwrap())
    }

    #[test]
    fn build_names_the_first_bad_setting() {
        assert!(builder().build().is_ok());
        let setters: [(&str, fn(ServerPolicyBuilder, u64) -> ServerPolicyBuilder); 6] = [
            ("code_lifetime", ServerPolicyBuilder::code_lifetime),
            ("access_token_lifetime", ServerPolicyBuilder::access_token_lifetime),
            ("refresh_token_lifetime", ServerPolicyBuilder::refresh_token_lifetime),
            ("grant_lifetime", ServerPolicyBuilder::grant_lifetime),
            ("id_token_lifetime", ServerPolicyBuilder::id_token_lifetime),
            ("consent_lifetime", ServerPolicyBuilder::consent_lifetime),
        ];
        for (field, setter) in setters {
            for value in [0, MAX_LIFETIME + 1, u64::MAX] {
                let error = PolicyError { field: field.into(), problem: PolicyProblem::Lifetime(value) };
                assert_eq!(setter(builder(), value).build(), Err(error), "{field}");
            }
            assert!(setter(builder(), MAX_LIFETIME).build().is_ok(), "{field}");
        }
        for bad in ["oauth/token", "/oauth/token?x=1", "/oauth/token#x", "/oauth token", ""] {
            let paths = EndpointPaths { token: bad.into(), ..EndpointPaths::default() };
            let error = builder().paths(paths).build().map(|_| ()).unwrap_err();
            assert_eq!(error.field, "paths.token", "{bad}");
            assert!(error.to_string().starts_with("paths.token: must be an absolute path"), "{error}");
        }
        let paths = EndpointPaths { token_aliases: vec!["/ok".into(), "bad".into()], ..EndpointPaths::default() };
        assert_eq!(builder().paths(paths).build().map(|_| ()).unwrap_err().field, "paths.token_aliases[1]");
        let throttle = crate::throttle::ThrottlePolicy {
            address: crate::throttle::Limit::new(0, 60),
            ..crate::throttle::ThrottlePolicy::default()
        };
        let error = builder().throttle(throttle).build().map(|_| ()).unwrap_err();
        assert_eq!(error, PolicyError { field: "throttle.address".into(), problem: PolicyProblem::Throttle(0, 60) });
    }

    #[test]
    fn prefixed_paths() {
        let paths = EndpointPaths { token_aliases: vec!["/oauth/tokenize".into()], ..EndpointPaths::default() };
        let prefixed = paths.with_prefix("/auth/");
        assert_eq!(prefixed.authorize, "/auth/oauth/authorize");
        assert_eq!(prefixed.token_paths().collect::<Vec<_>>(), ["/auth/oauth/token", "/auth/oauth/tokenize"]);
        assert_eq!(prefixed.metadata, "/auth/.well-known/oauth-authorization-server");
        assert!(prefixed.all().iter().all(|(_, path)| path.starts_with("/auth/")));
    }
}
