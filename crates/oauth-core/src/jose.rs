//! Signing keys, JWKS, and JWT signing and verification (RS256, ES256, EdDSA).
//!
//! Keys are parsed and generated with `rsa`, `p256` and `ed25519-dalek`.
//! Signatures are made and verified with `ring`, except Ed25519
//! verification (`ed25519-dalek`, as fast): the backends were chosen by
//! measurement (`benches/jose.rs`, docs/performance.md). This module only
//! chooses algorithms, formats JWKs and checks claims.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::traits::PublicKeyParts as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256, Sha512};

use crate::error::Cause;

/// A JWS algorithm this server signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the algorithm every OpenID relying party supports).
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "ES256" => Some(Self::ES256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }

    /// The left half of the hash the algorithm uses, base64url: `at_hash`
    /// (OpenID Connect Core §3.1.3.6). Ed25519 uses SHA-512.
    pub fn half_hash(self, value: &str) -> String {
        match self {
            Self::RS256 | Self::ES256 => {
                let digest = Sha256::digest(value.as_bytes());
                URL_SAFE_NO_PAD.encode(&digest[..16])
            }
            Self::EdDSA => {
                let digest = Sha512::digest(value.as_bytes());
                URL_SAFE_NO_PAD.encode(&digest[..32])
            }
        }
    }
}

/// A boxed error from a cryptography or encoding library.
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a key could not be loaded or a token not made.
///
/// The library's own error, when there is one, is the
/// [`source`](std::error::Error::source): print the chain (`{:#}` with
/// anyhow) to see it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM or JWK does not hold a usable private key of the named algorithm.
    #[error("not a {alg} private key")]
    Parse {
        /// The algorithm (`RS256`, `ES256`, `EdDSA`) or `JWK`.
        alg: &'static str,
        /// What the parser said.
        #[source]
        source: BoxError,
    },
    /// A JWK member is missing or malformed.
    #[error("the JWK member {member:?} is missing or malformed")]
    JwkMember {
        /// The member's name.
        member: &'static str,
        /// Why it could not be decoded, when a decoder said so.
        #[source]
        source: Option<BoxError>,
    },
    /// A JWK whose `kty` is not RSA, EC or OKP.
    #[error("unsupported JWK kty {0:?}")]
    UnsupportedKty(Option<String>),
    /// An RSA key shorter than 2048 bits.
    #[error("RSA keys must have at least 2048 bits")]
    WeakRsa,
    /// A key set without keys, or whose active kid is missing, or with duplicate kids.
    #[error("key set: {0}")]
    Set(String),
    /// A new key could not be generated or encoded.
    #[error("key generation failed")]
    Generate(#[source] BoxError),
    /// Signing failed.
    #[error("signing failed")]
    Sign(#[source] BoxError),
}

/// A private signing key with its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    signer: Arc<Signer>,
    public: Arc<PublicKey>,
    jwk: serde_json::Value,
}

/// The private half, ready to sign.
enum Signer {
    /// ECDSA P-256 with SHA-256 (`ring`).
    Es256(ring::signature::EcdsaKeyPair),
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`ring`, keys of 2048 to 4096 bits).
    Rs256(ring::signature::RsaKeyPair),
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`rsa`), for keys longer than `ring`
    /// signs with (over 4096 bits).
    Rs256Large(rsa::pkcs1v15::SigningKey<Sha256>),
    /// Ed25519 (`ring`).
    EdDsa(ring::signature::Ed25519KeyPair),
}

impl Signer {
    /// The signature of `input`, as JWS carries it (ECDSA: `r || s`).
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError::Sign("the signer refused".into());
        let rng = ring::rand::SystemRandom::new();
        match self {
            Self::Es256(pair) => Ok(pair.sign(&rng, input).map_err(failed)?.as_ref().to_vec()),
            Self::Rs256(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, input, &mut signature).map_err(failed)?;
                Ok(signature)
            }
            Self::Rs256Large(key) => {
                use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
                // Blinded by the random generator, as `ring` blinds.
                let signature = key.try_sign_with_rng(&mut rand::thread_rng(), input);
                Ok(signature.map_err(|e| KeyError::Sign(e.into()))?.to_vec())
            }
            Self::EdDsa(pair) => Ok(pair.sign(input).as_ref().to_vec()),
        }
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn parse_err(alg: SigningAlg) -> impl Fn(BoxError) -> KeyError {
    move |source| KeyError::Parse { alg: alg.as_str(), source }
}

