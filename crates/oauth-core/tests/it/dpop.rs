//! DPoP proofs (RFC 9449 §4.3): every check of `dpop::verify`, one row each,
//! with proofs signed by real RS256, ES256 and Ed25519 keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_core::dpop::{self, DpopError, DpopRules, ProofTarget};
use oauth_core::jose::{SigningAlg, SigningKey};
use serde_json::{Value, json};

use crate::support::with;

const NOW: u64 = 1_800_000_000;
const TOKEN_URI: &str = "https://as.example.com/oauth/token";

fn key(alg: SigningAlg) -> SigningKey {
    SigningKey::generate("k", alg).unwrap()
}

fn header(key: &SigningKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": key.alg().as_str(), "jwk": key.public_jwk()})
}

fn claims() -> Value {
    json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": TOKEN_URI, "iat": NOW})
}

fn at_token() -> ProofTarget<'static> {
    ProofTarget { method: "POST", uri: TOKEN_URI, access_token: None }
}

#[test]
fn valid_proofs_verify_for_each_algorithm_and_give_the_key_thumbprint() {
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
        let key = key(alg);
        let proof = key.sign_with_header(&header(&key), &claims()).unwrap();
        let verified = dpop::verify(&proof, &at_token(), &DpopRules::default(), NOW).unwrap();
        let expected = dpop::thumbprint(key.public_jwk().as_object().unwrap()).unwrap();
        assert_eq!(verified.jkt, expected, "{alg:?}");
        assert_eq!(verified.jti, "e1j3V_bKic8-LAEB");
        assert_eq!(verified.iat, NOW);
        assert_eq!(verified.nonce, None);
    }
}

/// RFC 9864's fully-specified `Ed25519` names the same algorithm as `EdDSA`
/// (openid-client 6 sends it): accepted wherever EdDSA is allowed, refused
/// when it is not, and never for another key type.
#[test]
fn the_ed25519_name_is_eddsa() {
    let ed = key(SigningAlg::EdDSA);
    let proof = ed.sign_with_header(&with(header(&ed), "alg", json!("Ed25519")), &claims()).unwrap();
    assert!(dpop::verify(&proof, &at_token(), &DpopRules::default(), NOW).is_ok());
    let es_only = DpopRules::new(&["ES256"], 60, 5).unwrap();
    assert_eq!(dpop::verify(&proof, &at_token(), &es_only, NOW), Err(DpopError::Algorithm));
    let es = key(SigningAlg::ES256);
    let lying = es.sign_with_header(&with(header(&es), "alg", json!("Ed25519")), &claims()).unwrap();
    assert!(dpop::verify(&lying, &at_token(), &DpopRules::default(), NOW).is_err(), "an EC key under Ed25519");
}

#[test]
fn each_check_refuses_its_defect() {
    let es = key(SigningAlg::ES256);
    let other = key(SigningAlg::ES256);
    let rsa = key(SigningAlg::RS256);
    let h = header(&es);
    let mut private_jwk = es.public_jwk().clone();
    private_jwk["d"] = json!("AAAA");
    let rules = DpopRules::default();
    let es_only = DpopRules::new(&["ES256"], 60, 5).unwrap();
    type Row<'a> = (&'a str, &'a SigningKey, Value, Value, &'a DpopRules, DpopError);
    let rows: Vec<Row<'_>> = vec![
        ("typ JWT", &es, with(h.clone(), "typ", json!("JWT")), claims(), &rules, DpopError::Typ),
        ("no typ", &es, with(h.clone(), "typ", Value::Null), claims(), &rules, DpopError::Typ),
        ("alg HS256", &es, with(h.clone(), "alg", json!("HS256")), claims(), &rules, DpopError::Algorithm),
        ("alg none", &es, with(h.clone(), "alg", json!("none")), claims(), &rules, DpopError::Algorithm),
        ("alg outside allow-list", &rsa, header(&rsa), claims(), &es_only, DpopError::Algorithm),
        ("no jwk", &es, with(h.clone(), "jwk", Value::Null), claims(), &rules, DpopError::Key),
        ("private jwk", &es, with(h.clone(), "jwk", private_jwk), claims(), &rules, DpopError::PrivateKey),
        ("jwk of another alg", &es, with(h.clone(), "jwk", rsa.public_jwk().clone()), claims(), &rules, DpopError::Key),
        (
            "jwk of another key",
            &es,
            with(h.clone(), "jwk", other.public_jwk().clone()),
            claims(),
            &rules,
            DpopError::Signature,
        ),
        ("no jti", &es, h.clone(), with(claims(), "jti", Value::Null), &rules, DpopError::Claims),
        ("long jti", &es, h.clone(), with(claims(), "jti", json!("j".repeat(257))), &rules, DpopError::Claims),
        ("no htm", &es, h.clone(), with(claims(), "htm", Value::Null), &rules, DpopError::Claims),
        ("no iat", &es, h.clone(), with(claims(), "iat", Value::Null), &rules, DpopError::Claims),
        ("string iat", &es, h.clone(), with(claims(), "iat", json!("1800000000")), &rules, DpopError::Claims),
        ("htm GET", &es, h.clone(), with(claims(), "htm", json!("GET")), &rules, DpopError::Method),
        ("htm lower case", &es, h.clone(), with(claims(), "htm", json!("post")), &rules, DpopError::Method),
        (
            "htu of another endpoint",
            &es,
            h.clone(),
            with(claims(), "htu", json!("https://as.example.com/oauth/revoke")),
            &rules,
            DpopError::Uri,
        ),
        (
            "htu of another host",
            &es,
            h.clone(),
            with(claims(), "htu", json!("https://evil.example/oauth/token")),
            &rules,
            DpopError::Uri,
        ),
        ("iat 61 s old", &es, h.clone(), with(claims(), "iat", json!(NOW - 61)), &rules, DpopError::Time),
        ("iat 6 s ahead", &es, h.clone(), with(claims(), "iat", json!(NOW + 6)), &rules, DpopError::Time),
    ];
    for (name, key, header, claims, rules, expected) in rows {
        let proof = key.sign_with_header(&header, &claims).unwrap();
        assert_eq!(dpop::verify(&proof, &at_token(), rules, NOW), Err(expected), "{name}");
    }
}

