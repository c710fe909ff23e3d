//! Criterion benchmarks of JWS verification and signing, per algorithm and
//! per backend: what a DPoP proof or a client assertion costs on every bound
//! request, and what signing an ID token or a JWT access token costs.
//!
//! - `dpop::verify/<alg>`: one DPoP proof checked end to end by
//!   `oauth_core::dpop::verify` (header, key from the JWK, signature,
//!   claims, thumbprint), as the server does per request.
//! - `verify/<alg>/<backend>`: the signature alone, from the JWK's raw
//!   members: `rustcrypto` is `jsonwebtoken`'s RustCrypto backend (the
//!   `p256`, `rsa` and `ed25519-dalek` crates), `ring` is the `ring` crate.
//!   Both parse the public key on every call, as a proof carries its own.
//! - `SigningKey::sign/<alg>`: a JWT signed end to end by
//!   `oauth_core::jose::SigningKey::sign`, as ID tokens are.
//! - `sign/<alg>/<backend>`: one signature over a JWT-sized input
//!   (`rustcrypto`: `jsonwebtoken`'s backend, which parses the private key
//!   on every call, as `jose` used it before).
//!
//! Each pair of backends runs in the same sitting, one after the other per
//! algorithm; compare their ratio rather than absolute times.
//!
//! Run with: `cargo bench -p oauth-core --bench jose`.
#![allow(missing_docs, clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use oauth_core::dpop::{self, DpopRules, ProofTarget};
use oauth_core::jose::{SigningAlg, SigningKey};
use ring::signature::{self as rsig, KeyPair as _};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000;
const URI: &str = "https://auth.example.com/oauth/token";

/// The DER inside a PKCS#8 PEM.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn member(jwk: &Value, name: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap()
}

/// A key of each kind, as our signer and as ring's.
struct Keys {
    name: &'static str,
    ours: SigningKey,
    pkcs8: Vec<u8>,
}

fn keys() -> Vec<Keys> {
    [("ES256", SigningAlg::ES256), ("EdDSA", SigningAlg::EdDSA), ("RS256", SigningAlg::RS256)]
        .into_iter()
        .map(|(name, alg)| {
            let pem = SigningKey::generate_pem(alg).unwrap();
            Keys { name, ours: SigningKey::from_pem("k", alg, &pem).unwrap(), pkcs8: pem_der(&pem) }
        })
        .collect()
}

/// The PKCS#1 DER of an RSA private key (what `jsonwebtoken` signs with).
fn rsa_pkcs1(pkcs8: &[u8]) -> Vec<u8> {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    rsa::RsaPrivateKey::from_pkcs8_der(pkcs8).unwrap().to_pkcs1_der().unwrap().as_bytes().to_vec()
}