impl SigningKey {
    /// Loads a private key from PEM (PKCS#8; PKCS#1 for RSA and SEC1 for P-256 also work).
    pub fn from_pem(kid: impl Into<String>, alg: SigningAlg, pem: &str) -> Result<Self, KeyError> {
        let err = parse_err(alg);
        match alg {
            SigningAlg::RS256 => {
                use rsa::pkcs1::DecodeRsaPrivateKey as _;
                use rsa::pkcs8::DecodePrivateKey as _;
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                    .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
                    .map_err(|e| err(e.into()))?;
                Self::from_rsa(kid.into(), key)
            }
            SigningAlg::ES256 => {
                use p256::pkcs8::DecodePrivateKey as _;
                let key = p256::SecretKey::from_pkcs8_pem(pem)
                    .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
                    .map_err(|e| err(e.into()))?;
                Self::from_p256(kid.into(), &key)
            }
            SigningAlg::EdDSA => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|e| err(e.into()))?;
                Self::from_ed25519(kid.into(), &key)
            }
        }
    }

    /// Loads a private key from a JWK (`kty` RSA with `n e d p q`, EC P-256 with
    /// `x y d`, or OKP Ed25519 with `x d`); `kid` and `alg` come from the JWK.
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<Self, KeyError> {
        let missing = |member| KeyError::JwkMember { member, source: None };
        let field = |member: &'static str| -> Result<Vec<u8>, KeyError> {
            let value = jwk.get(member).and_then(|v| v.as_str()).ok_or_else(|| missing(member))?;
            URL_SAFE_NO_PAD.decode(value).map_err(|e| KeyError::JwkMember { member, source: Some(e.into()) })
        };
        let kid = jwk.get("kid").and_then(|v| v.as_str()).ok_or_else(|| missing("kid"))?;
        match jwk.get("kty").and_then(|v| v.as_str()) {
            Some("RSA") => {
                let n = rsa::BigUint::from_bytes_be(&field("n")?);
                let e = rsa::BigUint::from_bytes_be(&field("e")?);
                let d = rsa::BigUint::from_bytes_be(&field("d")?);
                let primes = vec![rsa::BigUint::from_bytes_be(&field("p")?), rsa::BigUint::from_bytes_be(&field("q")?)];
                let key = rsa::RsaPrivateKey::from_components(n, e, d, primes)
                    .map_err(|e| parse_err(SigningAlg::RS256)(e.into()))?;
                Self::from_rsa(kid.to_owned(), key)
            }
            Some("EC") => {
                let key =
                    p256::SecretKey::from_slice(&field("d")?).map_err(|e| parse_err(SigningAlg::ES256)(e.into()))?;
                Self::from_p256(kid.to_owned(), &key)
            }
            Some("OKP") => {
                let d: [u8; 32] = field("d")?.try_into().map_err(|_| missing("d"))?;
                Self::from_ed25519(kid.to_owned(), &ed25519_dalek::SigningKey::from_bytes(&d))
            }
            other => Err(KeyError::UnsupportedKty(other.map(str::to_owned))),
        }
    }

    /// Generates a fresh key (RSA: 2048 bits).
    pub fn generate(kid: impl Into<String>, alg: SigningAlg) -> Result<Self, KeyError> {
        let kid = kid.into();
        match alg {
            SigningAlg::RS256 => {
                let key =
                    rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| KeyError::Generate(e.into()))?;
                Self::from_rsa(kid, key)
            }
            SigningAlg::ES256 => Self::from_p256(kid, &p256::SecretKey::random(&mut rand::rngs::OsRng)),
            SigningAlg::EdDSA => Self::from_ed25519(kid, &ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng)),
        }
    }

    /// Generates a private key and returns it as a PKCS#8 PEM, for key files
    /// (`oauth-server keys generate`).
    pub fn generate_pem(alg: SigningAlg) -> Result<String, KeyError> {
        use p256::pkcs8::LineEnding;
        let pem = match alg {
            SigningAlg::RS256 => {
                use rsa::pkcs8::EncodePrivateKey as _;
                let key =
                    rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| KeyError::Generate(e.into()))?;
                key.to_pkcs8_pem(LineEnding::LF).map(|p| p.to_string())
            }
            SigningAlg::ES256 => {
                use p256::pkcs8::EncodePrivateKey as _;
                p256::SecretKey::random(&mut rand::rngs::OsRng).to_pkcs8_pem(LineEnding::LF).map(|p| p.to_string())
            }
            SigningAlg::EdDSA => ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng)
                .to_pkcs8_pem(LineEnding::LF)
                .map(|p| p.to_string()),
        };
        pem.map_err(|e| KeyError::Generate(e.into()))
    }

    fn from_rsa(kid: String, key: rsa::RsaPrivateKey) -> Result<Self, KeyError> {
        if key.size() < 256 {
            return Err(KeyError::WeakRsa);
        }
        use rsa::pkcs8::EncodePrivateKey as _;
        let err = parse_err(SigningAlg::RS256);
        let (n, e) = (b64(&key.n().to_bytes_be()), b64(&key.e().to_bytes_be()));
        let signer = if key.size() <= 512 {
            let der = key.to_pkcs8_der().map_err(|e| err(e.into()))?;
            let pair =
                ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| err(e.to_string().into()))?;
            Signer::Rs256(pair)
        } else {
            Signer::Rs256Large(rsa::pkcs1v15::SigningKey::new(key))
        };
        let jwk = serde_json::json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
        Self::new(kid, SigningAlg::RS256, signer, jwk)
    }

    fn from_p256(kid: String, key: &p256::SecretKey) -> Result<Self, KeyError> {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        use p256::pkcs8::EncodePrivateKey as _;
        let err = parse_err(SigningAlg::ES256);
        let der = key.to_pkcs8_der().map_err(|e| err(e.into()))?;
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der.as_bytes(),
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| err(e.to_string().into()))?;
        let point = key.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else { return Err(err("no public point".into())) };
        let (x, y) = (b64(x), b64(y));
        let jwk = serde_json::json!({ "kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256", "x": x, "y": y });
        Self::new(kid, SigningAlg::ES256, Signer::Es256(pair), jwk)
    }

    fn from_ed25519(kid: String, key: &ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        let err = parse_err(SigningAlg::EdDSA);
        let pair =
            ring::signature::Ed25519KeyPair::from_seed_and_public_key(key.as_bytes(), key.verifying_key().as_bytes())
                .map_err(|e| err(e.to_string().into()))?;
        let x = b64(key.verifying_key().as_bytes());
        let jwk =
            serde_json::json!({ "kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": kid, "crv": "Ed25519", "x": x });
        Self::new(kid, SigningAlg::EdDSA, Signer::EdDsa(pair), jwk)
    }

    /// A key from its signer and public JWK.
    fn new(kid: String, alg: SigningAlg, signer: Signer, jwk: serde_json::Value) -> Result<Self, KeyError> {
        let public = jwk
            .as_object()
            .and_then(|members| public_key(members, alg.algorithm()).ok())
            .ok_or_else(|| parse_err(alg)("the public key does not load".into()))?;
        Ok(Self { kid, alg, signer: Arc::new(signer), public: Arc::new(public), jwk })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// Signs `claims` as a compact JWS with `kid`, `alg` and the given `typ`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let header = serde_json::json!({ "typ": typ, "alg": self.alg.as_str(), "kid": self.kid });
        let claims = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.into()))?;
        let header = serde_json::to_vec(&header).map_err(|e| KeyError::Sign(e.into()))?;
        self.sign_input(format!("{}.{}", b64(&header), b64(&claims)))
    }

    /// Signs `claims` with the given protected `header` as it is (its `alg`
    /// is not checked against the key's): for DPoP proofs, which carry the
    /// public JWK in the header, and for tests that need malformed headers.
    pub fn sign_with_header(&self, header: &serde_json::Value, claims: &serde_json::Value) -> Result<String, KeyError> {
        let encode = |v: &serde_json::Value| serde_json::to_vec(v).map(|bytes| b64(&bytes));
        let input = format!(
            "{}.{}",
            encode(header).map_err(|e| KeyError::Sign(e.into()))?,
            encode(claims).map_err(|e| KeyError::Sign(e.into()))?
        );
        self.sign_input(input)
    }

    /// Appends the signature of `input` (`header.payload`) to it.
    fn sign_input(&self, input: String) -> Result<String, KeyError> {
        let signature = self.signer.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", b64(&signature)))
    }
}