#[test]
fn the_window_edges_and_htu_normalisation_are_accepted() {
    let key = key(SigningAlg::ES256);
    for (name, claims) in [
        ("iat 60 s old", with(claims(), "iat", json!(NOW - 60))),
        ("iat 5 s ahead", with(claims(), "iat", json!(NOW + 5))),
        ("fractional iat", with(claims(), "iat", json!(NOW as f64 + 0.25))),
        (
            "htu with query, fragment, case, port",
            with(claims(), "htu", json!("HTTPS://AS.example.com:443/oauth/token?a=b#c")),
        ),
    ] {
        let proof = key.sign_with_header(&header(&key), &claims).unwrap();
        assert!(dpop::verify(&proof, &at_token(), &DpopRules::default(), NOW).is_ok(), "{name}");
    }
}

#[test]
fn malformed_proofs_are_refused_without_panicking() {
    let key = key(SigningAlg::ES256);
    let good = key.sign_with_header(&header(&key), &claims()).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |v: &str| URL_SAFE_NO_PAD.encode(v);
    for (name, proof) in [
        ("empty", String::new()),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("unsigned", format!("{}.{}.", parts[0], parts[1])),
        ("header not JSON", format!("{}.{}.{}", b64("not json"), parts[1], parts[2])),
        ("claims not JSON", format!("{}.{}.{}", parts[0], b64("[1,2"), parts[2])),
        ("header not base64url", format!("a+b.{}.{}", parts[1], parts[2])),
        ("too long", format!("{}.{}.{}", parts[0], "A".repeat(dpop::MAX_PROOF_LEN), parts[2])),
    ] {
        assert!(dpop::verify(&proof, &at_token(), &DpopRules::default(), NOW).is_err(), "{name}");
    }
}

#[test]
fn at_a_resource_ath_must_hash_the_presented_token() {
    let key = key(SigningAlg::EdDSA);
    let target = ProofTarget { method: "GET", uri: "https://as.example.com/userinfo", access_token: Some("the-token") };
    let base = json!({"jti": "j", "htm": "GET", "htu": "https://as.example.com/userinfo", "iat": NOW});
    let sign = |c: &Value| key.sign_with_header(&header(&key), c).unwrap();
    let rules = DpopRules::default();
    let good = with(base.clone(), "ath", json!(dpop::access_token_hash("the-token")));
    assert!(dpop::verify(&sign(&good), &target, &rules, NOW).is_ok());
    for claims in [base.clone(), with(base, "ath", json!(dpop::access_token_hash("another-token")))] {
        assert_eq!(dpop::verify(&sign(&claims), &target, &rules, NOW), Err(DpopError::AccessTokenHash), "{claims}");
    }
    // RFC 9449 §4.2's example: ath of "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU".
    assert_eq!(
        dpop::access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn the_nonce_claim_is_handed_to_the_caller() {
    let key = key(SigningAlg::ES256);
    let proof = key.sign_with_header(&header(&key), &with(claims(), "nonce", json!("n-1"))).unwrap();
    let verified = dpop::verify(&proof, &at_token(), &DpopRules::default(), NOW).unwrap();
    assert_eq!(verified.nonce.as_deref(), Some("n-1"));
}
