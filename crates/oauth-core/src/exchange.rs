//! Token exchange ([RFC 8693](https://www.rfc-editor.org/rfc/rfc8693)): the
//! policy that says which clients may exchange which tokens for what, the
//! `act` claim of delegation (§4.1), the token type identifiers (§3), and
//! [`IssuerKeys`], the abstraction that supplies a trusted issuer's JWK Set so
//! that fetching a `jwks_uri` stays outside core.
//!
//! The grant itself is `grant::TokenExchangeGrant`, registered by
//! [`AuthorizationServer::new`](crate::AuthorizationServer::new) when the
//! policy has at least one [`ExchangeRule`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::assertion::KeySetError;
use crate::types::{ClientId, ScopeSet};

/// `urn:ietf:params:oauth:token-type:access_token` (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// `urn:ietf:params:oauth:token-type:refresh_token` (RFC 8693 §3).
pub const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// `urn:ietf:params:oauth:token-type:id_token` (RFC 8693 §3).
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// `urn:ietf:params:oauth:token-type:jwt` (RFC 8693 §3).
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Largest accepted `subject_token` or `actor_token`, in bytes.
pub const MAX_EXCHANGED_TOKEN_LEN: usize = 8 * 1024;

/// Deepest accepted `act` chain: the current actor and the prior ones.
pub const MAX_ACT_DEPTH: usize = 8;

/// Longest accepted `sub` or `iss` of an actor, and `audience`/`resource`, in bytes.
pub const MAX_NAME_LEN: usize = 512;

/// The `act` claim (RFC 8693 §4.1): who acts on the subject's behalf; a
/// nested `act` names the actor before it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    /// The actor.
    pub sub: String,
    /// The issuer of the actor's identity, when it is not this server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The prior actor, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// How many actors the chain names (this one included).
    pub fn depth(&self) -> usize {
        1 + self.act.as_ref().map_or(0, |prior| prior.depth())
    }

    /// Reads an `act` claim from a JWT's claims: an object with a string
    /// `sub`, an optional string `iss` and an optional nested `act`, at most
    /// [`MAX_ACT_DEPTH`] deep, names at most [`MAX_NAME_LEN`] bytes. `None`
    /// when it is not one.
    pub fn from_claim(claim: &Value) -> Option<Self> {
        Self::read(claim, 1)
    }

    fn read(claim: &Value, depth: usize) -> Option<Self> {
        if depth > MAX_ACT_DEPTH {
            return None;
        }
        let object = claim.as_object()?;
        let name = |v: &Value| v.as_str().filter(|s| !s.is_empty() && s.len() <= MAX_NAME_LEN).map(str::to_owned);
        let sub = name(object.get("sub")?)?;
        let iss = match object.get("iss") {
            None => None,
            Some(v) => Some(name(v)?),
        };
        let act = match object.get("act") {
            None => None,
            Some(v) => Some(Box::new(Self::read(v, depth + 1)?)),
        };
        Some(Self { sub, iss, act })
    }
}

/// What token exchange recorded on a token it issued
/// ([`TokenRecord::exchange`](crate::storage::TokenRecord::exchange)).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exchanged {
    /// The actor, prior actors nested; `None` for impersonation of a
    /// subject token that had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The `audience` or `resource` asked for; `None`: the server's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// What one client may do with token exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExchangeRule {
    /// The `audience` and `resource` values the client may ask for; an empty
    /// list allows only requests without a target.
    pub audiences: Vec<String>,
    /// The most the client may keep of the subject token's scope; `None`
    /// keeps up to all of it. For subject tokens without a scope (ID tokens,
    /// JWTs without `scope`) this is the ceiling, and `None` gives no scope.
    pub scopes: Option<ScopeSet>,
    /// Whether the client may exchange without an actor token
    /// (impersonation: the issued token carries no new `act`).
    pub impersonation: bool,
    /// Lifetime of the issued token in seconds (`None`: the policy's access
    /// token lifetime); never beyond the subject (or actor) token's expiry.
    pub lifetime: Option<u64>,
}

impl ExchangeRule {
    /// A rule allowing delegation only, without a target, keeping up to the
    /// subject token's scope, with the access token lifetime.
    pub fn new() -> Self {
        Self { audiences: Vec::new(), scopes: None, impersonation: false, lifetime: None }
    }

    /// Allows these `audience`/`resource` values.
    pub fn audiences(mut self, audiences: Vec<String>) -> Self {
        self.audiences = audiences;
        self
    }

    /// Caps the scope the client keeps.
    pub fn scopes(mut self, scopes: Option<ScopeSet>) -> Self {
        self.scopes = scopes;
        self
    }

    /// Allows impersonation (no actor token).
    pub fn impersonation(mut self, allowed: bool) -> Self {
        self.impersonation = allowed;
        self
    }

    /// Sets the issued token's lifetime.
    pub fn lifetime(mut self, lifetime: Option<u64>) -> Self {
        self.lifetime = lifetime;
        self
    }
}

impl Default for ExchangeRule {
    fn default() -> Self {
        Self::new()
    }
}