/// The published keys: one active signer and any number of retired keys that
/// still verify the tokens they signed until those expire.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
    active: usize,
}

/// Why a JWT was refused. The decoder's own error, when there is one, is the
/// [`source`](std::error::Error::source).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The header is not a JOSE header.
    #[error("invalid token: malformed header")]
    Header(#[source] Cause),
    /// The `typ` is not the expected one.
    #[error("invalid token: unexpected typ")]
    Typ,
    /// The header has no `kid`.
    #[error("invalid token: no kid")]
    NoKid,
    /// No key of the set has the `kid`.
    #[error("invalid token: unknown kid")]
    UnknownKid,
    /// The `alg` is not the key's.
    #[error("invalid token: algorithm does not match the key")]
    Algorithm,
    /// The signature, the issuer or a required claim was refused.
    #[error("invalid token: signature or claims refused")]
    Refused(#[source] Cause),
    /// No `exp` claim.
    #[error("invalid token: no exp")]
    NoExp,
    /// `exp` has passed.
    #[error("invalid token: expired")]
    Expired,
    /// The claims do not have the expected shape.
    #[error("invalid token: unexpected claims")]
    Claims(#[source] Cause),
}

impl KeySet {
    /// A key set whose signer is `active_kid`.
    pub fn new(keys: Vec<SigningKey>, active_kid: &str) -> Result<Self, KeyError> {
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(KeyError::Set(format!("duplicate kid {:?}", key.kid)));
            }
        }
        let active = keys
            .iter()
            .position(|k| k.kid == active_kid)
            .ok_or_else(|| KeyError::Set(format!("no key with the active kid {active_kid:?}")))?;
        Ok(Self { keys, active })
    }

    /// The signer.
    pub fn active(&self) -> &SigningKey {
        &self.keys[self.active]
    }

    /// Every key.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The JWK Set document (RFC 7517 §5): public keys only.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// The algorithms of the published keys, the active one first.
    pub fn algs(&self) -> Vec<&'static str> {
        let mut algs = vec![self.active().alg.as_str()];
        for key in &self.keys {
            if !algs.contains(&key.alg.as_str()) {
                algs.push(key.alg.as_str());
            }
        }
        algs
    }

    /// Verifies a JWT signed by one of the keys: signature, `typ`, `iss`, and,
    /// when `now` is given, that `exp` is later (the server's clock, not the
    /// system's); then decodes the claims.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        now: Option<u64>,
    ) -> Result<T, JwtError> {
        let header = protected_header(token).ok_or_else(|| JwtError::Header(Arc::new(Refusal("not a JOSE header"))))?;
        let text = |name: &str| header.get(name).and_then(serde_json::Value::as_str);
        if text("typ").map(str::to_ascii_lowercase) != Some(typ.to_ascii_lowercase()) {
            return Err(JwtError::Typ);
        }
        let kid = text("kid").ok_or(JwtError::NoKid)?;
        let key = self.keys.iter().find(|k| k.kid == kid).ok_or(JwtError::UnknownKid)?;
        if text("alg") != Some(key.alg.as_str()) {
            return Err(JwtError::Algorithm);
        }
        let refused = |why| JwtError::Refused(Arc::new(Refusal(why)));
        let claims = verify_jws(token, &key.public).map_err(|e| match e {
            JwsError::Signature => refused("the signature does not verify"),
            JwsError::Malformed => refused("the payload is not JSON"),
        })?;
        if claims.get("iss").and_then(serde_json::Value::as_str) != Some(issuer) {
            return Err(refused("the issuer is not this one"));
        }
        if claims.get("exp").is_none() {
            return Err(refused("no exp claim"));
        }
        if let Some(now) = now {
            let exp = claims.get("exp").and_then(serde_json::Value::as_u64).ok_or(JwtError::NoExp)?;
            if exp <= now {
                return Err(JwtError::Expired);
            }
        }
        serde_json::from_value(claims).map_err(|e| JwtError::Claims(Arc::new(e)))
    }
}

