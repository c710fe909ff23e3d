//! DPoP proofs (RFC 9449): the checks of §4.3 on one proof JWT, and the
//! RFC 7638 thumbprint of its key that bound tokens carry as `cnf.jkt`.
//!
//! This module decides whether a proof is well formed, signed by the key it
//! carries, and made for this request at about this time. Two checks need
//! state and belong to the caller: that the `jti` was not seen before within
//! the proof window (a replay store shared by every instance), and, when the
//! server hands out nonces, that [`VerifiedProof::nonce`] is a current one.
//!
//! Signature verification is `jose`'s (`ring` for ECDSA and RSA,
//! `ed25519-dalek` for Ed25519, chosen by measurement); this module only
//! selects algorithms and compares claims.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::jose::{self, Algorithm};

/// The `typ` header of a DPoP proof.
pub const PROOF_TYP: &str = "dpop+jwt";

/// Largest accepted proof, in bytes: an RSA-4096 key and every claim fit
/// with room to spare.
pub const MAX_PROOF_LEN: usize = 8 * 1024;

/// Largest accepted `jti`, in bytes.
pub const MAX_JTI_LEN: usize = 256;

/// Why a proof is refused. Every variant is answered with the
/// `invalid_dpop_proof` error code (RFC 9449 §7.1); the variant says why in
/// the description and the logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a compact JWS, too long, or a part does not decode.
    #[error("the DPoP proof is not a well-formed JWT")]
    Malformed,
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ must be dpop+jwt")]
    Typ,
    /// `alg` is symmetric, `none`, unknown, or not in the allow-list.
    #[error("the DPoP proof's alg is not accepted")]
    Algorithm,
    /// No `jwk` header, or one that is not a usable public key for `alg`.
    #[error("the DPoP proof's jwk is missing or not a public key for its alg")]
    Key,
    /// The `jwk` header carries private key members.
    #[error("the DPoP proof's jwk contains private key material")]
    PrivateKey,
    /// The signature does not verify with the `jwk`.
    #[error("the DPoP proof's signature does not verify")]
    Signature,
    /// A required claim (`jti`, `htm`, `htu`, `iat`) is missing or mistyped.
    #[error("the DPoP proof lacks a required claim")]
    Claims,
    /// `htm` is not the request's method.
    #[error("the DPoP proof's htm does not match the request method")]
    Method,
    /// `htu` is not the request's URI (query and fragment ignored).
    #[error("the DPoP proof's htu does not match the request URI")]
    Uri,
    /// `iat` is outside the accepted window.
    #[error("the DPoP proof's iat is too old or in the future")]
    Time,
    /// `ath` is missing or is not the hash of the presented access token.
    #[error("the DPoP proof's ath does not match the access token")]
    AccessTokenHash,
}

/// Which proofs are accepted: the signing algorithms and the time window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopRules {
    algs: Vec<Algorithm>,
    max_age: u64,
    max_skew: u64,
}

impl Default for DpopRules {
    /// ES256, EdDSA, PS256 and RS256; proofs at most 60 seconds old and at
    /// most 5 seconds ahead of the server's clock.
    fn default() -> Self {
        Self {
            algs: vec![Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256, Algorithm::RS256],
            max_age: 60,
            max_skew: 5,
        }
    }
}

impl DpopRules {
    /// Rules accepting the named algorithms (JOSE names). Refuses an empty
    /// list and any name that is not an asymmetric algorithm, naming it.
    pub fn new(algs: &[&str], max_age: u64, max_skew: u64) -> Result<Self, String> {
        Ok(Self { algs: jose::asymmetric_algs(algs)?, max_age, max_skew })
    }

    /// The accepted algorithms' JOSE names, for `dpop_signing_alg_values_supported`.
    pub fn alg_names(&self) -> Vec<&'static str> {
        self.algs.iter().filter_map(|alg| jose::asymmetric_alg_name(*alg)).collect()
    }

    /// How long a proof's `jti` must be remembered to refuse its replay:
    /// the window in which its `iat` is accepted.
    pub fn replay_window(&self) -> u64 {
        self.max_age.saturating_add(self.max_skew)
    }
}

/// The request a proof must have been made for.
#[derive(Debug, Clone, Copy)]
pub struct ProofTarget<'a> {
    /// The HTTP method (`POST`, `GET`).
    pub method: &'a str,
    /// The absolute URI of the request, as the server's public origin plus
    /// the path (behind a proxy, the issuer's origin, not the socket's).
    pub uri: &'a str,
    /// At a resource: the access token presented with the proof, whose hash
    /// must be the proof's `ath`.
    pub access_token: Option<&'a str>,
}

