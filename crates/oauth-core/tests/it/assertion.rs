//! `private_key_jwt` client assertions (RFC 7523 §3): every check of
//! `assertion::verify`, one row per defect, with real RS256, ES256 and
//! Ed25519 keys.

use oauth_core::assertion::{self, AssertionError, AssertionRules};
use oauth_core::jose::{SigningAlg, SigningKey};
use serde_json::{Value, json};

use crate::support::with;

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://as.example.com";
const TOKEN: &str = "https://as.example.com/oauth/token";
const CLIENT: &str = "robot";

fn key(kid: &str, alg: SigningAlg) -> SigningKey {
    SigningKey::generate(kid, alg).unwrap()
}

fn header(key: &SigningKey) -> Value {
    json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "JWT"})
}

fn claims() -> Value {
    json!({"iss": CLIENT, "sub": CLIENT, "aud": TOKEN, "jti": "a-1", "exp": NOW + 60, "iat": NOW})
}

fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>()})
}

fn check(
    assertion: &str,
    jwks: &Value,
    rules: &AssertionRules,
) -> Result<assertion::VerifiedAssertion, AssertionError> {
    assertion::verify(assertion, CLIENT, jwks, &[ISSUER, TOKEN], rules, NOW)
}

#[test]
fn valid_assertions_verify_for_each_algorithm() {
    let keys = [key("rsa", SigningAlg::RS256), key("ec", SigningAlg::ES256), key("ed", SigningAlg::EdDSA)];
    let set = jwks(&keys.iter().collect::<Vec<_>>());
    for key in &keys {
        let jwt = key.sign_with_header(&header(key), &claims()).unwrap();
        let verified = check(&jwt, &set, &AssertionRules::default()).unwrap();
        assert_eq!((verified.jti.as_str(), verified.exp), ("a-1", NOW + 60), "{}", key.kid());
    }
    // The issuer as audience, in an array, and no kid with a single key of the type.
    let ec = &keys[1];
    for (name, header, claims) in [
        ("issuer audience", header(ec), with(claims(), "aud", json!(ISSUER))),
        ("audience array", header(ec), with(claims(), "aud", json!(["https://other.example", TOKEN]))),
        ("no kid", with(header(ec), "kid", Value::Null), claims()),
    ] {
        let jwt = ec.sign_with_header(&header, &claims).unwrap();
        assert!(check(&jwt, &set, &AssertionRules::default()).is_ok(), "{name}");
    }
}

