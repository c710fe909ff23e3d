//! Secret values: redacted `Debug`, explicit `secret()` access, and [`TokenHash`].

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Defines a secret string newtype whose `Debug` never prints the value.
macro_rules! new_secret_type {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        pub struct $name(String);

        impl $name {
            /// Wraps a raw secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The raw value.
            ///
            /// # Security Warning
            /// Do not log it, and do not keep it longer than the request needs.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// The SHA-256 hash under which stores keep this value.
            pub fn hash(&self) -> TokenHash {
                TokenHash::of(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

new_secret_type!(
    /// A client secret as presented by the client
    /// ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)).
    ClientSecret
);
new_secret_type!(
    /// An authorization code ([RFC 6749 §4.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2)).
    AuthorizationCode
);
new_secret_type!(
    /// An access token ([RFC 6749 §1.4](https://www.rfc-editor.org/rfc/rfc6749#section-1.4)).
    AccessToken
);
new_secret_type!(
    /// A refresh token ([RFC 6749 §1.5](https://www.rfc-editor.org/rfc/rfc6749#section-1.5)).
    RefreshToken
);
new_secret_type!(
    /// A PKCE code verifier ([RFC 7636 §4.1](https://www.rfc-editor.org/rfc/rfc7636#section-4.1)).
    PkceCodeVerifier
);

/// SHA-256 of a code, token or session id: what stores use as the key.
///
/// Codes and tokens carry at least 256 bits of entropy, so a fast hash is
/// enough to make a leaked store useless to an attacker.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a raw value.
    pub fn of(raw: &str) -> Self {
        Self(Sha256::digest(raw.as_bytes()).into())
    }

    /// The key under which a JWT access token is stored: a hash of its `jti`
    /// under a domain-separation prefix, so it differs from
    /// [`TokenHash::of`] of the jti.
    ///
    /// A JWT's claims are not secret (resource servers log them), so the jti
    /// must not work as an opaque token: presented as one it hashes to
    /// `TokenHash::of(jti)`, where nothing is stored. The prefix has
    /// characters no grant id has, so no presented opaque token (see
    /// [`TokenKey::of`]) hashes to this key either.
    pub fn of_jti(jti: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(JTI_DOMAIN);
        hasher.update(jti.as_bytes());
        Self(hasher.finalize().into())
    }

    /// The key of a single-use record ([`OnceStore`](crate::storage::OnceStore)):
    /// a hash of `parts` under the domain `kind`, each part length-prefixed,
    /// so that no two lists of parts, and no token, hash alike.
    pub fn of_once(kind: &str, parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"oauth-core/once/");
        for part in std::iter::once(kind).chain(parts.iter().copied()) {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Self(hasher.finalize().into())
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex of the digest, for storage keys.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// Parses the output of [`TokenHash::to_hex`].
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = nibble(pair[0])?;
            let lo = nibble(pair[1])?;
            out[i] = (hi << 4) | lo;
        }
        Some(Self(out))
    }

    /// Compares two hashes in constant time.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// Where an access or refresh token is stored: its grant and the hash of the whole token.
///
/// Access and refresh tokens have the form `<grant id>.<secret>`. The grant id
/// is not secret (it names the token's family, nothing more); it lets a store
/// keep a whole family under one key, so that rotation and revocation are
/// single-key atomic operations, also on a Redis Cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// The grant (family) the token claims to belong to.
    pub grant: super::GrantId,
    /// SHA-256 of the whole token.
    pub hash: TokenHash,
}

impl TokenKey {
    /// Splits a presented token; `None` when it does not have the token form.
    pub fn of(raw: &str) -> Option<Self> {
        let (grant, secret) = raw.split_once('.')?;
        let valid_id = !grant.is_empty()
            && grant.len() <= 64
            && grant.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id || secret.is_empty() {
            return None;
        }
        Some(Self { grant: super::GrantId::new(grant), hash: TokenHash::of(raw) })
    }

    /// Where the JWT access token whose (verified) `jti` is `jti` is stored:
    /// the jti's grant, and [`TokenHash::of_jti`]. `None` when the jti does
    /// not have the token form.
    pub fn of_jti(jti: &str) -> Option<Self> {
        let key = Self::of(jti)?;
        Some(Self { grant: key.grant, hash: TokenHash::of_jti(jti) })
    }
}

/// The domain-separation prefix of [`TokenHash::of_jti`]. `/` and `:` never
/// occur in a grant id, so no opaque token starts with it.
const JTI_DOMAIN: &[u8] = b"oauth-core/at+jwt/jti:";

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A prefix is enough to tell entries apart in logs.
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

impl serde::Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for TokenHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        TokenHash::from_hex(&s).ok_or_else(|| serde::de::Error::custom("invalid token hash"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let token = AccessToken::new("very-secret");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        let secret = ClientSecret::new("password");
        assert!(!format!("{secret:?}").contains("password"));
    }

    #[test]
    fn token_key_table() {
        let rows: &[(&str, Option<&str>)] = &[
            ("abcDEF-_12.secret", Some("abcDEF-_12")),
            ("g.s.with.dots", Some("g")),
            ("nodot", None),
            (".secret", None),
            ("grant.", None),
            ("gr@nt.secret", None),
            ("gr ant.secret", None),
        ];
        for (raw, grant) in rows {
            let key = TokenKey::of(raw);
            assert_eq!(key.as_ref().map(|k| k.grant.as_str()), *grant, "{raw}");
            if let Some(key) = key {
                assert_eq!(key.hash, TokenHash::of(raw), "the hash covers the whole token");
            }
        }
        assert_eq!(TokenKey::of(&format!("{}.s", "a".repeat(65))), None, "grant ids are short");
    }

    #[test]
    fn a_jti_key_is_not_the_key_of_the_jti_as_a_token() {
        let jti = "grant1.secret";
        let as_jwt = TokenKey::of_jti(jti).unwrap();
        let as_opaque = TokenKey::of(jti).unwrap();
        assert_eq!(as_jwt.grant, as_opaque.grant, "same family, so revoking the grant covers both");
        assert_ne!(as_jwt.hash, as_opaque.hash);
        assert_eq!(as_jwt.hash, TokenHash::of_jti(jti));
        let prefixed = format!("{}{jti}", std::str::from_utf8(JTI_DOMAIN).unwrap());
        assert_eq!(TokenKey::of(&prefixed), None, "no opaque token can spell the prefixed input");
        assert_eq!(TokenKey::of_jti("nodot"), None);
    }

    #[test]
    fn hex_round_trip() {
        let h = TokenHash::of("abc");
        assert_eq!(h.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert_eq!(TokenHash::from_hex(&"G".repeat(64)), None);
    }
}