/// A proof that passed every stateless check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key (base64url), the
    /// value of `cnf.jkt` in bound tokens.
    pub jkt: String,
    /// The proof's unique id; the caller refuses one seen before.
    pub jti: String,
    /// When the proof was made (seconds since the epoch).
    pub iat: u64,
    /// The `nonce` claim, if any, for the caller to check against its nonces.
    pub nonce: Option<String>,
}

/// Verifies one DPoP proof for `target` at `now` (RFC 9449 §4.3, steps 1–10
/// except the nonce and replay checks, which need state).
pub fn verify(proof: &str, target: &ProofTarget<'_>, rules: &DpopRules, now: u64) -> Result<VerifiedProof, DpopError> {
    if proof.len() > MAX_PROOF_LEN || !crate::jose::looks_like_jwt(proof) {
        return Err(DpopError::Malformed);
    }
    let header = jose::protected_header(proof).ok_or(DpopError::Malformed)?;
    if !header.get("typ").and_then(Value::as_str).is_some_and(|typ| typ.eq_ignore_ascii_case(PROOF_TYP)) {
        return Err(DpopError::Typ);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(jose::asymmetric_alg)
        .filter(|alg| rules.algs.contains(alg))
        .ok_or(DpopError::Algorithm)?;
    let jwk = header.get("jwk").and_then(Value::as_object).ok_or(DpopError::Key)?;
    let key = jose::public_key(jwk, alg).map_err(|e| match e {
        jose::PublicKeyError::Private => DpopError::PrivateKey,
        jose::PublicKeyError::Unusable => DpopError::Key,
    })?;
    let jkt = thumbprint(jwk).ok_or(DpopError::Key)?;
    let claims = jose::verify_jws(proof, &key).map_err(|e| match e {
        jose::JwsError::Signature => DpopError::Signature,
        jose::JwsError::Malformed => DpopError::Malformed,
    })?;

    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|v| !v.is_empty());
    let (Some(jti), Some(htm), Some(htu)) = (text("jti"), text("htm"), text("htu")) else {
        return Err(DpopError::Claims);
    };
    if jti.len() > MAX_JTI_LEN {
        return Err(DpopError::Claims);
    }
    // NumericDate may have a fraction (RFC 7519 §2); whole seconds suffice.
    let iat =
        claims.get("iat").and_then(Value::as_f64).filter(|t| t.is_finite() && *t >= 0.0).ok_or(DpopError::Claims)?;
    let iat = iat as u64;
    if htm != target.method {
        return Err(DpopError::Method);
    }
    if !same_uri(htu, target.uri) {
        return Err(DpopError::Uri);
    }
    if iat.saturating_add(rules.max_age) < now || iat > now.saturating_add(rules.max_skew) {
        return Err(DpopError::Time);
    }
    if let Some(token) = target.access_token {
        let expected = access_token_hash(token);
        let matches = text("ath").is_some_and(|ath| bool::from(ath.as_bytes().ct_eq(expected.as_bytes())));
        if !matches {
            return Err(DpopError::AccessTokenHash);
        }
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).map(str::to_owned);
    Ok(VerifiedProof { jkt, jti: jti.to_owned(), iat, nonce })
}

/// Server-provided DPoP nonces (RFC 9449 §8) that need no storage: a nonce
/// is an HMAC-SHA256 of the current time period under a key every instance
/// shares, so any instance accepts what another handed out. A nonce stays
/// valid for the period it was made in and the next one.
#[derive(Clone)]
pub struct NonceSource {
    mac: hmac::Hmac<Sha256>,
    period: u64,
}

impl std::fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceSource").field("period", &self.period).finish_non_exhaustive()
    }
}

impl NonceSource {
    /// Nonces under `key` (shared by every instance; keep it secret) that
    /// change every `period` seconds (at least 1).
    pub fn new(key: [u8; 32], period: u64) -> Self {
        use hmac::digest::KeyInit as _;
        // HMAC pads a key shorter than SHA-256's 64-byte block with zeros
        // (RFC 2104 §2); padding it here makes the constructor infallible.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&key);
        Self { mac: hmac::Hmac::<Sha256>::new(&block.into()), period: period.max(1) }
    }

    /// Nonces under a random key (for a single instance: others would not
    /// accept them).
    pub fn random(period: u64) -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        Self::new(key, period)
    }

    /// The nonce to hand out at `now` (in the `DPoP-Nonce` header).
    pub fn current(&self, now: u64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(now / self.period))
    }

    /// True when `nonce` was handed out in this period or the previous one
    /// (constant-time comparison of the MACs).
    pub fn accepts(&self, nonce: &str, now: u64) -> bool {
        let Ok(presented) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        let period = now / self.period;
        [Some(period), period.checked_sub(1)]
            .into_iter()
            .flatten()
            .any(|p| bool::from(self.mac(p).as_slice().ct_eq(presented.as_slice())))
    }

    fn mac(&self, period: u64) -> [u8; 32] {
        use hmac::digest::{FixedOutput as _, Update as _};
        let mut mac = self.mac.clone();
        mac.update(b"dpop-nonce\0");
        mac.update(&period.to_be_bytes());
        mac.finalize_fixed().into()
    }
}

