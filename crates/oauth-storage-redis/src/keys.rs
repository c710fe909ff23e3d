//! The key schema.
//!
#![doc = include_str!("keys.md")]

use oauth_core::device::DeviceKey;
use oauth_core::throttle::ThrottleKey;
use oauth_core::types::{ClientId, GrantId, Subject, TokenHash};

/// Builds keys under a prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
    }

    pub(crate) fn code(&self, hash: &TokenHash) -> String {
        format!("{}:code:{}", self.prefix, hash.to_hex())
    }

    pub(crate) fn grant(&self, id: &GrantId) -> String {
        format!("{}:g:{}", self.prefix, id.as_str())
    }

    /// Set while a client's grants are revoked, to refuse new ones.
    pub(crate) fn client_revoked(&self, client: &ClientId) -> String {
        format!("{}:revoked-client:{}", self.prefix, client.as_str())
    }

    /// `{prefix}:{namespace}:`, which [`Records`](crate::Records) keys continue with a hash.
    pub(crate) fn records(&self, namespace: &str) -> String {
        format!("{}:{namespace}:", self.prefix)
    }

    pub(crate) fn consent(&self, subject: &Subject, client: &ClientId) -> String {
        let pair = format!("{}\u{0}{}", subject.as_str(), client.as_str());
        format!("{}:consent:{}", self.prefix, TokenHash::of(&pair).to_hex())
    }

    pub(crate) fn throttle(&self, key: &ThrottleKey) -> String {
        format!("{}:throttle:{}", self.prefix, key.to_hex())
    }

    /// A device authorization (RFC 8628), tagged with its shard.
    pub(crate) fn device(&self, key: &DeviceKey) -> String {
        format!("{}:{{dev-{}}}:d:{}", self.prefix, key.shard_hex(), key.hash.to_hex())
    }

    /// A user code's pointer to its device authorization: same tag.
    pub(crate) fn device_user(&self, key: &DeviceKey) -> String {
        format!("{}:{{dev-{}}}:u:{}", self.prefix, key.shard_hex(), key.hash.to_hex())
    }

    pub(crate) fn client(&self, id: &ClientId) -> String {
        format!("{}:{{clients}}:c:{}", self.prefix, id.as_str())
    }

    pub(crate) fn client_ids(&self) -> String {
        format!("{}:{{clients}}:ids", self.prefix)
    }

    pub(crate) fn user(&self, username: &str) -> String {
        format!("{}:{{users}}:u:{username}", self.prefix)
    }

    pub(crate) fn subject(&self, subject: &Subject) -> String {
        format!("{}:{{users}}:s:{}", self.prefix, subject.as_str())
    }
}

/// Hash field of a revoked family's tombstone (the only field left).
pub(crate) const REVOKED_FIELD: &str = "v";

/// Hash field of an access token.
pub(crate) fn access_field(hash: &TokenHash) -> Vec<u8> {
    field(b'a', hash)
}

/// Hash field of an active refresh token.
pub(crate) fn refresh_field(hash: &TokenHash) -> Vec<u8> {
    field(b'r', hash)
}

/// Hash field of a rotated-out refresh token.
pub(crate) fn rotated_field(hash: &TokenHash) -> Vec<u8> {
    field(b'x', hash)
}

/// The first 16 bytes of the SHA-256: 128 bits are plenty to tell a family's
/// few tokens apart, and the family key already names the grant.
pub(crate) fn short_hash(hash: &TokenHash) -> &[u8] {
    &hash.as_bytes()[..16]
}

fn field(kind: u8, hash: &TokenHash) -> Vec<u8> {
    let mut f = Vec::with_capacity(17);
    f.push(kind);
    f.extend_from_slice(short_hash(hash));
    f
}