/// A DPoP proof with the given `alg`, signed by ring (for PS256, which our
/// signer does not make) or by our signer.
fn proof(key: &Keys, alg: &str) -> String {
    let header = json!({"typ": "dpop+jwt", "alg": alg, "jwk": key.ours.public_jwk()});
    let claims = json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": URI, "iat": NOW});
    if alg != "PS256" {
        return key.ours.sign_with_header(&header, &claims).unwrap();
    }
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let input = format!("{}.{}", enc(&header), enc(&claims));
    let pair = rsig::RsaKeyPair::from_pkcs8(&key.pkcs8).unwrap();
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(&rsig::RSA_PSS_SHA256, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Signing input and decoded signature of a compact JWS.
fn split(jws: &str) -> (&str, Vec<u8>) {
    let (input, sig) = jws.rsplit_once('.').unwrap();
    (input, URL_SAFE_NO_PAD.decode(sig).unwrap())
}

/// Verification with `jsonwebtoken`'s RustCrypto backend from the JWK members.
fn verify_rustcrypto(alg: &str, jwk: &Value, input: &[u8], sig_b64: &str) -> bool {
    let s = |name: &str| jwk[name].as_str().unwrap();
    let (key, alg) = match alg {
        "ES256" => (DecodingKey::from_ec_components(s("x"), s("y")).unwrap(), Algorithm::ES256),
        "EdDSA" => (DecodingKey::from_ed_components(s("x")).unwrap(), Algorithm::EdDSA),
        "RS256" => (DecodingKey::from_rsa_components(s("n"), s("e")).unwrap(), Algorithm::RS256),
        _ => (DecodingKey::from_rsa_components(s("n"), s("e")).unwrap(), Algorithm::PS256),
    };
    jsonwebtoken::crypto::verify(sig_b64, input, &key, alg).unwrap()
}

/// Verification with ring from the JWK members.
fn verify_ring(alg: &str, jwk: &Value, input: &[u8], sig_b64: &str) -> bool {
    let sig = URL_SAFE_NO_PAD.decode(sig_b64).unwrap();
    match alg {
        "ES256" => {
            let mut point = vec![4u8];
            point.extend(member(jwk, "x"));
            point.extend(member(jwk, "y"));
            rsig::UnparsedPublicKey::new(&rsig::ECDSA_P256_SHA256_FIXED, point).verify(input, &sig).is_ok()
        }
        "EdDSA" => rsig::UnparsedPublicKey::new(&rsig::ED25519, member(jwk, "x")).verify(input, &sig).is_ok(),
        _ => {
            let params =
                if alg == "RS256" { &rsig::RSA_PKCS1_2048_8192_SHA256 } else { &rsig::RSA_PSS_2048_8192_SHA256 };
            rsig::RsaPublicKeyComponents { n: member(jwk, "n"), e: member(jwk, "e") }
                .verify(params, input, &sig)
                .is_ok()
        }
    }
}

fn benches(c: &mut Criterion) {
    let keys = keys();
    let rules = DpopRules::default();
    let target = ProofTarget { method: "POST", uri: URI, access_token: None };
    let cases: Vec<(&str, &Keys)> =
        vec![("ES256", &keys[0]), ("EdDSA", &keys[1]), ("RS256", &keys[2]), ("PS256", &keys[2])];

    for (alg, key) in &cases {
        let proof = proof(key, alg);
        assert!(dpop::verify(&proof, &target, &rules, NOW).is_ok(), "{alg}");
        c.bench_function(&format!("dpop::verify/{alg}"), |b| {
            b.iter(|| dpop::verify(std::hint::black_box(&proof), &target, &rules, NOW).unwrap())
        });
    }

    for (alg, key) in &cases {
        let proof = proof(key, alg);
        let jwk = key.ours.public_jwk();
        let (input, _) = split(&proof);
        let sig_b64 = proof.rsplit_once('.').unwrap().1;
        // Same accept/reject: the genuine signature passes, a wrong one fails, on both.
        let mut bad = split(&proof).1;
        bad[5] ^= 1;
        let bad_b64 = URL_SAFE_NO_PAD.encode(&bad);
        for f in [verify_rustcrypto, verify_ring] {
            assert!(f(alg, jwk, input.as_bytes(), sig_b64), "{alg}");
            assert!(!f(alg, jwk, input.as_bytes(), &bad_b64), "{alg}");
        }
        let mut group = c.benchmark_group(format!("verify/{alg}"));
        group.bench_function("rustcrypto", |b| {
            b.iter(|| assert!(verify_rustcrypto(alg, jwk, std::hint::black_box(input.as_bytes()), sig_b64)))
        });
        group.bench_function("ring", |b| {
            b.iter(|| assert!(verify_ring(alg, jwk, std::hint::black_box(input.as_bytes()), sig_b64)))
        });
        group.finish();
    }

    // Signing a JWT end to end (header, claims, signature), as ID tokens and
    // JWT access tokens are signed.
    let claims = json!({"iss": "https://auth.example.com", "sub": "user-1", "aud": "client", "exp": NOW + 3600,
        "iat": NOW, "jti": "c2lnbmluZy1iZW5jaA", "scope": "openid profile email"});
    for key in &keys {
        c.bench_function(&format!("SigningKey::sign/{}", key.name), |b| {
            b.iter(|| key.ours.sign("at+jwt", std::hint::black_box(&claims)).unwrap())
        });
    }

    // Signing: an ID-token-sized input.
    let input = "x".repeat(400);
    let rng = ring::rand::SystemRandom::new();
    for key in &keys {
        let mut group = c.benchmark_group(format!("sign/{}", key.name));
        match key.name {
            "ES256" => {
                let enc = EncodingKey::from_ec_der(&key.pkcs8);
                group.bench_function("rustcrypto", |b| {
                    b.iter(|| jsonwebtoken::crypto::sign(input.as_bytes(), &enc, Algorithm::ES256).unwrap())
                });
                let pair =
                    rsig::EcdsaKeyPair::from_pkcs8(&rsig::ECDSA_P256_SHA256_FIXED_SIGNING, &key.pkcs8, &rng).unwrap();
                group.bench_function("ring", |b| b.iter(|| pair.sign(&rng, input.as_bytes()).unwrap()));
            }
            "EdDSA" => {
                let enc = EncodingKey::from_ed_der(&key.pkcs8);
                group.bench_function("rustcrypto", |b| {
                    b.iter(|| jsonwebtoken::crypto::sign(input.as_bytes(), &enc, Algorithm::EdDSA).unwrap())
                });
                let pair = rsig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&key.pkcs8).unwrap();
                let _ = pair.public_key();
                group.bench_function("ring", |b| b.iter(|| pair.sign(input.as_bytes())));
            }
            _ => {
                let enc = EncodingKey::from_rsa_der(&rsa_pkcs1(&key.pkcs8));
                group.bench_function("rustcrypto", |b| {
                    b.iter(|| jsonwebtoken::crypto::sign(input.as_bytes(), &enc, Algorithm::RS256).unwrap())
                });
                let pair = rsig::RsaKeyPair::from_pkcs8(&key.pkcs8).unwrap();
                let mut sig = vec![0; pair.public().modulus_len()];
                group.bench_function("ring", |b| {
                    b.iter(|| pair.sign(&rsig::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig).unwrap())
                });
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = jose;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(jose);
