//! Server policy: issuer, endpoint URLs, lifetimes and security switches.
//!
//! Plain values; loading them from files is the application's job.

use crate::types::ScopeSet;

/// Endpoint paths, joined to the issuer to build absolute URLs for metadata.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointPaths {
    /// Authorization endpoint.
    pub authorize: String,
    /// Token endpoint.
    pub token: String,
    /// Revocation endpoint (RFC 7009).
    pub revoke: String,
    /// Introspection endpoint (RFC 7662).
    pub introspect: String,
    /// OpenID Connect UserInfo endpoint.
    pub userinfo: String,
    /// JWK Set of the signing keys.
    pub jwks: String,
}

impl Default for EndpointPaths {
    fn default() -> Self {
        Self {
            authorize: "/oauth/authorize".into(),
            token: "/oauth/token".into(),
            revoke: "/oauth/revoke".into(),
            introspect: "/oauth/introspect".into(),
            userinfo: "/oauth/userinfo".into(),
            jwks: "/oauth/jwks".into(),
        }
    }
}

/// Everything the protocol engine needs to decide, as plain values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerPolicy {
    /// The issuer identifier (RFC 8414 §2, RFC 9207): `https` URL, no query or fragment.
    pub issuer: String,
    /// Endpoint paths below the issuer's origin.
    pub paths: EndpointPaths,
    /// Authorization code lifetime in seconds.
    pub code_lifetime: u64,
    /// Access token lifetime in seconds.
    pub access_token_lifetime: u64,
    /// Refresh token lifetime in seconds (each token).
    pub refresh_token_lifetime: u64,
    /// Absolute lifetime of a grant (a refresh token family) in seconds.
    pub grant_lifetime: u64,
    /// Rotate refresh tokens on use (RFC 9700 §4.14.2). On by default.
    pub rotate_refresh_tokens: bool,
    /// Require PKCE for every client, not only public ones.
    pub require_pkce: bool,
    /// Allow the implicit grant (`response_type=token`) for clients registered for it. Off by default.
    pub allow_implicit: bool,
    /// Allow the resource owner password grant for clients registered for it. Off by default.
    pub allow_password_grant: bool,
    /// Accept `code_challenge_method=plain`.
    pub allow_plain_pkce: bool,
    /// Accept requests that did not arrive over TLS (development, loopback demos).
    pub allow_insecure_transport: bool,
    /// Scopes advertised in metadata (`scopes_supported`); empty means not advertised.
    pub scopes_supported: ScopeSet,
    /// ID token lifetime in seconds.
    pub id_token_lifetime: u64,
    /// Access token format for clients that do not choose one.
    pub access_token_format: AccessTokenFormat,
    /// The `aud` of JWT access tokens (RFC 9068 §3); the issuer when unset.
    pub access_token_audience: Option<String>,
    /// How long a remembered consent lasts, in seconds.
    pub consent_lifetime: u64,
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

impl ServerPolicy {
    /// A policy with safe defaults for the given issuer: code 60 s, access
    /// token 1 h, refresh token 1 day, grant 30 days, rotation on, TLS required.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            paths: EndpointPaths::default(),
            code_lifetime: 60,
            access_token_lifetime: 3600,
            refresh_token_lifetime: 86_400,
            grant_lifetime: 30 * 86_400,
            rotate_refresh_tokens: true,
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
        }
    }

    /// The absolute URL of an endpoint path.
    pub fn endpoint_url(&self, path: &str) -> String {
        // The issuer may carry a path (RFC 8414 §3); endpoints hang off its origin.
        let origin = match url::Url::parse(&self.issuer) {
            Ok(url) => url.origin().ascii_serialization(),
            Err(_) => self.issuer.clone(),
        };
        format!("{origin}{path}")
    }
}