/// Why a JWT was refused, as the source of a [`JwtError`].
#[derive(Debug, Clone, Copy)]
struct Refusal(&'static str);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refusal {}

/// A JWS algorithm this server verifies (RFC 7518 §3.1, RFC 8037 §3.1):
/// asymmetric only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
}

/// The asymmetric JWS algorithms a presented JWT (a DPoP proof, a client
/// assertion) may use: never `none` or HMAC.
const ASYMMETRIC: &[(&str, Algorithm)] = &[
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
    // The fully-specified name of RFC 9864 (EdDSA on Ed25519), which newer
    // clients (openid-client 6) put in headers; allowed wherever EdDSA is.
    ("Ed25519", Algorithm::EdDSA),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
];

/// The asymmetric algorithm with this JOSE name.
pub(crate) fn asymmetric_alg(name: &str) -> Option<Algorithm> {
    ASYMMETRIC.iter().find(|(n, _)| *n == name).map(|(_, alg)| *alg)
}

/// The JOSE name of an asymmetric algorithm.
pub(crate) fn asymmetric_alg_name(alg: Algorithm) -> Option<&'static str> {
    ASYMMETRIC.iter().find(|(_, a)| *a == alg).map(|(n, _)| *n)
}

/// An allow-list of asymmetric algorithms from their JOSE names; refuses an
/// empty list and names anything else.
pub(crate) fn asymmetric_algs(names: &[&str]) -> Result<Vec<Algorithm>, String> {
    if names.is_empty() {
        return Err("at least one signing algorithm is needed".into());
    }
    names
        .iter()
        .map(|name| {
            asymmetric_alg(name)
                .ok_or_else(|| format!("{name:?} is not an asymmetric JWS algorithm this server verifies"))
        })
        .collect()
}

