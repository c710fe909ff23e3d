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

/// The longest lifetime, in seconds, of anything a policy sets: ten years.
/// A grant that must outlive it should be a new grant.
pub const MAX_LIFETIME: u64 = 10 * 365 * 86_400;

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

    /// Checks every lifetime with [`check_lifetime`]. The engine adds
    /// lifetimes to the current time, and stores keep times as seconds up to
    /// 2106 (the Redis store's records hold them in 32 bits), so a policy
    /// with an unchecked lifetime could issue tokens that never expire or
    /// that are already expired. [`AuthorizationServer::new`] does not check;
    /// call this on a policy built from outside input.
    ///
    /// [`AuthorizationServer::new`]: crate::AuthorizationServer::new
    pub fn check(&self) -> Result<(), LifetimeError> {
        for (field, value) in [
            ("code_lifetime", self.code_lifetime),
            ("access_token_lifetime", self.access_token_lifetime),
            ("refresh_token_lifetime", self.refresh_token_lifetime),
            ("grant_lifetime", self.grant_lifetime),
            ("id_token_lifetime", self.id_token_lifetime),
            ("consent_lifetime", self.consent_lifetime),
        ] {
            check_lifetime(field, value)?;
        }
        Ok(())
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

    #[test]
    fn check_names_the_first_bad_lifetime() {
        let policy = ServerPolicy::new("https://as.example");
        assert_eq!(policy.check(), Ok(()));
        let setters: [(&str, fn(&mut ServerPolicy) -> &mut u64); 6] = [
            ("code_lifetime", |p| &mut p.code_lifetime),
            ("access_token_lifetime", |p| &mut p.access_token_lifetime),
            ("refresh_token_lifetime", |p| &mut p.refresh_token_lifetime),
            ("grant_lifetime", |p| &mut p.grant_lifetime),
            ("id_token_lifetime", |p| &mut p.id_token_lifetime),
            ("consent_lifetime", |p| &mut p.consent_lifetime),
        ];
        for (field, setter) in setters {
            for value in [0, u64::MAX] {
                let mut bad = policy.clone();
                *setter(&mut bad) = value;
                assert_eq!(bad.check(), Err(LifetimeError { field: field.into(), value }), "{field}");
            }
        }
    }
}