/// An issuer whose JWTs are accepted as `urn:ietf:params:oauth:token-type:jwt`
/// subject and actor tokens, verified against its JWK Set.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustedIssuer {
    /// Its `iss` value, compared exactly.
    pub issuer: String,
    /// The `aud` its JWTs must name; `None`: this server's issuer identifier.
    pub audience: Option<String>,
    /// Its JWK Set inline, if given.
    pub jwks: Option<Value>,
    /// Where its JWK Set is fetched (by the application's [`IssuerKeys`]).
    pub jwks_uri: Option<String>,
}

impl TrustedIssuer {
    /// A trusted issuer with an inline JWK Set.
    pub fn with_jwks(issuer: impl Into<String>, jwks: Value) -> Self {
        Self { issuer: issuer.into(), audience: None, jwks: Some(jwks), jwks_uri: None }
    }

    /// A trusted issuer whose JWK Set is fetched from `jwks_uri`.
    pub fn with_jwks_uri(issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        Self { issuer: issuer.into(), audience: None, jwks: None, jwks_uri: Some(jwks_uri.into()) }
    }

    /// Requires this `aud` in its JWTs.
    pub fn audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience;
        self
    }

    /// Checks the entry: an issuer, exactly one key source, well formed.
    pub fn check(&self) -> Result<(), String> {
        if self.issuer.is_empty() || self.issuer.len() > MAX_NAME_LEN {
            return Err("a trusted issuer needs an issuer identifier".into());
        }
        match (&self.jwks, &self.jwks_uri) {
            (Some(jwks), None) => crate::assertion::check_jwks(jwks),
            (None, Some(uri)) => crate::assertion::check_jwks_uri(uri),
            _ => Err(format!("trusted issuer {:?} needs exactly one of jwks and jwks_uri", self.issuer)),
        }
    }
}

/// Token exchange policy: a rule per client allowed to exchange, and the
/// issuers whose JWTs are accepted. Empty (the default) turns the grant off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenExchangePolicy {
    rules: BTreeMap<ClientId, ExchangeRule>,
    issuers: Vec<TrustedIssuer>,
}

impl TokenExchangePolicy {
    /// No client may exchange.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `client` to exchange tokens under `rule`.
    pub fn allow(mut self, client: ClientId, rule: ExchangeRule) -> Self {
        self.rules.insert(client, rule);
        self
    }

    /// Trusts `issuer`'s JWTs.
    pub fn trust(mut self, issuer: TrustedIssuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Whether any client may exchange (the grant is registered then).
    pub fn enabled(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The rule of `client`, if it may exchange.
    pub fn rule(&self, client: &ClientId) -> Option<&ExchangeRule> {
        self.rules.get(client)
    }

    /// The trusted issuer with this `iss`.
    pub fn issuer(&self, iss: &str) -> Option<&TrustedIssuer> {
        self.issuers.iter().find(|i| i.issuer == iss)
    }

    /// The trusted issuers.
    pub fn issuers(&self) -> &[TrustedIssuer] {
        &self.issuers
    }

    /// Checks every rule's lifetime and every trusted issuer; the error names
    /// the field at fault and why.
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        for (client, rule) in &self.rules {
            if let Some(lifetime) = rule.lifetime {
                crate::policy::check_lifetime("lifetime", lifetime)
                    .map_err(|e| (format!("token_exchange.clients.{client}.lifetime"), e.to_string()))?;
            }
            if let Some(bad) = rule.audiences.iter().find(|a| a.is_empty() || a.len() > MAX_NAME_LEN) {
                return Err((
                    format!("token_exchange.clients.{client}.audiences"),
                    format!("an audience must have 1 to {MAX_NAME_LEN} bytes, not {}", bad.len()),
                ));
            }
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            issuer.check().map_err(|e| (format!("token_exchange.issuers[{i}]"), e))?;
            if self.issuers[..i].iter().any(|other| other.issuer == issuer.issuer) {
                return Err((format!("token_exchange.issuers[{i}]"), "the issuer is listed twice".into()));
            }
        }
        Ok(())
    }
}

/// Where the engine gets a trusted issuer's JWK Set: inline keys need no IO;
/// an application that trusts issuers by `jwks_uri` supplies a source that
/// fetches (with size and time limits, and a cache), as for [`ClientKeys`](crate::assertion::ClientKeys).
#[async_trait::async_trait]
pub trait IssuerKeys: Send + Sync {
    /// The JWK Set of `issuer`. `refresh` is set when no key of the cached
    /// set matched: a caching source should fetch again, at most every so often.
    async fn key_set(&self, issuer: &TrustedIssuer, refresh: bool) -> Result<Arc<Value>, KeySetError>;
}

/// The default [`IssuerKeys`]: inline [`TrustedIssuer::jwks`] only.
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineIssuerKeys;

#[async_trait::async_trait]
impl IssuerKeys for InlineIssuerKeys {
    async fn key_set(&self, issuer: &TrustedIssuer, _refresh: bool) -> Result<Arc<Value>, KeySetError> {
        issuer.jwks.clone().map(Arc::new).ok_or(KeySetError::Missing)
    }
}

/// Why a JWT of a trusted issuer was refused (logged as the cause; the
/// client gets `invalid_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuedJwtError {
    /// Not a compact JWS, too long, or a part does not decode.
    #[error("the JWT is malformed")]
    Malformed,
    /// `alg` is not in the allow-list of asymmetric algorithms.
    #[error("the JWT's alg is not accepted")]
    Algorithm,
    /// No key of the issuer's set fits the header.
    #[error("no key of the issuer verifies the JWT")]
    NoKey,
    /// The signature does not verify.
    #[error("the JWT's signature does not verify")]
    Signature,
    /// `aud` does not name the expected audience.
    #[error("the JWT's aud is not this server")]
    Audience,
    /// `exp` is missing or past, or `nbf`/`iat` in the future.
    #[error("the JWT has expired or is not valid yet")]
    Time,
    /// `iss` is not the trusted issuer, or `sub` is missing or too long.
    #[error("the JWT lacks a required claim")]
    Claims,
}

