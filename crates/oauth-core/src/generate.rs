//! Generation of codes, tokens, grant ids and client secrets.

use std::fmt::Debug;

use base64::Engine as _;
use rand::RngCore as _;

/// Produces unguessable strings for codes, tokens and identifiers.
pub trait TokenGenerator: Send + Sync + Debug {
    /// A fresh value with at least 256 bits of entropy, URL-safe.
    fn token(&self) -> String;
}

/// 32 bytes from the thread-local CSPRNG (ChaCha, seeded and reseeded from the
/// operating system), base64url without padding: 43 characters, 256 bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomGenerator;

impl TokenGenerator for RandomGenerator {
    fn token(&self) -> String {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// A new client secret and the hash to store; the secret is shown once and never stored.
pub fn client_secret() -> (crate::types::ClientSecret, crate::client::SecretHash) {
    let secret = RandomGenerator.token();
    let hash = crate::client::SecretHash::sha256(&secret);
    (crate::types::ClientSecret::new(secret), hash)
}

/// Predictable values (`prefix-1`, `prefix-2`, …) for exact test expectations.
#[cfg(feature = "test-util")]
#[derive(Debug)]
pub struct SequenceGenerator {
    prefix: String,
    next: std::sync::atomic::AtomicU64,
}

#[cfg(feature = "test-util")]
impl SequenceGenerator {
    /// A generator producing `prefix-1`, `prefix-2`, …
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned(), next: std::sync::atomic::AtomicU64::new(1) }
    }
}

#[cfg(feature = "test-util")]
impl TokenGenerator for SequenceGenerator {
    fn token(&self) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("{}-{n}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_256_bit_and_distinct() {
        let a = RandomGenerator.token();
        let b = RandomGenerator.token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
