//! PKCE ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)).

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::types::CodeChallengeMethod;

/// True for 43–128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"` (RFC 7636 §4.1).
pub fn is_valid_verifier_syntax(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a `code_challenge` for its method: S256 challenges are exactly 43
/// base64url characters; plain challenges follow the verifier syntax.
pub fn is_valid_challenge(challenge: &str, method: &CodeChallengeMethod) -> bool {
    match method {
        CodeChallengeMethod::S256 => {
            challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        }
        CodeChallengeMethod::Plain => is_valid_verifier_syntax(challenge),
        _ => false,
    }
}

/// The S256 challenge of a verifier: `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn s256_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Verifies a `code_verifier` against the stored challenge, in constant time.
pub fn verify(verifier: &str, challenge: &str, method: &CodeChallengeMethod) -> bool {
    if !is_valid_verifier_syntax(verifier) {
        return false;
    }
    let computed = match method {
        CodeChallengeMethod::S256 => s256_challenge(verifier),
        CodeChallengeMethod::Plain => verifier.to_owned(),
        _ => return false,
    };
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(s256_challenge(verifier), challenge);
        assert!(verify(verifier, challenge, &CodeChallengeMethod::S256));
        assert!(!verify(verifier, challenge, &CodeChallengeMethod::Plain));
        assert!(verify(verifier, verifier, &CodeChallengeMethod::Plain));
    }

    #[test]
    fn syntax_table() {
        let rows: &[(&str, bool)] = &[
            (&"a".repeat(42), false),
            (&"a".repeat(43), true),
            (&"a".repeat(128), true),
            (&"a".repeat(129), false),
            (&format!("{}+", "a".repeat(42)), false),
            (&format!("{}~._-", "a".repeat(40)), true),
        ];
        for (v, ok) in rows {
            assert_eq!(is_valid_verifier_syntax(v), *ok, "{v}");
        }
        assert!(!is_valid_challenge(&"a".repeat(44), &CodeChallengeMethod::S256));
        assert!(is_valid_challenge(&"a".repeat(43), &CodeChallengeMethod::S256));
    }
}