/// Verifies a JWT of `issuer` against its JWK Set: an allowed asymmetric
/// `alg` (the assertion rules' allow-list), the signature, `iss`, `aud`
/// (the issuer's [`TrustedIssuer::audience`], else `default_audience`), a
/// future `exp`, `nbf` and `iat` not beyond `max_skew`, and a string `sub`.
/// Returns the claims.
pub(crate) fn verify_issued_jwt(
    token: &str,
    jwks: &Value,
    issuer: &TrustedIssuer,
    default_audience: &str,
    rules: &crate::assertion::AssertionRules,
    now: u64,
) -> Result<serde_json::Map<String, Value>, IssuedJwtError> {
    use crate::jose;
    if token.len() > MAX_EXCHANGED_TOKEN_LEN || !jose::looks_like_jwt(token) {
        return Err(IssuedJwtError::Malformed);
    }
    let header = jose::protected_header(token).ok_or(IssuedJwtError::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(jose::asymmetric_alg)
        .filter(|alg| rules.allows(*alg))
        .ok_or(IssuedJwtError::Algorithm)?;
    let kid = header.get("kid").and_then(Value::as_str);
    let key = crate::assertion::select_key(jwks, kid, alg).map_err(|_| IssuedJwtError::NoKey)?;
    let claims = match jose::verify_jws(token, &key) {
        Ok(Value::Object(claims)) => claims,
        Ok(_) | Err(jose::JwsError::Malformed) => return Err(IssuedJwtError::Malformed),
        Err(jose::JwsError::Signature) => return Err(IssuedJwtError::Signature),
    };
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
        return Err(IssuedJwtError::Claims);
    }
    let audience = issuer.audience.as_deref().unwrap_or(default_audience);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(IssuedJwtError::Audience);
    }
    let time = |name: &str| claims.get(name).map(|v| v.as_f64().filter(|t| t.is_finite() && *t >= 0.0));
    match time("exp") {
        Some(Some(exp)) if exp as u64 > now => {}
        _ => return Err(IssuedJwtError::Time),
    }
    for claim in ["nbf", "iat"] {
        match time(claim) {
            None => {}
            Some(Some(t)) if t as u64 <= now.saturating_add(rules.max_skew()) => {}
            Some(_) => return Err(IssuedJwtError::Time),
        }
    }
    let sub_ok = claims.get("sub").and_then(Value::as_str).is_some_and(|s| !s.is_empty() && s.len() <= MAX_NAME_LEN);
    if !sub_ok {
        return Err(IssuedJwtError::Claims);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn act_claim_table() {
        let deep = (0..MAX_ACT_DEPTH).fold(
            serde_json::json!({"sub": "first"}),
            |inner, i| serde_json::json!({"sub": format!("a{i}"), "act": inner}),
        );
        let rows: Vec<(&str, Value, Option<usize>)> = vec![
            ("one actor", serde_json::json!({"sub": "svc"}), Some(1)),
            ("with iss", serde_json::json!({"sub": "svc", "iss": "https://idp"}), Some(1)),
            ("nested", serde_json::json!({"sub": "b", "act": {"sub": "a"}}), Some(2)),
            ("not an object", serde_json::json!("svc"), None),
            ("no sub", serde_json::json!({"iss": "https://idp"}), None),
            ("empty sub", serde_json::json!({"sub": ""}), None),
            ("numeric sub", serde_json::json!({"sub": 7}), None),
            ("numeric iss", serde_json::json!({"sub": "s", "iss": 7}), None),
            ("bad nested", serde_json::json!({"sub": "b", "act": {"iss": "x"}}), None),
            ("long sub", serde_json::json!({"sub": "x".repeat(MAX_NAME_LEN + 1)}), None),
            ("too deep", deep, None),
        ];
        for (label, claim, depth) in rows {
            assert_eq!(Actor::from_claim(&claim).map(|a| a.depth()), depth, "{label}");
        }
    }
}
