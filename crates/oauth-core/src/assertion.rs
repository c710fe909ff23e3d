//! Client assertions for `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID
//! Connect Core §9): a JWT the client signs with a key whose public half it
//! registered, sent as `client_assertion` with `client_assertion_type`
//! [`ASSERTION_TYPE`].
//!
//! This module checks one assertion against the client's JWK Set: signature,
//! `iss` and `sub` equal to the client id, `aud` naming this server, `exp`
//! in the future but not too far, `nbf` and `iat` not in the future. The
//! `jti` must be refused when seen before until the assertion expires: that
//! needs state shared by every instance and is the caller's (the returned
//! [`VerifiedAssertion`] carries `jti` and `exp` for it).

use std::sync::Arc;

use serde_json::Value;

use crate::client::Client;
use crate::jose::{self, Algorithm};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Largest accepted assertion, in bytes.
pub const MAX_ASSERTION_LEN: usize = 8 * 1024;

/// Largest accepted `jti`, in bytes.
pub const MAX_JTI_LEN: usize = 256;

/// Why an assertion is refused; each is answered `invalid_client` (RFC 7523
/// §3.2), the variant says why in the logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// Not a compact JWS, too long, or a part does not decode.
    #[error("the client assertion is not a well-formed JWT")]
    Malformed,
    /// `alg` is symmetric, `none`, unknown, or not in the allow-list.
    #[error("the client assertion's alg is not accepted")]
    Algorithm,
    /// No registered key has the `kid`, or without a `kid` no single key fits.
    #[error("no registered key of the client verifies this assertion")]
    NoKey,
    /// The signature does not verify.
    #[error("the client assertion's signature does not verify")]
    Signature,
    /// `iss` or `sub` is not the client id.
    #[error("the client assertion's iss and sub must be the client id")]
    Subject,
    /// `aud` does not name this server.
    #[error("the client assertion's aud does not name this server")]
    Audience,
    /// `exp` is missing or past.
    #[error("the client assertion has expired")]
    Expired,
    /// `exp` is further away than the server accepts.
    #[error("the client assertion's lifetime is too long")]
    Lifetime,
    /// `nbf` or `iat` is in the future.
    #[error("the client assertion is not valid yet")]
    NotYetValid,
    /// `jti` missing or too long, or a claim has the wrong type.
    #[error("the client assertion lacks a required claim")]
    Claims,
}

/// Which assertions are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionRules {
    algs: Vec<Algorithm>,
    max_lifetime: u64,
    max_skew: u64,
}

impl Default for AssertionRules {
    /// ES256, EdDSA, PS256 and RS256; `exp` at most 300 seconds ahead; `nbf`
    /// and `iat` at most 5 seconds ahead of the server's clock.
    fn default() -> Self {
        Self {
            algs: vec![Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256, Algorithm::RS256],
            max_lifetime: 300,
            max_skew: 5,
        }
    }
}

impl AssertionRules {
    /// Rules accepting the named algorithms (JOSE names, asymmetric only),
    /// assertions expiring at most `max_lifetime` seconds ahead, and clocks
    /// `max_skew` seconds ahead of ours.
    pub fn new(algs: &[&str], max_lifetime: u64, max_skew: u64) -> Result<Self, String> {
        Ok(Self { algs: jose::asymmetric_algs(algs)?, max_lifetime, max_skew })
    }

    /// The longest accepted lifetime (`exp` ahead of now), in seconds.
    pub fn max_lifetime(&self) -> u64 {
        self.max_lifetime
    }

    /// How far ahead of the server's clock `iat` and `nbf` may be, in seconds.
    pub fn max_skew(&self) -> u64 {
        self.max_skew
    }

    /// Whether `alg` is accepted.
    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        self.algs.contains(&alg)
    }

    /// The accepted algorithms' JOSE names, for
    /// `token_endpoint_auth_signing_alg_values_supported`.
    pub fn alg_names(&self) -> Vec<&'static str> {
        self.algs.iter().filter_map(|alg| jose::asymmetric_alg_name(*alg)).collect()
    }
}

/// An assertion that passed every stateless check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The assertion's unique id; the caller refuses one seen before.
    pub jti: String,
    /// When it expires: how long the caller must remember `jti`.
    pub exp: u64,
}