/// The `ath` of an access token: base64url of its SHA-256 (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK: the required members
/// of its key type, in lexicographic order, as compact JSON. `None` for an
/// unknown key type or a missing or non-string member.
pub fn thumbprint(jwk: &serde_json::Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, member) in members.iter().enumerate() {
        let value = jwk.get(*member)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        // serde_json escapes exactly as RFC 7638 §3.3 asks (RFC 7159 strings).
        canonical.push_str(&serde_json::to_string(member).ok()?);
        canonical.push(':');
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// RFC 9449 §4.3 step 9: `htu` equals the request URI ignoring query and
/// fragment, after syntax-based normalisation (RFC 3986 §6.2.2: case of
/// scheme and host, default port, percent-encoding case, dot segments),
/// which the `url` crate's parser performs.
fn same_uri(htu: &str, uri: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(htu), url::Url::parse(uri)) else { return false };
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
        && a.username().is_empty()
        && a.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_of_the_rfc_7638_example() {
        // RFC 7638 §3.1.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let jwk = jwk.as_object().unwrap();
        assert_eq!(thumbprint(jwk).as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
    }

    #[test]
    fn thumbprint_needs_every_required_member() {
        for jwk in [
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a"}),
            serde_json::json!({"kty": "OKP", "x": "a"}),
            serde_json::json!({"kty": "oct", "k": "a"}),
            serde_json::json!({"kty": "RSA", "n": 5, "e": "AQAB"}),
            serde_json::json!({"n": "a", "e": "AQAB"}),
        ] {
            assert_eq!(thumbprint(jwk.as_object().unwrap()), None, "{jwk}");
        }
    }

    #[test]
    fn uri_comparison_ignores_query_fragment_and_case() {
        for (htu, uri, same) in [
            ("https://as.example/token", "https://as.example/token", true),
            ("https://AS.example:443/token?x=1#f", "https://as.example/token", true),
            ("HTTPS://as.example/a/../token", "https://as.example/token", true),
            ("https://as.example/token/", "https://as.example/token", false),
            ("http://as.example/token", "https://as.example/token", false),
            ("https://as.example:8443/token", "https://as.example/token", false),
            ("https://other.example/token", "https://as.example/token", false),
            ("https://u:p@as.example/token", "https://as.example/token", false),
            ("/token", "https://as.example/token", false),
        ] {
            assert_eq!(same_uri(htu, uri), same, "{htu} vs {uri}");
        }
    }

    #[test]
    fn nonces_last_their_period_and_the_next_and_depend_on_the_key() {
        let source = NonceSource::new([7; 32], 60);
        let other = NonceSource::new([8; 32], 60);
        let t = 1_800_000_000; // a multiple of 60
        let nonce = source.current(t);
        assert_eq!(nonce.len(), 43, "256 bits, base64url");
        assert_eq!(source.current(t + 59), nonce, "same period");
        assert_ne!(source.current(t + 60), nonce, "next period");
        for (at, accepted) in [(t, true), (t + 119, true), (t + 120, false), (t - 1, false)] {
            assert_eq!(source.accepts(&nonce, at), accepted, "at t{:+}", at as i64 - t as i64);
        }
        assert!(!other.accepts(&nonce, t), "another key");
        assert!(!source.accepts("", t));
        assert!(format!("{source:?}").contains("period") && !format!("{source:?}").contains('7'));
    }

    #[test]
    fn the_padded_key_is_the_same_hmac_as_the_short_key() {
        use hmac::Mac as _;
        let key = [0x5a; 32];
        let mut reference = hmac::Hmac::<Sha256>::new_from_slice(&key).unwrap();
        reference.update(b"dpop-nonce\0");
        reference.update(&42u64.to_be_bytes());
        let expected: [u8; 32] = reference.finalize().into_bytes().into();
        assert_eq!(NonceSource::new(key, 60).mac(42), expected);
    }

    #[test]
    fn rules_accept_only_asymmetric_algorithms() {
        assert!(DpopRules::new(&["ES256", "RS256"], 60, 5).is_ok());
        for bad in [&["HS256"][..], &["none"], &[]] {
            assert!(DpopRules::new(bad, 60, 5).is_err(), "{bad:?}");
        }
        assert_eq!(DpopRules::default().alg_names(), ["ES256", "EdDSA", "PS256", "RS256"]);
    }
}