/// JWK members that only a private or symmetric key has (RFC 7518 §6.2.2,
/// §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a presented JWK cannot verify anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublicKeyError {
    /// It carries private (or symmetric) key material.
    Private,
    /// Unknown key type, missing members, or not a valid key.
    Unusable,
}

/// The decoded protected header of a compact JWS, before any verification
/// (to choose the algorithm and key); `None` unless it is a JSON object.
pub(crate) fn protected_header(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(header) => Some(header),
        _ => None,
    }
}

/// The decoded claims of a compact JWS, before any verification (to find
/// which client an assertion claims to come from); `None` unless a JSON object.
pub(crate) fn unverified_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// A verification key for one algorithm, from a public JWK that a stranger
/// sent (a DPoP proof's `jwk`, a client's registered key).
///
/// The backend is chosen by measurement (docs/performance.md): ECDSA and RSA
/// (PKCS#1 v1.5 and PSS) verify with `ring`, several times faster than the
/// RustCrypto crates; Ed25519 verifies with `ed25519-dalek`, as fast as
/// `ring`'s.
pub(crate) struct PublicKey {
    verifier: Verifier,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").finish_non_exhaustive()
    }
}

enum Verifier {
    /// ECDSA with `ring`: the algorithm and the uncompressed SEC1 point.
    Ecdsa(&'static ring::signature::EcdsaVerificationAlgorithm, Vec<u8>),
    /// RSA with `ring`: the padding and hash, and the modulus and exponent.
    Rsa(&'static ring::signature::RsaParameters, ring::signature::RsaPublicKeyComponents<Vec<u8>>),
    /// Ed25519 with `ed25519-dalek`.
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Why a compact JWS was refused by [`verify_jws`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwsError {
    /// A part does not decode, or the payload is not JSON.
    Malformed,
    /// The signature does not verify with the key.
    Signature,
}

/// RSA moduli accepted from strangers, in bits: the least this server signs
/// with, and the most `ring` verifies.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// A verification key for `alg` from a public JWK: its `kty` (and `crv`)
/// must be the algorithm's, its members well formed.
pub(crate) fn public_key(
    jwk: &serde_json::Map<String, serde_json::Value>,
    alg: Algorithm,
) -> Result<PublicKey, PublicKeyError> {
    use ring::signature as rs;
    if PRIVATE_MEMBERS.iter().any(|member| jwk.contains_key(*member)) {
        return Err(PublicKeyError::Private);
    }
    let text = |name: &str| jwk.get(name).and_then(serde_json::Value::as_str);
    let bytes = |name: &str| -> Result<Vec<u8>, PublicKeyError> {
        text(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok()).ok_or(PublicKeyError::Unusable)
    };
    let ec = |crv: &str, len: usize, verifier: &'static rs::EcdsaVerificationAlgorithm| {
        if text("kty") != Some("EC") || text("crv") != Some(crv) {
            return Err(PublicKeyError::Unusable);
        }
        let (x, y) = (bytes("x")?, bytes("y")?);
        if x.len() != len || y.len() != len {
            return Err(PublicKeyError::Unusable);
        }
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(Verifier::Ecdsa(verifier, point))
    };
    let rsa = |params: &'static rs::RsaParameters| {
        if text("kty") != Some("RSA") {
            return Err(PublicKeyError::Unusable);
        }
        let (mut n, mut e) = (bytes("n")?, bytes("e")?);
        let strip = |v: &mut Vec<u8>| {
            let zeros = v.iter().take_while(|b| **b == 0).count();
            v.drain(..zeros);
        };
        strip(&mut n);
        strip(&mut e);
        let bits = n.first().map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
        if !RSA_BITS.contains(&bits) || e.is_empty() {
            return Err(PublicKeyError::Unusable);
        }
        Ok(Verifier::Rsa(params, rs::RsaPublicKeyComponents { n, e }))
    };
    let verifier = match alg {
        Algorithm::ES256 => ec("P-256", 32, &rs::ECDSA_P256_SHA256_FIXED)?,
        Algorithm::ES384 => ec("P-384", 48, &rs::ECDSA_P384_SHA384_FIXED)?,
        Algorithm::RS256 => rsa(&rs::RSA_PKCS1_2048_8192_SHA256)?,
        Algorithm::RS384 => rsa(&rs::RSA_PKCS1_2048_8192_SHA384)?,
        Algorithm::RS512 => rsa(&rs::RSA_PKCS1_2048_8192_SHA512)?,
        Algorithm::PS256 => rsa(&rs::RSA_PSS_2048_8192_SHA256)?,
        Algorithm::PS384 => rsa(&rs::RSA_PSS_2048_8192_SHA384)?,
        Algorithm::PS512 => rsa(&rs::RSA_PSS_2048_8192_SHA512)?,
        Algorithm::EdDSA => {
            if text("kty") != Some("OKP") || text("crv") != Some("Ed25519") {
                return Err(PublicKeyError::Unusable);
            }
            let x: [u8; 32] = bytes("x")?.try_into().map_err(|_| PublicKeyError::Unusable)?;
            Verifier::Ed25519(ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| PublicKeyError::Unusable)?)
        }
    };
    Ok(PublicKey { verifier })
}

/// Whether a registered JWK can verify with some algorithm of the
/// allow-list (for checking a client's `jwks` when it is registered): the
/// rules of [`public_key`] for the algorithm its `kty` and `crv` name.
pub(crate) fn usable_public_key(jwk: &serde_json::Map<String, serde_json::Value>) -> Result<(), PublicKeyError> {
    let mut outcome = Err(PublicKeyError::Unusable);
    for (_, alg) in ASYMMETRIC {
        match public_key(jwk, *alg) {
            Ok(_) => return Ok(()),
            Err(PublicKeyError::Private) => return Err(PublicKeyError::Private),
            Err(e) => outcome = Err(e),
        }
    }
    outcome
}

/// Verifies the signature of a compact JWS with `key` (whose algorithm the
/// caller took from the header and checked against its allow-list), then
/// decodes its payload as JSON.
pub(crate) fn verify_jws(token: &str, key: &PublicKey) -> Result<serde_json::Value, JwsError> {
    let (input, signature) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| JwsError::Malformed)?;
    let valid = match &key.verifier {
        Verifier::Ecdsa(alg, point) => {
            ring::signature::UnparsedPublicKey::new(*alg, point).verify(input.as_bytes(), &signature).is_ok()
        }
        Verifier::Rsa(params, components) => components.verify(params, input.as_bytes(), &signature).is_ok(),
        Verifier::Ed25519(verifying) => ed25519_dalek::Signature::from_slice(&signature)
            .is_ok_and(|sig| ed25519_dalek::Verifier::verify(verifying, input.as_bytes(), &sig).is_ok()),
    };
    if !valid {
        return Err(JwsError::Signature);
    }
    let payload = input.split('.').nth(1).ok_or(JwsError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| JwsError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwsError::Malformed)
}

