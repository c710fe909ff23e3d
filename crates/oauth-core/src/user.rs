//! Resource owners and their Argon2id password hashes.

use std::collections::BTreeMap;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};

use crate::types::Subject;

/// A resource owner who can log in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// Stable identifier, the `sub` of tokens issued for this user.
    pub subject: Subject,
    /// Login name.
    pub username: String,
    /// Argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// Profile claims (OpenID Connect standard claims such as `email`, `name`).
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
}

impl User {
    /// Checks a password against the stored hash (Argon2id, constant time).
    ///
    /// This is deliberately slow (tens of milliseconds): run it off the async
    /// executor, for example in `spawn_blocking`.
    pub fn verify_password(&self, password: &str) -> bool {
        verify_phc(self.password_hash.as_str(), password)
    }
}

/// An Argon2id hash in PHC string format. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string, checking that it parses and is Argon2id.
    pub fn from_phc(phc: impl Into<String>) -> Option<Self> {
        let phc = phc.into();
        let ok = argon2::PasswordHash::new(&phc).is_ok_and(|h| h.algorithm.as_str() == "argon2id");
        ok.then_some(Self(phc))
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps the PHC string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// Hashes a password with Argon2id and the crate's default (OWASP) parameters:
/// 19 MiB of memory, 2 passes, 1 lane, random 16-byte salt.
pub fn hash_password(password: &str) -> PasswordHash {
    let salt = SaltString::generate(&mut OsRng);
    match Argon2::default().hash_password(password.as_bytes(), &salt) {
        Ok(hash) => PasswordHash(hash.to_string()),
        // Only reachable with invalid parameters, and the defaults are valid.
        Err(e) => unreachable!("argon2 default parameters rejected: {e}"),
    }
}

/// The check of a login: `password` against `user`'s hash, or, for an
/// unknown user, against a dummy hash that takes as long, so that response
/// time does not reveal which user names exist. Run it on an
/// [`Offload`](crate::offload::Offload); it owns what it needs.
pub fn password_check(user: Option<&User>, password: &str) -> crate::offload::Job {
    let password = password.to_owned();
    match user {
        Some(user) => {
            let hash = user.password_hash.clone();
            Box::new(move || verify_phc(hash.as_str(), &password))
        }
        None => Box::new(move || {
            verify_dummy(&password);
            false
        }),
    }
}

/// Verifies `password` against a PHC string; false on any parse error.
pub(crate) fn verify_phc(phc: &str, password: &str) -> bool {
    match argon2::PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, for unknown user names, so
/// that response time does not reveal which user names exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("dummy password for timing"));
    let _ = verify_phc(hash.as_str(), password);
}