/// Verifies `assertion` for `client_id` against the client's registered JWK
/// Set (`{"keys": [...]}`), accepting an `aud` equal to one of `audiences`
/// (the issuer identifier and the endpoint URL).
pub fn verify(
    assertion: &str,
    client_id: &str,
    jwks: &Value,
    audiences: &[&str],
    rules: &AssertionRules,
    now: u64,
) -> Result<VerifiedAssertion, AssertionError> {
    if assertion.len() > MAX_ASSERTION_LEN || !jose::looks_like_jwt(assertion) {
        return Err(AssertionError::Malformed);
    }
    let header = jose::protected_header(assertion).ok_or(AssertionError::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(jose::asymmetric_alg)
        .filter(|alg| rules.algs.contains(alg))
        .ok_or(AssertionError::Algorithm)?;
    let kid = header.get("kid").and_then(Value::as_str);
    let key = select_key(jwks, kid, alg)?;

    let claims = jose::verify_jws(assertion, &key).map_err(|e| match e {
        jose::JwsError::Signature => AssertionError::Signature,
        jose::JwsError::Malformed => AssertionError::Malformed,
    })?;

    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(AssertionError::Subject);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audiences.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(|aud| audiences.contains(&aud)),
        _ => false,
    };
    if !audience_ok {
        return Err(AssertionError::Audience);
    }
    let time = |name: &str| -> Result<Option<u64>, AssertionError> {
        match claims.get(name) {
            None => Ok(None),
            // NumericDate may have a fraction (RFC 7519 §2); whole seconds suffice.
            Some(v) => {
                v.as_f64().filter(|t| t.is_finite() && *t >= 0.0).map(|t| Some(t as u64)).ok_or(AssertionError::Claims)
            }
        }
    };
    let exp = time("exp")?.ok_or(AssertionError::Expired)?;
    if exp <= now {
        return Err(AssertionError::Expired);
    }
    if exp > now.saturating_add(rules.max_lifetime) {
        return Err(AssertionError::Lifetime);
    }
    for claim in ["nbf", "iat"] {
        if time(claim)?.is_some_and(|t| t > now.saturating_add(rules.max_skew)) {
            return Err(AssertionError::NotYetValid);
        }
    }
    let jti = text("jti").filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN).ok_or(AssertionError::Claims)?;
    Ok(VerifiedAssertion { jti: jti.to_owned(), exp })
}

/// The registered signing key whose type fits `alg` and whose `kid` is the
/// header's; without a `kid`, the only such key.
pub(crate) fn select_key(jwks: &Value, kid: Option<&str>, alg: Algorithm) -> Result<jose::PublicKey, AssertionError> {
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or(AssertionError::NoKey)?;
    let kty = match alg {
        Algorithm::ES256 | Algorithm::ES384 => "EC",
        Algorithm::EdDSA => "OKP",
        _ => "RSA",
    };
    let mut candidates = keys.iter().filter_map(Value::as_object).filter(|key| {
        let usable = key.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig")
            && key.get("kty").and_then(Value::as_str) == Some(kty);
        usable && kid.is_none_or(|kid| key.get("kid").and_then(Value::as_str) == Some(kid))
    });
    let (Some(key), None) = (candidates.next(), candidates.next()) else { return Err(AssertionError::NoKey) };
    jose::public_key(key, alg).map_err(|_| AssertionError::NoKey)
}

/// Checks a client's registered JWK Set: an object with a `keys` array of
/// at most [`MAX_CLIENT_KEYS`](crate::client::MAX_CLIENT_KEYS) public keys,
/// each usable for verification. The error says what is wrong.
pub fn check_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or("jwks must be an object with a `keys` array")?;
    if keys.is_empty() || keys.len() > crate::client::MAX_CLIENT_KEYS {
        return Err(format!("jwks must hold between 1 and {} keys", crate::client::MAX_CLIENT_KEYS));
    }
    for (i, key) in keys.iter().enumerate() {
        let key = key.as_object().ok_or_else(|| format!("jwks key {i} is not an object"))?;
        match jose::usable_public_key(key) {
            Ok(_) => {}
            Err(jose::PublicKeyError::Private) => return Err(format!("jwks key {i} holds private key material")),
            Err(_) => return Err(format!("jwks key {i} is not a usable public key")),
        }
    }
    Ok(())
}

/// Checks a client's `jwks_uri`: an absolute `https` URL, or `http` on a
/// loopback host (tests, development), without credentials or fragment.
pub fn check_jwks_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|_| "jwks_uri must be an absolute URL".to_owned())?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || url.host().is_none() {
        return Err("jwks_uri must be an https URL (http only on a loopback host)".into());
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("jwks_uri must not carry credentials or a fragment".into());
    }
    Ok(())
}

/// Why a client's key set could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// The client registered no keys (or only a `jwks_uri` this source
    /// cannot fetch).
    #[error("the client has no registered keys")]
    Missing,
    /// Fetching the client's `jwks_uri` failed (time, size, status, JSON).
    #[error("the client's jwks_uri could not be fetched: {0}")]
    Unavailable(String),
}

/// Where the engine gets a `private_key_jwt` client's JWK Set: the one
/// abstraction between the assertion checks and any IO, so that core stays
/// free of it. The application that registers `jwks_uri` clients supplies a
/// source that fetches (with size and time limits, and a cache).
#[async_trait::async_trait]
pub trait ClientKeys: Send + Sync {
    /// The JWK Set of `client`. `refresh` is set when no key of the cached
    /// set matched an assertion: a source that caches should fetch again, but
    /// at most every so often (a stranger can send unknown `kid`s at will).
    async fn key_set(&self, client: &Client, refresh: bool) -> Result<Arc<Value>, KeySetError>;
}

/// The default [`ClientKeys`]: the inline [`Client::jwks`] only; a client
/// registered with `jwks_uri` gets [`KeySetError::Missing`].
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineKeys;

#[async_trait::async_trait]
impl ClientKeys for InlineKeys {
    async fn key_set(&self, client: &Client, _refresh: bool) -> Result<Arc<Value>, KeySetError> {
        client.jwks.clone().map(Arc::new).ok_or(KeySetError::Missing)
    }
}
