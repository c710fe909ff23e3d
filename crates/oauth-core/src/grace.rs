//! The refresh grace period's sealed answer: the new tokens of a refresh,
//! kept by the store for one retry, readable only by whoever holds the
//! refresh token that was presented (the store sees only its hash).
//!
//! The key is HKDF-SHA256 of the presented refresh token; the cipher
//! AES-256-GCM with a random nonce; the client id is the associated data, so
//! an answer opens only for the client it was made for.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rand::RngCore as _;
use sha2::Sha256;

use crate::types::ClientId;

const INFO: &[u8] = b"oauth-core refresh grace v1";
const NONCE: usize = 12;

fn cipher(presented: &str) -> Option<Aes256Gcm> {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, presented.as_bytes()).expand(INFO, &mut key).ok()?;
    Aes256Gcm::new_from_slice(&key).ok()
}

/// The new access and refresh tokens, sealed under the presented token.
pub(crate) fn seal(presented: &str, client: &ClientId, access: &str, refresh: &str) -> Option<Vec<u8>> {
    let cipher = cipher(presented)?;
    let mut nonce = [0u8; NONCE];
    rand::thread_rng().fill_bytes(&mut nonce);
    let plain = format!("{access}\n{refresh}");
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: client.as_str().as_bytes() })
        .ok()?;
    let mut out = Vec::with_capacity(NONCE + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Some(out)
}

/// The access and refresh tokens of a sealed answer, when `presented` and
/// `client` are those it was sealed for.
pub(crate) fn open(presented: &str, client: &ClientId, sealed: &[u8]) -> Option<(String, String)> {
    if sealed.len() < NONCE {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE);
    let plain = cipher(presented)?
        .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: client.as_str().as_bytes() })
        .ok()?;
    let plain = String::from_utf8(plain).ok()?;
    let (access, refresh) = plain.split_once('\n')?;
    Some((access.to_owned(), refresh.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_presented_token_and_its_client_open_the_answer() {
        let client = ClientId::new("c");
        let sealed = seal("g.old-refresh", &client, "g.access", "g.refresh").unwrap_or_default();
        assert!(!String::from_utf8_lossy(&sealed).contains("g.access"), "the tokens are not readable");
        assert_eq!(open("g.old-refresh", &client, &sealed), Some(("g.access".into(), "g.refresh".into())));
        assert_eq!(open("g.other-refresh", &client, &sealed), None, "another token");
        assert_eq!(open("g.old-refresh", &ClientId::new("d"), &sealed), None, "another client");
        let mut tampered = sealed.clone();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        assert_eq!(open("g.old-refresh", &client, &tampered), None, "tampered");
        assert_eq!(open("g.old-refresh", &client, &sealed[..5]), None, "truncated");
    }
}
