//! The values of the device authorization grant
//! ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)): the device code the
//! device polls with, the user code a person types, and [`DeviceKey`], where
//! a store keeps either.
//!
//! A device code has the form `<shard>.<secret>`: the shard is four hex
//! digits derived from the user code, so that the device record (under the
//! device code's hash) and the user-code key (under the user code's hash)
//! share it. A store names both keys with it and keeps them together (on
//! Redis Cluster, in one hash slot), so that creating them is one atomic
//! call. The shard says 16 bits about the user code, which the device shows
//! on its screen anyway.

use sha2::{Digest, Sha256};

use crate::types::TokenHash;

/// The user-code alphabet (RFC 8628 §6.1): consonants only, no vowels (no
/// words are spelled) and no digits (nothing to confuse with `O`, `I`, `L`).
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters in a user code: 20^8 codes, about 34 bits.
pub const USER_CODE_LEN: usize = 8;

/// The longest input accepted as a user code before normalization, so that a
/// stranger's form field is bounded.
pub const MAX_USER_CODE_INPUT: usize = 64;

/// How long, in seconds, a store keeps a device authorization after its
/// `expires_at`: a device polling late learns `expired_token` rather than
/// `invalid_grant`.
pub const DEVICE_EXPIRED_HOLD: u64 = 300;

/// What `slow_down` adds to a device code's polling interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: u64 = 5;

/// Where a device authorization is kept: the shard its two keys share, and
/// the hash of the device code or of the user code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct DeviceKey {
    /// The shard, derived from the user code.
    pub shard: u16,
    /// SHA-256 of the whole device code, or the domain-separated hash of the
    /// normalized user code.
    pub hash: TokenHash,
}

impl DeviceKey {
    /// The shard as four lowercase hex digits, as in a device code.
    pub fn shard_hex(&self) -> String {
        format!("{:04x}", self.shard)
    }
}

/// A device code (RFC 8628 §3.2 `device_code`): `<shard>.<secret>`.
pub struct DeviceCode(String);

impl DeviceCode {
    /// The device code of the user code `user` with the secret `secret`
    /// (the token generator's output, at least 128 bits).
    pub fn new(user: &UserCode, secret: &str) -> Self {
        Self(format!("{:04x}.{secret}", user.shard()))
    }

    /// Wraps a presented device code.
    pub fn presented(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    /// The raw value.
    ///
    /// # Security Warning
    /// Do not log it: it is the device's credential until tokens are issued.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Where its record is kept; `None` when it does not have the device
    /// code form (then no record can exist).
    pub fn key(&self) -> Option<DeviceKey> {
        let (shard, secret) = self.0.split_once('.')?;
        if shard.len() != 4 || secret.is_empty() || !shard.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let shard = u16::from_str_radix(shard, 16).ok()?;
        Some(DeviceKey { shard, hash: TokenHash::of(&self.0) })
    }
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceCode([redacted])")
    }
}

/// A user code (RFC 8628 §3.2 `user_code`, §6.1): eight characters of
/// [`USER_CODE_ALPHABET`], shown as `XXXX-XXXX`.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A user code made from `seed` (the token generator's output): its
    /// SHA-256 read as base-20 digits, rejecting bytes that would bias them.
    pub fn from_seed(seed: &str) -> Self {
        let mut digest: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
        let mut code = String::with_capacity(USER_CODE_LEN);
        loop {
            // 240 = 12 × 20: bytes below it map evenly onto the alphabet.
            for &byte in digest.iter().filter(|b| **b < 240) {
                code.push(char::from(USER_CODE_ALPHABET[usize::from(byte % 20)]));
                if code.len() == USER_CODE_LEN {
                    return Self(code);
                }
            }
            // Fewer than eight usable bytes (about one digest in 10^20): hash again.
            digest = Sha256::digest(digest).into();
        }
    }

    /// Normalizes what a person typed (RFC 8628 §6.1): case, dashes and
    /// white space do not matter. `None` when the rest is not eight
    /// characters of the alphabet, or the input is longer than
    /// [`MAX_USER_CODE_INPUT`].
    pub fn parse(input: &str) -> Option<Self> {
        if input.len() > MAX_USER_CODE_INPUT {
            return None;
        }
        let code: String =
            input.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        let valid = code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// The code as shown: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(USER_CODE_LEN / 2);
        format!("{a}-{b}")
    }

    /// The normalized code, eight characters.
    ///
    /// # Security Warning
    /// Do not log it: whoever has it can approve the device's request.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Where the user-code key is kept.
    pub fn key(&self) -> DeviceKey {
        DeviceKey { shard: self.shard(), hash: TokenHash::of_once("device/user_code", &[&self.0]) }
    }

    fn shard(&self) -> u16 {
        let digest = Sha256::digest(format!("oauth-core/device/shard:{}", self.0).as_bytes());
        u16::from_be_bytes([digest[0], digest[1]])
    }
}

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_letters_of_the_alphabet() {
        for seed in ["a", "b", "tok-1", "tok-2", ""] {
            let code = UserCode::from_seed(seed);
            assert_eq!(code.secret().len(), USER_CODE_LEN);
            assert!(code.secret().bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{}", code.secret());
            assert_eq!(UserCode::parse(&code.display()), Some(code.clone()));
        }
        assert_ne!(UserCode::from_seed("a"), UserCode::from_seed("b"));
        assert!(!USER_CODE_ALPHABET.iter().any(|b| b"AEIOUY0123456789".contains(b)));
    }

    #[test]
    fn normalization() {
        let rows = [
            ("BCDF-GHJK", Some("BCDFGHJK")),
            ("bcdf-ghjk", Some("BCDFGHJK")),
            ("bcdfghjk", Some("BCDFGHJK")),
            (" bc df - gh jk ", Some("BCDFGHJK")),
            ("BCDF--GHJK", Some("BCDFGHJK")),
            ("BCDF-GHJ", None),
            ("BCDF-GHJKL", None),
            ("BCDF-GHJA", None),
            ("BCDF-GHJ1", None),
            ("BCDF_GHJK", None),
            ("ÇCDF-GHJK", None),
            ("", None),
        ];
        for (input, expected) in rows {
            assert_eq!(UserCode::parse(input).as_ref().map(UserCode::secret), expected, "{input:?}");
        }
        let long = format!("BCDFGHJK{}", " ".repeat(MAX_USER_CODE_INPUT));
        assert_eq!(UserCode::parse(&long), None, "bounded input");
    }

    #[test]
    fn device_code_and_user_code_share_a_shard() {
        let user = UserCode::parse("BCDF-GHJK").unwrap();
        let device = DeviceCode::new(&user, "secret");
        let key = device.key().unwrap();
        assert_eq!(key.shard, user.key().shard);
        assert_eq!(key.hash, TokenHash::of(device.secret()));
        assert_ne!(key.hash, user.key().hash);
        assert_eq!(format!("{}.secret", key.shard_hex()), device.secret());
        for bad in ["", "nodot", "abc.s", "abcde.s", "ABCD.s", "zzzz.s", "abcd.", ".s"] {
            assert_eq!(DeviceCode::presented(bad).key(), None, "{bad:?}");
        }
        assert_eq!(format!("{device:?} {user:?}"), "DeviceCode([redacted]) UserCode([redacted])");
    }
}