#[test]
fn each_check_refuses_its_defect() {
    let ec = key("ec", SigningAlg::ES256);
    let ec2 = key("ec2", SigningAlg::ES256);
    let rsa = key("rsa", SigningAlg::RS256);
    let stranger = key("ec", SigningAlg::ES256);
    let set = jwks(&[&ec, &rsa]);
    let two_ec = jwks(&[&ec, &ec2]);
    let empty = json!({});
    let rules = AssertionRules::default();
    let es_only = AssertionRules::new(&["ES256"], 300, 5).unwrap();
    let h = header(&ec);
    let mut private_set = set.clone();
    private_set["keys"][0]["d"] = json!("AAAA");
    let mut enc_set = set.clone();
    enc_set["keys"][0]["use"] = json!("enc");
    type Row<'a> = (&'a str, &'a SigningKey, Value, Value, &'a Value, &'a AssertionRules, AssertionError);
    let rows: Vec<Row<'_>> = vec![
        ("alg HS256", &ec, with(h.clone(), "alg", json!("HS256")), claims(), &set, &rules, AssertionError::Algorithm),
        ("alg none", &ec, with(h.clone(), "alg", json!("none")), claims(), &set, &rules, AssertionError::Algorithm),
        ("alg outside allow-list", &rsa, header(&rsa), claims(), &set, &es_only, AssertionError::Algorithm),
        ("unknown kid", &ec, with(h.clone(), "kid", json!("nope")), claims(), &set, &rules, AssertionError::NoKey),
        (
            "no kid, two EC keys",
            &ec,
            with(h.clone(), "kid", Value::Null),
            claims(),
            &two_ec,
            &rules,
            AssertionError::NoKey,
        ),
        ("no keys registered", &ec, h.clone(), claims(), &empty, &rules, AssertionError::NoKey),
        ("registered key is private", &ec, h.clone(), claims(), &private_set, &rules, AssertionError::NoKey),
        ("registered key is for encryption", &ec, h.clone(), claims(), &enc_set, &rules, AssertionError::NoKey),
        (
            "kid of a key of another type",
            &ec,
            with(h.clone(), "kid", json!("rsa")),
            claims(),
            &set,
            &rules,
            AssertionError::NoKey,
        ),
        ("signed by a stranger's key", &stranger, h.clone(), claims(), &set, &rules, AssertionError::Signature),
        (
            "iss another client",
            &ec,
            h.clone(),
            with(claims(), "iss", json!("other")),
            &set,
            &rules,
            AssertionError::Subject,
        ),
        (
            "sub another client",
            &ec,
            h.clone(),
            with(claims(), "sub", json!("other")),
            &set,
            &rules,
            AssertionError::Subject,
        ),
        ("no sub", &ec, h.clone(), with(claims(), "sub", Value::Null), &set, &rules, AssertionError::Subject),
        (
            "aud another server",
            &ec,
            h.clone(),
            with(claims(), "aud", json!("https://evil.example")),
            &set,
            &rules,
            AssertionError::Audience,
        ),
        ("no aud", &ec, h.clone(), with(claims(), "aud", Value::Null), &set, &rules, AssertionError::Audience),
        ("no exp", &ec, h.clone(), with(claims(), "exp", Value::Null), &set, &rules, AssertionError::Expired),
        ("exp now", &ec, h.clone(), with(claims(), "exp", json!(NOW)), &set, &rules, AssertionError::Expired),
        (
            "exp in 301 s",
            &ec,
            h.clone(),
            with(claims(), "exp", json!(NOW + 301)),
            &set,
            &rules,
            AssertionError::Lifetime,
        ),
        (
            "nbf in 6 s",
            &ec,
            h.clone(),
            with(claims(), "nbf", json!(NOW + 6)),
            &set,
            &rules,
            AssertionError::NotYetValid,
        ),
        (
            "iat in 6 s",
            &ec,
            h.clone(),
            with(claims(), "iat", json!(NOW + 6)),
            &set,
            &rules,
            AssertionError::NotYetValid,
        ),
        ("string exp", &ec, h.clone(), with(claims(), "exp", json!("soon")), &set, &rules, AssertionError::Claims),
        ("no jti", &ec, h.clone(), with(claims(), "jti", Value::Null), &set, &rules, AssertionError::Claims),
        (
            "long jti",
            &ec,
            h.clone(),
            with(claims(), "jti", json!("j".repeat(257))),
            &set,
            &rules,
            AssertionError::Claims,
        ),
    ];
    for (name, key, header, claims, jwks, rules, expected) in rows {
        let jwt = key.sign_with_header(&header, &claims).unwrap();
        assert_eq!(check(&jwt, jwks, rules), Err(expected), "{name}");
    }
}

#[test]
fn malformed_assertions_are_refused() {
    let ec = key("ec", SigningAlg::ES256);
    let set = jwks(&[&ec]);
    let good = ec.sign_with_header(&header(&ec), &claims()).unwrap();
    let (head, rest) = good.split_once('.').unwrap();
    for (name, jwt) in [
        ("empty", String::new()),
        ("unsigned", format!("{}.", good.rsplit_once('.').unwrap().0)),
        ("header an array", format!("WzFd.{rest}")),
        ("too long", format!("{head}.{}", "A".repeat(assertion::MAX_ASSERTION_LEN))),
    ] {
        assert!(check(&jwt, &set, &AssertionRules::default()).is_err(), "{name}");
    }
}