/// True when `token` has the shape of a compact JWS (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let all_b64 = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    matches!((parts.next(), parts.next(), parts.next(), parts.next()), (Some(a), Some(b), Some(c), None) if all_b64(a) && all_b64(b) && all_b64(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600;

    #[test]
    fn sign_verify_and_jwks_for_each_algorithm() {
        for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
            let key = SigningKey::generate("k1", alg).unwrap();
            let set = KeySet::new(vec![key], "k1").unwrap();
            let claims = serde_json::json!({ "iss": "https://i.example", "exp": 4_000_000_000u64, "sub": "s" });
            let jwt = set.active().sign("JWT", &claims).unwrap();
            assert!(looks_like_jwt(&jwt));
            let back: serde_json::Value = set.verify(&jwt, "JWT", "https://i.example", Some(NOW)).unwrap();
            assert_eq!(back["sub"], "s");
            assert!(set.verify::<serde_json::Value>(&jwt, "at+jwt", "https://i.example", Some(NOW)).is_err(), "typ");
            assert!(set.verify::<serde_json::Value>(&jwt, "JWT", "https://other.example", Some(NOW)).is_err(), "iss");
            let mut tampered = jwt.clone();
            tampered.replace_range(jwt.len() - 4.., "AAAA");
            assert!(
                set.verify::<serde_json::Value>(&tampered, "JWT", "https://i.example", Some(NOW)).is_err(),
                "signature"
            );
            let jwks = set.jwks();
            assert_eq!(jwks["keys"][0]["alg"], alg.as_str());
            assert!(jwks["keys"][0].get("d").is_none(), "no private part in the JWKS");
        }
    }

    #[test]
    fn expired_tokens_and_retired_keys() {
        let old = SigningKey::generate("old", SigningAlg::ES256).unwrap();
        let new = SigningKey::generate("new", SigningAlg::EdDSA).unwrap();
        let before = KeySet::new(vec![old.clone()], "old").unwrap();
        let jwt = before.active().sign("JWT", &serde_json::json!({ "iss": "i", "exp": 4_000_000_000u64 })).unwrap();
        let after = KeySet::new(vec![new, old], "new").unwrap();
        assert_eq!(after.active().kid(), "new");
        assert!(after.verify::<serde_json::Value>(&jwt, "JWT", "i", Some(NOW)).is_ok(), "a retired key still verifies");
        let expired = before.active().sign("JWT", &serde_json::json!({ "iss": "i", "exp": NOW })).unwrap();
        assert!(before.verify::<serde_json::Value>(&expired, "JWT", "i", Some(NOW)).is_err());
        assert!(before.verify::<serde_json::Value>(&expired, "JWT", "i", Some(NOW - 1)).is_ok());
        assert!(before.verify::<serde_json::Value>(&expired, "JWT", "i", None).is_ok());
        assert!(KeySet::new(vec![], "x").is_err());
    }

    #[test]
    fn at_hash_matches_the_spec_example() {
        // OpenID Connect Core, A.3/A.4: at_hash of this token under RS256.
        assert_eq!(
            SigningAlg::RS256.half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn generated_pem_loads() {
        for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
            let pem = SigningKey::generate_pem(alg).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            assert_eq!(SigningKey::from_pem("k", alg, &pem).unwrap().alg(), alg);
            let other = if alg == SigningAlg::ES256 { SigningAlg::EdDSA } else { SigningAlg::ES256 };
            assert!(SigningKey::from_pem("k", other, &pem).is_err(), "a key is loaded only as its own algorithm");
        }
    }

    /// A compact JWS over `claims` signed by ring with `alg`'s padding.
    fn ring_jws(header: &serde_json::Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let enc = |v: &serde_json::Value| b64(&serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", enc(header), enc(&serde_json::json!({ "jti": "j" })));
        let signature = sign(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    #[test]
    fn presented_keys_verify_with_ring_for_pss_and_p384() {
        use ring::signature::{self as rs, KeyPair as _};
        let rng = ring::rand::SystemRandom::new();
        // PS256 with a 2048-bit key.
        let pem = SigningKey::generate_pem(SigningAlg::RS256).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
        let rsa = rs::RsaKeyPair::from_pkcs8(&der).unwrap();
        let jwk = SigningKey::from_pem("k", SigningAlg::RS256, &pem).unwrap().public_jwk().as_object().unwrap().clone();
        let jws = ring_jws(&serde_json::json!({ "alg": "PS256" }), |input| {
            let mut sig = vec![0; rsa.public().modulus_len()];
            rsa.sign(&rs::RSA_PSS_SHA256, &rng, input, &mut sig).unwrap();
            sig
        });
        let key = public_key(&jwk, Algorithm::PS256).unwrap();
        assert_eq!(verify_jws(&jws, &key).unwrap()["jti"], "j");
        let rs256 = public_key(&jwk, Algorithm::RS256).unwrap();
        assert_eq!(verify_jws(&jws, &rs256).unwrap_err(), JwsError::Signature, "PSS is not PKCS#1 v1.5");

        // ES384 (P-384).
        let pkcs8 = rs::EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
        let ec = rs::EcdsaKeyPair::from_pkcs8(&rs::ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let point = ec.public_key().as_ref();
        let jwk = serde_json::json!({ "kty": "EC", "crv": "P-384", "x": b64(&point[1..49]), "y": b64(&point[49..]) });
        let jwk = jwk.as_object().unwrap();
        let jws =
            ring_jws(&serde_json::json!({ "alg": "ES384" }), |input| ec.sign(&rng, input).unwrap().as_ref().to_vec());
        assert!(verify_jws(&jws, &public_key(jwk, Algorithm::ES384).unwrap()).is_ok());
        let mut tampered = jws.clone();
        tampered.replace_range(jws.len() - 4.., "AAAA");
        assert_eq!(
            verify_jws(&tampered, &public_key(jwk, Algorithm::ES384).unwrap()).unwrap_err(),
            JwsError::Signature
        );
        assert_eq!(public_key(jwk, Algorithm::ES256).unwrap_err(), PublicKeyError::Unusable, "a P-384 key for ES256");
    }

    #[test]
    fn presented_keys_must_fit_their_algorithm() {
        let unusable = |jwk: serde_json::Value, alg| {
            assert_eq!(public_key(jwk.as_object().unwrap(), alg).unwrap_err(), PublicKeyError::Unusable, "{jwk}");
        };
        let ec = SigningKey::generate("e", SigningAlg::ES256).unwrap().public_jwk().clone();
        let ed = SigningKey::generate("d", SigningAlg::EdDSA).unwrap().public_jwk().clone();
        unusable(ec.clone(), Algorithm::EdDSA);
        unusable(ec.clone(), Algorithm::RS256);
        unusable(ed.clone(), Algorithm::ES256);
        let mut short = ec.clone();
        short["x"] = b64(&[1; 31]).into();
        unusable(short, Algorithm::ES256);
        let mut padded = ed.clone();
        padded["x"] = format!("{}=", ed["x"].as_str().unwrap()).into();
        unusable(padded, Algorithm::EdDSA);
        // RSA: 2048 to 8192 bits only; a leading zero byte does not count.
        let small = b64(&[0xC5; 128]);
        unusable(serde_json::json!({ "kty": "RSA", "n": small, "e": "AQAB" }), Algorithm::RS256);
        let mut zero_led = vec![0u8];
        zero_led.extend([0xC5; 256]);
        let jwk = serde_json::json!({ "kty": "RSA", "n": b64(&zero_led), "e": "AQAB" });
        assert!(public_key(jwk.as_object().unwrap(), Algorithm::RS256).is_ok());
        let jwk = serde_json::json!({ "kty": "RSA", "n": b64(&[0xC5; 1025]), "e": "AQAB" });
        unusable(jwk, Algorithm::PS256);
        // At registration: usable for some algorithm of the allow-list.
        assert_eq!(usable_public_key(ec.as_object().unwrap()), Ok(()));
        assert_eq!(usable_public_key(ed.as_object().unwrap()), Ok(()));
        let weak = serde_json::json!({ "kty": "RSA", "n": b64(&[0xC5; 128]), "e": "AQAB" });
        assert_eq!(usable_public_key(weak.as_object().unwrap()), Err(PublicKeyError::Unusable));
        let oct = serde_json::json!({ "kty": "oct" });
        assert_eq!(usable_public_key(oct.as_object().unwrap()), Err(PublicKeyError::Unusable));
        let mut private = ec;
        private["d"] = "AAAA".into();
        assert_eq!(usable_public_key(private.as_object().unwrap()), Err(PublicKeyError::Private));
        assert_eq!(public_key(private.as_object().unwrap(), Algorithm::ES256).unwrap_err(), PublicKeyError::Private);
    }

    #[test]
    fn rsa_keys_beyond_ring_sign_with_rsa() {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 4608).unwrap();
        let key = SigningKey::from_rsa("big".into(), key).unwrap();
        assert!(matches!(*key.signer, Signer::Rs256Large(_)));
        let set = KeySet::new(vec![key], "big").unwrap();
        let jwt = set.active().sign("JWT", &serde_json::json!({ "iss": "i", "exp": 4_000_000_000u64 })).unwrap();
        assert!(set.verify::<serde_json::Value>(&jwt, "JWT", "i", Some(NOW)).is_ok());
    }

    #[test]
    fn jwk_round_trip() {
        let key = SigningKey::generate("e", SigningAlg::EdDSA).unwrap();
        let mut jwk = key.public_jwk().clone();
        assert!(SigningKey::from_jwk(&jwk).is_err(), "a public JWK cannot sign");
        jwk["d"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
        assert_eq!(SigningKey::from_jwk(&jwk).unwrap().kid(), "e");
    }
}
